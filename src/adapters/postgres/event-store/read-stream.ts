import type { RecordedEvent } from '../../../application/ports/event-store.ts';
import { createBatcher } from '../batcher.ts';
import { failedByItsInput, type Sql } from '../client.ts';
import { type EventRow, guard, toRecorded } from './rows.ts';

type StreamRange = { stream: string; from_revision: number; max_count: number | null };

/** One stream's range: a plain index range scan, already in revision order. */
async function readRange(sql: Sql, { stream, from_revision, max_count }: StreamRange) {
  const rows = await sql<EventRow[]>`
    SELECT global_position, stream_name, revision, event_id, type, data, metadata
    FROM events
    WHERE stream_name = ${stream} AND revision >= ${from_revision}
    ORDER BY revision
    ${max_count === null ? sql`` : sql`LIMIT ${max_count}`}`;
  return rows.map(toRecorded);
}

/** Several streams' ranges in one statement, each in revision order. */
async function readRanges(sql: Sql, ranges: StreamRange[]): Promise<RecordedEvent[][]> {
  if (ranges.length === 1) return [await readRange(sql, ranges[0]!)];
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
}

/** Reading a stream; concurrent reads leave together as one statement (a load reads only its tail). */
export function createStreamReader(sql: Sql) {
  const batched = createBatcher<StreamRange, RecordedEvent[]>({
    maxBatch: 256,
    maxInFlight: 4,
    isolate: failedByItsInput,
    flush: (ranges) => readRanges(sql, ranges),
  });
  return (
    streamName: string,
    { fromRevision = 0, maxCount }: { fromRevision?: number; maxCount?: number } = {},
  ) => guard(() => batched({ stream: streamName, from_revision: fromRevision, max_count: maxCount ?? null }));
}
