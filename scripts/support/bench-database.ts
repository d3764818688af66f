import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createSql, type Sql } from '../../src/adapters/postgres/client.ts';
import { startEmbeddedPostgres } from '../../src/adapters/postgres/embedded.ts';
import { migrate } from '../../src/adapters/postgres/migrate.ts';

export type BenchDatabase = {
  url: string;
  sql: Sql;
  /** Where the figures come from, for the printed header. */
  server: string;
  drop: () => Promise<void>;
};

/**
 * A throwaway migrated database on DATABASE_URL's server, or else on an embedded PostgreSQL
 * under `.esbank/bench-pg` with default (durable) settings; `drop()` drops it and stops the server.
 */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const embedded = process.env.DATABASE_URL
    ? null
    : await startEmbeddedPostgres({ dataDir: '.esbank/bench-pg' });
  const adminUrl = process.env.DATABASE_URL ?? embedded!.adminUrl;
  const name = `esbank_bench_${randomBytes(5).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const [{ version } = { version: '?' }] = await admin<
    { version: string }[]
  >`SELECT current_setting('server_version') AS version`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const sql = createSql(url.toString(), { max: 24 });
  await migrate(sql);
  return {
    url: url.toString(),
    sql,
    server: `PostgreSQL ${version.split(' ')[0]}, ${embedded ? 'embedded' : 'DATABASE_URL'}`,
    drop: async () => {
      await sql.end({ timeout: 5 });
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      await embedded?.stop();
    },
  };
}

export const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
