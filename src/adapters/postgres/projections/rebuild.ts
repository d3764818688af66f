import { randomBytes } from 'node:crypto';
import type { EventStore, RecordedEvent } from '../../../application/ports/event-store.ts';
import type { Sql } from '../client.ts';
import { logTableOn } from '../event-store.ts';
import { broadcast } from './broadcast.ts';
import {
  type EventSource,
  eventsFromBatch,
  eventsFromLog,
  type Projection,
  type ProjectionName,
} from './projection.ts';
import { PROJECTIONS } from './runner.ts';
import { createScratchTable, finishScratchTable, swapIn } from './scratch-tables.ts';

export type RebuildOptions = {
  sql: Sql;
  store: EventStore;
  /** The read models to rebuild; all by default. */
  projections?: readonly ProjectionName[];
  /** Rebuild the read models as of this moment: a position, or a business time (metadata.occurredAt). */
  until?: { position?: number; time?: Date };
  /** Events per batch read through the store, or positions per statement reading the log table. */
  batchSize?: number;
  /** false: read the events through the store even when the log table is at hand (tests compare both ways). */
  readLogTable?: boolean;
  /** `done` and `total` are global positions (which may have gaps); `events` is the count applied so far. */
  onProgress?: (done: number, total: number, events: number) => void;
};

export type RebuildSummary = {
  projections: ProjectionName[];
  /** How the events reached the projections: read by their own statements from the log table, or through the store. */
  source: 'log-table' | 'store';
  /** Positions per statement (log table) or events per batch (store). */
  batchSize: number;
  events: number;
  /** The position of the last event applied: the rebuilt projections' checkpoint. */
  position: number;
  durationMs: number;
  eventsPerSecond: number;
};

/** Events per batch when they are read through the store. */
const DEFAULT_BATCH_SIZE = 5000;
/** Positions per statement when the projections read the log table themselves. */
const DEFAULT_LOG_SPAN = 50_000;
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

/** A piece of the log for every projection to apply, and how many events it holds. */
type Piece = { source: EventSource; last: number; events: number };

/** The log read through the store, in batches, cut at `until`. */
function batchesThroughStore(store: EventStore, until: RebuildOptions['until'], batchSize: number) {
  let after = 0;
  let finished = false;
  return async (): Promise<Piece | null> => {
    if (finished) return null;
    const batch = await store.readAll({ after, batchSize });
    const cut = cutAt(until, batch);
    const applied = cut === -1 ? batch : batch.slice(0, cut);
    finished = cut !== -1 || batch.length === 0;
    if (applied.length === 0) return null;
    after = applied[applied.length - 1]!.position;
    return { source: eventsFromBatch(applied), last: after, events: applied.length };
  };
}

/**
 * The log table in ranges of `span` positions, up to the head visible now, cut before the first
 * event past `until`: the projections' statements read each range themselves.
 */
async function rangesOfLogTable(sql: Sql, head: number, until: RebuildOptions['until'], span: number) {
  let end = Math.min(head, until?.position ?? head);
  if (until?.time) {
    const [first] = await sql<{ position: number | null }[]>`
      SELECT min(global_position) AS position FROM events
      WHERE global_position <= ${end} AND (metadata ->> 'occurredAt')::timestamptz > ${until.time.toISOString()}::timestamptz`;
    if (first?.position != null) end = first.position - 1;
  }
  // The last event at or before the cut (positions have gaps where appends rolled back).
  const [last] = await sql<{ position: number | null }[]>`
    SELECT max(global_position) AS position FROM events WHERE global_position <= ${end}`;
  end = last?.position ?? 0;
  let after = 0;
  return async (): Promise<Piece | null> => {
    if (after >= end) return null;
    const upTo = Math.min(end, after + span);
    const [{ count } = { count: 0 }] = await sql<{ count: number }[]>`
      SELECT count(*)::int AS count FROM events WHERE global_position > ${after} AND global_position <= ${upTo}`;
    const piece = { source: eventsFromLog(after, upTo), last: upTo, events: count };
    after = upTo;
    return piece;
  };
}

/**
 * Rebuilds read models from the log (up to `until` if given) without disturbing the live ones.
 * The projections write into empty copies of their tables in a scratch schema — the same code,
 * through `SET LOCAL search_path` — each in its own transactions, side by side. When the log is in
 * the same database the projections read it in large ranges straight from the `events` table;
 * otherwise it is read through the store a few batches ahead of them. Memory stays flat either way.
 * Then one transaction swaps the copies in and sets the checkpoints to the last event applied, so
 * a running service never serves half a rebuild and its runners resume from there. Returns what
 * was done and how fast.
 */
export async function rebuildReadModels(options: RebuildOptions): Promise<RebuildSummary> {
  const started = performance.now();
  const { sql, store, until } = options;
  const selected: Projection[] = PROJECTIONS.filter(
    (projection) => !options.projections || options.projections.includes(projection.name),
  );
  const scratch = `esbank_rebuild_${randomBytes(4).toString('hex')}`;
  const [{ search_path: searchPath } = { search_path: 'public' }] = await sql<{ search_path: string }[]>`
    SELECT current_setting('search_path') AS search_path`;

  await sql.unsafe(`CREATE SCHEMA ${scratch}`);
  try {
    const tables = [];
    for (const projection of selected) tables.push(await createScratchTable(sql, scratch, projection));

    const head = await store.headPosition();
    const total = Math.min(head, until?.position ?? head);
    const readLogTable = options.readLogTable !== false && logTableOn(store, sql);
    const batchSize = options.batchSize ?? (readLogTable ? DEFAULT_LOG_SPAN : DEFAULT_BATCH_SIZE);
    const read = readLogTable
      ? await rangesOfLogTable(sql, head, until, batchSize)
      : batchesThroughStore(store, until, batchSize);
    const write = (projection: Projection) => (piece: Piece) =>
      sql.begin(async (tx) => {
        // The scratch tables first; the log and everything else where they always are.
        await tx.unsafe(`SET LOCAL search_path TO ${scratch}, ${searchPath}`);
        // Scratch tables are dropped after a crash anyway; only the swap needs to be durable.
        await tx.unsafe('SET LOCAL synchronous_commit TO off');
        await projection.apply(tx, piece.source);
      });
    let position = 0;
    let events = 0;
    await broadcast(read, selected.map(write), READ_AHEAD, (piece) => {
      position = piece.last;
      events += piece.events;
      options.onProgress?.(position, Math.max(total, position), events);
    });

    await Promise.all(tables.map((table) => finishScratchTable(sql, scratch, table)));
    await swapIn(sql, scratch, tables, position);
    const durationMs = performance.now() - started;
    return {
      projections: selected.map((projection) => projection.name),
      source: readLogTable ? 'log-table' : 'store',
      batchSize,
      events,
      position,
      durationMs: Math.round(durationMs),
      eventsPerSecond: Math.round(events / Math.max(durationMs / 1000, 0.001)),
    };
  } finally {
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${scratch} CASCADE`);
  }
}
