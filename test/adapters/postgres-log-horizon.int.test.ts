import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sql } from '../../src/adapters/postgres/client.ts';
import { createSql } from '../../src/adapters/postgres/client.ts';
import { createScratchDatabase } from '../../src/adapters/postgres/database.ts';
import { createPostgresEventStore, type LogRange } from '../../src/adapters/postgres/event-store.ts';
import type { RecordedEvent } from '../../src/application/ports/event-store.ts';
import { waitUntil } from '../contract/event-store.contract.ts';
import { adminUrl, createTestDatabase, type TestDatabase } from '../support/database.ts';

const event = (type: string) => ({
  id: randomUUID(),
  type,
  data: {},
  metadata: { correlationId: 'c', causationId: 'c', occurredAt: new Date().toISOString(), schemaVersion: 1 },
});

/** Opens a transaction on `sql` that runs `first` and then stays open until `release()`. */
function holdOpen(sql: Sql | postgres.Sql, first: (tx: postgres.TransactionSql) => Promise<unknown>) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let ready!: (xid: string) => void;
  const started = new Promise<string>((resolve) => {
    ready = resolve;
  });
  const done = sql.begin(async (tx) => {
    await first(tx);
    const [row] = await tx<{ xid: string }[]>`SELECT pg_current_xact_id()::text AS xid`;
    ready(row!.xid);
    await released;
  });
  return { started, release, done };
}

/** Everything a reader of the log gets after `after`: a subscription and followLog's ranges. */
function follow(store: ReturnType<typeof createPostgresEventStore>, after: number) {
  const seen: RecordedEvent[] = [];
  const ranges: LogRange[] = [];
  const subscription = store.subscribe({
    after,
    handle: async (events) => {
      seen.push(...events);
    },
  });
  const following = store.followLog({
    after,
    handle: async (range) => {
      ranges.push(range);
    },
  });
  return {
    seen,
    ranges,
    stop: () => Promise.all([subscription.stop(), following.stop()]),
  };
}

describe('PostgreSQL event store: what holds delivery back', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('delivers at once past transactions that append nothing, in another database of the cluster and in this one', async () => {
    const other = await createScratchDatabase(adminUrl(), 'esbank_test_other');
    const elsewhere = postgres(other.url, { max: 1, onnotice: () => {} });
    const store = createPostgresEventStore(db.sql);
    try {
      const foreign = holdOpen(elsewhere, (tx) => tx`SELECT txid_current()`);
      // A long transaction here that writes, but appends no event.
      const local = holdOpen(
        db.sql,
        (tx) => tx`INSERT INTO subscription_checkpoints (name, position) VALUES ('held', 0)`,
      );
      const xids = [await foreign.started, await local.started];
      const start = await store.headPosition();
      const reader = follow(store, start);

      const appended = await store.append(`held-${randomUUID()}`, [event('A'), event('B')], 'no_stream');
      await waitUntil(() => reader.seen.length === 2);
      await waitUntil(() => reader.ranges.at(-1)?.upTo === appended.position);
      expect((await store.readAll({ after: start })).map((e) => e.type)).toEqual(['A', 'B']);
      expect(await store.headPosition()).toBe(appended.position);
      // ...while both transactions were (and still are) open.
      const status = await db.sql<{ status: string }[]>`
        SELECT pg_xact_status(x::xid8) AS status FROM unnest(${xids}::text[]) AS x`;
      expect(status.map((row) => row.status)).toEqual(['in progress', 'in progress']);

      await reader.stop();
      foreign.release();
      local.release();
      await Promise.all([foreign.done, local.done]);
    } finally {
      await store.close();
      await elsewhere.end();
      await other.drop();
    }
  });

  it('holds back every position above an append in flight, then delivers all of them once, in order', async () => {
    const store = createPostgresEventStore(db.sql);
    const start = await store.headPosition();
    const reader = follow(store, start);
    // An append that draws its position first and commits last, beside an unrelated open transaction.
    const bystander = holdOpen(db.sql, (tx) => tx`SELECT txid_current()`);
    const slow = holdOpen(
      db.sql,
      (tx) =>
        tx`SELECT * FROM esbank_append_batch(${tx.json([{ stream: 'inflight-slow', expected: null, events: [event('Slow')] }] as never)})`,
    );
    await Promise.all([bystander.started, slow.started]);
    const fast = await store.append(`inflight-fast-${randomUUID()}`, [event('Fast')], 'no_stream');

    expect(await store.readAll({ after: start })).toEqual([]);
    expect(await store.headPosition()).toBe(start);
    // Other appends commit meanwhile and wake the readers; still nothing past the one in flight.
    const more = await store.append(`inflight-more-${randomUUID()}`, [event('More')], 'no_stream');
    expect(await store.readAll({ after: start })).toEqual([]);
    expect(reader.seen).toEqual([]);
    expect(reader.ranges).toEqual([]);

    slow.release();
    await slow.done;
    await waitUntil(() => reader.seen.length === 3);
    await waitUntil(() => reader.ranges.at(-1)?.upTo === more.position);
    expect(reader.seen.map((e) => e.type)).toEqual(['Slow', 'Fast', 'More']);
    expect(reader.seen[1]!.position).toBe(fast.position);
    // The ranges tile the log from `start` with no gap.
    expect(reader.ranges.map((range) => range.after)).toEqual([
      start,
      ...reader.ranges.slice(0, -1).map((range) => range.upTo),
    ]);
    await reader.stop();
    bystander.release();
    await bystander.done;
    await store.close();
  });

  it('misses no event of many writers in other pools while it reads, however their commits and lock releases interleave', async () => {
    // Appenders commit and then give back their locks one by one; a reader that looked at the lock
    // table after taking its snapshot once took a committing appender for one that appends
    // nothing, and moved past its events for good (hundreds of misses in 10 s before the fix).
    const writers = Array.from({ length: 3 }, () => createPostgresEventStore(createSql(db.url, { max: 8 })));
    const reader = createPostgresEventStore(createSql(db.url, { max: 2 }));
    const start = await reader.lastPosition();
    let writing = true;
    const appends = writers.flatMap((store) =>
      Array.from({ length: 12 }, async () => {
        while (writing) await store.append(`gap-${randomUUID()}`, [event('Gap')], 'no_stream');
      }),
    );
    const seen: number[] = [];
    let after = start;
    const readOn = async () => {
      const batch = await reader.readAll({ after, batchSize: 500 });
      for (const e of batch) seen.push(e.position);
      if (batch.length > 0) after = batch.at(-1)!.position;
      return batch.length;
    };
    const until = Date.now() + 4_000;
    while (Date.now() < until) await readOn();
    writing = false;
    await Promise.all(appends);
    while ((await readOn()) > 0) {}
    const logged = await reader.sql<{ position: number }[]>`
      SELECT global_position AS position FROM events WHERE global_position > ${start} ORDER BY 1`;
    expect(seen.length).toBeGreaterThan(1_000);
    expect(seen).toEqual(logged.map((row) => row.position));
    await Promise.all(
      [...writers, reader].map(async (store) => {
        await store.close();
        await store.sql.end();
      }),
    );
  }, 30_000);
});
