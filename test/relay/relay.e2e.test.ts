import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLISHED_EVENT_TYPES } from '../../src/application/integration-events.ts';
import {
  type Crash,
  createTestBroker,
  expectEveryEventOnce,
  redeliveries,
  relayCheckpoint,
  type TestBroker,
  waitForRelay,
} from '../support/broker.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { waitForQuiescence } from '../support/faults/ledger.ts';
import {
  call,
  callUntilAnswered,
  freePort,
  type Reply,
  serviceProcess,
  tokenFor,
} from '../support/faults/service.ts';
import { startTestService } from '../support/service.ts';

const ACCOUNTS = 12;
const TRANSFERS = 400;
const CLIENTS = 8;
/** The relay's batch (createIntegrationRelay's default): at most this many log events are in flight past its checkpoint. */
const RELAY_BATCH = 500;

describe('relay: esbank serve SIGKILLed mid-stream', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let service: Awaited<ReturnType<typeof serviceProcess>>;

  beforeAll(async () => {
    [db, broker] = await Promise.all([createTestDatabase(), createTestBroker()]);
    service = await serviceProcess({
      DATABASE_URL: db.url,
      RATE_LIMIT_PER_MINUTE: '100000000',
      BROKER_URL: broker.url,
      BROKER_EXCHANGE: broker.exchange,
    });
  });
  afterAll(async () => {
    await service?.dispose();
    await Promise.all([db?.drop(), broker?.drop()]);
  });

  it('resumes from its checkpoint: every event arrives, the only extras are duplicates by message id', async () => {
    const owner = await tokenFor('owner');
    const operator = await tokenFor('ops', 'operator');
    const post = (path: string, token: string, body: unknown) =>
      callUntilAnswered(service.url, path, token, body, randomUUID());
    const accounts: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const opened = await post('/accounts', owner, { currency: 'EUR' });
      accounts.push(opened.body.accountId);
      await post(`/accounts/${opened.body.accountId}/deposits`, operator, { amount: 2_000 });
    }

    let issued = 0;
    const transferIds = new Set<string>();
    const crashes: Crash[] = [];
    const killer = (async () => {
      for (const at of [0.3, 0.7]) {
        // Mid-stream for the relay too: the restarted process has taken the dead one's lease over
        // and published past where that one stopped (a kill before then would test nothing new).
        const previous = crashes.at(-1)?.checkpoint ?? 0;
        const deadline = Date.now() + 30_000;
        while (issued < TRANSFERS * at || (await relayCheckpoint(db.sql)) <= previous) {
          if (Date.now() > deadline) throw new Error(`the relay did not move past ${previous}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await service.kill('SIGKILL');
        // Read before the next process starts (which waits out the dead one's lease before it
        // relays): where the restarted relay must resume, since a checkpoint only moves forward.
        crashes.push({ checkpoint: await relayCheckpoint(db.sql), queued: await broker.depth() });
        await service.start();
      }
    })();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (issued < TRANSFERS) {
          const i = issued++;
          const from = accounts[i % ACCOUNTS]!;
          const to = accounts[(i + 1 + (i % 5)) % ACCOUNTS]!;
          // Some are larger than what the source holds then: cancelled for insufficient funds.
          const response = await post('/transfers', owner, {
            fromAccountId: from,
            toAccountId: to,
            amount: 1 + ((i * 37) % 900),
          });
          if (response.status === 202) transferIds.add(response.body.transferId);
        }
      }),
    );
    await killer;
    // Cash out of one account and close another, after the transfers.
    const [last, spare] = [accounts.at(-1)!, accounts.at(-2)!];
    await waitForQuiescence(db.sql, transferIds, 30_000);
    const { body } = await call(service.url, 'GET', `/accounts/${last}`, operator);
    if (body.available > 0) await post(`/accounts/${last}/withdrawals`, operator, { amount: body.available });
    await post(`/accounts/${last}/close`, owner, {});
    await post(`/accounts/${spare}/withdrawals`, operator, { amount: 1 });

    await waitForRelay(db.sql);
    const received = await broker.drain();
    const { duplicates, byType } = await expectEveryEventOnce(db.sql, received);
    expect(byType['transfer.requested']).toBe(transferIds.size);
    expect((byType['transfer.completed'] ?? 0) + (byType['transfer.cancelled'] ?? 0)).toBe(transferIds.size);
    expect(byType['account.closed']).toBe(1);

    // Resumed from its checkpoint: each redelivery follows a crash and belongs to the batch that was
    // in flight then: above the checkpoint, within the RELAY_BATCH log events after it. A relay that
    // restarted from 0, or from an older checkpoint, would send again events at or below it (the
    // first account's opening at 1, the first kill's checkpoint being past it).
    expect(crashes).toHaveLength(2);
    expect(crashes[0]!.checkpoint).toBeGreaterThan(0);
    expect(crashes[1]!.checkpoint).toBeGreaterThan(crashes[0]!.checkpoint);
    const windows = await Promise.all(
      crashes.map(async ({ checkpoint }) => {
        const [edge] = await db.sql<{ position: number }[]>`
          SELECT global_position::int AS position FROM events WHERE global_position > ${checkpoint}
          ORDER BY global_position OFFSET ${RELAY_BATCH - 1} LIMIT 1`;
        return { after: checkpoint, upTo: edge?.position ?? Number.POSITIVE_INFINITY };
      }),
    );
    const again = redeliveries(received, crashes);
    expect(again).toHaveLength(duplicates);
    const outside = again.filter(({ after, position }) => {
      const window = after && windows[crashes.indexOf(after)]!;
      return !window || position <= window.after || position > window.upTo;
    });
    expect(outside, JSON.stringify({ crashes, windows })).toEqual([]);
    // So the extra deliveries are few: far fewer than the public events before the first kill,
    // which a relay restarting from 0 would all deliver again.
    const [before] = await db.sql<{ count: number }[]>`
      SELECT count(*)::int AS count FROM events
      WHERE type = ANY(${PUBLISHED_EVENT_TYPES as unknown as string[]}) AND global_position <= ${crashes[0]!.checkpoint}`;
    expect(before!.count).toBeGreaterThan(100);
    expect(duplicates).toBeLessThan(before!.count / 2);
  });
});

describe('relay: bad broker configuration', () => {
  it('fails readiness with the reason, while the API keeps serving', async () => {
    const service = await startTestService({ BROKER_URL: 'amqp://guest:wrong@127.0.0.1:5672' });
    try {
      await expect
        .poll(async () => (await service.call('GET', '/health/ready')).body.relay?.state, { timeout: 10_000 })
        .toBe('failing');
      const { status, body } = await service.call('GET', '/health/ready');
      expect(status).toBe(503);
      expect(body.detail).toMatch(
        /integration relay cannot publish to amqp:\/\/guest:\*\*\*@127\.0\.0\.1:5672/,
      );
      expect(body.detail).toMatch(/ACCESS.REFUSED/);
      expect(body.relay).toMatchObject({ state: 'failing' });

      const token = await service.token('alice');
      expect((await service.call('POST', '/accounts', { token, body: { currency: 'EUR' } })).status).toBe(
        201,
      );
      const metrics = await service.call('GET', '/metrics');
      expect(metrics.body).toMatch(/esbank_relay_connected\{\} 0/);
    } finally {
      await service.close();
    }
  });

  it('a closed port: readiness fails naming the relay and the broker, the API serves, the process stays up', async () => {
    const db = await createTestDatabase();
    const port = await freePort(); // and nothing listens there
    const service = await serviceProcess({
      DATABASE_URL: db.url,
      BROKER_URL: `amqp://guest:guest@127.0.0.1:${port}`,
    });
    try {
      const ready = async () => {
        const response = await fetch(`${service.url}/health/ready`);
        return {
          status: response.status,
          type: response.headers.get('content-type'),
          body: (await response.json()) as Reply['body'],
        };
      };
      // Attempt after attempt in one process: it retries with backoff instead of exiting.
      await expect
        .poll(async () => (await ready()).body.relay?.failures ?? 0, { timeout: 10_000 })
        .toBeGreaterThan(2);
      const { status, type, body } = await ready();
      const broker = `amqp://guest:***@127.0.0.1:${port}`;
      expect(status).toBe(503);
      expect(type).toMatch(/^application\/problem\+json/);
      expect(body).toMatchObject({
        status: 503,
        relay: { state: 'failing', target: `${broker} exchange esbank.events` },
      });
      expect(body.detail).toBe(
        `The integration relay cannot publish to ${broker} exchange esbank.events: ` +
          `cannot connect to the broker at ${broker}: connect ECONNREFUSED 127.0.0.1:${port}`,
      );

      // Answered at once (no retry): the API does not wait for the broker.
      const created = await call(service.url, 'POST', '/accounts', await tokenFor('alice'), {
        currency: 'EUR',
      });
      expect(created.status).toBe(201);
      expect((await fetch(`${service.url}/health/live`)).status).toBe(200);
    } finally {
      await service.dispose();
      await db.drop();
    }
  });

  it('is off without BROKER_URL: readiness does not mention it', async () => {
    const service = await startTestService();
    try {
      const { status, body } = await service.call('GET', '/health/ready');
      expect(status).toBe(200);
      expect(body.relay).toBeUndefined();
    } finally {
      await service.close();
    }
  });
});
