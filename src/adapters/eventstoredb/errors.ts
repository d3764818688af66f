import {
  CancelledError,
  DeadlineExceededError,
  NO_STREAM,
  NotLeaderError,
  TimeoutError,
  UnavailableError,
  UnknownError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  EventStoreUnavailableError,
  type ExpectedRevision,
  WrongExpectedRevisionError,
} from '../../application/ports/event-store.ts';
import { backoff, type RetryPolicy, retry } from '../../application/retry.ts';

/** gRPC status UNAVAILABLE: what a call fails with when no server answers. */
const GRPC_UNAVAILABLE = 14;

/**
 * The server's NotHandled replies (not ready, too busy, no leader known): it refused the request
 * before touching the log. A batch append carries them as a status the 6.2.1 client does not
 * recognise, so they arrive as UnknownError("Could not recognize Server Is Not Ready")
 * (server Streams.BatchAppend.cs ConvertMessage; client unpackError.js); a unary call gets
 * UNAVAILABLE "Server Is Not Ready" / "Server Is Too Busy" (server RpcExceptions.cs).
 */
const NOT_HANDLED = /Server Is Not Ready|Server Is (Too )?Busy|No leader info available/;

/** The server refused the request unprocessed: a retry cannot write anything twice. */
export const wasRefused = (error: unknown): boolean =>
  (error instanceof UnknownError || error instanceof UnavailableError) && NOT_HANDLED.test(error.message);

/**
 * Errors that pass with time: no server reachable (UNAVAILABLE), a node shutting down (CANCELLED,
 * client v6.2 CommandError.js; commit 3543b83 "Expect CancelledError when node is terminated"), a
 * leader change (NotLeaderError), a commit or client deadline that ran out (DeadlineExceededError
 * from a batch append, TimeoutError = ABORTED from a unary append or a dropped subscription), and
 * the NotHandled refusals above.
 */
export const isTransientClientError = (error: unknown): boolean =>
  error instanceof UnavailableError ||
  error instanceof CancelledError ||
  error instanceof NotLeaderError ||
  error instanceof DeadlineExceededError ||
  error instanceof TimeoutError ||
  wasRefused(error) ||
  (typeof error === 'object' && error !== null && 'code' in error && error.code === GRPC_UNAVAILABLE);

/**
 * An append failed in a way that leaves its outcome unknown (the events may have landed) and a
 * read-back could not settle it. Still "unavailable" for callers (503 with Retry-After), but it
 * says not to assume the events are absent.
 */
export class AppendOutcomeUnknownError extends EventStoreUnavailableError {
  constructor(
    readonly streamName: string,
    readonly eventIds: readonly string[],
    cause: unknown,
  ) {
    super(
      `EventStoreDB did not confirm the append to ${streamName}, and reading it back did not find it; ` +
        'the events may still land',
      { cause },
    );
  }
}

/** Maps client errors onto the port's errors; anything else passes through unchanged. */
export function toStoreError(
  error: unknown,
  streamName = 'unknown',
  expected: ExpectedRevision = 'any',
): unknown {
  if (error instanceof WrongExpectedVersionError) {
    const actual = error.actualVersion;
    return new WrongExpectedRevisionError(
      error.streamName || streamName,
      expected,
      typeof actual === 'bigint' ? Number(actual) : actual === NO_STREAM ? 'no_stream' : 'unknown',
    );
  }
  if (isTransientClientError(error)) {
    const reason = error instanceof Error ? error.message || error.constructor.name : String(error);
    return new EventStoreUnavailableError(`EventStoreDB is unavailable: ${reason}`, { cause: error });
  }
  return error;
}

/** How many tries, how far apart; what is worth another try is the client's transient errors (isTransientClientError). */
export type RetryTiming = Pick<RetryPolicy, 'attempts' | 'delayMs'>;

/** Three tries within about a third of a second: a leader election or a busy node, not an outage. */
export const DEFAULT_RETRY: RetryTiming = { attempts: 3, delayMs: backoff({ initialMs: 100, maxMs: 400 }) };

/**
 * Runs `work`, which must be safe to repeat (a read, or a write of a latest value), again on a
 * transient error; the last error is mapped onto the port's errors.
 */
export async function withRetries<T>(timing: RetryTiming, work: () => Promise<T>): Promise<T> {
  try {
    return await retry(work, { ...timing, retryOn: isTransientClientError });
  } catch (error) {
    throw toStoreError(error);
  }
}
