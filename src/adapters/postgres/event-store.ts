import {
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type RecordedEvent,
  type Snapshot,
  type SubscribeOptions,
  type Subscription,
  WrongExpectedRevisionError,
} from '../../application/ports/event-store.ts';
import { backoff, isTransient, type RetryPolicy, retry } from '../../application/retry.ts';
import { upcast } from '../../application/upcasting.ts';
import { createBatcher } from './batcher.ts';
import { failedByItsInput, type Sql, unavailableOr } from './client.ts';

const DEFAULT_BATCH_SIZE = 1000;
const NOTIFY_CHANNEL = 'esbank_events';
/** A subscription waits an outage out: every 100 ms at first, at most every 5 s. */
const OUTAGES: RetryPolicy = {
  attempts: Number.POSITIVE_INFINITY,
  delayMs: backoff({ initialMs: 100, maxMs: 5_000 }),
  retryOn: isTransient,
};
const POLL_MIN_MS = 20;
const POLL_MAX_MS = 500;

type EventRow = {
  global_position: number;
  stream_name: string;
  revision: number;
  event_id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
};

/** A row as the port returns it: upcast to its type's current schema. */
const toRecorded = (row: EventRow): RecordedEvent =>
  upcast({
    id: row.event_id,
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    streamName: row.stream_name,
    revision: row.revision,
    position: row.global_position,
  });

const expectedToSql = (expected: ExpectedRevision): number | null =>
  expected === 'any' ? null : expected === 'no_stream' ? -1 : expected;

/** One entry of esbank_append_batch's input (migrations/0005_append_batch.sql). */
type PendingAppend = { stream: string; expected: number | null; events: NewEvent[] };
/** Its outcome: the new revision and position, or the actual revision that refused it. */
type BatchOutcome = {
  next_revision: number | null;
  last_position: number | null;
  actual_revision: number | null;
};
type StreamRange = { stream: string; from_revision: number; max_count: number | null };

/** A range of the log: the events with `after < position <= upTo`, all of them visible. */
export type LogRange = { after: number; upTo: number };

export type PostgresEventStore = EventStore & {
  /** The pool the store runs on: readers in the same database may read the log table themselves. */
  readonly sql: Sql;
  /** Every stream name with the prefix (e.g. `account-`), for `esbank snapshot --all`. */
  listStreams(prefix?: string): Promise<string[]>;
  /**
   * Follows the log without reading it: hands over, one after another, ranges of at most `span`
   * positions whose events are all visible (every lower position has committed or aborted), for
   * a consumer that reads them from the `events` table itself, in its own transaction.
   */
  followLog(options: {
    after: number;
    span?: number;
    handle: (range: LogRange) => Promise<void>;
  }): Subscription;
};

const isPostgresEventStore = (store: EventStore): store is PostgresEventStore =>
  'followLog' in store && typeof store.followLog === 'function';

/** Whether `store` keeps its log in the database `sql` is a pool of: its `events` table is readable there. */
export const logTableOn = (store: EventStore, sql: Sql): store is PostgresEventStore =>
  isPostgresEventStore(store) && store.sql === sql;

async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw unavailableOr(error);
  }
}

/**
 * The event store on PostgreSQL (migrations/0001_event_store.sql).
 *
 * No skipped events: `esbank_append` draws a transaction id and the global positions together
 * under an advisory lock, so positions grow with transaction ids. Readers only return events
 * whose transaction id is below `pg_snapshot_xmin(pg_current_snapshot())`: every such transaction
 * has committed or aborted, and any later commit has a higher transaction id and so a higher
 * position. What a reader sees is therefore always a gap-free prefix of the log.
 *
 * Live subscriptions are woken at once by appends through this store, by NOTIFY (sent after the
 * append commits) from other processes, and otherwise by an adaptive poll: an event can be held
 * back by an unrelated in-flight transaction and become visible with no further notification.
 *
 * Round trips, not rows, are what an append or a load costs here: concurrent appends (to any
 * streams), stream reads and snapshot reads are each gathered into one statement (createBatcher).
 * Every append in a batch still succeeds or fails on its own expected revision.
 */
export function createPostgresEventStore(sql: Sql): PostgresEventStore {
  const waiters = new Set<() => void>();
  /** Counts wake-ups, so a subscription that read while one arrived does not go to sleep. */
  let wakeUps = 0;
  let listening: Promise<{ unlisten(): Promise<void> } | null> | undefined;
  const subscriptions = new Set<Subscription>();
  let announcing: Promise<void> | undefined;
  let announceAgain = false;

  const wakeAll = () => {
    wakeUps++;
    for (const wake of waiters) wake();
  };

  /** LISTEN once for all subscriptions; a failed LISTEN is tried again by the next subscription. */
  const ensureListening = () => {
    listening ??= sql.listen(NOTIFY_CHANNEL, wakeAll).catch(() => {
      listening = undefined;
      return null;
    });
  };

  /** Wakes local subscriptions and notifies other processes, at most one NOTIFY in flight. */
  const announce = () => {
    wakeAll();
    if (announcing) {
      announceAgain = true;
      return;
    }
    announcing = (async () => {
      do {
        announceAgain = false;
        // A NOTIFY holds a database-wide lock through its commit; a wake-up hint needs no durable
        // commit, so this one does not wait for the WAL flush and releases the lock at once.
        await sql`SELECT set_config('synchronous_commit', 'off', true), pg_notify(${NOTIFY_CHANNEL}, '')`.catch(
          () => {},
        );
      } while (announceAgain);
      announcing = undefined;
    })();
  };

  /** Concurrent appends leave together: one call of esbank_append_batch, one commit (0005). */
  const appendBatch = createBatcher<PendingAppend, BatchOutcome>({
    maxBatch: 256,
    maxInFlight: 4,
    isolate: failedByItsInput,
    flush: async (appends) => {
      const rows = await sql<(BatchOutcome & { entry: number })[]>`
        SELECT entry, next_revision, last_position, actual_revision
        FROM esbank_append_batch(${JSON.stringify(appends)}::text::jsonb)`;
      const outcomes: BatchOutcome[] = [];
      for (const row of rows) outcomes[row.entry - 1] = row;
      return outcomes;
    },
  });

  async function append(
    streamName: string,
    events: NewEvent[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    if (events.length === 0) throw new Error('append needs at least one event');
    let outcome: BatchOutcome;
    try {
      outcome = await appendBatch({ stream: streamName, expected: expectedToSql(expected), events });
    } catch (error) {
      throw unavailableOr(error);
    }
    if (outcome.actual_revision !== null) {
      const actual = outcome.actual_revision;
      throw new WrongExpectedRevisionError(streamName, expected, actual < 0 ? 'no_stream' : actual);
    }
    announce();
    return { nextExpectedRevision: outcome.next_revision!, position: outcome.last_position! };
  }

  /** One stream's range on its own: a plain index range scan, already in revision order. */
  async function readRange({ stream, from_revision, max_count }: StreamRange) {
    const rows = await sql<EventRow[]>`
      SELECT global_position, stream_name, revision, event_id, type, data, metadata
      FROM events
      WHERE stream_name = ${stream} AND revision >= ${from_revision}
      ORDER BY revision
      ${max_count === null ? sql`` : sql`LIMIT ${max_count}`}`;
    return rows.map(toRecorded);
  }

  /** Concurrent stream reads leave together: one statement reads every stream's range. */
  const readStreams = createBatcher<StreamRange, RecordedEvent[]>({
    maxBatch: 256,
    maxInFlight: 4,
    isolate: failedByItsInput,
    flush: async (ranges) => {
      if (ranges.length === 1) return [await readRange(ranges[0]!)];
      const rows = await sql<(EventRow & { entry: number })[]>`
        SELECT r.entry, e.global_position, e.stream_name, e.revision, e.event_id, e.type, e.data, e.metadata
        FROM json_to_recordset(${JSON.stringify(ranges.map((range, i) => ({ ...range, entry: i + 1 })))}::text::json)
             AS r(stream text, from_revision bigint, max_count bigint, entry integer)
        CROSS JOIN LATERAL (
          SELECT * FROM events
          WHERE stream_name = r.stream AND revision >= r.from_revision
          ORDER BY revision
          LIMIT r.max_count
        ) e
        ORDER BY r.entry, e.revision`;
      const results: RecordedEvent[][] = ranges.map(() => []);
      for (const row of rows) results[row.entry - 1]!.push(toRecorded(row));
      return results;
    },
  });

  /** Concurrent snapshot reads leave together. */
  const readSnapshots = createBatcher<string, Snapshot | null>({
    maxBatch: 256,
    maxInFlight: 4,
    isolate: failedByItsInput,
    flush: async (streams) => {
      const rows = await sql<
        { stream_name: string; revision: number; schema_version: number; state: unknown }[]
      >`
        SELECT stream_name, revision, schema_version, state FROM snapshots
        WHERE stream_name = ANY(${streams})`;
      const byStream = new Map(rows.map((row) => [row.stream_name, row]));
      return streams.map((stream) => {
        const row = byStream.get(stream);
        return row ? { revision: row.revision, schemaVersion: row.schema_version, state: row.state } : null;
      });
    },
  });

  /** Events visible to readers (see above) after `after`, in log order: the condition every read shares. */
  const visibleAfter = (after: number) =>
    sql`global_position > ${after} AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())`;

  async function readAll({ after, batchSize = DEFAULT_BATCH_SIZE, eventTypes }: ReadAllOptions) {
    return guard(async () => {
      const rows = await sql<EventRow[]>`
        SELECT global_position, stream_name, revision, event_id, type, data, metadata
        FROM events
        WHERE ${visibleAfter(after)}
          ${eventTypes ? sql`AND type = ANY(${eventTypes as string[]})` : sql``}
        ORDER BY global_position
        LIMIT ${batchSize}`;
      return rows.map(toRecorded);
    });
  }

  /**
   * The next `batchSize` visible events, of which only those of `eventTypes` are returned (with
   * their payload), plus how far the window reached. A filtered subscription moves past events it
   * does not want, instead of scanning them again on every wake-up until a wanted one arrives.
   */
  async function readWindow(after: number, batchSize: number, eventTypes: readonly string[]) {
    return guard(async () => {
      const rows = await sql<
        (Omit<EventRow, 'data' | 'metadata'> & Partial<EventRow> & { wanted: boolean })[]
      >`
        SELECT global_position, stream_name, revision, event_id, type, wanted,
               CASE WHEN wanted THEN data END AS data, CASE WHEN wanted THEN metadata END AS metadata
        FROM (
          SELECT *, type = ANY(${eventTypes as string[]}) AS wanted FROM events
          WHERE ${visibleAfter(after)}
          ORDER BY global_position
          LIMIT ${batchSize}
        ) AS w
        ORDER BY global_position`;
      return {
        events: rows.filter((row) => row.wanted).map((row) => toRecorded(row as EventRow)),
        reached: rows.at(-1)?.global_position ?? after,
      };
    });
  }

  async function readCheckpoint(name: string): Promise<number | null> {
    return guard(async () => {
      const [row] = await sql<{ position: number }[]>`
        SELECT position FROM subscription_checkpoints WHERE name = ${name}`;
      return row?.position ?? null;
    });
  }

  async function storeCheckpoint(name: string, position: number): Promise<void> {
    await guard(
      () => sql`
        INSERT INTO subscription_checkpoints (name, position) VALUES (${name}, ${position})
        ON CONFLICT (name) DO UPDATE
          SET position = GREATEST(subscription_checkpoints.position, excluded.position), updated_at = now()`,
    );
  }

  /**
   * The loop under every subscription: `read` how far the log goes past `after` (and what to
   * hand over), `handle` it, move on; sleep while there is nothing new, until an append wakes it
   * or the adaptive poll does. Outages are waited out with backoff; other errors end it.
   */
  function follow<Batch>(options: {
    start: () => Promise<number>;
    read: (after: number) => Promise<{ batch: Batch | null; reached: number }>;
    handle: (batch: Batch) => Promise<void>;
    /** After a batch is handled (and after a stretch with nothing to hand over): record `reached`. */
    commit?: (reached: number) => Promise<void>;
  }): Subscription {
    let stopped = false;
    let wake: (() => void) | undefined;
    ensureListening();

    /** Sleeps `ms` unless woken or stopped first; returns at once if woken since `wakeUpsSeen`. */
    const pause = (ms: number, wakeUpsSeen?: number) =>
      new Promise<void>((resolve) => {
        if (stopped || (wakeUpsSeen !== undefined && wakeUps !== wakeUpsSeen)) return resolve();
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        wake = done;
        waiters.add(done);
      });

    /**
     * Runs `work`, retrying with backoff while the database is down or restarting, so the
     * subscription outlives an outage. Gives up (undefined) once stopped; other errors end it.
     */
    const stopping = new AbortController();
    async function retrying<T>(work: () => Promise<T>): Promise<T | undefined> {
      try {
        return await retry(work, OUTAGES, { signal: stopping.signal });
      } catch (error) {
        if (stopping.signal.aborted && isTransient(error)) return undefined;
        throw error;
      }
    }

    const run = async () => {
      let after = await retrying(options.start);
      let idleMs = POLL_MIN_MS;
      while (!stopped && after !== undefined) {
        const wakeUpsSeen = wakeUps;
        const next = await retrying(() => options.read(after!));
        if (next === undefined) break;
        if (next.reached === after) {
          await pause(idleMs, wakeUpsSeen);
          idleMs = Math.min(POLL_MAX_MS, idleMs * 2);
          continue;
        }
        idleMs = POLL_MIN_MS;
        if (next.batch !== null) await options.handle(next.batch);
        after = next.reached;
        const { commit } = options;
        // Only after the handler succeeded: at-least-once, never a skipped batch.
        if (commit) await retrying(() => commit(next.reached));
      }
    };

    const done = run();
    const subscription: Subscription = {
      done,
      async stop() {
        stopped = true;
        stopping.abort();
        wake?.();
        subscriptions.delete(subscription);
        await done.catch(() => {});
      },
    };
    subscriptions.add(subscription);
    done.catch(() => subscriptions.delete(subscription));
    return subscription;
  }

  function subscribe(options: SubscribeOptions): Subscription {
    const { checkpoint, batchSize = DEFAULT_BATCH_SIZE, eventTypes, handle } = options;
    return follow({
      start: async () => (checkpoint ? await readCheckpoint(checkpoint) : null) ?? options.after ?? 0,
      read: async (after) => {
        if (eventTypes) {
          const window = await readWindow(after, batchSize, eventTypes);
          return { batch: window.events.length > 0 ? window.events : null, reached: window.reached };
        }
        const events = await readAll({ after, batchSize });
        return { batch: events.length > 0 ? events : null, reached: events.at(-1)?.position ?? after };
      },
      handle,
      ...(checkpoint ? { commit: (reached: number) => storeCheckpoint(checkpoint, reached) } : {}),
    });
  }

  /** The newest visible position. */
  async function headPosition() {
    return guard(async () => {
      const [row] = await sql<{ global_position: number }[]>`
        SELECT global_position FROM events
        WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY global_position DESC LIMIT 1`;
      return row?.global_position ?? 0;
    });
  }

  return {
    sql,
    append,

    readStream(streamName, { fromRevision = 0, maxCount } = {}) {
      return guard(() =>
        readStreams({ stream: streamName, from_revision: fromRevision, max_count: maxCount ?? null }),
      );
    },

    readAll,

    headPosition,

    async lastPosition() {
      return guard(async () => {
        const [row] = await sql<
          { position: number | null }[]
        >`SELECT max(global_position) AS position FROM events`;
        return row?.position ?? 0;
      });
    },

    subscribe,

    followLog({ after, span = DEFAULT_BATCH_SIZE, handle }) {
      return follow({
        start: async () => after,
        read: async (from) => {
          // Every position up to the visible head has committed or rolled back, so any range below
          // it is complete, events or not (rolled-back appends leave gaps of any length).
          const reached = Math.max(from, Math.min(await headPosition(), from + span));
          return { batch: reached > from ? { after: from, upTo: reached } : null, reached };
        },
        handle,
      });
    },

    readCheckpoint,
    storeCheckpoint,

    readSnapshot(streamName: string): Promise<Snapshot | null> {
      return guard(() => readSnapshots(streamName));
    },

    async writeSnapshot(streamName: string, snapshot: Snapshot): Promise<void> {
      await guard(
        () => sql`
          INSERT INTO snapshots (stream_name, revision, schema_version, state)
          VALUES (${streamName}, ${snapshot.revision}, ${snapshot.schemaVersion}, ${JSON.stringify(snapshot.state)}::text::jsonb)
          ON CONFLICT (stream_name) DO UPDATE
            SET revision = excluded.revision, schema_version = excluded.schema_version,
                state = excluded.state, taken_at = now()
            WHERE snapshots.revision <= excluded.revision`,
      );
    },

    async listStreams(prefix = '') {
      return guard(async () => {
        const rows = await sql<{ stream_name: string }[]>`
          SELECT DISTINCT stream_name FROM events WHERE starts_with(stream_name, ${prefix}) ORDER BY stream_name`;
        return rows.map((row) => row.stream_name);
      });
    },

    async close() {
      await Promise.all([...subscriptions].map((subscription) => subscription.stop()));
      const listener = await listening;
      await listener?.unlisten().catch(() => {});
      await announcing;
    },
  };
}
