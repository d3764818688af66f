import type { ReadAllOptions } from '../../../application/ports/event-store.ts';
import type { Sql } from '../client.ts';
import { type EventRow, guard, toRecorded } from './rows.ts';

export const DEFAULT_BATCH_SIZE = 1000;

/**
 * Reading the global log. Only events whose transaction id is below
 * `pg_snapshot_xmin(pg_current_snapshot())` are visible: every such transaction has committed or
 * aborted, and positions grow with transaction ids (esbank_append_batch draws both under one
 * advisory lock), so what a reader sees is always a gap-free prefix of the log.
 */
export function createLogReader(sql: Sql) {
  /** Events visible to readers after `after`, in log order: the condition every read shares. */
  const visibleAfter = (after: number) =>
    sql`global_position > ${after} AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())`;

  return {
    readAll: ({ after, batchSize = DEFAULT_BATCH_SIZE, eventTypes }: ReadAllOptions) =>
      guard(async () => {
        const rows = await sql<EventRow[]>`
          SELECT global_position, stream_name, revision, event_id, type, data, metadata
          FROM events
          WHERE ${visibleAfter(after)}
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
      }),

    /** The newest visible position. */
    headPosition: () =>
      guard(async () => {
        const [row] = await sql<{ global_position: number }[]>`
          SELECT global_position FROM events
          WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
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

    listStreams: (prefix = '') =>
      guard(async () => {
        const rows = await sql<{ stream_name: string }[]>`
          SELECT DISTINCT stream_name FROM events WHERE starts_with(stream_name, ${prefix}) ORDER BY stream_name`;
        return rows.map((row) => row.stream_name);
      }),
  };
}

export type LogReader = ReturnType<typeof createLogReader>;
