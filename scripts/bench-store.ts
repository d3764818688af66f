/**
 * npm run bench:store [-- --json]: event-store figures on PostgreSQL (issue: foundation).
 * Appends/s at 16 concurrent writers (1 and 8 events per append) beside a plain INSERT loop on the
 * same database, stream-read events/s, and the load time of a 100,000-event account with and
 * without snapshots.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SingleBar } from 'cli-progress';
import { createPostgresEventStore } from '../src/adapters/postgres/event-store.ts';
import { createAggregateRepository } from '../src/application/aggregate-repository.ts';
import type { NewEvent } from '../src/application/ports/event-store.ts';
import { randomIds } from '../src/application/ports/ids.ts';
import { accountDecider, accountStreamName } from '../src/domain/account/index.ts';
import { createBenchDatabase, percentile } from './support/bench-database.ts';

const json = process.argv.includes('--json');
const WRITERS = 16;
const APPENDS_PER_WRITER = 400;
const LONG_STREAM_EVENTS = 100_000;
const LOADS = 50;

const log = (message: string) => {
  if (!json) process.stderr.write(`${message}\n`);
};

const deposit = (accountId: string, amount = 1): NewEvent => ({
  id: randomUUID(),
  type: 'CashDeposited',
  data: { accountId, amount },
  metadata: {
    correlationId: 'bench',
    causationId: 'bench',
    occurredAt: new Date().toISOString(),
    schemaVersion: 1,
  },
});

const db = await createBenchDatabase();
const store = createPostgresEventStore(db.sql);
const results: Record<string, number> = {};

async function concurrently(work: (writer: number) => Promise<number>): Promise<number> {
  const started = performance.now();
  const counts = await Promise.all(Array.from({ length: WRITERS }, (_, writer) => work(writer)));
  return counts.reduce((a, b) => a + b, 0) / ((performance.now() - started) / 1000);
}

try {
  for (const perAppend of [1, 8]) {
    log(`appending ${WRITERS} writers x ${APPENDS_PER_WRITER} appends x ${perAppend} events...`);
    results[`appendsPerSecond_${perAppend}`] = await concurrently(async () => {
      const stream = `bench-${randomUUID()}`;
      for (let i = 0; i < APPENDS_PER_WRITER; i++) {
        const events = Array.from({ length: perAppend }, () => deposit(stream));
        await store.append(stream, events, i === 0 ? 'no_stream' : i * perAppend - 1);
      }
      return APPENDS_PER_WRITER;
    });
    results[`eventsPerSecond_${perAppend}`] = results[`appendsPerSecond_${perAppend}`]! * perAppend;

    log(`raw INSERT ceiling, ${perAppend} rows per statement...`);
    await db.sql`CREATE TABLE IF NOT EXISTS raw_inserts (id bigserial PRIMARY KEY, stream text, body jsonb)`;
    results[`rawInsertsPerSecond_${perAppend}`] = await concurrently(async () => {
      const stream = `raw-${randomUUID()}`;
      for (let i = 0; i < APPENDS_PER_WRITER; i++) {
        const rows = Array.from({ length: perAppend }, () => ({ stream, body: deposit(stream) }));
        await db.sql`INSERT INTO raw_inserts ${db.sql(rows as never)}`;
      }
      return APPENDS_PER_WRITER;
    });
    results[`ratioToRaw_${perAppend}`] =
      results[`appendsPerSecond_${perAppend}`]! / results[`rawInsertsPerSecond_${perAppend}`]!;
  }

  log(`writing one account with ${LONG_STREAM_EVENTS} events...`);
  const accountId = randomUUID();
  const stream = accountStreamName(accountId);
  const bar = json || !process.stderr.isTTY ? null : new SingleBar({ stream: process.stderr });
  bar?.start(LONG_STREAM_EVENTS, 0);
  const opened: NewEvent = {
    ...deposit(accountId),
    type: 'AccountOpened',
    data: { accountId, ownerId: 'bench', currency: 'EUR' },
  };
  await store.append(stream, [opened], 'no_stream');
  for (let written = 1; written < LONG_STREAM_EVENTS; ) {
    const chunk = Math.min(1000, LONG_STREAM_EVENTS - written);
    await store.append(
      stream,
      Array.from({ length: chunk }, () => deposit(accountId)),
      written - 1,
    );
    written += chunk;
    bar?.update(written);
  }
  bar?.stop();

  log('reading the stream...');
  const readStarted = performance.now();
  const all = await store.readStream(stream);
  results.streamReadEventsPerSecond = all.length / ((performance.now() - readStarted) / 1000);

  const timeLoads = async (snapshotEvery: number, loads: number) => {
    const repository = createAggregateRepository({
      store,
      decider: accountDecider,
      streamName: accountStreamName,
      ids: randomIds,
      snapshotEvery,
    });
    const times: number[] = [];
    for (let i = 0; i < loads; i++) {
      const started = performance.now();
      const { state } = await repository.load(accountId);
      times.push(performance.now() - started);
      if (state.status !== 'Open' || state.available !== LONG_STREAM_EVENTS - 1)
        throw new Error('wrong state');
    }
    return times.sort((a, b) => a - b);
  };

  log('loading without snapshots...');
  const without = await timeLoads(0, 5);
  // One snapshot at the head (what SNAPSHOT_EVERY keeps up to date), then loads read it plus the tail.
  const { state, revision } = await createAggregateRepository({
    store,
    decider: accountDecider,
    streamName: accountStreamName,
    ids: randomIds,
    snapshotEvery: 0,
  }).load(accountId);
  await store.writeSnapshot(stream, { revision: revision as number, schemaVersion: 1, state });
  log('loading with a snapshot...');
  const withSnapshot = await timeLoads(100, LOADS);
  results.loadMsWithoutSnapshotMedian = percentile(without, 50);
  results.loadMsWithSnapshotMedian = percentile(withSnapshot, 50);
  results.loadMsWithSnapshotP95 = percentile(withSnapshot, 95);
  results.snapshotSpeedup = results.loadMsWithoutSnapshotMedian / results.loadMsWithSnapshotMedian;
} finally {
  await store.close();
  await db.drop();
}

if (json) {
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} else {
  const f = (n: number | undefined, digits = 0) =>
    (n ?? Number.NaN).toLocaleString('en-US', { maximumFractionDigits: digits });
  console.log(`
esbank bench:store (PostgreSQL, ${WRITERS} concurrent writers)
  appends/s, 1 event each      ${f(results.appendsPerSecond_1)}  (raw INSERT ${f(results.rawInsertsPerSecond_1)}/s, ratio ${f(results.ratioToRaw_1, 2)})
  appends/s, 8 events each     ${f(results.appendsPerSecond_8)}  = ${f(results.eventsPerSecond_8)} events/s (raw INSERT ${f(results.rawInsertsPerSecond_8)}/s, ratio ${f(results.ratioToRaw_8, 2)})
  stream read                  ${f(results.streamReadEventsPerSecond)} events/s
  load 100,000-event account   ${f(results.loadMsWithoutSnapshotMedian, 1)} ms without snapshots (median)
                               ${f(results.loadMsWithSnapshotMedian, 2)} ms with a snapshot (median), p95 ${f(results.loadMsWithSnapshotP95, 2)} ms
                               ${f(results.snapshotSpeedup)}x faster`);
}
