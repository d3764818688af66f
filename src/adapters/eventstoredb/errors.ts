import { NO_STREAM, UnavailableError, WrongExpectedVersionError } from '@eventstore/db-client';
import {
  EventStoreUnavailableError,
  type ExpectedRevision,
  WrongExpectedRevisionError,
} from '../../application/ports/event-store.ts';

/** gRPC status UNAVAILABLE: what a call fails with when no server answers. */
const GRPC_UNAVAILABLE = 14;

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
  const grpcCode = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  if (error instanceof UnavailableError || grpcCode === GRPC_UNAVAILABLE) {
    const reason = error instanceof Error ? error.message : String(error);
    return new EventStoreUnavailableError(`EventStoreDB is unavailable: ${reason}`, { cause: error });
  }
  return error;
}

export const withStoreErrors = async <T>(
  work: () => Promise<T>,
  streamName?: string,
  expected?: ExpectedRevision,
) => {
  try {
    return await work();
  } catch (error) {
    throw toStoreError(error, streamName, expected);
  }
};
