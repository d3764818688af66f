import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { expectReconciled, expectSound, waitForQuiescence } from '../support/faults/ledger.ts';
import { call, serviceProcess, tokenFor } from '../support/faults/service.ts';

const SECONDS = 30;
const CLIENTS = 16;
const ACCOUNTS = 8;
const DEADLINE_MS = 1_000;

/**
 * Deadlines of a second under 16 clients: many transfers reach their deadline mid-way, so the
 * deadline job and the saga race the debit on every source. The source account decides which came
 * first; no transfer whose source was debited may end cancelled (the audit saw every one refunded).
 */
describe(`the pivot under load: ${CLIENTS} clients, ${DEADLINE_MS} ms deadlines, ${SECONDS} s`, () => {
  let db: TestDatabase;
  let service: Awaited<ReturnType<typeof serviceProcess>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    service = await serviceProcess({
      DATABASE_URL: db.url,
      TRANSFER_DEADLINE_MS: String(DEADLINE_MS),
      RATE_LIMIT_PER_MINUTE: '100000000',
    });
  });
  afterAll(async () => {
    await service?.dispose();
    await db?.drop();
  });

  it('never cancels a debited transfer, and conserves money', async () => {
    const owner = await tokenFor('owner');
    const operator = await tokenFor('ops', 'operator');
    const accounts: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const id = (await call(service.url, 'POST', '/accounts', owner, { currency: 'EUR' })).body.accountId;
      await call(service.url, 'POST', `/accounts/${id}/deposits`, operator, { amount: 1_000_000 });
      accounts.push(id);
    }
    const until = Date.now() + SECONDS * 1000;
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        for (let i = 0; Date.now() < until; i++) {
          const from = accounts[(client + i) % ACCOUNTS]!;
          const to = accounts[(client + i * 3 + 1) % ACCOUNTS]!;
          if (from === to) continue;
          const response = await call(service.url, 'POST', '/transfers', owner, {
            fromAccountId: from,
            toAccountId: to,
            amount: 1 + ((client * 31 + i * 17) % 500),
          });
          if (response.status === 202) ids.push(response.body.transferId);
        }
      }),
    );
    const state = await waitForQuiescence(db.sql, ids, 120_000);
    expectSound(state);
    const outcomes = ids.map((id) => state.terminal.get(id)![0]!);
    const count = (outcome: string) => outcomes.filter((o) => o === outcome).length;
    const [row] = await db.sql<{ debited: number; voided: number }[]>`
      SELECT count(*) FILTER (WHERE type = 'TransferDebited')::int AS debited,
             count(*) FILTER (WHERE type = 'TransferDebitVoided')::int AS voided
      FROM events`;
    expect(count('COMPLETED')).toBe(row!.debited);
    expect(count('CANCELLED:DEADLINE_EXPIRED')).toBe(row!.voided);
    await expectReconciled(db.url);
    console.log(
      `pivot: ${ids.length} transfers, ${count('COMPLETED')} completed (source debited), ` +
        `${count('CANCELLED:DEADLINE_EXPIRED')} voided by the deadline and cancelled, ` +
        `${state.debitedNotCompleted.length} debited and not completed`,
    );
  });
});
