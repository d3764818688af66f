import { randomBytes } from 'node:crypto';
import type { EventStore, RecordedEvent } from '../../../application/ports/event-store.ts';
import type { Sql } from '../client.ts';
import { broadcast } from './broadcast.ts';
import type { Projection, ProjectionName } from './projection.ts';
import { PROJECTIONS } from './runner.ts';
import { createScratchTable, finishScratchTable, swapIn } from './scratch-tables.ts';

export type RebuildOptions = {
  sql: Sql;
  store: EventStore;
  /** The read models to rebuild; all by default. */
  projections?: readonly ProjectionName[];
  /** Rebuild the read models as of this moment: a position, or a business time (metadata.occurredAt). */
  until?: { position?: number; time?: Date };
  batchSize?: number;
  /** `done` and `total` are global positions (which may have gaps); `events` is the count applied so far. */
  onProgress?: (done: number, total: number, events: number) => void;
};

export type RebuildSummary = {
  projections: ProjectionName[];
  events: number;
  /** The position of the last event applied: the rebuilt projections' checkpoint. */
  position: number;
  durationMs: number;
  eventsPerSecond: number;
};

const DEFAULT_BATCH_SIZE = 5000;
/** Batches read ahead of the slowest projection: memory holds at most READ_AHEAD + 1 batches. */
const READ_AHEAD = 3;

/** The first event of the batch past `until` (-1: none): the log is cut there, a consistent prefix. */
const cutAt = (until: RebuildOptions['until'], batch: readonly RecordedEvent[]) => {
  const position = until?.position;
  const time = until?.time?.getTime();
  if (position === undefined && time === undefined) return -1;
  return batch.findIndex(
    (event) =>
      (position !== undefined && event.position > position) ||
      (time !== undefined && Date.parse(event.metadata.occurredAt) > time),
  );
};

/**
 * Rebuilds read models from the log (up to `until` if given) without disturbing the live ones.
 * The projections write into empty copies of their tables in a scratch schema — the same code,
 * through `SET LOCAL search_path` — each in its own transactions, side by side, while the log is
 * read a few batches ahead: memory stays flat. Then one transaction swaps the copies in and sets
 * the checkpoints to the last event applied, so a running service never serves half a rebuild and
 * its runners resume from there. Returns what was done and how fast.
 */
export async function rebuildReadModels(options: RebuildOptions): Promise<RebuildSummary> {
  const started = performance.now();
  const { sql, store, until } = options;
  const selected: Projection[] = PROJECTIONS.filter(
    (projection) => !options.projections || options.projections.includes(projection.name),
  );
  const scratch = `esbank_rebuild_${randomBytes(4).toString('hex')}`;

  await sql.unsafe(`CREATE SCHEMA ${scratch}`);
  try {
    const tables = [];
    for (const projection of selected) tables.push(await createScratchTable(sql, scratch, projection));

    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    const total = until?.position ?? (await store.headPosition());
    let after = 0;
    let finished = false;
    const read = async () => {
      if (finished) return null;
      const batch = await store.readAll({ after, batchSize });
      const cut = cutAt(until, batch);
      const applied = cut === -1 ? batch : batch.slice(0, cut);
      finished = cut !== -1 || batch.length === 0;
      if (applied.length === 0) return null;
      after = applied[applied.length - 1]!.position;
      return applied;
    };
    const write = (projection: Projection) => (batch: RecordedEvent[]) =>
      sql.begin(async (tx) => {
        await tx.unsafe(`SET LOCAL search_path TO ${scratch}`);
        // Scratch tables are dropped after a crash anyway; only the swap needs to be durable.
        await tx.unsafe('SET LOCAL synchronous_commit TO off');
        await projection.apply(tx, batch);
      });
    let position = 0;
    let events = 0;
    await broadcast(read, selected.map(write), READ_AHEAD, (batch) => {
      position = batch[batch.length - 1]!.position;
      events += batch.length;
      options.onProgress?.(position, Math.max(total, position), events);
    });

    await Promise.all(tables.map((table) => finishScratchTable(sql, scratch, table)));
    await swapIn(sql, scratch, tables, position);
    const durationMs = performance.now() - started;
    return {
      projections: selected.map((projection) => projection.name),
      events,
      position,
      durationMs: Math.round(durationMs),
      eventsPerSecond: Math.round(events / Math.max(durationMs / 1000, 0.001)),
    };
  } finally {
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${scratch} CASCADE`);
  }
}
