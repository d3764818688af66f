import type { EventStore, RecordedEvent, Subscription } from '../../../application/ports/event-store.ts';
import type { AppLogger } from '../../../application/ports/logger.ts';
import type { PartitionLeases } from '../../../application/ports/partition-leases.ts';
import { LeaseLostError, runWhileLeased } from '../../../application/processor.ts';
import { backoff, keepRunning } from '../../../application/retry.ts';
import { recordEventSpans, type TraceMetadata } from '../../../application/tracing.ts';
import type { Sql } from '../client.ts';
import { type LogRange, logTableOn } from '../event-store.ts';
import { holdsLease } from '../partition-leases.ts';
import { balancesProjection } from './balances.ts';
import { historyProjection } from './history.ts';
import {
  type EventSource,
  eventsFromBatch,
  eventsFromLog,
  type Projection,
  type ProjectionName,
} from './projection.ts';
import { transfersProjection } from './transfers.ts';

export const PROJECTIONS: readonly Projection[] = [
  balancesProjection,
  historyProjection,
  transfersProjection,
];

export const projectionByName = (name: string): Projection | undefined =>
  PROJECTIONS.find((projection) => projection.name === name);

/** Notified (payload: the projection's name) whenever a checkpoint moves; see waitForPosition. */
export const CHECKPOINT_CHANNEL = 'esbank_projections';

const DEFAULT_BATCH_SIZE = 500;

/** The checkpoint is not where this runner left it: replay rewound it, or another instance moved on. */
class CheckpointMovedError extends Error {
  override readonly name = 'CheckpointMovedError';
}

export async function ensureCheckpoints(sql: Sql, names: readonly ProjectionName[]): Promise<void> {
  await sql`
    INSERT INTO projection_checkpoints (name, position)
    SELECT unnest(${names as ProjectionName[]}::text[]), 0
    ON CONFLICT (name) DO NOTHING`;
}

/**
 * A batch for applyBatch: how to read its events above a checkpoint, and its last position. A
 * range of the log table says so (`inLog`: the lock reads which types it holds); a batch in hand
 * tells its types itself (`typesAfter`).
 */
export type Batch = {
  eventsAfter: (checkpoint: number) => EventSource;
  last: number;
  inLog?: true;
  typesAfter?: (checkpoint: number) => readonly string[];
};

/** A batch of events in hand (any store). */
export const batchOf = (events: readonly RecordedEvent[]): Batch => {
  const after = (checkpoint: number) => events.filter((event) => event.position > checkpoint);
  return {
    eventsAfter: (checkpoint) => eventsFromBatch(after(checkpoint)),
    typesAfter: (checkpoint) => [...new Set(after(checkpoint).map((event) => event.type))],
    last: events[events.length - 1]?.position ?? 0,
  };
};

/** A range of the log table (the store is in the same database): nothing is read into this process. */
export const rangeOf = ({ upTo }: LogRange): Batch => ({
  eventsAfter: (checkpoint) => eventsFromLog(checkpoint, upTo),
  last: upTo,
  inLog: true,
});

/** Where each projection's checkpoint is. */
export type Checkpoints = Partial<Record<ProjectionName, number>>;

/** The lease one instance at a time runs the projections by; its every batch is fenced by it. */
export type ProjectionLease = { processor: string; owner: string; fence: number };

/** The name of the projections' processor in the lease table. */
export const PROJECTIONS_PROCESSOR = 'projections';

/**
 * Applies a batch to every projection of `projections` and moves their checkpoints, in one
 * transaction. The checkpoint rows are locked first and each projection takes only the events
 * above its own checkpoint, so two runners (two instances) never apply an event twice, and a crash
 * (the transaction rolls back) never skips one. A projection with none of its event types in its
 * part of the batch runs no statement; its checkpoint moves all the same. `expected` is where the
 * caller left the checkpoints: one below it was rewound by a replay, and the caller restarts from
 * the checkpoints. With a `lease`, the transaction applies nothing unless the runner still holds it
 * under its fence. Returns the new checkpoints.
 */
export async function applyBatch(
  sql: Sql,
  projections: readonly Projection[],
  batch: Batch,
  expected: Checkpoints,
  lease?: ProjectionLease,
): Promise<Checkpoints> {
  const { last } = batch;
  const names = projections.map((projection) => projection.name);
  return sql.begin(async (tx) => {
    // One statement locks the checkpoints and moves them, under the fence, ahead of the rows: the
    // transaction is one, so a failure below takes the move back with the rows. Read models are
    // derived: a batch lost in a crash goes with its checkpoints and is applied again, so the
    // commit need not wait for the WAL flush. Which event types each projection's part of a log
    // range holds comes along (a batch in hand knows its own).
    const rows = await tx<
      { name: ProjectionName; position: number; moved: boolean; types: string[] | null }[]
    >`
      WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)), locked AS (
        SELECT c.name, c.position FROM projection_checkpoints c, relaxed
        WHERE c.name = ANY(${names}) FOR UPDATE OF c
      ), moved AS (
        UPDATE projection_checkpoints c SET position = ${last}
        FROM locked l
        WHERE c.name = l.name AND l.position < ${last} AND ${lease ? holdsLease(tx, lease) : tx`true`}
        RETURNING c.name
      )
      SELECT l.name, l.position, m.name IS NOT NULL AS moved,
             CASE WHEN m.name IS NOT NULL THEN pg_notify(${CHECKPOINT_CHANNEL}, l.name) END AS notified,
             ${
               batch.inLog
                 ? tx`(SELECT array_agg(DISTINCT e.type) FROM events e
                       WHERE e.global_position > l.position AND e.global_position <= ${last})`
                 : tx`NULL`
             } AS types
      FROM locked l LEFT JOIN moved m ON m.name = l.name`;
    const reached: Checkpoints = {};
    const applying: Promise<void>[] = [];
    for (const projection of projections) {
      const row = rows.find((r) => r.name === projection.name);
      const from = row?.position ?? 0;
      reached[projection.name] = Math.max(from, last);
      if (from >= last) continue;
      if (from < (expected[projection.name] ?? 0))
        throw new CheckpointMovedError(
          `${projection.name} is at ${from}, this runner at ${expected[projection.name]}`,
        );
      if (!row?.moved) throw new LeaseLostError(`${lease?.processor}: this instance no longer holds it`);
      const holds = row.types ?? batch.typesAfter?.(from) ?? projection.eventTypes;
      if (projection.eventTypes.some((type) => holds.includes(type)))
        applying.push(projection.apply(tx, batch.eventsAfter(from)));
    }
    await Promise.all(applying);
    return reached;
  });
}

/** The trace contexts of the events of `projection` in `(after, upTo]`: from the batch in hand, else the log table. */
async function tracesApplied(
  sql: Sql,
  projection: Projection,
  after: number,
  upTo: number,
  events: readonly RecordedEvent[] | undefined,
): Promise<TraceMetadata[]> {
  if (events) {
    const types = new Set(projection.eventTypes);
    const applied = events.filter((e) => e.position > after && e.position <= upTo && types.has(e.type));
    return [...new Map(applied.map((e) => [e.metadata.traceparent, e.metadata])).values()];
  }
  return sql<TraceMetadata[]>`
    SELECT DISTINCT metadata ->> 'traceparent' AS traceparent, metadata ->> 'tracestate' AS tracestate
    FROM events
    WHERE global_position > ${after} AND global_position <= ${upTo}
      AND type = ANY(${projection.eventTypes as string[]}) AND metadata ? 'traceparent'`;
}

const restartBackoff = backoff({ initialMs: 100, maxMs: 5_000 });

type RunnerOptions = {
  store: EventStore;
  sql: Sql;
  logger: AppLogger;
  batchSize?: number;
  /** false: read the events through the store even when the log table is at hand (tests compare both ways). */
  readLogTable?: boolean;
  /** A span per batch applied, in the trace of each event it applied (the process traces). */
  traced?: boolean;
  projections?: readonly Projection[];
  /**
   * Awaited before each look at the log's head (the log table only): lets a burst of this
   * process's appends (a transfer's saga hops) finish, so one batch takes them all.
   */
  settle?: () => Promise<void>;
};

/**
 * Runs the projections: one subscription from their lowest checkpoint (the projection_checkpoints
 * rows, not the store's checkpoints) whose every batch is applied to all of them, with their
 * checkpoints, in one transaction (applyBatch). When the log is in the same database (the
 * PostgreSQL store on this pool), the projections' SQL reads each range of it straight from the
 * `events` table; otherwise the events are read here and sent along. A failure (the database
 * down, a replay swapping tables) restarts it from the checkpoints, with backoff unless a
 * checkpoint merely moved.
 */
function startRunner(options: RunnerOptions & { lease?: ProjectionLease }, positions: Checkpoints) {
  const { store, sql, logger } = options;
  const projections = options.projections ?? PROJECTIONS;
  const names = projections.map((projection) => projection.name);
  const stopping = new AbortController();
  let subscription: Subscription | undefined;

  const follow = async (progress: () => void) => {
    await ensureCheckpoints(sql, names);
    const rows = await sql<{ name: ProjectionName; position: number }[]>`
      SELECT name, position FROM projection_checkpoints WHERE name = ANY(${names})`;
    for (const row of rows) positions[row.name] = row.position;
    const apply = async (batch: Batch, events?: readonly RecordedEvent[]) => {
      const before = { ...positions };
      const started = new Date();
      Object.assign(positions, await applyBatch(sql, projections, batch, before, options.lease));
      progress();
      if (!options.traced) return;
      for (const projection of projections) {
        const from = before[projection.name] ?? 0;
        const to = positions[projection.name] ?? 0;
        if (to <= from) continue;
        const traces = await tracesApplied(sql, projection, from, to, events);
        recordEventSpans(traces, `projection ${projection.name}`, started, {
          'esbank.projection': projection.name,
          'esbank.position': to,
        });
      }
    };
    const after = Math.min(...names.map((name) => positions[name] ?? 0));
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    subscription =
      options.readLogTable !== false && logTableOn(store, sql)
        ? store.followLog({
            after,
            span: batchSize,
            handle: (range) => apply(rangeOf(range)),
            ...(options.settle ? { settle: options.settle } : {}),
          })
        : store.subscribe({ after, batchSize, handle: (events) => apply(batchOf(events), events) });
    if (stopping.signal.aborted) await subscription.stop();
    await subscription.done;
    // Ended without a stop from us: the store was closed under it, so there is nothing to follow.
    if (!stopping.signal.aborted)
      logger.info({ projections: names }, 'projections stopped: their subscription ended');
  };

  /** Follows from the checkpoints; a checkpoint moved by another runner or a replay is followed again at once. */
  const followFromCheckpoints = async (progress: () => void) => {
    for (;;) {
      try {
        return await follow(progress);
      } catch (error) {
        if (!(error instanceof CheckpointMovedError) || stopping.signal.aborted) throw error;
        logger.debug({ reason: error.message }, 'projections restart from their checkpoints');
      }
    }
  };

  const running = keepRunning(
    followFromCheckpoints,
    // A lost lease ends the runner: the instance that holds it now runs the projections.
    { retryOn: (error) => !(error instanceof LeaseLostError), delayMs: restartBackoff },
    {
      signal: stopping.signal,
      onFailure: (error, failures) => logger.warn({ err: error, failures }, 'projections failed; restarting'),
    },
  ).catch((error) => logger.info({ reason: String(error) }, 'projections stopped'));

  return {
    async stop() {
      stopping.abort();
      await subscription?.stop();
      await running;
    },
  };
}

export type ProjectionRunners = {
  stop(): Promise<void>;
  /** The position each projection has applied up to. */
  positions(): Record<ProjectionName, number>;
};

/**
 * Runs the projections in this process (all three unless `projections` says otherwise). Where
 * several instances run them, they lease them (`leased`): one instance at a time runs them, its
 * every batch fenced by the lease, and another takes over when that one dies. Single owner rather
 * than partitioned: a batch is one set-based statement per read model, far from the bottleneck,
 * and one writer keeps each checkpoint one row.
 */
export function startProjections(
  options: RunnerOptions & { leased?: { leases: PartitionLeases; owner: string } },
): ProjectionRunners {
  const { leased, ...runnerOptions } = options;
  const positions: Checkpoints = Object.fromEntries(
    (options.projections ?? PROJECTIONS).map((projection) => [projection.name, 0]),
  );
  const runner = leased
    ? runWhileLeased({
        name: PROJECTIONS_PROCESSOR,
        leases: leased.leases,
        owner: leased.owner,
        logger: options.logger,
        start: (claim) =>
          startRunner(
            {
              ...runnerOptions,
              lease: { processor: PROJECTIONS_PROCESSOR, owner: leased.owner, fence: claim.fence },
            },
            positions,
          ),
      })
    : startRunner(runnerOptions, positions);
  return {
    stop: () => runner.stop(),
    positions: () => ({ ...positions }) as Record<ProjectionName, number>,
  };
}
