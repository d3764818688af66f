import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { expectReconciled, expectSound, ledger, waitForQuiescence } from '../support/faults/ledger.ts';
import {
  call,
  callUntilAnswered,
  serviceProcess,
  tokenFor,
  workloadTransfer,
} from '../support/faults/service.ts';

const TRANSFERS = Number(process.env.FAULTS_TRANSFERS ?? 2000);
const ACCOUNTS = 50;
const CLIENTS = 16;

describe('crash: SIGKILL the service 3 times under load', () => {
  let db: TestDatabase;
  let service: Awaited<ReturnType<typeof serviceProcess>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    service = await serviceProcess({ DATABASE_URL: db.url, RATE_LIMIT_PER_MINUTE: '100000000' });
  });
  afterAll(async () => {
    await service?.dispose();
    await db?.drop();
  });

  it('loses no acknowledged transfer, doubles no step, conserves money', async () => {
    const owner = await tokenFor('owner');
    const operator = await tokenFor('ops', 'operator');
    const accounts: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const opened = await call(service.url, 'POST', '/accounts', owner, { currency: 'EUR' });
      accounts.push(opened.body.accountId);
      await call(service.url, 'POST', `/accounts/${opened.body.accountId}/deposits`, operator, {
        amount: 10_000,
      });
    }

    const acknowledged = new Set<string>();
    let issued = 0;
    let lastRestart = Date.now();
    const killer = (async () => {
      for (const at of [0.2, 0.5, 0.8]) {
        while (issued < TRANSFERS * at) await new Promise((resolve) => setTimeout(resolve, 20));
        await service.kill('SIGKILL');
        await new Promise((resolve) => setTimeout(resolve, 300));
        await service.start();
        lastRestart = Date.now();
      }
    })();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (issued < TRANSFERS) {
          const i = issued++;
          const body = workloadTransfer(accounts, i);
          const response = await callUntilAnswered(
            service.url,
            '/transfers',
            owner,
            body,
            `transfer-${i}-${randomUUID()}`,
          );
          if (response.status === 202) acknowledged.add(response.body.transferId);
        }
      }),
    );
    await killer;

    expect(acknowledged.size).toBe(TRANSFERS);
    const remaining = 30_000 - (Date.now() - lastRestart);
    const state = await waitForQuiescence(db.sql, acknowledged, Math.max(remaining, 1_000));
    for (const id of acknowledged) expect(state.requested.has(id)).toBe(true);
    expect(state.requested.size).toBe(TRANSFERS); // retries created nothing extra
    expectSound(state);
    expect(state.cash).toBe(ACCOUNTS * 10_000);
    expect((await ledger(db.sql)).terminal.size).toBe(TRANSFERS);
    await expectReconciled(db.url);
  });
});
