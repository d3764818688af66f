import { describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../../src/adapters/memory/event-store.ts';
import type { IntegrationEvent } from '../../src/application/integration-events.ts';
import { createIntegrationRelay } from '../../src/application/integration-relay.ts';
import type { EventPublisher } from '../../src/application/ports/event-publisher.ts';
import { silentLogger } from '../../src/application/ports/logger.ts';

const metadata = {
  correlationId: 'c',
  causationId: 'c',
  occurredAt: '2030-01-01T00:00:00.000Z',
  schemaVersion: 1,
};

/** A broker that confirms nothing on its first session and everything after. */
function flakyBroker() {
  const confirmed: IntegrationEvent[] = [];
  let sessions = 0;
  const publisher: EventPublisher = {
    target: 'memory',
    async connect() {
      const first = ++sessions === 1;
      return {
        lost: new Promise<never>(() => {}),
        async publish(events) {
          if (first) throw new Error('connection lost before the confirms');
          confirmed.push(...events);
        },
        async close() {},
      };
    },
  };
  return { publisher, confirmed, sessions: () => sessions };
}

describe('integration relay', () => {
  it('moves its checkpoint only past confirmed events, and publishes them again with the same ids', async () => {
    const store = createInMemoryEventStore();
    await store.append(
      'account-a',
      [
        {
          id: 'e1',
          type: 'AccountOpened',
          data: { accountId: 'a', ownerId: 'o', currency: 'EUR' },
          metadata,
        },
        { id: 'e2', type: 'CashDeposited', data: { accountId: 'a', amount: 5 }, metadata },
      ],
      'no_stream',
    );
    const broker = flakyBroker();
    const relay = createIntegrationRelay({
      store,
      publisher: broker.publisher,
      logger: silentLogger,
      minBackoffMs: 1,
    });
    relay.start();
    await expect.poll(() => broker.confirmed.length).toBe(2);
    await expect.poll(() => relay.checkpoint()).toBe(2);
    await relay.stop();
    expect(broker.sessions()).toBe(2);
    expect(broker.confirmed.map((event) => [event.id, event.type])).toEqual([
      ['e1', 'account.opened'],
      ['e2', 'account.cash-deposited'],
    ]);
    expect(relay.status()).toMatchObject({ failures: 0, published: 4, confirmed: 2 });
  });

  it('stops promptly while the broker is down', async () => {
    const relay = createIntegrationRelay({
      store: createInMemoryEventStore(),
      publisher: { target: 'nowhere', connect: () => Promise.reject(new Error('ECONNREFUSED')) },
      logger: silentLogger,
      minBackoffMs: 60_000,
    });
    relay.start();
    await expect.poll(() => relay.status().state).toBe('failing');
    await relay.stop(); // does not wait out the minute of backoff
    expect(relay.status()).toMatchObject({ error: 'ECONNREFUSED', failures: 1 });
  });
});
