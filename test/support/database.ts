import type { Sql } from '../../src/adapters/postgres/client.ts';
import { openInfrastructure } from '../../src/infrastructure.ts';

export type TestDatabase = { url: string; sql: Sql; drop: () => Promise<void> };

export const adminUrl = () =>
  process.env.ESBANK_TEST_ADMIN_URL ??
  process.env.DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';

/** A freshly migrated database with a random name, dropped (forcibly) by `drop()`. */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const { url, sql, close } = await openInfrastructure(
    { DATABASE_URL: adminUrl(), ESBANK_HOME: '.esbank', EVENT_STORE: 'postgres' },
    { pool: { max: 10 }, migrate: options.migrate !== false, scratch: 'esbank_test' },
  );
  return { url, sql, drop: close };
}
