import type { EventStore } from '../../application/ports/event-store.ts';
import type { Config } from '../../config.ts';
import { openInfrastructure } from '../../infrastructure.ts';
import type { Sql } from '../postgres/client.ts';

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
  if (config.EVENT_STORE === 'memory') {
    throw new CliFailure(
      'EVENT_STORE=memory keeps the log inside the serving process; the CLI cannot read it',
    );
  }
  const { sql, store, close } = await openInfrastructure(config, {
    pool: { max: 4, applicationName: 'esbank-cli' },
    migrate: options.migrate !== false,
  });
  try {
    const listStreams = (prefix: string) =>
      store.listStreams ? store.listStreams(prefix) : scanStreams(store, prefix);
    return await work({ sql, store, listStreams });
  } finally {
    await close().catch(() => {});
  }
}
