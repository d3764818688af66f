import type { ReadAllOptions } from '../../../application/ports/event-store.ts';
import type { Sql } from '../client.ts';
import { type EventRow, guard, toRecorded } from './rows.ts';

export const DEFAULT_BATCH_SIZE = 1000;

/** Held (shared) by every appender from before its transaction id is drawn until it ends (migrations/0009). */
export const APPENDING_LOCK = 7_406_315_003;

/**
 * Reading the global log. Positions grow with transaction ids (esbank_append_batch draws both
 * under one advisory lock), so a reader that returns only events of transactions below a horizon
 * that every unfinished appender is at or above sees a gap-free prefix of the log.
 *
 * The horizon is the reading statement's snapshot xmin, leaving out the transactions known to
 * append nothing: those that, when the lock table was read, had a transaction id and did not hold
 * APPENDING_LOCK. An appender takes that lock before it has an id, and a transaction that has an
 * id can no longer append, so what is left out can never commit an event. With none left, the
 * snapshot's xmax. So a long transaction that appends nothing, here or in another database of the
 * cluster, delays no reader; an in-flight append still holds back every position above its own.
 *
 * The lock table is read by a statement of its own that ends before the reading statement starts
 * and takes its snapshot. Read after the snapshot (as this code once did), it could show an
 * appender that was running at the snapshot and committed just after, half-way through giving
 * back its locks: the appending lock already released, its transaction id lock not yet. It looked
 * like a transaction that appends nothing, the horizon passed it while its events were not in the
 * snapshot, and the reader moved past them for good (test/adapters/postgres-log-horizon.int.test.ts,
 * "misses no event"). Read before the snapshot, a transaction seen there without the appending
 * lock either appends nothing or has already committed, and then it is not running in the snapshot.
 * Cost: one read of pg_locks per log read, one round trip before it (bench figure in the README).
 */
export function createLogReader(sql: Sql) {
  /** Transactions that have an id and do not hold APPENDING_LOCK now: they append nothing, ever. */
  const nonAppenders = async (): Promise<string[]> => {
    const [row] = await sql<{ xids: string[] }[]>`
      WITH locks AS MATERIALIZED (
        SELECT locktype, database, classid, objid, objsubid, virtualtransaction, transactionid, mode, granted
        FROM pg_locks
      ), appending AS (
        SELECT virtualtransaction FROM locks
        WHERE locktype = 'advisory' AND objsubid = 1
          AND (classid::bigint << 32 | objid::bigint) = ${APPENDING_LOCK}
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      )
      SELECT coalesce(array_agg(transactionid::text), '{}') AS xids FROM locks
      WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock' AND granted
        AND virtualtransaction NOT IN (SELECT virtualtransaction FROM appending)`;
    return row?.xids ?? [];
  };
  /** The reading statement's horizon, leaving out `skip` (read before it by nonAppenders). */
  const horizon = (skip: string[]) => sql`(
    SELECT coalesce(min(x), pg_snapshot_xmax(pg_current_snapshot()))
    FROM pg_snapshot_xip(pg_current_snapshot()) AS x
    WHERE xid(x) <> ALL(${skip}::text[]::xid[]))`;
  /** Events visible to readers after `after`, in log order: the condition every read shares. */
  const visibleAfter = (after: number, skip: string[]) =>
    sql`global_position > ${after} AND transaction_id < ${horizon(skip)}`;

  return {
    readAll: ({ after, batchSize = DEFAULT_BATCH_SIZE, eventTypes }: ReadAllOptions) =>
      guard(async () => {
        const skip = await nonAppenders();
        const rows = await sql<EventRow[]>`
          SELECT global_position, stream_name, revision, event_id, type, data, metadata
          FROM events
          WHERE ${visibleAfter(after, skip)}
            ${eventTypes ? sql`AND type = ANY(${eventTypes as string[]})` : sql``}
          ORDER BY global_position
          LIMIT ${batchSize}`;
        return rows.map(toRecorded);
      }),

    /**
     * The next `batchSize` visible events, of which only those of `eventTypes` are returned (with
     * their payload), plus how far the window reached. A filtered subscription moves past events it
     * does not want, instead of scanning them again on every wake-up until a wanted one arrives.
     */
    readWindow: (after: number, batchSize: number, eventTypes: readonly string[]) =>
      guard(async () => {
        const skip = await nonAppenders();
        const rows = await sql<
          (Omit<EventRow, 'data' | 'metadata'> & Partial<EventRow> & { wanted: boolean })[]
        >`
          SELECT global_position, stream_name, revision, event_id, type, wanted,
                 CASE WHEN wanted THEN data END AS data, CASE WHEN wanted THEN metadata END AS metadata
          FROM (
            SELECT *, type = ANY(${eventTypes as string[]}) AS wanted FROM events
            WHERE ${visibleAfter(after, skip)}
            ORDER BY global_position
            LIMIT ${batchSize}
          ) AS w
          ORDER BY global_position`;
        return {
          events: rows.filter((row) => row.wanted).map((row) => toRecorded(row as EventRow)),
          reached: rows.at(-1)?.global_position ?? after,
          /** The window was cut at batchSize: the log may go on. */
          full: rows.length === batchSize,
        };
      }),

    /** The newest visible position. */
    headPosition: () =>
      guard(async () => {
        const skip = await nonAppenders();
        const [row] = await sql<{ global_position: number }[]>`
          SELECT global_position FROM events
          WHERE transaction_id < ${horizon(skip)}
          ORDER BY global_position DESC LIMIT 1`;
        return row?.global_position ?? 0;
      }),

    /** The newest committed position, visible or not yet (what a read-your-writes query waits for). */
    lastPosition: () =>
      guard(async () => {
        const [row] = await sql<
          { position: number | null }[]
        >`SELECT max(global_position) AS position FROM events`;
        return row?.position ?? 0;
      }),

    /** The position of the stream's newest event: one step down its (stream_name, revision) index. */
    streamPosition: (streamName: string) =>
      guard(async () => {
        const [row] = await sql<{ global_position: number }[]>`
          SELECT global_position FROM events
          WHERE stream_name = ${streamName}
          ORDER BY revision DESC LIMIT 1`;
        return row?.global_position ?? 0;
      }),

    listStreams: (prefix = '') =>
      guard(async () => {
        const rows = await sql<{ stream_name: string }[]>`
          SELECT DISTINCT stream_name FROM events WHERE starts_with(stream_name, ${prefix}) ORDER BY stream_name`;
        return rows.map((row) => row.stream_name);
      }),
  };
}

export type LogReader = ReturnType<typeof createLogReader>;
