import {
  type AllStreamRecordedEvent,
  ANY,
  type ExpectedRevision as EsdbExpectedRevision,
  NO_STREAM,
  type Position,
  type ReadPosition,
  type ResolvedEvent,
  START,
} from '@eventstore/db-client';
import type { EventMetadata, ExpectedRevision, RecordedEvent } from '../../application/ports/event-store.ts';
import { upcast } from '../../application/upcasting.ts';

export const snapshotStreamName = (streamName: string): string => `snapshot-${streamName}`;
export const checkpointStreamName = (name: string): string => `checkpoint-${name}`;

/** Streams this adapter keeps for itself; readers of the global log never see them. */
export const INTERNAL_PREFIXES = ['snapshot-', 'checkpoint-'];

/** Our events: not system ones (`$` streams or types) and not our snapshot or checkpoint streams. */
export const isApplicationEvent = (streamId: string, type: string): boolean =>
  !streamId.startsWith('$') &&
  !type.startsWith('$') &&
  !INTERNAL_PREFIXES.some((p) => streamId.startsWith(p));

/**
 * Global position = the commit position, as a JS number. For non-transactional writes (the only
 * kind the gRPC API makes) commit and prepare positions are equal, so a number maps back to a
 * full Position. Positions are byte offsets in the transaction log: exact up to 2^53 (8 PiB).
 */
export const positionToNumber = (position: Position): number => Number(position.commit);

export const numberToPosition = (position: number): ReadPosition =>
  position <= 0 ? START : { commit: BigInt(position), prepare: BigInt(position) };

export const toEsdbExpectedRevision = (expected: ExpectedRevision): EsdbExpectedRevision =>
  expected === 'no_stream' ? NO_STREAM : expected === 'any' ? ANY : BigInt(expected);

export function toRecordedEvent(
  event: AllStreamRecordedEvent | NonNullable<ResolvedEvent['event']>,
  commit?: bigint,
): RecordedEvent {
  const position = event.position?.commit ?? commit;
  if (position === undefined)
    throw new Error('EventStoreDB returned no position: a server >= 22.6 is needed');
  // As the port returns every event: upcast to its type's current schema.
  return upcast({
    id: event.id,
    type: event.type,
    data: event.data as Record<string, unknown>,
    metadata: event.metadata as EventMetadata,
    streamName: event.streamId,
    revision: Number(event.revision),
    position: Number(position),
  });
}
