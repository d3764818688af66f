import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestBroker, expectEveryEventOnce, type TestBroker, waitForRelay } from '../support/broker.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { waitForQuiescence } from '../support/faults/ledger.ts';
import { call, callUntilAnswered, serviceProcess, tokenFor } from '../support/faults/service.ts';
import { startTestService } from '../support/service.ts';

const ACCOUNTS = 12;
const TRANSFERS = 400;
const CLIENTS = 8;

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
    const killer = (async () => {
      for (const at of [0.3, 0.7]) {
        while (issued < TRANSFERS * at) await new Promise((resolve) => setTimeout(resolve, 10));
        await service.kill('SIGKILL');
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
    const { duplicates, byType } = await expectEveryEventOnce(db.sql, await broker.drain());
    expect(byType['transfer.requested']).toBe(transferIds.size);
    expect((byType['transfer.completed'] ?? 0) + (byType['transfer.cancelled'] ?? 0)).toBe(transferIds.size);
    expect(byType['account.closed']).toBe(1);
    expect(duplicates).toBeGreaterThanOrEqual(0); // how many depends on where the kills fell
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
