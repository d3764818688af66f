import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Sql } from './client.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
/** Any fixed key: concurrent starts of several instances apply each migration once. */
const MIGRATION_LOCK_KEY = 7_406_315_001;

/**
 * Applies `migrations/NNNN_name.sql` in name order, each once and in its own transaction,
 * recorded in `schema_migrations`. Each transaction takes an advisory lock and re-reads what is
 * applied, so instances starting together apply every file exactly once; a failing file leaves the
 * ones before it applied. Returns the names applied by this call.
 */
export async function migrate(sql: Sql): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith('.sql')).sort();
  const applied: string[] = [];
  for (const name of files) {
    const body = await readFile(MIGRATIONS_DIR + name, 'utf8');
    const ran = await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
      await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
        name text PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`;
      const [done] = await tx`SELECT 1 FROM schema_migrations WHERE name = ${name}`;
      if (done) return false;
      await tx.unsafe(body);
      await tx`INSERT INTO schema_migrations (name) VALUES (${name})`;
      return true;
    });
    if (ran) applied.push(name);
  }
  return applied;
}
