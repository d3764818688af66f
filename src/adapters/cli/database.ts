import type { Config } from '../../config.ts';
import { createSql, type Sql } from '../postgres/client.ts';
import { resolveDatabase } from '../postgres/database.ts';
import { createPostgresEventStore, type PostgresEventStore } from '../postgres/event-store.ts';
import { migrate } from '../postgres/migrate.ts';

/** Runs a command against the configured PostgreSQL (or the embedded one), then releases everything. */
export async function runWithDatabase<T>(
  config: Config,
  work: (deps: { sql: Sql; store: PostgresEventStore }) => Promise<T>,
  options: { migrate?: boolean } = {},
): Promise<T> {
  const database = await resolveDatabase(config);
  const sql = createSql(database.url, { max: 4, applicationName: 'esbank-cli' });
  const store = createPostgresEventStore(sql);
  try {
    await sql`SELECT 1`;
    if (options.migrate !== false) await migrate(sql);
    return await work({ sql, store });
  } finally {
    await store.close();
    await sql.end({ timeout: 2 });
    await database.stop();
  }
}
