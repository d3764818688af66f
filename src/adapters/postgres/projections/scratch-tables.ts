import type { Sql, TransactionSql } from '../client.ts';
import type { Projection, ProjectionName } from './projection.ts';
import { CHECKPOINT_CHANNEL, ensureCheckpoints } from './runner.ts';

/**
 * The table mechanics of a rebuild: empty copies of the live read-model tables in a scratch
 * schema, and the swap that puts them in the live tables' place.
 */

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

type IndexShape = { name: string; unique: boolean; shape: string };

/** A table's indexes, each with its definition minus name and table (`USING btree (…) WHERE …`). */
async function indexesOf(sql: Sql | TransactionSql, schema: string, table: string): Promise<IndexShape[]> {
  return sql<IndexShape[]>`
    SELECT i.relname AS name, x.indisunique AS unique,
           regexp_replace(pg_get_indexdef(i.oid), '^CREATE (UNIQUE )?INDEX \\S+ ON \\S+ ', '') AS shape
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
    WHERE x.indrelid = ${`${ident(schema)}.${ident(table)}`}::regclass`;
}

export type ScratchTable = { name: ProjectionName; liveSchema: string; deferred: IndexShape[] };

/**
 * An empty copy of `projection`'s live table (found through search_path) in `scratch`. Only the
 * unique indexes and the ones the projection reads through are built now; the others are left
 * for `finishScratchTable`, as one sorted build each is far cheaper than row-by-row upkeep.
 */
export async function createScratchTable(
  sql: Sql,
  scratch: string,
  projection: Projection,
): Promise<ScratchTable> {
  const { name } = projection;
  const [live] = await sql<{ schema: string }[]>`
    SELECT n.nspname AS schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = to_regclass(${name})`;
  if (!live) throw new Error(`Read model table ${name} does not exist: run the migrations first`);
  await sql.unsafe(`CREATE TABLE ${scratch}.${name} (LIKE ${ident(live.schema)}.${name} INCLUDING ALL)`);
  // LIKE copies columns, constraints and indexes, not storage parameters (the fillfactor).
  const [{ options } = { options: null }] = await sql<{ options: string[] | null }[]>`
    SELECT reloptions AS options FROM pg_class WHERE oid = ${`${ident(live.schema)}.${name}`}::regclass`;
  if (options?.length) await sql.unsafe(`ALTER TABLE ${scratch}.${name} SET (${options.join(', ')})`);
  const liveIndexes = await indexesOf(sql, live.schema, name);
  const deferred: IndexShape[] = [];
  for (const index of await indexesOf(sql, scratch, name)) {
    const original = liveIndexes.find((candidate) => candidate.shape === index.shape);
    if (!original || index.unique || projection.lookupIndexes.includes(original.name)) continue;
    await sql.unsafe(`DROP INDEX ${scratch}.${ident(index.name)}`);
    deferred.push(original);
  }
  return { name, liveSchema: live.schema, deferred };
}

/** Builds the deferred indexes (under their live names) and gathers statistics for the planner. */
export async function finishScratchTable(sql: Sql, scratch: string, table: ScratchTable): Promise<void> {
  for (const index of table.deferred) {
    await sql.unsafe(`CREATE INDEX ${ident(index.name)} ON ${scratch}.${table.name} ${index.shape}`);
  }
  await sql.unsafe(`ANALYZE ${scratch}.${table.name}`);
}

/**
 * One transaction: the scratch tables replace the live ones, their indexes take the live names,
 * and the projections' checkpoints move to `position` (runners notice and resume from there).
 */
export async function swapIn(sql: Sql, scratch: string, tables: readonly ScratchTable[], position: number) {
  const names = tables.map((table) => table.name);
  await ensureCheckpoints(sql, names);
  await sql.begin(async (tx) => {
    // Checkpoints first: a runner locks its checkpoint row before it touches its table, so taking
    // them in the same order cannot deadlock with one.
    await tx`SELECT name FROM projection_checkpoints WHERE name = ANY(${names}::text[]) FOR UPDATE`;
    await tx.unsafe(
      `LOCK TABLE ${tables.map((table) => `${ident(table.liveSchema)}.${table.name}`).join(', ')} IN ACCESS EXCLUSIVE MODE`,
    );
    for (const { name, liveSchema } of tables) {
      const schema = ident(liveSchema);
      const liveIndexes = await indexesOf(tx, liveSchema, name);
      await tx.unsafe(`DROP TABLE ${schema}.${name}`);
      await tx.unsafe(`ALTER TABLE ${scratch}.${name} SET SCHEMA ${schema}`);
      for (const index of await indexesOf(tx, liveSchema, name)) {
        const original = liveIndexes.find((candidate) => candidate.shape === index.shape);
        if (original && original.name !== index.name) {
          await tx.unsafe(`ALTER INDEX ${schema}.${ident(index.name)} RENAME TO ${ident(original.name)}`);
        }
      }
    }
    await tx`UPDATE projection_checkpoints SET position = ${position} WHERE name = ANY(${names}::text[])`;
    for (const name of names) await tx`SELECT pg_notify(${CHECKPOINT_CHANNEL}, ${name})`;
  });
}
