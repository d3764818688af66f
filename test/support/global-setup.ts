import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../src/adapters/postgres/embedded.ts';

/**
 * Integration tests need a PostgreSQL server: DATABASE_URL's when set, otherwise a throwaway
 * embedded one. Each test file then creates (and drops) its own database on it.
 */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.DATABASE_URL) {
    process.env.ESBANK_TEST_ADMIN_URL = process.env.DATABASE_URL;
    return undefined;
  }
  const parent = await mkdtemp(join(tmpdir(), 'esbank-test-pg-'));
  await chmod(parent, 0o755); // as root, the server runs as the `postgres` user and must reach its data
  const dataDir = join(parent, 'data');
  const server = await startEmbeddedPostgres({
    dataDir,
    persistent: false,
    // A throwaway cluster: durability is not under test here, and max_connections must cover parallel files.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '400' },
  });
  process.env.ESBANK_TEST_ADMIN_URL = server.adminUrl;
  return async () => {
    await server.stop();
    await rm(parent, { recursive: true, force: true });
  };
}
