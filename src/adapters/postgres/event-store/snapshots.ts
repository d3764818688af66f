import type { Snapshot } from '../../../application/ports/event-store.ts';
import { createBatcher } from '../batcher.ts';
import { failedByItsInput, type Sql } from '../client.ts';
import { guard } from './rows.ts';

/** Snapshots, one per stream (the newest written wins); concurrent reads leave together. */
export function createSnapshots(sql: Sql) {
  const readBatch = createBatcher<string, Snapshot | null>({
    maxBatch: 256,
    maxInFlight: 4,
    isolate: failedByItsInput,
    flush: async (streams) => {
      const rows = await sql<
        { stream_name: string; revision: number; schema_version: number; state: unknown }[]
      >`
        SELECT stream_name, revision, schema_version, state FROM snapshots
        WHERE stream_name = ANY(${streams})`;
      const byStream = new Map(rows.map((row) => [row.stream_name, row]));
      return streams.map((stream) => {
        const row = byStream.get(stream);
        return row ? { revision: row.revision, schemaVersion: row.schema_version, state: row.state } : null;
      });
    },
  });

  return {
    readSnapshot: (streamName: string): Promise<Snapshot | null> => guard(() => readBatch(streamName)),

    async writeSnapshot(streamName: string, snapshot: Snapshot): Promise<void> {
      await guard(
        () => sql`
          INSERT INTO snapshots (stream_name, revision, schema_version, state)
          VALUES (${streamName}, ${snapshot.revision}, ${snapshot.schemaVersion}, ${JSON.stringify(snapshot.state)}::text::jsonb)
          ON CONFLICT (stream_name) DO UPDATE
            SET revision = excluded.revision, schema_version = excluded.schema_version,
                state = excluded.state, taken_at = now()
            WHERE snapshots.revision <= excluded.revision`,
      );
    },
  };
}
