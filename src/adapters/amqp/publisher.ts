import { once } from 'node:events';
import { connect } from 'amqplib';
import { correlationIdOf, type IntegrationEvent } from '../../application/integration-events.ts';
import type { EventPublisher, PublisherSession } from '../../application/ports/event-publisher.ts';

/** How long a connection attempt (TCP and AMQP handshake) may take before it counts as failed. */
const CONNECT_TIMEOUT_MS = 10_000;

/** The broker URL without its password, for logs and readiness. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Publishes integration events to a durable topic exchange (SPEC §10) over amqplib, on a confirm
 * channel: `publish` resolves once the broker acknowledged every message. Messages are
 * persistent, routed by their type, `message_id` is the event id and `correlation_id` the
 * transfer id. A connection is only ever a session: on any loss `lost` rejects and the relay
 * opens a new one (amqplib's own recovery is not used, so nothing is published behind its back).
 */
export function createAmqpPublisher(options: { url: string; exchange: string }): EventPublisher {
  const { url, exchange } = options;
  const target = `${redactUrl(url)} exchange ${exchange}`;
  return {
    target,
    async connect(): Promise<PublisherSession> {
      let connection: Awaited<ReturnType<typeof connect>>;
      try {
        connection = await connect(url, {
          timeout: CONNECT_TIMEOUT_MS,
          clientProperties: { connection_name: 'esbank relay' },
        });
      } catch (error) {
        throw new Error(`cannot connect to the broker at ${redactUrl(url)}: ${messageOf(error)}`, {
          cause: error,
        });
      }
      let fail: (error: Error) => void = () => {};
      const lost = new Promise<never>((_, reject) => {
        fail = reject;
      });
      lost.catch(() => {}); // observed by whoever races it; never an unhandled rejection
      // 'error' is always followed by 'close'; the close carries the reason.
      connection.on('error', () => {});
      connection.on('close', (error?: Error) =>
        fail(new Error(`the connection to the broker was lost: ${error ? messageOf(error) : 'closed'}`)),
      );
      try {
        const channel = await connection.createConfirmChannel();
        channel.on('error', () => {});
        // A lost connection closes its channels first: let the connection's reason win.
        channel.on('close', () =>
          setImmediate(() => fail(new Error('the broker closed the publishing channel'))),
        );
        await channel.assertExchange(exchange, 'topic', { durable: true });

        const publishOne = (event: IntegrationEvent, confirmed: (error: unknown) => void): boolean => {
          const correlationId = correlationIdOf(event);
          return channel.publish(
            exchange,
            event.type,
            Buffer.from(JSON.stringify(event)),
            {
              persistent: true,
              contentType: 'application/json',
              messageId: event.id,
              type: event.type,
              timestamp: Math.floor(Date.parse(event.occurredAt) / 1000),
              appId: 'esbank',
              ...(correlationId ? { correlationId } : {}),
            },
            confirmed,
          );
        };

        return {
          lost,
          async publish(events) {
            const confirms: Promise<void>[] = [];
            for (const event of events) {
              let ready = true;
              const confirmed = new Promise<void>((resolve, reject) => {
                ready = publishOne(event, (error) =>
                  error ? reject(new Error(`the broker did not confirm ${event.id}`)) : resolve(),
                );
              });
              confirmed.catch(() => {}); // a loss can end this loop before Promise.all below observes it
              confirms.push(confirmed);
              // The channel's buffer is full: wait for it to drain (or for the connection to go).
              if (!ready) await Promise.race([once(channel, 'drain'), lost]);
            }
            await Promise.race([Promise.all(confirms), lost]);
          },
          async close() {
            await connection.close().catch(() => {});
          },
        };
      } catch (error) {
        await connection.close().catch(() => {});
        throw new Error(`cannot publish to ${target}: ${messageOf(error)}`, { cause: error });
      }
    },
  };
}
