import { randomBytes } from 'node:crypto';
import { sql as raw } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import type { EventStore, RecordedEvent } from '../../../application/ports/event-store.ts';
import type { Sql } from '../client.ts';
import type { Projection, ProjectionName } from './projection.ts';
import { PROJECTIONS } from './runner.ts';

const TABLES: Record<ProjectionName, string> = {
  balances: 'balances',
  history: 'history',
  transfers: 'transfers',
};

export type RebuildOptions = {
  sql: Sql;
  store: EventStore;
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
  position: number;
  durationMs: number;
  eventsPerSecond: number;
};

const beyond = (until: RebuildOptions['until'], event: RecordedEvent) =>
  (until?.position !== undefined && event.position > until.position) ||
  (until?.time !== undefined && Date.parse(event.metadata.occurredAt) > until.time.getTime());

/**
 * Rebuilds read models from the log into fresh tables in a scratch schema (the projections write
 * through `search_path`), then swaps them in with their checkpoints in one transaction, so a
 * running service never serves half a rebuild. Streams the log in batches: memory stays flat.
 */
export async function rebuildReadModels(options: RebuildOptions): Promise<RebuildSummary> {
  const started = performance.now();
  const { sql, store } = options;
  const selected: Projection[] = PROJECTIONS.filter(
    (p) => !options.projections || options.projections.includes(p.name),
  );
  const names = selected.map((p) => p.name);
  const scratch = `esbank_rebuild_${randomBytes(4).toString('hex')}`;
  const db = drizzle(sql);
  await sql.unsafe(`CREATE SCHEMA ${scratch}`);
  try {
    for (const name of names) {
      await sql.unsafe(`CREATE TABLE ${scratch}.${TABLES[name]} (LIKE public.${TABLES[name]} INCLUDING ALL)`);
    }
    const total = options.until?.position ?? (await store.headPosition());
    let after = 0;
    let events = 0;
    for (let finished = false; !finished; ) {
      const batch = await store.readAll({ after, batchSize: options.batchSize ?? 5000 });
      if (batch.length === 0) break;
      const cut = batch.findIndex((event) => beyond(options.until, event));
      const applied = cut === -1 ? batch : batch.slice(0, cut);
      finished = cut !== -1;
      if (applied.length > 0) {
        await db.transaction(async (tx) => {
          await tx.execute(raw.raw(`SET LOCAL search_path TO ${scratch}, public`));
          for (const projection of selected) await projection.apply(tx, applied);
        });
        after = applied[applied.length - 1]!.position;
        events += applied.length;
        options.onProgress?.(Math.min(after, total), total, events);
      }
    }

    await sql.begin(async (tx) => {
      await tx.unsafe(
        `LOCK TABLE ${names.map((n) => `public.${TABLES[n]}`).join(', ')}, public.projection_checkpoints IN ACCESS EXCLUSIVE MODE`,
      );
      for (const name of names) {
        await tx.unsafe(`DROP TABLE public.${TABLES[name]}`);
        await tx.unsafe(`ALTER TABLE ${scratch}.${TABLES[name]} SET SCHEMA public`);
      }
      await tx`UPDATE projection_checkpoints SET position = ${after} WHERE name = ANY(${names})`;
    });
    const durationMs = performance.now() - started;
    return {
      projections: names,
      events,
      position: after,
      durationMs: Math.round(durationMs),
      eventsPerSecond: Math.round(events / (durationMs / 1000)),
    };
  } finally {
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${scratch} CASCADE`);
  }
}
