import { getTableConfig } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../src/adapters/postgres/event-store.ts';
import { balancesProjection } from '../../src/adapters/postgres/projections/balances.ts';
import { historyProjection } from '../../src/adapters/postgres/projections/history.ts';
import { eventsFromBatch, eventsFromLog } from '../../src/adapters/postgres/projections/projection.ts';
import { rebuildReadModels } from '../../src/adapters/postgres/projections/rebuild.ts';
import { startProjections } from '../../src/adapters/postgres/projections/runner.ts';
import { transfersProjection } from '../../src/adapters/postgres/projections/transfers.ts';
import { createReadModel } from '../../src/adapters/postgres/read-model.ts';
import { createPostgresSagaStore } from '../../src/adapters/postgres/saga-store.ts';
import * as schema from '../../src/adapters/postgres/schema/read-models.ts';
import { silentLogger } from '../../src/application/ports/logger.ts';
import { decodeCursor, type TransferQuery } from '../../src/application/ports/read-model.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { expectReadModelsOf, logPrefix, readModelTables } from '../support/read-side.ts';
import { createBank, expectConservation, request } from '../support/saga.ts';

/** The read side fed by the real saga: what each read model says, and how it pages. */
describe('read models on PostgreSQL', () => {
  let db: TestDatabase;
  let bank: ReturnType<typeof createBank>;
  let store: ReturnType<typeof createPostgresEventStore>;
  let readModel: ReturnType<typeof createReadModel>;
  /** alice owns 0 and 1, bob 2, carol 3. */
  const accounts: string[] = [];
  const owners = ['alice', 'alice', 'bob', 'carol'];
  const transferIds: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    store = createPostgresEventStore(db.sql);
    readModel = createReadModel(db.sql, { store });
    bank = createBank(store, createPostgresSagaStore(db.sql));
    const coordinator = bank.coordinator();
    coordinator.start();
    // Two runners at once, as two instances would run them: neither may double-apply. One reads
    // the log table in its statements, the other reads the events through the store.
    const runners = [
      startProjections({ store, sql: db.sql, logger: silentLogger, batchSize: 7 }),
      startProjections({ store, sql: db.sql, logger: silentLogger, batchSize: 13, readLogTable: false }),
    ];
    for (const [i, amount] of [500, 300, 0, 0].entries()) {
      const { accountId } = await bank.banking.openAccount({ ownerId: owners[i]!, currency: 'EUR' }, request);
      if (amount > 0) await bank.banking.depositCash({ accountId, amount }, request);
      accounts.push(accountId);
    }
    for (let i = 0; i < 24; i++) {
      const { transferId } = await bank.banking.requestTransfer(
        {
          fromAccountId: accounts[i % 4]!,
          toAccountId: accounts[(i + 1) % 4]!,
          amount: 10 + i,
          reference: `r${i}`,
        },
        request,
      );
      transferIds.push(transferId);
    }
    await bank.banking.withdrawCash({ accountId: accounts[0]!, amount: 5, reference: 'atm' }, request);
    await bank.settle(transferIds);
    await coordinator.stop();
    expect(await readModel.waitForPosition(await store.lastPosition(), 15_000)).toBe(true);
    await Promise.all(runners.map((runner) => runner.stop()));
  });
  afterAll(async () => {
    await readModel.close();
    await store.close();
    await db.drop();
  });

  it('balances equal the aggregates; history and transfers match the log, each event once', async () => {
    const { balances: reached } = await readModel.checkpoints();
    for (const [i, { id, available, pending }] of (await bank.balances(accounts)).entries()) {
      const { account, position } = await readModel.getAccount(id);
      // The balances checkpoint, read with the row.
      expect(position).toBe(reached);
      expect(account).toEqual({
        accountId: id,
        ownerId: owners[i],
        currency: 'EUR',
        status: 'OPEN',
        available,
        pending,
        version: (await bank.banking.loadAccount(id)).revision,
      });
      expect(await readModel.ownerOfAccount(id)).toBe(owners[i]);
    }
    await expectConservation(store);
    await expectReadModelsOf(db.sql, await logPrefix(store));
    expect(await readModel.getAccount('00000000-0000-4000-8000-000000000000')).toEqual({
      account: null,
      position: reached,
    });
    expect(await readModel.ownerOfAccount('00000000-0000-4000-8000-000000000000')).toBeNull();
  });

  it('history pages newest first through opaque cursors, with running balances and counterparties', async () => {
    const walked = [];
    const { history: reached } = await readModel.checkpoints();
    let cursor: number | undefined;
    for (let pages = 0; pages < 50; pages++) {
      const { page, position } = await readModel.getHistory(accounts[0]!, {
        limit: 4,
        ...(cursor ? { cursor } : {}),
      });
      // The history checkpoint, read with the page.
      expect(position).toBe(reached);
      walked.push(...page.items);
      if (!page.nextCursor) break;
      expect(page.items).toHaveLength(4);
      cursor = decodeCursor(page.nextCursor)!;
    }
    const rows = await db.sql<{ position: number }[]>`
      SELECT position FROM history WHERE account_id = ${accounts[0]!} ORDER BY position DESC`;
    expect(walked.map((item) => item.position)).toEqual(rows.map((row) => row.position));
    expect(walked.filter((item) => item.kind === 'CASH_WITHDRAWN')).toMatchObject([
      { amount: 5, reference: 'atm' },
    ]);
    const [latest] = await bank.balances([accounts[0]!]);
    expect(walked[0]).toMatchObject({ availableAfter: latest!.available, pendingAfter: latest!.pending });
    expect(walked.at(-1)).toMatchObject({ kind: 'CASH_DEPOSITED', amount: 500, availableAfter: 500 });
    expect(walked[0]!.occurredAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    // Account 1 is paid by account 0, which has the money: a release names the payer, although
    // the release event itself does not.
    const { page: ofAccount1 } = await readModel.getHistory(accounts[1]!, { limit: 100 });
    const released = ofAccount1.items.filter((item) => item.kind === 'TRANSFER_CREDIT_RELEASED');
    expect(released.length).toBeGreaterThan(0);
    expect(released.every((item) => item.counterpartyAccountId === accounts[0])).toBe(true);
    // A cancelled credit on an account names the source that could not pay.
    const cancelled = (await readModel.getHistory(accounts[3]!, { limit: 100 })).page.items.filter(
      (item) => item.kind === 'TRANSFER_CREDIT_CANCELLED',
    );
    expect(cancelled.length).toBeGreaterThan(0);
    expect(cancelled.every((item) => item.counterpartyAccountId === accounts[2])).toBe(true);
    // An account without history: no items, and still the checkpoint.
    expect(await readModel.getHistory('00000000-0000-4000-8000-000000000000', { limit: 10 })).toEqual({
      page: { items: [], nextCursor: null },
      position: reached,
    });
    expect(decodeCursor('bm9wZQ')).toBeNull();
    expect(decodeCursor(Buffer.from('-3').toString('base64url'))).toBeNull();
  });

  it('transfers carry status, reason and a timeline of every step', async () => {
    for (const transferId of transferIds) {
      const state = await bank.transferState(transferId);
      const view = await readModel.getTransfer(transferId);
      expect(view?.status).toBe(state.status === 'Completed' ? 'COMPLETED' : 'CANCELLED');
      if (view?.status === 'COMPLETED') {
        expect(view.timeline.map((t) => t.step)).toEqual([
          'REQUESTED',
          'CREDIT_HELD',
          'DEBITED',
          'CREDIT_RELEASED',
          'COMPLETED',
        ]);
        expect(view.reason).toBeUndefined();
      } else {
        expect(view?.reason).toBe('INSUFFICIENT_FUNDS');
        expect(view?.timeline.map((t) => t.step)).toEqual([
          'REQUESTED',
          'CREDIT_HELD',
          'DEBIT_REJECTED',
          'CANCELLED',
          'CREDIT_CANCELLED',
        ]);
      }
    }
    expect(await readModel.getTransfer('00000000-0000-4000-8000-000000000000')).toBeNull();
  });

  it('transfer listings page newest first by account, status and owner', async () => {
    const walk = async (query: Omit<TransferQuery, 'limit' | 'cursor'>) => {
      const ids: string[] = [];
      let cursor: number | undefined;
      for (let pages = 0; pages < 50; pages++) {
        const page = await readModel.listTransfers({ ...query, limit: 3, ...(cursor ? { cursor } : {}) });
        ids.push(...page.items.map((item) => item.transferId));
        if (!page.nextCursor) return ids;
        cursor = decodeCursor(page.nextCursor)!;
      }
      throw new Error('too many pages');
    };
    const all = (
      await db.sql<
        { transfer_id: string; from_account_id: string; to_account_id: string; status: string }[]
      >`SELECT transfer_id, from_account_id, to_account_id, status FROM transfers ORDER BY requested_position DESC`
    ).map((row) => ({ ...row }));
    const ownerOf = (id: string) => owners[accounts.indexOf(id)];
    const expected = (keep: (row: (typeof all)[number]) => boolean) =>
      all.filter(keep).map((row) => row.transfer_id);

    expect(await walk({})).toEqual(expected(() => true));
    expect(await walk({ accountId: accounts[1]! })).toEqual(
      expected((t) => t.from_account_id === accounts[1] || t.to_account_id === accounts[1]),
    );
    expect(await walk({ status: 'CANCELLED' })).toEqual(expected((t) => t.status === 'CANCELLED'));
    expect(await walk({ accountId: accounts[2]!, status: 'COMPLETED' })).toEqual(
      expected(
        (t) =>
          (t.from_account_id === accounts[2] || t.to_account_id === accounts[2]) && t.status === 'COMPLETED',
      ),
    );
    // A customer's view: transfers touching any of its accounts, each once.
    expect(await walk({ visibleToOwner: 'alice' })).toEqual(
      expected((t) => ownerOf(t.from_account_id) === 'alice' || ownerOf(t.to_account_id) === 'alice'),
    );
    // Someone else's account: only the transfers with the owner's accounts on the other side.
    expect(await walk({ accountId: accounts[2]!, visibleToOwner: 'carol' })).toEqual(
      expected(
        (t) =>
          (t.from_account_id === accounts[2] || t.to_account_id === accounts[2]) &&
          (ownerOf(t.from_account_id) === 'carol' || ownerOf(t.to_account_id) === 'carol'),
      ),
    );
    expect(await walk({ visibleToOwner: 'nobody' })).toEqual([]);
    expect(all.length).toBe(24);
  });

  it('applying a batch again, or overlapping batches, changes nothing', async () => {
    const live = await readModelTables(db.sql);
    await rebuildReadModels({ sql: db.sql, store, until: { position: 1 } });
    const events = await logPrefix(store);
    const projections = [balancesProjection, historyProjection, transfersProjection];
    // Without the runner's checkpoint: each projection must skip what its rows have already seen,
    // whether the events are sent along or read from the log table.
    for (let start = 0; start < events.length; start += 10) {
      await db.sql.begin(async (tx) => {
        for (const projection of projections) {
          await projection.apply(tx, eventsFromBatch(events.slice(Math.max(0, start - 15), start + 10)));
          await projection.apply(tx, eventsFromBatch(events.slice(start, start + 10)));
        }
      });
    }
    expect(await readModelTables(db.sql)).toEqual(live);

    await rebuildReadModels({ sql: db.sql, store, until: { position: 1 } });
    const positions = events.map((event) => event.position);
    for (let start = 0; start < positions.length; start += 10) {
      const positionAt = (i: number) => (i <= 0 ? 0 : positions[Math.min(i, positions.length) - 1]!);
      await db.sql.begin(async (tx) => {
        for (const projection of projections) {
          await projection.apply(tx, eventsFromLog(positionAt(start - 15), positionAt(start + 10)));
          await projection.apply(tx, eventsFromLog(positionAt(start), positionAt(start + 10)));
        }
      });
    }
    expect(await readModelTables(db.sql)).toEqual(live);
  });

  it('the Drizzle schema says what the migration made', async () => {
    for (const table of [schema.balances, schema.history, schema.transfers, schema.projectionCheckpoints]) {
      const config = getTableConfig(table);
      const columns = await db.sql<{ column_name: string; is_nullable: string; data_type: string }[]>`
        SELECT column_name, is_nullable, data_type FROM information_schema.columns
        WHERE table_name = ${config.name} AND table_schema = current_schema() ORDER BY ordinal_position`;
      expect(columns.map((c) => [c.column_name, c.is_nullable === 'NO', c.data_type])).toEqual(
        config.columns.map((c) => [c.name, c.notNull, c.getSQLType()]),
      );
      const indexes = await db.sql<{ indexname: string }[]>`
        SELECT indexname FROM pg_indexes WHERE tablename = ${config.name} AND indexname NOT LIKE '%_pkey' ORDER BY 1`;
      expect(indexes.map((row) => row.indexname)).toEqual(
        config.indexes.map((index) => index.config.name).sort(),
      );
    }
  });
});
