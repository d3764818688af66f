import {
  BACKWARDS,
  END,
  type AppendResult as EsdbAppendResult,
  type EventStoreDBClient,
  jsonEvent,
  type ReadStreamOptions,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  type AppendResult,
  type ExpectedRevision,
  type NewEvent,
  WrongExpectedRevisionError,
} from '../../application/ports/event-store.ts';
import { retry } from '../../application/retry.ts';
import {
  AppendOutcomeUnknownError,
  isTransientClientError,
  type RetryTiming,
  toStoreError,
  wasRefused,
} from './errors.ts';
import { positionToNumber, toEsdbExpectedRevision, toRecordedEvent } from './records.ts';

/** How far back an append with `any` looks for its events: other writers may have followed it. */
const READ_BACK_WINDOW_ANY = 100;

/**
 * `{ success: false }` is how a conflict resolves when the connection string says
 * `throwOnAppendFailure=false`. Its revision is only trustworthy as -1 (no stream): the batch append
 * of client 6.2.1 reports `BigInt(hasCurrentStreamRevision())`, i.e. 1n, for any existing stream
 * (dist/streams/appendToStream/batchAppend.js).
 */
function unsuccessful(result: EsdbAppendResult, streamName: string, expected: ExpectedRevision) {
  return new WrongExpectedRevisionError(
    streamName,
    expected,
    result.nextExpectedRevision === -1n ? 'no_stream' : 'unknown',
  );
}

/**
 * Appends with the expected revision, and settles what a failure leaves open (SPEC §4: conflicts
 * are retried by the caller, never lost; nothing is written twice).
 *
 * - A refusal the server sent before touching the log (not ready, busy) is retried as it was.
 * - Any other transient failure (a commit timeout, a deadline, a leader change or a dropped
 *   connection, which fails every append in flight on the shared batch-append call) may have
 *   written the events. The stream is read back by the events' ids: found, the append succeeded.
 *   Not found, and the expectation is a revision or `no_stream`, the same events are sent again:
 *   the expectation lets at most one of the two writes land, and the server takes the same ids at
 *   the same revision as the same write (idempotent append). A conflict after such a try is read
 *   back too: it may be our own first try that landed. With `any` nothing guards a second write,
 *   so an unsettled outcome is reported (AppendOutcomeUnknownError, a 503 for the API).
 */
export async function appendToStream(
  client: EventStoreDBClient,
  streamName: string,
  events: NewEvent[],
  expected: ExpectedRevision,
  timing: RetryTiming,
): Promise<AppendResult> {
  const eventData = events.map(({ id, type, data, metadata }) => jsonEvent({ id, type, data, metadata }));
  /** A failure after which the events may have landed: from then on a conflict may be our own write. */
  let unsettled: unknown = null;
  const once = async (): Promise<AppendResult> => {
    try {
      const result = await client.appendToStream(streamName, eventData, {
        expectedRevision: toEsdbExpectedRevision(expected),
      });
      if (!result.success) throw unsuccessful(result, streamName, expected);
      if (!result.position) throw new Error('EventStoreDB returned no position for the append');
      return {
        nextExpectedRevision: Number(result.nextExpectedRevision),
        position: positionToNumber(result.position),
      };
    } catch (error) {
      const conflict =
        error instanceof WrongExpectedVersionError || error instanceof WrongExpectedRevisionError;
      if (conflict && unsettled !== null) {
        const landed = await readBack(client, streamName, events, expected, error);
        if (landed) return landed;
      }
      // Mapped errors are not transient to the policy: only the client's own transient ones are tried again.
      if (conflict || !isTransientClientError(error)) throw toStoreError(error, streamName, expected);
      if (!wasRefused(error)) {
        unsettled = error;
        const landed = await readBack(client, streamName, events, expected, error);
        if (landed) return landed;
        if (expected === 'any') throw new AppendOutcomeUnknownError(streamName, ids(events), error);
      }
      throw error;
    }
  };
  try {
    return await retry(once, { ...timing, retryOn: isTransientClientError });
  } catch (error) {
    if (!isTransientClientError(error)) throw error;
    throw unsettled === null
      ? toStoreError(error, streamName, expected)
      : new AppendOutcomeUnknownError(streamName, ids(events), error);
  }
}

const ids = (events: NewEvent[]) => events.map((event) => event.id);

/**
 * Where the events must be if they landed: right after the expected revision, or among the
 * stream's last events for `any`. Returns the append's result when all of them are there in order.
 */
async function readBack(
  client: EventStoreDBClient,
  streamName: string,
  events: NewEvent[],
  expected: ExpectedRevision,
  failure: unknown,
): Promise<AppendResult | null> {
  const options: ReadStreamOptions =
    expected === 'any'
      ? { fromRevision: END, direction: BACKWARDS, maxCount: READ_BACK_WINDOW_ANY + events.length }
      : { fromRevision: expected === 'no_stream' ? 0n : BigInt(expected + 1), maxCount: events.length };
  const found = [];
  try {
    for await (const resolved of client.readStream(streamName, options)) {
      if (resolved.event) found.push(toRecordedEvent(resolved.event, resolved.commitPosition));
    }
  } catch (error) {
    if (!(error instanceof StreamNotFoundError))
      throw new AppendOutcomeUnknownError(streamName, ids(events), failure);
  }
  if (expected === 'any') found.reverse();
  const first = found.findIndex((event) => event.id === events[0]!.id);
  if (first < 0) return null;
  const ours = found.slice(first, first + events.length);
  if (ours.length < events.length || ours.some((event, i) => event.id !== events[i]!.id)) return null;
  const last = ours.at(-1)!;
  return { nextExpectedRevision: last.revision, position: last.position };
}
