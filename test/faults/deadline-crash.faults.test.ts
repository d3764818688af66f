import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { expectReconciled, expectSound, waitForQuiescence } from '../support/faults/ledger.ts';
import { call, serviceProcess, tokenFor } from '../support/faults/service.ts';

const DEADLINE_MS = 1_500;

describe('deadline across a crash', () => {
  let db: TestDatabase;
  let service: Awaited<ReturnType<typeof serviceProcess>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    service = await serviceProcess({ DATABASE_URL: db.url, TRANSFER_DEADLINE_MS: String(DEADLINE_MS) });
  });
  afterAll(async () => {
    await service?.dispose();
    await db?.drop();
  });

  it('transfers requested right before a crash end exactly once after a restart past their deadline', async () => {
    const owner = await tokenFor('owner');
    const operator = await tokenFor('ops', 'operator');
    const a = (await call(service.url, 'POST', '/accounts', owner, { currency: 'EUR' })).body.accountId;
    const b = (await call(service.url, 'POST', '/accounts', owner, { currency: 'EUR' })).body.accountId;
    await call(service.url, 'POST', `/accounts/${a}/deposits`, operator, { amount: 1_000 });

    const requested = await Promise.all(
      Array.from({ length: 20 }, () =>
        call(service.url, 'POST', '/transfers', owner, { fromAccountId: a, toAccountId: b, amount: 10 }),
      ),
    );
    await service.kill('SIGKILL');
    const ids = requested.map((r) => {
      expect(r.status).toBe(202);
      return r.body.transferId as string;
    });

    await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS + 1_000));
    await service.start();
    const state = await waitForQuiescence(db.sql, ids, 20_000);
    expectSound(state);
    const outcomes = ids.map((id) => state.terminal.get(id)![0]);
    for (const outcome of outcomes) expect(['COMPLETED', 'CANCELLED:DEADLINE_EXPIRED']).toContain(outcome);
    // Those still before the pivot at the crash cannot complete after their deadline.
    const completed = outcomes.filter((o) => o === 'COMPLETED').length;
    const [row] = await db.sql<{ debits: number }[]>`
      SELECT count(*)::int AS debits FROM events e
      WHERE type = 'TransferDebitRecorded' AND data->>'transferId' = ANY(${ids})`;
    expect(completed).toBe(row!.debits);
    await expectReconciled(db.url);
    console.log(
      `deadline across a crash: ${completed} completed (past the pivot before the crash), ${ids.length - completed} expired`,
    );
  });
});
