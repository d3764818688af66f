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
 * range of the log table also says so (`inLog`): a short one may turn out to hold nothing for
 * the projection, which then only moves its checkpoint.
 */
export type Batch = { eventsAfter: (checkpoint: number) => EventSource; last: number; inLog?: true };

/** A batch of events in hand (any store). */
export const batchOf = (events: readonly RecordedEvent[]): Batch => ({
  eventsAfter: (checkpoint) => eventsFromBatch(events.filter((event) => event.position > checkpoint)),
  last: events[events.length - 1]?.position ?? 0,
});

/** A range of the log table (the store is in the same database): nothing is read into this process. */
export const rangeOf = ({ upTo }: LogRange): Batch => ({
  eventsAfter: (checkpoint) => eventsFromLog(checkpoint, upTo),
  last: upTo,
  inLog: true,
});

/** A range this short may hold none of a projection's events (at idle a saga hop appends one or two). */
const SKIP_CHECK_SPAN = 8;

/**
 * Moves the checkpoint over `(expected, last]` in one statement when that range of the log holds
 * none of the projection's event types (and the checkpoint is where the runner left it, and the
 * lease, if any, is held); true if it did. At idle most wake-ups of most projections are such
 * ranges: this spares them the batch transaction's round trips.
 */
async function skipIfNoneApply(
  sql: Sql,
  projection: Projection,
  expected: number,
  last: number,
  lease?: ProjectionLease,
) {
  const [moved] = await sql<{ name: string }[]>`
    WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)), moved AS (
      UPDATE projection_checkpoints SET position = ${last}
      FROM relaxed
      WHERE name = ${projection.name} AND position = ${expected}
        AND NOT EXISTS (
          SELECT 1 FROM events
          WHERE global_position > ${expected} AND global_position <= ${last}
            AND type = ANY(${projection.eventTypes as string[]}))
        AND ${lease ? holdsLease(sql, lease) : sql`true`}
      RETURNING name
    )
    SELECT name, pg_notify(${CHECKPOINT_CHANNEL}, name) FROM moved`;
  return moved !== undefined;
}

/** The lease a runner holds its projection by (one partition); its every batch is fenced by it. */
export type ProjectionLease = { processor: string; owner: string; fence: number };

/** The name of a projection's processor in the lease table. */
export const projectionProcessor = (name: ProjectionName) => `projection:${name}`;

/**
 * Applies a batch and moves the projection's checkpoint in one transaction. The checkpoint row is
 * locked first and events at or below it are dropped, so two runners (two instances) never apply
 * an event twice, and a crash (the transaction rolls back) never skips one. `expected` is where
 * the caller left the checkpoint: one below it was rewound by a replay, one beyond the whole batch
 * was moved by another runner; either way the caller restarts from the checkpoint. With a `lease`,
 * the transaction applies nothing unless the runner still holds it under its fence.
 * Returns the new checkpoint.
 */
export async function applyBatch(
  sql: Sql,
  projection: Projection,
  batch: Batch,
  expected: number,
  lease?: ProjectionLease,
): Promise<number> {
  const { last } = batch;
  if (
    batch.inLog &&
    last - expected <= SKIP_CHECK_SPAN &&
    (await skipIfNoneApply(sql, projection, expected, last, lease))
  )
    return last;
  return sql.begin(async (tx) => {
    // Read models are derived: a batch lost in a crash goes with its checkpoint and is applied
    // again, so the commit need not wait for the WAL flush.
    const [row] = await tx<{ position: number }[]>`
      SELECT position, set_config('synchronous_commit', 'off', true)
      FROM projection_checkpoints WHERE name = ${projection.name} FOR UPDATE`;
    const from = row?.position ?? 0;
    if (from < expected || from >= last) {
      if (from === last) return from;
      throw new CheckpointMovedError(`${projection.name} is at ${from}, this runner at ${expected}`);
    }
    await projection.apply(tx, batch.eventsAfter(from));
    // The fence, in the statement that moves the checkpoint: without the lease nothing moves, and
    // the whole batch rolls back. (A new owner waits on the checkpoint row this transaction holds.)
    const [moved] = await tx<{ name: string }[]>`
      WITH moved AS (
        UPDATE projection_checkpoints SET position = ${last}
        WHERE name = ${projection.name} AND ${lease ? holdsLease(tx, lease) : tx`true`}
        RETURNING name
      )
      SELECT name, pg_notify(${CHECKPOINT_CHANNEL}, name) FROM moved`;
    if (!moved) throw new LeaseLostError(`${lease?.processor}: this instance no longer holds it`);
    return last;
  });
}

export type ProjectionRunner = {
  readonly projection: ProjectionName;
  /** The position this runner has applied up to. */
  position(): number;
  /** Stops after the batch in hand; resolves once stopped. */
  stop(): Promise<void>;
};

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

/**
 * Runs one projection: a subscription from its checkpoint (the projection_checkpoints row, not the
 * store's checkpoints) whose every batch is applied together with the checkpoint (applyBatch).
 * When the log is in the same database (the PostgreSQL store on this pool), the projection's SQL
 * reads each range of it straight from the `events` table; otherwise the events are read here and
 * sent along.
 * A failure (the database down, a replay swapping tables) restarts it from the checkpoint, with
 * backoff unless the checkpoint merely moved.
 */
const restartBackoff = backoff({ initialMs: 100, maxMs: 5_000 });

export function startProjectionRunner(options: {
  store: EventStore;
  sql: Sql;
  projection: Projection;
  logger: AppLogger;
  batchSize?: number;
  /** false: read the events through the store even when the log table is at hand (tests compare both ways). */
  readLogTable?: boolean;
  /** A span per batch applied, in the trace of each event it applied (the process traces). */
  traced?: boolean;
  /** Held by this lease (one instance runs each projection): a batch applies nothing once it is lost. */
  lease?: ProjectionLease;
}): ProjectionRunner {
  const { store, sql, projection, logger } = options;
  let position = 0;
  const stopping = new AbortController();
  let subscription: Subscription | undefined;

  const follow = async (progress: () => void) => {
    await ensureCheckpoints(sql, [projection.name]);
    const [row] = await sql<{ position: number }[]>`
      SELECT position FROM projection_checkpoints WHERE name = ${projection.name}`;
    position = row?.position ?? 0;
    const apply = async (batch: Batch, events?: readonly RecordedEvent[]) => {
      const from = position;
      const started = new Date();
      position = await applyBatch(sql, projection, batch, position, options.lease);
      progress();
      if (options.traced && position > from) {
        const traces = await tracesApplied(sql, projection, from, position, events);
        recordEventSpans(traces, `projection ${projection.name}`, started, {
          'esbank.projection': projection.name,
          'esbank.position': position,
        });
      }
    };
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    subscription =
      options.readLogTable !== false && logTableOn(store, sql)
        ? store.followLog({ after: position, span: batchSize, handle: (range) => apply(rangeOf(range)) })
        : store.subscribe({ after: position, batchSize, handle: (events) => apply(batchOf(events), events) });
    if (stopping.signal.aborted) await subscription.stop();
    await subscription.done;
    // Ended without a stop from us: the store was closed under it, so there is nothing to follow.
    if (!stopping.signal.aborted)
      logger.info({ projection: projection.name }, 'projection stopped: its subscription ended');
  };

  /** Follows from the checkpoint; a checkpoint moved by another runner or a replay is followed again at once. */
  const followFromCheckpoint = async (progress: () => void) => {
    for (;;) {
      try {
        return await follow(progress);
      } catch (error) {
        if (!(error instanceof CheckpointMovedError) || stopping.signal.aborted) throw error;
        logger.debug(
          { projection: projection.name, reason: error.message },
          'projection restarts from its checkpoint',
        );
      }
    }
  };

  const run = () =>
    keepRunning(
      followFromCheckpoint,
      // A lost lease ends the runner: the instance that holds it now runs the projection.
      { retryOn: (error) => !(error instanceof LeaseLostError), delayMs: restartBackoff },
      {
        signal: stopping.signal,
        onFailure: (error, failures) =>
          logger.warn({ err: error, projection: projection.name, failures }, 'projection failed; restarting'),
      },
    ).catch((error) =>
      logger.info({ projection: projection.name, reason: String(error) }, 'projection stopped'),
    );

  const running = run();
  return {
    projection: projection.name,
    position: () => position,
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

/** Starts one runner per read model (all three unless `projections` says otherwise). */
/**
 * Runs the projections in this process, each with its own runner. Where several instances run
 * them, they lease them (`leased`): each projection runs in one instance at a time, its every batch
 * fenced by its lease, and another instance takes it over when that one dies. Single owner rather
 * than partitioned: a projection is one set-based statement per batch, far from the bottleneck, and
 * one writer per read model keeps its checkpoint one row.
 */
export function startProjections(options: {
  store: EventStore;
  sql: Sql;
  logger: AppLogger;
  batchSize?: number;
  readLogTable?: boolean;
  traced?: boolean;
  projections?: readonly Projection[];
  leased?: { leases: PartitionLeases; owner: string };
}): ProjectionRunners {
  const { leased, ...runnerOptions } = options;
  const projections = options.projections ?? PROJECTIONS;
  const positions = new Map<ProjectionName, () => number>();
  const run = (projection: Projection, lease?: ProjectionLease) => {
    const runner = startProjectionRunner({ ...runnerOptions, projection, ...(lease ? { lease } : {}) });
    positions.set(projection.name, runner.position);
    return runner;
  };
  const runners = leased
    ? projections.map((projection) => {
        const processor = projectionProcessor(projection.name);
        return runWhileLeased({
          name: processor,
          leases: leased.leases,
          owner: leased.owner,
          logger: options.logger,
          start: (claim) => run(projection, { processor, owner: leased.owner, fence: claim.fence }),
        });
      })
    : projections.map((projection) => run(projection));
  return {
    async stop() {
      await Promise.all(runners.map((runner) => runner.stop()));
    },
    positions: () =>
      Object.fromEntries([...positions].map(([name, position]) => [name, position()])) as Record<
        ProjectionName,
        number
      >,
  };
}
