import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateWorkload } from '../../scripts/support/workload.ts';
import { createAmqpPublisher } from '../../src/adapters/amqp/publisher.ts';
import { createPostgresEventStore } from '../../src/adapters/postgres/event-store.ts';
import { createIntegrationRelay, type IntegrationRelay } from '../../src/application/integration-relay.ts';
import { type AppLogger, silentLogger } from '../../src/application/ports/logger.ts';
import { createTestBroker, expectEveryEventOnce, type TestBroker, waitForRelay } from '../support/broker.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { newEvent } from '../support/events.ts';
import { freePort } from '../support/faults/service.ts';

/** The relay over real PostgreSQL and a real RabbitMQ (a vhost of its own per test). */
describe('integration relay', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let store: ReturnType<typeof createPostgresEventStore>;
  let relay: IntegrationRelay | undefined;

  beforeEach(async () => {
    [db, broker] = await Promise.all([createTestDatabase(), createTestBroker()]);
    store = createPostgresEventStore(db.sql);
  });
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
    await store.close();
    await Promise.all([db.drop(), broker.drop()]);
  });

  const startRelay = (url = broker.url, logger: AppLogger = silentLogger) => {
    relay = createIntegrationRelay({
      store,
      publisher: createAmqpPublisher({ url, exchange: broker.exchange }),
      logger,
      batchSize: 200,
      minBackoffMs: 50,
    });
    relay.start();
    return relay;
  };

  it('publishes every public event of a bank workload once, each transfer in order', async () => {
    const summary = await generateWorkload(store, { events: 4_000, concurrency: 16, seed: 7 });
    const started = startRelay();
    await waitForRelay(db.sql);
    const { duplicates, byType } = await expectEveryEventOnce(db.sql, await broker.drain());
    expect(duplicates).toBe(0);
    // The workload has every kind: transfers completed and cancelled, cash in and out, closings.
    for (const type of [
      'account.opened',
      'account.cash-deposited',
      'account.cash-withdrawn',
      'account.closed',
      'transfer.requested',
      'transfer.completed',
      'transfer.cancelled',
    ]) {
      expect(byType[type], type).toBeGreaterThan(0);
    }
    expect(byType['transfer.requested']).toBe(summary.transfers);
    expect(started.status()).toMatchObject({ state: 'connected', failures: 0 });
    expect(started.status().confirmed).toBe(started.status().published);
  });

  /** A logger that keeps the relay's error and info lines. */
  const recording = () => {
    const lines: { level: string; line: string }[] = [];
    const keep = (level: string) => (fields: Record<string, unknown>, message: string) =>
      lines.push({ level, line: `${message}: ${fields.err ?? ''}` });
    return { lines, logger: { ...silentLogger, error: keep('error'), info: keep('info') } };
  };

  it('reconnects when the broker closes its connections mid-stream, and loses nothing', async () => {
    const { lines, logger } = recording();
    const started = startRelay(broker.url, logger);
    let closings = 0;
    const closing: Promise<unknown>[] = [];
    await generateWorkload(store, {
      events: 6_000,
      concurrency: 16,
      seed: 11,
      onProgress: (written) => {
        // Three times while the relay follows the live log.
        if (closings < 3 && written >= (closings + 1) * 1_500) {
          closings++;
          closing.push(broker.closeConnections());
        }
      },
    });
    await Promise.all(closing);
    await waitForRelay(db.sql);
    await expectEveryEventOnce(db.sql, await broker.drain());
    expect(closings).toBe(3);
    const reconnects = lines.filter(({ line }) => line.startsWith('integration relay reconnected'));
    expect(reconnects.length).toBeGreaterThanOrEqual(1); // at least one closing caught a live session
    expect(lines.find(({ level }) => level === 'error')?.line).toMatch(/connection to the broker was lost/);
    expect(started.status().state).toBe('connected');
  });

  it.each([
    ['an unreachable broker', async () => `amqp://guest:guest@127.0.0.1:${await freePort()}`, /ECONNREFUSED/],
    ['bad credentials', async () => broker.url.replace('guest:guest', 'guest:wrong'), /ACCESS.REFUSED/],
  ])('keeps retrying on %s, with a clear error line, and never throws', async (_case, urlOf, cause) => {
    const { lines, logger } = recording();
    const errors = () => lines.filter(({ level }) => level === 'error').map(({ line }) => line);
    const failing = startRelay(await urlOf(), logger);
    await store.append(
      'account-x',
      [newEvent('AccountOpened', { accountId: 'x', ownerId: 'o', currency: 'EUR' })],
      'no_stream',
    );
    await expect.poll(() => failing.status().failures, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    expect(failing.status()).toMatchObject({ state: 'failing', error: expect.stringMatching(cause) });
    expect(errors()[0]).toMatch(
      /integration relay cannot publish; retrying from its checkpoint: cannot connect/,
    );
    expect(errors()[0]).toMatch(cause);
    expect(errors()[0]).not.toMatch(/guest:guest|wrong/); // no password in logs
    expect(errors()).toHaveLength(1); // one line per outage, not one per attempt
    expect(await failing.checkpoint()).toBe(0);
  });
});
