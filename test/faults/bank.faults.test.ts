import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { expectReconciled, expectSound, ledger } from '../support/faults/ledger.ts';
import { call, serviceProcess, tokenFor } from '../support/faults/service.ts';

const SECONDS = process.env.FAULTS_PROFILE === 'full' ? 60 : 15;
const ACCOUNTS = 8;
const TOTAL = 1_000;

/** After Jepsen's "bank" test: money only moves between accounts, so every read must sum to the total. */
describe(`bank workload (${SECONDS} s)`, () => {
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

  it('never shows more than the total, never a negative balance, and ends with exactly the total', async () => {
    const owner = await tokenFor('owner');
    const operator = await tokenFor('ops', 'operator');
    const accounts: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const id = (await call(service.url, 'POST', '/accounts', owner, { currency: 'EUR' })).body.accountId;
      await call(service.url, 'POST', `/accounts/${id}/deposits`, operator, { amount: TOTAL / ACCOUNTS });
      accounts.push(id);
    }
    const until = Date.now() + SECONDS * 1000;
    const samples: Array<{ sum: number; min: number }> = [];
    const reader = (async () => {
      while (Date.now() < until) {
        // One statement: a consistent snapshot of the balances read model.
        const rows = await db.sql<{ available: number }[]>`SELECT available FROM balances`;
        samples.push({
          sum: rows.reduce((s, r) => s + r.available, 0),
          min: Math.min(...rows.map((r) => r.available)),
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    let transfers = 0;
    await Promise.all(
      Array.from({ length: 16 }, async (_, client) => {
        for (let i = 0; Date.now() < until; i++) {
          const from = accounts[(client + i) % ACCOUNTS]!;
          const to = accounts[(client + i * 3 + 1) % ACCOUNTS]!;
          if (from === to) continue;
          const response = await call(service.url, 'POST', '/transfers', owner, {
            fromAccountId: from,
            toAccountId: to,
            amount: 1 + ((client * 31 + i * 17) % 60),
          });
          if (response.status === 202) transfers++;
        }
      }),
    );
    await reader;

    // The reader really sampled throughout (at least one read a second, on a loaded machine too).
    expect(samples.length).toBeGreaterThan(SECONDS);
    expect(samples.filter((s) => s.sum > TOTAL)).toEqual([]);
    expect(samples.filter((s) => s.min < 0)).toEqual([]);
    // Quiescence: every transfer ends and the read model catches up (the saga works off its backlog:
    // allow as long again as the load ran, and at least 30 s).
    // (Since the front door got faster this backlog is larger: some 10,000 transfers in 15 s here.)
    const settleBy = Date.now() + Math.max(120, 4 * SECONDS) * 1000;
    const settleStarted = Date.now();
    while (Date.now() < settleBy) {
      const [row] = await db.sql<{ pending: number; available: number; open: number }[]>`
        SELECT (SELECT coalesce(sum(pending), 0)::bigint FROM balances) AS pending,
               (SELECT coalesce(sum(available), 0)::bigint FROM balances) AS available,
               (SELECT count(*)::int FROM transfers WHERE status = 'PENDING') AS open`;
      if (row!.pending === 0 && row!.open === 0 && row!.available === TOTAL) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const [final] = await db.sql<{ pending: number; available: number }[]>`
      SELECT sum(pending)::bigint AS pending, sum(available)::bigint AS available FROM balances`;
    expect(final).toEqual({ pending: 0, available: TOTAL });
    const state = await ledger(db.sql);
    expectSound(state);
    const outcomes = new Map<string, number>();
    for (const [outcome] of state.terminal.values())
      outcomes.set(outcome!, (outcomes.get(outcome!) ?? 0) + 1);
    await expectReconciled(db.url);
    console.log(
      `bank: ${transfers} transfers accepted, ${samples.length} samples, all within [0, ${TOTAL}]; ` +
        `settled ${((Date.now() - settleStarted) / 1000).toFixed(1)} s after the load; ${JSON.stringify(Object.fromEntries(outcomes))}`,
    );
  });
});
