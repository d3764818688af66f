import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../src/adapters/postgres/event-store.ts';
import { EventStoreUnavailableError, type RecordedEvent } from '../../src/application/ports/event-store.ts';
import { eventStoreContract, waitUntil } from '../contract/event-store.contract.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

eventStoreContract(
  'postgres',
  async () => {
    const db = await createTestDatabase();
    const store = createPostgresEventStore(db.sql);
    return {
      store,
      teardown: async () => {
        await store.close();
        await db.drop();
      },
    };
  },
  { heavy: true },
);

describe('PostgreSQL event store: ordering and outages', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  const event = (type: string) => ({
    id: randomUUID(),
    type,
    data: {},
    metadata: {
      correlationId: 'c',
      causationId: 'c',
      occurredAt: new Date().toISOString(),
      schemaVersion: 1,
    },
  });

  it('holds back a committed event while an earlier position is still uncommitted, then delivers both', async () => {
    const store = createPostgresEventStore(db.sql);
    const start = await store.headPosition();
    let releaseSlow!: () => void;
    const slowHeld = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    let slowAppended!: () => void;
    const slowReady = new Promise<void>((resolve) => {
      slowAppended = resolve;
    });
    // A writer that draws its position first but commits last.
    const slow = db.sql.begin(async (tx) => {
      await tx`SELECT * FROM esbank_append_batch(${tx.json([{ stream: 'late-slow', expected: null, events: [event('Slow')] }] as never)})`;
      slowAppended();
      await slowHeld;
    });
    await slowReady;
    const fast = await store.append('late-fast', [event('Fast')], 'no_stream');

    const whileOpen = await store.readAll({ after: start });
    expect(whileOpen.map((e) => e.type)).toEqual([]);
    expect(await store.headPosition()).toBe(start);

    releaseSlow();
    await slow;
    // Visible once no older transaction on the cluster is in flight (other tests may run one).
    let afterCommit: RecordedEvent[] = [];
    await waitUntil(async () => {
      afterCommit = await store.readAll({ after: start });
      return afterCommit.length === 2;
    });
    expect(afterCommit.map((e) => e.type)).toEqual(['Slow', 'Fast']);
    expect(afterCommit[1]!.position).toBe(fast.position);
    await store.close();
  });

  it('refuses an append in a transaction that already wrote, whose id was drawn outside the lock', async () => {
    const attempt = db.sql.begin(async (tx) => {
      await tx`SELECT * FROM esbank_append_batch(${tx.json([{ stream: 'twice-a', expected: null, events: [event('A')] }] as never)})`;
      await tx`SELECT * FROM esbank_append_batch(${tx.json([{ stream: 'twice-b', expected: null, events: [event('B')] }] as never)})`;
    });
    await expect(attempt).rejects.toMatchObject({ code: 'EB400' });
    expect(await db.sql`SELECT 1 FROM events WHERE stream_name LIKE 'twice-%'`).toHaveLength(0);
  });

  it('keeps a subscription running when the database drops its connections', async () => {
    const store = createPostgresEventStore(db.sql);
    const stream = `dropped-${randomUUID()}`;
    const seen: string[] = [];
    const subscription = store.subscribe({
      after: await store.headPosition(),
      handle: async (events) => {
        seen.push(...events.filter((e) => e.streamName === stream).map((e) => e.type));
      },
    });
    await store.append(stream, [event('Before')], 'no_stream');
    await waitUntil(() => seen.length === 1);

    const admin = postgres(db.url, { max: 1, onnotice: () => {} });
    await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()`;
    await admin.end();

    // The pool reconnects; the first statement on a dead connection may fail and is retried.
    for (let tries = 0; ; tries++) {
      try {
        await store.append(stream, [event('After')], 0);
        break;
      } catch (error) {
        if (!(error instanceof EventStoreUnavailableError) || tries > 20) throw error;
      }
    }
    await waitUntil(() => seen.length === 2);
    await subscription.stop();
    await expect(subscription.done).resolves.toBeUndefined();
    expect(seen).toEqual(['Before', 'After']);
    await store.close();
  });

  it('moves a filtered subscription past events of other types, so its checkpoint does not lag behind them', async () => {
    const store = createPostgresEventStore(db.sql);
    const stream = `filtered-${randomUUID()}`;
    const checkpoint = `filtered-${randomUUID()}`;
    await store.storeCheckpoint(checkpoint, await store.headPosition());
    const types = ['Other', 'Other', 'Wanted', 'Other', 'Other', 'Other'];
    for (const [i, type] of types.entries()) {
      await store.append(stream, [event(type)], i === 0 ? 'no_stream' : i - 1);
    }
    const last = (await store.readStream(stream)).at(-1)!.position;
    const handled: RecordedEvent[] = [];
    const subscription = store.subscribe({
      checkpoint,
      eventTypes: ['Wanted'],
      batchSize: 2,
      handle: async (events) => {
        handled.push(...events);
      },
    });
    await waitUntil(() => handled.length === 1);
    for (let i = 0; i < 1000 && (await store.readCheckpoint(checkpoint)) !== last; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await subscription.stop();
    expect(handled.map((e) => [e.type, e.revision, e.metadata.correlationId])).toEqual([['Wanted', 2, 'c']]);
    expect(await store.readCheckpoint(checkpoint)).toBe(last);
    await store.close();
  });

  it('checks each of concurrent appends (gathered into one statement) against its own expected revision', async () => {
    const store = createPostgresEventStore(db.sql);
    const [a, b, c] = ['a', 'b', 'c'].map((name) => `batched-${name}-${randomUUID()}`) as [
      string,
      string,
      string,
    ];
    await store.append(a, [event('A0')], 'no_stream');
    const results = await Promise.allSettled([
      store.append(a, [event('A1')], 0), // right
      store.append(b, [event('B0'), event('B1')], 'no_stream'), // right
      store.append(a, [event('A1-late')], 0), // A1 took revision 1 first: a conflict
      store.append(c, [event('C0')], 5), // wrong: c does not exist
      store.append(a, [event('A2')], 'any'), // after A1, whatever it is
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
    expect(results[2]).toMatchObject({ reason: { name: 'WrongExpectedRevisionError', actual: 1 } });
    expect(results[3]).toMatchObject({ reason: { name: 'WrongExpectedRevisionError', actual: 'no_stream' } });
    expect((await store.readStream(a)).map((e) => e.type)).toEqual(['A0', 'A1', 'A2']);
    expect((await store.readStream(b)).map((e) => e.revision)).toEqual([0, 1]);
    expect(await store.readStream(c)).toEqual([]);
    // Positions follow the order in which the appends were made.
    const [p1, p2, , , p5] = results.map((r) => (r.status === 'fulfilled' ? r.value.position : 0));
    expect(p1! < p2! && p2! < p5!).toBe(true);
    await store.close();
  });

  it('fails only the bad append of a batch: the others are written', async () => {
    const store = createPostgresEventStore(db.sql);
    const stream = `poisoned-${randomUUID()}`;
    const reused = event('First');
    await store.append(stream, [reused], 'no_stream');
    const results = await Promise.allSettled([
      store.append(`${stream}-x`, [event('X')], 'no_stream'),
      store.append(`${stream}-y`, [{ ...reused, type: 'Again' }], 'no_stream'), // an event id already stored
      store.append(`${stream}-z`, [event('Z')], 'no_stream'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(results[1]).toMatchObject({ reason: { code: '23505' } });
    expect(await store.readStream(`${stream}-y`)).toEqual([]);
    await store.close();
  });

  it('follows the log past a gap wider than its span (positions of rolled-back appends)', async () => {
    const store = createPostgresEventStore(db.sql);
    const ranges: Array<{ after: number; upTo: number }> = [];
    const start = await store.headPosition();
    const follower = store.followLog({
      after: start,
      span: 10,
      handle: async (range) => {
        ranges.push(range);
      },
    });
    // A rolled-back batch of appends burns positions: here, a thousand of them.
    await db.sql`SELECT setval('esbank_global_position', nextval('esbank_global_position') + 1000)`;
    const { position } = await store.append(`gap-${randomUUID()}`, [event('AfterGap')], 'no_stream');
    await waitUntil(() => ranges.at(-1)?.upTo === position);
    await follower.stop();
    // Consecutive, at most 10 positions each, from where it started to the event past the gap.
    expect(ranges[0]!.after).toBe(start);
    for (const [i, range] of ranges.entries()) {
      expect(range.upTo - range.after).toBeLessThanOrEqual(10);
      if (i > 0) expect(range.after).toBe(ranges[i - 1]!.upTo);
    }
    await store.close();
  });
});
