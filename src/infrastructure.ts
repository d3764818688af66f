import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInMemoryEventStore } from './adapters/memory/event-store.ts';
import { createSql, type Sql } from './adapters/postgres/client.ts';
import { createScratchDatabase } from './adapters/postgres/database.ts';
import { clusterDataDir, ensureDatabase, startEmbeddedPostgres } from './adapters/postgres/embedded.ts';
import { createPostgresEventStore } from './adapters/postgres/event-store.ts';
import { migrate } from './adapters/postgres/migrate.ts';
import type { EventStore } from './application/ports/event-store.ts';
import type { Config } from './config.ts';

export type DatabaseServer = {
  /** A database on the server whose user may create others: DATABASE_URL as given, `postgres` when embedded. */
  adminUrl: string;
  embedded: boolean;
  /** Stops an embedded server this process started; DATABASE_URL's is left alone. */
  stop(): Promise<void>;
};

/** The embedded cluster to start when DATABASE_URL is unset: the service's, the benchmarks', or one for a test run. */
export type EmbeddedCluster = 'pg' | 'bench-pg' | 'throwaway';

/** A test run's cluster: durability is not under test, and max_connections must cover parallel test files. */
const THROWAWAY_SETTINGS = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  max_connections: '400',
};

/**
 * The PostgreSQL server (SPEC §8): DATABASE_URL's when set, else an embedded one, `pg` and
 * `bench-pg` kept under ESBANK_HOME (as root in a directory the `postgres` user cannot enter,
 * under /var/lib/esbank instead), `throwaway` in a temp folder that `stop()` removes.
 */
export async function startDatabaseServer(
  config: Pick<Config, 'DATABASE_URL' | 'ESBANK_HOME'>,
  cluster: EmbeddedCluster = 'pg',
): Promise<DatabaseServer> {
  if (config.DATABASE_URL) return { adminUrl: config.DATABASE_URL, embedded: false, stop: async () => {} };
  if (cluster !== 'throwaway') {
    const server = await startEmbeddedPostgres({
      dataDir: await clusterDataDir(config.ESBANK_HOME, cluster),
    });
    return { adminUrl: server.adminUrl, embedded: true, stop: () => server.stop() };
  }
  const parent = await mkdtemp(join(tmpdir(), 'esbank-test-pg-'));
  const removeParent = () => rm(parent, { recursive: true, force: true });
  try {
    await chmod(parent, 0o755); // as root, the server runs as the `postgres` user and must reach its data
    const server = await startEmbeddedPostgres({
      dataDir: join(parent, 'data'),
      persistent: false,
      settings: THROWAWAY_SETTINGS,
    });
    return {
      adminUrl: server.adminUrl,
      embedded: true,
      stop: async () => {
        await server.stop();
        await removeParent();
      },
    };
  } catch (error) {
    await removeParent();
    throw error;
  }
}

/** The event store SPEC §8's EVENT_STORE names; read models and the rest stay on `sql`. */
async function openEventStore(
  config: Pick<Config, 'EVENT_STORE' | 'EVENTSTORE_CONNECTION_STRING'>,
  sql: Sql,
): Promise<EventStore> {
  switch (config.EVENT_STORE) {
    case 'postgres':
      return createPostgresEventStore(sql);
    case 'memory':
      return createInMemoryEventStore();
    case 'eventstoredb': {
      const { createEventStoreDBStore } = await import('./adapters/eventstoredb/event-store.ts');
      return createEventStoreDBStore(config.EVENTSTORE_CONNECTION_STRING!);
    }
  }
}

export type InfrastructureConfig = Pick<
  Config,
  'DATABASE_URL' | 'ESBANK_HOME' | 'EVENT_STORE' | 'EVENTSTORE_CONNECTION_STRING'
>;

export type InfrastructureOptions = {
  pool: { max: number; applicationName?: string };
  /** Apply pending migrations first (default true). */
  migrate?: boolean;
  /** The embedded cluster when DATABASE_URL is unset (default `pg`, the service's). */
  cluster?: EmbeddedCluster;
  /**
   * A fresh database named `<scratch>_<random>` on the server, dropped by `close()`, instead of
   * the service's own (DATABASE_URL, or `esbank` on the embedded server).
   */
  scratch?: string;
};

export type Infrastructure = {
  url: string;
  embedded: boolean;
  sql: Sql;
  store: EventStore;
  /** The store, the pool, a scratch database, an embedded server this process started: all released. */
  close(): Promise<void>;
};

/**
 * What `serve`, every CLI command, the benchmarks and the tests run on: the database (DATABASE_URL
 * or embedded, migrated when asked), a pool on it and the configured event store.
 */
export async function openInfrastructure(
  config: InfrastructureConfig,
  options: InfrastructureOptions,
): Promise<Infrastructure> {
  const server = await startDatabaseServer(config, options.cluster);
  const releases: (() => Promise<unknown>)[] = [server.stop];
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      let failure: unknown;
      for (const release of releases.reverse()) {
        await release().catch((error: unknown) => {
          failure ??= error;
        });
      }
      if (failure) throw failure;
    })();
    return closing;
  };
  try {
    let url = server.adminUrl;
    if (options.scratch) {
      const scratch = await createScratchDatabase(server.adminUrl, options.scratch);
      releases.push(scratch.drop);
      url = scratch.url;
    } else if (server.embedded) {
      url = await ensureDatabase(server.adminUrl, 'esbank');
    }
    const sql = createSql(url, options.pool);
    releases.push(() => sql.end({ timeout: 5 }));
    if (options.migrate === false) await sql`SELECT 1`;
    else await migrate(sql);
    const store = await openEventStore(config, sql);
    releases.push(() => store.close());
    return { url, embedded: server.embedded, sql, store, close };
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}
