import {
  type AppendResult,
  type ExpectedRevision,
  type NewEvent,
  WrongExpectedRevisionError,
} from '../../../application/ports/event-store.ts';
import { createBatcher } from '../batcher.ts';
import { failedByItsInput, type Sql } from '../client.ts';
import { expectedToSql, guard } from './rows.ts';

/** One entry of esbank_append_batch's input (migrations/0005_append_batch.sql). */
type PendingAppend = { stream: string; expected: number | null; events: NewEvent[] };
/** Its outcome: the new revision and position, or the actual revision that refused it. */
type Outcome = { next_revision: number | null; last_position: number | null; actual_revision: number | null };

/** Appends through esbank_append_batch: each entry checked on its own expected revision, all in one commit. */
async function appendAll(sql: Sql, appends: PendingAppend[]): Promise<Outcome[]> {
  const rows = await sql<(Outcome & { entry: number })[]>`
    SELECT entry, next_revision, last_position, actual_revision
    FROM esbank_append_batch(${JSON.stringify(appends)}::text::jsonb)`;
  const outcomes: Outcome[] = [];
  for (const row of rows) outcomes[row.entry - 1] = row;
  return outcomes;
}

/**
 * Appending to a stream with an expected revision. Concurrent appends (to any streams) leave
 * together: one call, one commit; a conflict or a bad input fails only its own append. Under load
 * batches grow instead of round trips (bench:store: 0.92–1.04× a plain INSERT loop's appends/s).
 */
export function createAppender(sql: Sql) {
  const batched = createBatcher<PendingAppend, Outcome>({
    maxBatch: 256,
    maxInFlight: 4,
    isolate: failedByItsInput,
    flush: (appends) => appendAll(sql, appends),
  });

  return async function append(
    streamName: string,
    events: NewEvent[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    if (events.length === 0) throw new Error('append needs at least one event');
    const outcome = await guard(() =>
      batched({ stream: streamName, expected: expectedToSql(expected), events }),
    );
    if (outcome.actual_revision !== null) {
      const actual = outcome.actual_revision;
      throw new WrongExpectedRevisionError(streamName, expected, actual < 0 ? 'no_stream' : actual);
    }
    return { nextExpectedRevision: outcome.next_revision!, position: outcome.last_position! };
  };
}
