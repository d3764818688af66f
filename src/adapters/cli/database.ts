import type { EventStore } from '../../application/ports/event-store.ts';
import type { Config } from '../../config.ts';
import { createSql, type Sql } from '../postgres/client.ts';
import { resolveDatabase } from '../postgres/database.ts';
import { createPostgresEventStore } from '../postgres/event-store.ts';
import { migrate } from '../postgres/migrate.ts';

/** A failure the user can act on: exit 1 with this message, no stack trace. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}

export type CliDeps = {
  sql: Sql;
  store: EventStore;
  /** Names of the streams starting with `prefix` (e.g. `account-`), sorted. */
  listStreams(prefix: string): Promise<string[]>;
};

/** Stream names from the global log, for stores without a stream index. */
async function scanStreams(store: EventStore, prefix: string): Promise<string[]> {
  const names = new Set<string>();
  for (let after = 0; ; ) {
    const batch = await store.readAll({ after, batchSize: 5000 });
    if (batch.length === 0) return [...names].sort();
    for (const event of batch) if (event.streamName.startsWith(prefix)) names.add(event.streamName);
    after = batch[batch.length - 1]!.position;
  }
}

/** The event store `esbank serve` writes to, as SPEC §8 configures it. */
async function openStore(config: Config, sql: Sql): Promise<EventStore> {
  switch (config.EVENT_STORE) {
    case 'postgres':
      return createPostgresEventStore(sql);
    case 'eventstoredb': {
      const { createEventStoreDBStore } = await import('../eventstoredb/event-store.ts');
      return createEventStoreDBStore(config.EVENTSTORE_CONNECTION_STRING!);
    }
    case 'memory':
      throw new CliFailure(
        'EVENT_STORE=memory keeps the log inside the serving process; the CLI cannot read it',
      );
  }
}

/**
 * Runs a command against the configured database (DATABASE_URL, or the embedded PostgreSQL the
 * service uses) and event store, migrated first unless told otherwise, then releases everything
 * so the process can exit.
 */
export async function runWithDatabase<T>(
  config: Config,
  work: (deps: CliDeps) => Promise<T>,
  options: { migrate?: boolean } = {},
): Promise<T> {
  const database = await resolveDatabase(config);
  const sql = createSql(database.url, { max: 4, applicationName: 'esbank-cli' });
  let store: EventStore | undefined;
  try {
    await sql`SELECT 1`;
    if (options.migrate !== false) await migrate(sql);
    const opened = await openStore(config, sql);
    store = opened;
    const listStreams = (prefix: string) =>
      opened.listStreams ? opened.listStreams(prefix) : scanStreams(opened, prefix);
    return await work({ sql, store: opened, listStreams });
  } finally {
    await store?.close().catch(() => {});
    await sql.end({ timeout: 2 }).catch(() => {});
    await database.stop();
  }
}
