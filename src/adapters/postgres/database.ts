import { join } from 'node:path';
import type { Config } from '../../config.ts';
import { ensureDatabase, startEmbeddedPostgres } from './embedded.ts';

export type ResolvedDatabase = { url: string; embedded: boolean; stop(): Promise<void> };

/**
 * DATABASE_URL when set; otherwise a real PostgreSQL started under ESBANK_HOME (SPEC §8), with
 * its `esbank` database created on first use. `stop()` stops the embedded server, if any.
 */
export async function resolveDatabase(
  config: Pick<Config, 'DATABASE_URL' | 'ESBANK_HOME'>,
): Promise<ResolvedDatabase> {
  if (config.DATABASE_URL) return { url: config.DATABASE_URL, embedded: false, stop: async () => {} };
  const server = await startEmbeddedPostgres({ dataDir: join(config.ESBANK_HOME, 'pg') });
  const url = await ensureDatabase(server.adminUrl, 'esbank');
  return { url, embedded: true, stop: () => server.stop() };
}
