import type {
  EventMetadata,
  ExpectedRevision,
  RecordedEvent,
} from '../../../application/ports/event-store.ts';
import { upcast } from '../../../application/upcasting.ts';
import { unavailableOr } from '../client.ts';

/** A row of the `events` table (migrations/0001_event_store.sql), as the readers select it. */
export type EventRow = {
  global_position: number;
  stream_name: string;
  revision: number;
  event_id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
};

/** A row as the port returns it: upcast to its type's current schema. */
export const toRecorded = (row: EventRow): RecordedEvent =>
  upcast({
    id: row.event_id,
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    streamName: row.stream_name,
    revision: row.revision,
    position: row.global_position,
  });

/** The expected revision as esbank_append_batch takes it: null for any, -1 for no stream. */
export const expectedToSql = (expected: ExpectedRevision): number | null =>
  expected === 'any' ? null : expected === 'no_stream' ? -1 : expected;

/** Runs `work`, its connection failures mapped to the port's unavailable error. */
export async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw unavailableOr(error);
  }
}
