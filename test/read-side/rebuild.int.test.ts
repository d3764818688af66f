import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWorkload } from '../../scripts/support/workload.ts';
import { createSql } from '../../src/adapters/postgres/client.ts';
import { createPostgresEventStore } from '../../src/adapters/postgres/event-store.ts';
import type { Projection } from '../../src/adapters/postgres/projections/projection.ts';
import { rebuildReadModels } from '../../src/adapters/postgres/projections/rebuild.ts';
import { PROJECTIONS, startProjections } from '../../src/adapters/postgres/projections/runner.ts';
import { createReadModel } from '../../src/adapters/postgres/read-model.ts';
import { silentLogger } from '../../src/application/ports/logger.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { balancesFoldedFrom, expectReadModelsOf, logPrefix, readModelTables } from '../support/read-side.ts';

/**
 * Exactly-once projection under crashes and concurrent runners, and replay: a rebuild equals the
 * live tables, `until` rebuilds the past, and a rebuild under running projections loses nothing.
 * The log is a generated bank workload written through the store (every saga outcome).
 */
describe('projection runners and rebuilds on PostgreSQL', () => {
  let db: TestDatabase;
  let store: ReturnType<typeof createPostgresEventStore>;
  let readModel: ReturnType<typeof createReadModel>;

  const caughtUp = async () => {
    expect(await readModel.waitForPosition(await store.lastPosition(), 30_000)).toBe(true);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    store = createPostgresEventStore(db.sql);
    readModel = createReadModel(db.sql, { store });
    await generateWorkload(store, { events: 2500, accounts: 30, concurrency: 8, seed: 7 });
  });
  afterAll(async () => {
    await readModel.close();
    await store.close();
    await db.drop();
  });

  it('a runner killed in the middle of a batch, then its whole process, applies every event exactly once', async () => {
    // A projection whose transaction loses its connection after writing its rows, before the
    // checkpoint: the crash the checkpoint-in-the-same-transaction design is for.
    const crashes = new Map<string, number>();
    const crashed = new Set<string>();
    const crashing = (projection: Projection, atBatch: number): Projection => ({
      ...projection,
      async apply(tx, events) {
        await projection.apply(tx, events);
        const seen = (crashes.get(projection.name) ?? 0) + 1;
        crashes.set(projection.name, seen);
        if (seen === atBatch) {
          crashed.add(projection.name);
          const [{ pid }] = (await tx`SELECT pg_backend_pid() AS pid`) as unknown as [{ pid: number }];
          await db.sql`SELECT pg_terminate_backend(${pid})`;
          await tx`SELECT 1`; // fails: the connection is gone and the transaction with it
        }
      },
    });
    await rebuildReadModels({ sql: db.sql, store, until: { position: 1 } });
    const doomed = createSql(db.url, { max: 4, applicationName: 'doomed-runner' });
    const first = startProjections({
      store,
      sql: doomed,
      logger: silentLogger,
      batchSize: 40,
      projections: PROJECTIONS.map((projection, i) => crashing(projection, 3 + i)),
    });
    // Each runner recovers from its own crash and moves on; then the whole process dies.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && Math.min(...Object.values(await readModel.checkpoints())) < 1200) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect([...crashed].sort()).toEqual(['balances', 'history', 'transfers']);
    await doomed.end({ timeout: 0 });
    await first.stop();

    const second = startProjections({ store, sql: db.sql, logger: silentLogger, batchSize: 97 });
    await caughtUp();
    await second.stop();
    await expectReadModelsOf(db.sql, await logPrefix(store));

    const live = await readModelTables(db.sql);
    const summary = await rebuildReadModels({ sql: db.sql, store, batchSize: 333 });
    expect(summary).toMatchObject({
      projections: ['balances', 'history', 'transfers'],
      position: await store.lastPosition(),
    });
    expect(await readModelTables(db.sql)).toEqual(live);
  });

  it('two runners per projection on one database never apply an event twice', async () => {
    await rebuildReadModels({ sql: db.sql, store, until: { position: 1 } });
    const runners = [7, 50, 500].map((batchSize) =>
      startProjections({ store, sql: db.sql, logger: silentLogger, batchSize }),
    );
    await caughtUp();
    await Promise.all(runners.map((runner) => runner.stop()));
    await expectReadModelsOf(db.sql, await logPrefix(store));
  });

  it.each([
    ['reading the log table', true],
    ['reading through the store', false],
  ])(
    'rebuilds as of a past time or position, and a full rebuild restores the present (%s)',
    async (_, readLogTable) => {
      await rebuildReadModels({ sql: db.sql, store, readLogTable });
      const live = await readModelTables(db.sql);
      const events = await logPrefix(store);
      const middle = events[Math.floor(events.length / 2)]!;

      const asOfTime = await rebuildReadModels({
        sql: db.sql,
        store,
        readLogTable,
        until: { time: new Date(middle.metadata.occurredAt) },
      });
      const before = await logPrefix(store, { time: new Date(middle.metadata.occurredAt) });
      expect(asOfTime.position).toBe(before[before.length - 1]!.position);
      await expectReadModelsOf(db.sql, before);
      expect(await readModel.checkpoints()).toEqual({
        balances: asOfTime.position,
        history: asOfTime.position,
        transfers: asOfTime.position,
      });

      const asOfPosition = await rebuildReadModels({
        sql: db.sql,
        store,
        readLogTable,
        projections: ['balances'],
        until: { position: middle.position },
      });
      expect(asOfPosition).toMatchObject({ projections: ['balances'], position: middle.position });
      const { balances } = await readModelTables(db.sql);
      expect(balances.map(({ updated_at: _, ...row }) => row)).toEqual(
        balancesFoldedFrom(await logPrefix(store, { position: middle.position })),
      );
      expect((await readModel.checkpoints()).balances).toBe(middle.position);

      await rebuildReadModels({ sql: db.sql, store, readLogTable });
      expect(await readModelTables(db.sql)).toEqual(live);
    },
  );

  it('a rebuilt table keeps the live table storage parameters (room for updates in place)', async () => {
    const options = async () =>
      db.sql<{ name: string; options: string[] | null }[]>`
        SELECT relname AS name, reloptions AS options FROM pg_class
        WHERE relname IN ('balances', 'history', 'transfers') AND relkind = 'r' ORDER BY relname`;
    const before = await options();
    expect(before.find((table) => table.name === 'transfers')?.options).toEqual(['fillfactor=70']);
    await rebuildReadModels({ sql: db.sql, store });
    expect(await options()).toEqual(before);
  });

  it('a rebuild under running projections and new traffic swaps in whole, and the runners resume from it', async () => {
    const runners = startProjections({ store, sql: db.sql, logger: silentLogger, batchSize: 25 });
    const traffic = generateWorkload(store, { events: 800, accounts: 10, concurrency: 4, seed: 11 });
    const summary = await rebuildReadModels({ sql: db.sql, store, batchSize: 100 });
    expect(summary.events).toBeGreaterThan(2500);
    await traffic;
    await caughtUp();
    await runners.stop();
    await expectReadModelsOf(db.sql, await logPrefix(store));
    // The swapped-in tables carry the live index names.
    const indexes = await db.sql<{ indexname: string }[]>`
      SELECT indexname FROM pg_indexes WHERE tablename IN ('balances', 'history', 'transfers') ORDER BY 1`;
    expect(indexes.map((row) => row.indexname)).toEqual([
      'balances_owner',
      'balances_pkey',
      'history_account_position',
      'history_pkey',
      'history_transfer',
      'transfers_from',
      'transfers_pkey',
      'transfers_requested',
      'transfers_status',
      'transfers_to',
    ]);
  });

  it('waitForPosition answers at once when reached, false when time runs out, and true when a runner gets there', async () => {
    await rebuildReadModels({ sql: db.sql, store });
    const head = await store.lastPosition();
    expect(await readModel.waitForPosition(head, 1_000)).toBe(true);
    await generateWorkload(store, { events: 50, accounts: 3, concurrency: 1, seed: 13 });
    const newHead = await store.lastPosition();
    expect(await readModel.waitForPosition(newHead, 50)).toBe(false);
    const waiting = readModel.waitForPosition(newHead, 20_000);
    const runners = startProjections({ store, sql: db.sql, logger: silentLogger });
    expect(await waiting).toBe(true);
    expect(await readModel.projectionLag()).toEqual({
      balances: { position: newHead, lag: 0 },
      history: { position: newHead, lag: 0 },
      transfers: { position: newHead, lag: 0 },
    });
    await runners.stop();

    // Without a notification (a pooler that drops LISTEN) the wait still ends, by polling.
    const waitingForPoll = readModel.waitForPosition(newHead + 1000, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 30));
    await db.sql`UPDATE projection_checkpoints SET position = ${newHead + 1000}`;
    expect(await waitingForPoll).toBe(true);
    await db.sql`UPDATE projection_checkpoints SET position = ${newHead}`;
  });

  it('waitForTransferEnd answers null while the transfer is not ended in the read model, and the transfer once its end is projected', async () => {
    await rebuildReadModels({ sql: db.sql, store });
    const head = await store.lastPosition();
    await generateWorkload(store, { events: 60, accounts: 3, concurrency: 1, seed: 17 });
    const ends = (await store.readAll({ after: head })).filter(
      (event) => event.type === 'TransferCompleted' || event.type === 'TransferCancelled',
    );
    const last = ends.at(-1)!;
    const transferId = String(last.data.transferId);
    expect(await readModel.waitForTransferEnd(transferId, 50)).toBeNull();

    const waiting = readModel.waitForTransferEnd(transferId, 20_000);
    const runners = startProjections({ store, sql: db.sql, logger: silentLogger });
    const ended = await waiting;
    await runners.stop();
    expect(ended).toMatchObject({
      transferId,
      status: last.type === 'TransferCompleted' ? 'COMPLETED' : 'CANCELLED',
    });
  });
});
