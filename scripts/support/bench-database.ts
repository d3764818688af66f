import type { Sql } from '../../src/adapters/postgres/client.ts';
import { loadConfig } from '../../src/config.ts';
import { openInfrastructure } from '../../src/infrastructure.ts';

export type BenchDatabase = {
  url: string;
  sql: Sql;
  /** Where the figures come from, for the printed header. */
  server: string;
  drop: () => Promise<void>;
};

/**
 * A throwaway migrated database on DATABASE_URL's server, or else on an embedded PostgreSQL
 * (the `bench-pg` cluster, default durable settings); `drop()` drops it and stops the server.
 */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const { url, sql, embedded, close } = await openInfrastructure(
    { ...loadConfig(), EVENT_STORE: 'postgres' },
    { pool: { max: 24 }, cluster: 'bench-pg', scratch: 'esbank_bench' },
  );
  const [{ version } = { version: '?' }] = await sql<
    { version: string }[]
  >`SELECT current_setting('server_version') AS version`;
  return {
    url,
    sql,
    server: `PostgreSQL ${version.split(' ')[0]}, ${embedded ? 'embedded' : 'DATABASE_URL'}`,
    drop: close,
  };
}

export const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
