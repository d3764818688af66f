import { startDatabaseServer } from '../../src/infrastructure.ts';

/**
 * Integration tests need a PostgreSQL server: DATABASE_URL's when set, otherwise a throwaway
 * embedded one. Each test file then creates (and drops) its own database on it.
 */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  const server = await startDatabaseServer(
    { DATABASE_URL: process.env.DATABASE_URL || undefined, ESBANK_HOME: '.esbank' },
    'throwaway',
  );
  process.env.ESBANK_TEST_ADMIN_URL = server.adminUrl;
  return server.embedded ? () => server.stop() : undefined;
}
