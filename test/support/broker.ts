import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import { expect } from 'vitest';
import type { Sql } from '../../src/adapters/postgres/client.ts';
import type { IntegrationEvent } from '../../src/application/integration-events.ts';
import { PUBLISHED_EVENT_TYPES } from '../../src/application/integration-events.ts';

const run = promisify(execFile);
const BROKER = process.env.TEST_BROKER_HOST ?? '127.0.0.1:5672';

export const rabbitmqctl = async (...args: string[]) => (await run('rabbitmqctl', ['-q', ...args])).stdout;

/** A message as a consumer bound to the exchange received it. */
export type Received = {
  messageId: string;
  correlationId: string | undefined;
  routingKey: string;
  contentType: string | undefined;
  persistent: boolean;
  body: IntegrationEvent;
};

/**
 * A vhost of its own on the local RabbitMQ (so closing its connections touches nobody else's), with
 * a queue bound to every routing key of `exchange`, declared before the relay publishes; `drop()`
 * deletes the vhost and all in it.
 */
export async function createTestBroker() {
  const vhost = `esbank-test-${randomBytes(5).toString('hex')}`;
  const exchange = 'esbank.events';
  const queue = 'everything';
  await rabbitmqctl('add_vhost', vhost);
  await rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
  const url = `amqp://guest:guest@${BROKER}/${vhost}`;
  const admin = await connect(url);
  const channel = await admin.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  await channel.assertQueue(queue, { durable: true });
  await channel.bindQueue(queue, exchange, '#');
  await admin.close();

  return {
    url,
    vhost,
    exchange,
    /** Every connection to this vhost (the relay's) is closed by the broker. */
    closeConnections: () => rabbitmqctl('close_all_connections', '--vhost', vhost, 'esbank relay test'),
    /** How many messages wait in the queue (nothing consumes it until `drain`: every one enqueued so far). */
    async depth(): Promise<number> {
      const consumer = await connect(url);
      try {
        return (await (await consumer.createChannel()).checkQueue(queue)).messageCount;
      } finally {
        await consumer.close();
      }
    },
    /** Takes every message waiting in the queue, in queue order. */
    async drain(): Promise<Received[]> {
      const consumer = await connect(url);
      try {
        const ch = await consumer.createChannel();
        const received: Received[] = [];
        for (;;) {
          const message = await ch.get(queue, { noAck: true });
          if (!message) return received;
          const { properties, fields, content } = message;
          received.push({
            messageId: properties.messageId,
            correlationId: properties.correlationId,
            routingKey: fields.routingKey,
            contentType: properties.contentType,
            persistent: properties.deliveryMode === 2,
            body: JSON.parse(content.toString()),
          });
        }
      } finally {
        await consumer.close();
      }
    },
    drop: () => rabbitmqctl('delete_vhost', vhost),
  };
}

export type TestBroker = Awaited<ReturnType<typeof createTestBroker>>;

/** Polls (bounded) until the relay's checkpoint reaches the visible log head. */
export async function waitForRelay(sql: Sql, timeoutMs = 60_000, checkpoint = 'integration-relay') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await sql<{ caught_up: boolean }[]>`
      SELECT coalesce((SELECT position FROM subscription_checkpoints WHERE name = ${checkpoint}), 0)
             >= coalesce((SELECT max(global_position) FROM events), 0) AS caught_up`;
    if (row!.caught_up) return;
    if (Date.now() > deadline) throw new Error('the relay did not reach the log head');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The relay's checkpoint as the store holds it (0 before the relay's first batch). */
export async function relayCheckpoint(sql: Sql, checkpoint = 'integration-relay') {
  const [row] = await sql<{ position: string | number }[]>`
    SELECT position FROM subscription_checkpoints WHERE name = ${checkpoint}`;
  return row ? Number(row.position) : 0;
}

/**
 * A crash of the relay's process: its checkpoint, and how many messages the queue held, both read
 * after the process died and before the next one started.
 */
export type Crash = { checkpoint: number; queued: number };

/**
 * The redeliveries (a message id's second and later copies, in queue order), each with the crash
 * that preceded it: the last one whose `queued` count lies before it in the queue (undefined: no
 * crash came before it). A relay that resumes from its checkpoint redelivers only what it had not
 * checkpointed, so each of these lies above that crash's `checkpoint`: the checkpoint only moves
 * forward (a write of the dead process landing after the reading only raises where the next one
 * resumes), and a message of the dead process reaching the queue after `queued` was read was
 * unconfirmed, so above it too.
 */
export function redeliveries(received: Received[], crashes: Crash[]) {
  const seen = new Set<string>();
  const found: { index: number; messageId: string; position: number; after: Crash | undefined }[] = [];
  received.forEach((message, index) => {
    if (seen.has(message.messageId)) {
      const after = crashes.filter((crash) => crash.queued <= index).at(-1);
      found.push({ index, messageId: message.messageId, position: message.body.position, after });
    }
    seen.add(message.messageId);
  });
  return found;
}

/**
 * What SPEC §10 promises a consumer that deduplicates on message_id: every public event of the log
 * exactly once, redeliveries identical to the first delivery, each message persistent JSON with
 * its transfer as correlation id, and one transfer's events in log order. Returns how many
 * deliveries were duplicates.
 */
export async function expectEveryEventOnce(sql: Sql, received: Received[]) {
  const expected = await sql<{ event_id: string; type: string }[]>`
    SELECT event_id, type FROM events WHERE type = ANY(${PUBLISHED_EVENT_TYPES as unknown as string[]})
    ORDER BY global_position`;
  const first = new Map<string, Received>();
  for (const message of received) {
    const earlier = first.get(message.messageId);
    if (earlier) expect(message.body).toEqual(earlier.body);
    else first.set(message.messageId, message);
  }
  expect([...first.keys()].sort()).toEqual(expected.map((row) => row.event_id).sort());
  const byTransfer = new Map<string, Received[]>();
  for (const message of first.values()) {
    expect(message).toMatchObject({
      contentType: 'application/json',
      persistent: true,
      routingKey: message.body.type,
    });
    expect(message.body.id).toBe(message.messageId);
    if (message.body.type.startsWith('transfer.')) {
      expect(message.correlationId).toBe((message.body.data as { transferId: string }).transferId);
      byTransfer.set(message.correlationId!, [...(byTransfer.get(message.correlationId!) ?? []), message]);
    }
  }
  for (const events of byTransfer.values()) {
    expect(events[0]!.body.type).toBe('transfer.requested');
    const positions = events.map((message) => message.body.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(events.length).toBeLessThanOrEqual(2);
  }
  return { duplicates: received.length - first.size, byType: countBy(first.values()) };
}

const countBy = (messages: Iterable<Received>) => {
  const counts: Record<string, number> = {};
  for (const { body } of messages) counts[body.type] = (counts[body.type] ?? 0) + 1;
  return counts;
};
