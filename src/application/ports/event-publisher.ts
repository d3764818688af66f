import type { IntegrationEvent } from '../integration-events.ts';

/**
 * One connection to a message broker, as the relay uses it. A broker adapter (AMQP here; Kafka
 * would be one more) maps an event to its own message: routing key or topic from `type`, message
 * id from `id`, the transfer id as correlation id or partition key.
 */
export type PublisherSession = {
  /**
   * Publishes the events in this order and resolves once the broker has confirmed every one of
   * them (stored them durably); rejects if any is refused or the connection is lost first.
   */
  publish(events: readonly IntegrationEvent[]): Promise<void>;
  /** Rejects with the cause when the connection is lost (never resolves otherwise). */
  readonly lost: Promise<never>;
  close(): Promise<void>;
};

/** Opens publisher sessions; rejects with a clear message when the broker is unreachable or refuses us. */
export type EventPublisher = {
  /** Where events go, for logs and readiness (e.g. `amqp://127.0.0.1:5672 exchange esbank.events`), no secrets. */
  readonly target: string;
  connect(): Promise<PublisherSession>;
};
