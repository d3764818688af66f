/**
 * Writes a realistic bank workload straight through the PostgreSQL event store (see
 * support/workload.ts): accounts, cash in and out, closings and transfers in every outcome.
 *
 *   node --import tsx scripts/generate-events.ts [--events 1000000] [--database-url URL]
 *                                               [--concurrency 32] [--seed 1] [--json]
 *
 * The database (default DATABASE_URL, else the local server's `postgres`) is migrated first. The
 * generator's own session commits asynchronously (synchronous_commit=off): it is a bulk loader.
 */
import { parseArgs } from 'node:util';
import { createSql } from '../src/adapters/postgres/client.ts';
import { createPostgresEventStore } from '../src/adapters/postgres/event-store.ts';
import { migrate } from '../src/adapters/postgres/migrate.ts';
import { progressReporter } from './support/progress.ts';
import { generateWorkload } from './support/workload.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    'database-url': { type: 'string' },
    concurrency: { type: 'string', default: '32' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const target = Number(values.events);
if (!Number.isSafeInteger(target) || target < 1) {
  process.stderr.write('--events must be a whole number of at least 1\n');
  process.exit(2);
}
const url = new URL(
  values['database-url'] ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
);
url.searchParams.set('synchronous_commit', 'off');
const sql = createSql(url.toString(), {
  max: Math.min(16, Number(values.concurrency) + 2),
  applicationName: 'esbank-generate',
});
const store = createPostgresEventStore(sql);
try {
  await migrate(sql);
  const progress = progressReporter('generate', target, values.json);
  const started = performance.now();
  const summary = await generateWorkload(store, {
    events: target,
    concurrency: Number(values.concurrency),
    seed: Number(values.seed),
    onProgress: progress.update,
  });
  progress.stop();
  const seconds = (performance.now() - started) / 1000;
  const result = {
    ...summary,
    lastPosition: await store.lastPosition(),
    durationMs: Math.round(seconds * 1000),
    eventsPerSecond: Math.round(summary.events / seconds),
  };
  process.stdout.write(
    values.json
      ? `${JSON.stringify(result, null, 2)}\n`
      : `wrote ${result.events} events (${result.accounts} accounts, ${result.transfers} transfers) ` +
          `in ${seconds.toFixed(1)} s (${result.eventsPerSecond} events/s); log head ${result.lastPosition}\n`,
  );
} finally {
  await store.close();
  await sql.end({ timeout: 5 });
}
