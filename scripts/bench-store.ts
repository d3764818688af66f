/**
 * npm run bench:store [-- --json --rounds N]: event-store figures on PostgreSQL (DATABASE_URL's
 * server, else an embedded one), in a fresh database dropped afterwards.
 * Appends/s at 16 concurrent writers (1 and 8 events per append) beside a plain INSERT loop on the
 * same database (the raw ceiling), measured in alternating rounds so background load hits both
 * alike; stream-read events/s; the load time of a 100,000-event account with and without a snapshot;
 * on an account with 5,000 transfer legs, its load from events and a command from its cached state.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { createPostgresEventStore } from '../src/adapters/postgres/event-store.ts';
import { createAggregateRepository } from '../src/application/aggregate-repository.ts';
import type { NewEvent } from '../src/application/ports/event-store.ts';
import { randomIds } from '../src/application/ports/ids.ts';
import { accountDecider, accountStreamName } from '../src/domain/account/index.ts';
import { createBenchDatabase, percentile } from './support/bench-database.ts';

const { values } = parseArgs({
  options: { json: { type: 'boolean', default: false }, rounds: { type: 'string', default: '3' } },
});
const json = values.json;
const ROUNDS = Math.max(1, Number(values.rounds));
const WRITERS = 16;
const APPENDS_PER_WRITER = 400;
const LONG_STREAM_EVENTS = 100_000;
const LOADS_WITHOUT_SNAPSHOT = 5;
const LOADS_WITH_SNAPSHOT = 200;
const BUSY_ACCOUNT_TRANSFERS = 5_000;
const BUSY_ACCOUNT_COMMANDS = 200;
const GOAL_SNAPSHOT_MEDIAN_MS = 2;
const GOAL_SPEEDUP = 100;

const log = (message: string) => {
  if (!json) process.stderr.write(`${message}\n`);
};

/** A progress bar on a terminal; nothing otherwise. */
const progress = (title: string, total: number) => {
  log(title);
  if (json || !process.stderr.isTTY) return { increment: (_n = 1) => {}, stop: () => {} };
  const bar = new SingleBar({ stream: process.stderr, clearOnComplete: true, hideCursor: true });
  bar.start(total, 0);
  return { increment: (n = 1) => bar.increment(n), stop: () => bar.stop() };
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

const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

const db = await createBenchDatabase();
const store = createPostgresEventStore(db.sql);
const results: Record<string, number | string> = { server: db.server, writers: WRITERS, rounds: ROUNDS };
const figure = (key: string) => results[key] as number;

/** Statements per second with WRITERS concurrent loops of APPENDS_PER_WRITER statements each. */
async function perSecond(title: string, statement: (writer: string, i: number) => Promise<unknown>) {
  const bar = progress(title, WRITERS * APPENDS_PER_WRITER);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      const writer = randomUUID();
      for (let i = 0; i < APPENDS_PER_WRITER; i++) {
        await statement(writer, i);
        bar.increment();
      }
    }),
  );
  bar.stop();
  return (WRITERS * APPENDS_PER_WRITER) / ((performance.now() - started) / 1000);
}

try {
  await db.sql`CREATE TABLE raw_inserts (id bigserial PRIMARY KEY, stream text NOT NULL, body jsonb NOT NULL)`;
  for (const perAppend of [1, 8]) {
    const storeRates: number[] = [];
    const raw: number[] = [];
    const appendRound = (round: number) =>
      perSecond(`round ${round}: event store, ${perAppend} event(s) per append`, (writer, i) => {
        const stream = `bench-${writer}`;
        const events = Array.from({ length: perAppend }, () => deposit(stream));
        return store.append(stream, events, i === 0 ? 'no_stream' : i * perAppend - 1);
      });
    const rawRound = (round: number) =>
      perSecond(`round ${round}: plain INSERT, ${perAppend} row(s) per statement`, (writer) => {
        const rows = Array.from({ length: perAppend }, () => ({
          stream: writer,
          body: JSON.stringify(deposit(writer)),
        }));
        return db.sql`INSERT INTO raw_inserts ${db.sql(rows)}`;
      });
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate which goes first, so neither always runs on a warmer (or busier) server.
      if (round % 2) {
        storeRates.push(await appendRound(round));
        raw.push(await rawRound(round));
      } else {
        raw.push(await rawRound(round));
        storeRates.push(await appendRound(round));
      }
    }
    results[`appendsPerSecond_${perAppend}`] = median(storeRates);
    results[`eventsPerSecond_${perAppend}`] = median(storeRates) * perAppend;
    results[`rawInsertsPerSecond_${perAppend}`] = median(raw);
    results[`ratioToRaw_${perAppend}`] = median(storeRates) / median(raw);
  }

  const accountId = randomUUID();
  const stream = accountStreamName(accountId);
  const bar = progress(
    `writing one account with ${LONG_STREAM_EVENTS.toLocaleString('en-US')} events`,
    LONG_STREAM_EVENTS,
  );
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
    bar.increment(chunk);
  }
  bar.stop();

  log('reading the stream');
  const reads: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now();
    const all = await store.readStream(stream);
    reads.push(all.length / ((performance.now() - started) / 1000));
  }
  results.streamReadEventsPerSecond = median(reads);

  const repository = (snapshotEvery: number) =>
    createAggregateRepository({
      store,
      decider: accountDecider,
      streamName: accountStreamName,
      ids: randomIds,
      snapshotEvery,
    });
  const timeLoads = async (title: string, loads: number) => {
    const loadBar = progress(title, loads);
    const times: number[] = [];
    for (let i = 0; i < loads; i++) {
      const started = performance.now();
      const { state } = await repository(100).load(accountId);
      times.push(performance.now() - started);
      if (state.status !== 'Open' || state.available !== LONG_STREAM_EVENTS - 1) {
        throw new Error('wrong state');
      }
      loadBar.increment();
    }
    loadBar.stop();
    return times.sort((a, b) => a - b);
  };

  const without = await timeLoads('loading without a snapshot', LOADS_WITHOUT_SNAPSHOT);
  // One snapshot near the head (what SNAPSHOT_EVERY keeps up to date): loads read it plus the tail.
  const { state, revision } = await repository(0).load(accountId);
  await store.writeSnapshot(stream, {
    revision: revision as number,
    schemaVersion: accountDecider.snapshotSchemaVersion,
    state,
  });
  const withSnapshot = await timeLoads('loading with a snapshot', LOADS_WITH_SNAPSHOT);
  results.loadMsWithoutSnapshotMedian = percentile(without, 50);
  results.loadMsWithoutSnapshotP95 = percentile(without, 95);
  results.loadMsWithSnapshotMedian = percentile(withSnapshot, 50);
  results.loadMsWithSnapshotP95 = percentile(withSnapshot, 95);
  results.snapshotSpeedup = percentile(without, 50) / percentile(withSnapshot, 50);

  // A busy account: one that took part in BUSY_ACCOUNT_TRANSFERS transfers keeps a leg for each
  // (what makes every saga step idempotent). A command on it, from the cached state, and a load
  // of it from its events: neither may grow with the legs behind it faster than linearly.
  const busyId = randomUUID();
  const busyStream = accountStreamName(busyId);
  const busyBar = progress(
    `writing one account with ${BUSY_ACCOUNT_TRANSFERS.toLocaleString('en-US')} transfer legs`,
    BUSY_ACCOUNT_TRANSFERS,
  );
  await store.append(
    busyStream,
    [{ ...opened, id: randomUUID(), data: { ...opened.data, accountId: busyId } }],
    'no_stream',
  );
  for (let written = 0; written < BUSY_ACCOUNT_TRANSFERS; ) {
    const chunk = Math.min(1000, BUSY_ACCOUNT_TRANSFERS - written);
    await store.append(
      busyStream,
      Array.from({ length: chunk }, () => ({
        ...deposit(busyId),
        type: 'TransferCreditHeld',
        data: { accountId: busyId, transferId: randomUUID(), amount: 1, fromAccountId: randomUUID() },
      })),
      written,
    );
    written += chunk;
    busyBar.increment(chunk);
  }
  busyBar.stop();
  const busy = repository(0);
  let started = performance.now();
  await busy.load(busyId);
  results.busyAccountLoadMs = performance.now() - started;
  const commandTimes: number[] = [];
  for (let i = 0; i < BUSY_ACCOUNT_COMMANDS; i++) {
    started = performance.now();
    const hold = {
      type: 'HoldTransferCredit',
      data: {
        accountId: busyId,
        transferId: randomUUID(),
        amount: 1,
        currency: 'EUR',
        fromAccountId: randomUUID(),
      },
    } as const;
    await busy.handle(busyId, hold, {
      correlationId: 'bench',
      causationId: 'bench',
      occurredAt: new Date().toISOString(),
    });
    commandTimes.push(performance.now() - started);
  }
  results.busyAccountCommandMsMedian = median(commandTimes);
} finally {
  await store.close();
  await db.drop();
}

if (json) {
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} else {
  const f = (key: string, digits = 0) =>
    figure(key).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const goal = (met: boolean) => (met ? 'goal met' : 'GOAL MISSED');
  console.log(`
esbank bench:store on ${db.server}; ${WRITERS} concurrent writers, median of ${ROUNDS} round(s)

                              event store        plain INSERT loop   ratio
  appends/s, 1 event each     ${f('appendsPerSecond_1').padStart(9)}          ${f('rawInsertsPerSecond_1').padStart(9)}            ${f('ratioToRaw_1', 2)}
  appends/s, 8 events each    ${f('appendsPerSecond_8').padStart(9)}          ${f('rawInsertsPerSecond_8').padStart(9)}            ${f('ratioToRaw_8', 2)}
  events/s,  8 events each    ${f('eventsPerSecond_8').padStart(9)}

  stream read                 ${f('streamReadEventsPerSecond')} events/s
  load a 100,000-event account (aggregate repository, account decider)
    without a snapshot        median ${f('loadMsWithoutSnapshotMedian', 1)} ms, p95 ${f('loadMsWithoutSnapshotP95', 1)} ms
    with a snapshot           median ${f('loadMsWithSnapshotMedian', 2)} ms, p95 ${f('loadMsWithSnapshotP95', 2)} ms (${goal(figure('loadMsWithSnapshotMedian') <= GOAL_SNAPSHOT_MEDIAN_MS)}: <= ${GOAL_SNAPSHOT_MEDIAN_MS} ms)
    speed-up                  ${f('snapshotSpeedup')}x (${goal(figure('snapshotSpeedup') >= GOAL_SPEEDUP)}: >= ${GOAL_SPEEDUP}x)
  an account with ${BUSY_ACCOUNT_TRANSFERS.toLocaleString('en-US')} transfer legs
    load from its events      ${f('busyAccountLoadMs', 0)} ms
    a command (cached state)  median ${f('busyAccountCommandMsMedian', 2)} ms (hold a credit: one append, one leg more)`);
}
