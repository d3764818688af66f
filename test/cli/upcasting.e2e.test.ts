import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../src/adapters/postgres/event-store.ts';
import { rebuildReadModels } from '../../src/adapters/postgres/projections/rebuild.ts';
import { createPostgresSagaStore } from '../../src/adapters/postgres/saga-store.ts';
import { verifyStore } from '../../src/adapters/postgres/verify.ts';
import type { NewEvent } from '../../src/application/ports/event-store.ts';
import { esbank } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createBank } from '../support/saga.ts';

type Fixture = { events: Array<NewEvent & { streamName: string }> };
type Expected = {
  accounts: Record<string, { status: string; available: number; pending: number }>;
  transfers: Record<string, { status: string; reason?: string; deadlineAt: string }>;
};
const fixture: Fixture = JSON.parse(readFileSync('test/fixtures/events-v1.json', 'utf8'));
const expected: Expected = JSON.parse(readFileSync('test/fixtures/events-v1.expected.json', 'utf8'));
const [inFlight] = Object.entries(expected.transfers).filter(([, t]) => t.status === 'Requested');
const PUBLIC = { Requested: 'PENDING', Completed: 'COMPLETED', Cancelled: 'CANCELLED' } as Record<
  string,
  string
>;

/**
 * Events written years ago keep loading: test/fixtures/events-v1.json holds a ledger whose
 * TransferRequested events are schema v1 (no deadlineAt). Stored as they are, they give the state
 * the ledger had when it was written, through every read path.
 */
describe('a ledger of v1 events (upcasting)', () => {
  let db: TestDatabase;
  let store: ReturnType<typeof createPostgresEventStore>;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = createPostgresEventStore(db.sql);
    for (const { streamName, ...event } of fixture.events) await store.append(streamName, [event], 'any');
    const [{ versions }] = (await db.sql`
      SELECT array_agg(DISTINCT (metadata->>'schemaVersion')::int) AS versions FROM events
      WHERE type = 'TransferRequested' AND NOT data ? 'deadlineAt'`) as unknown as [{ versions: number[] }];
    expect(versions).toEqual([1]); // stored as written then
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it('aggregates load to the state of the time, deadlines included', async () => {
    const { banking } = createBank(store, createPostgresSagaStore(db.sql));
    for (const [id, account] of Object.entries(expected.accounts))
      expect((await banking.loadAccount(id)).state).toMatchObject(account);
    for (const [id, { deadlineAt, ...transfer }] of Object.entries(expected.transfers))
      expect((await banking.loadTransfer(id)).state).toMatchObject({ ...transfer, details: { deadlineAt } });
  });

  it('replay rebuilds the read models of that state, and verify finds it whole', async () => {
    await rebuildReadModels({ sql: db.sql, store });
    const balances = await db.sql<{ account_id: string; available: number; pending: number }[]>`
      SELECT account_id, available, pending FROM balances`;
    expect(Object.fromEntries(balances.map((b) => [b.account_id, [b.available, b.pending]]))).toEqual(
      Object.fromEntries(Object.entries(expected.accounts).map(([id, a]) => [id, [a.available, a.pending]])),
    );
    const transfers = await db.sql<
      { transfer_id: string; status: string }[]
    >`SELECT transfer_id, status FROM transfers`;
    expect(Object.fromEntries(transfers.map((t) => [t.transfer_id, t.status]))).toEqual(
      Object.fromEntries(Object.entries(expected.transfers).map(([id, t]) => [id, PUBLIC[t.status]])),
    );

    // verify reads each transfer's deadline: within it the transfer in flight is fine, past it not.
    const before = new Date(Date.parse(inFlight![1].deadlineAt) - 1);
    expect(await verifyStore({ sql: db.sql, store, now: before })).toMatchObject({ total: 0 });
    const after = await verifyStore({
      sql: db.sql,
      store,
      now: new Date(Date.parse(inFlight![1].deadlineAt) + 1),
    });
    expect(after.discrepancies).toEqual([
      {
        check: 'transfer-ends',
        subject: `transfer ${inFlight![0]}`,
        detail: `still Requested after its deadline ${inFlight![1].deadlineAt}`,
      },
    ]);
  });

  it('the CLI shows the upcast event and verifies the store', async () => {
    const env = { DATABASE_URL: db.url };
    const events = await esbank(['events', `transfer-${inFlight![0]}`, '--json'], env);
    expect(JSON.parse(events.stdout)[0]).toMatchObject({
      type: 'TransferRequested',
      data: { deadlineAt: inFlight![1].deadlineAt },
      metadata: { schemaVersion: 2 },
    });
    // The wall clock is years before the fixture's deadlines.
    const verify = await esbank(['verify'], env);
    expect([verify.code, verify.stderr]).toEqual([0, '']);
  });

  it('the saga reads the v1 deadline: the transfer in flight, handled after it, expires', async () => {
    const bank = createBank(store, createPostgresSagaStore(db.sql));
    bank.clock.advance(Date.parse(inFlight![1].deadlineAt) - bank.clock.now().getTime() + 1);
    const coordinator = bank.coordinator();
    coordinator.start();
    try {
      for (let waited = 0; (await bank.transferState(inFlight![0])).status === 'Requested'; waited += 20) {
        if (waited > 15_000) throw new Error('the saga did not handle the transfer');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await coordinator.stop();
    }
    // Without its deadline the transfer would never count as late, and would complete.
    expect(await bank.transferState(inFlight![0])).toMatchObject({
      status: 'Cancelled',
      reason: 'DEADLINE_EXPIRED',
    });
  });
});
