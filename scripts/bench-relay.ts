/**
 * npm run bench:relay [-- --events 50000 --transfers 4000 --json]: the integration relay (SPEC §10)
 * against the local RabbitMQ (BROKER_URL, default guest on 127.0.0.1:5672), on exchanges of its
 * own that it deletes at the end.
 *
 * 1. Throughput: --events of a bank workload (scripts/support/workload.ts) are written first; a
 *    relay then publishes the backlog with publisher confirms. Events/s = public events confirmed
 *    per second of the drain (the relay runs in this process, the queue has no consumer).
 * 2. Lag under load: `npm run bench:api` runs with BROKER_URL set, so its service relays while it
 *    serves the transfers; a consumer here records, for every message, the time from the event's
 *    `occurredAt` (stamped by the service when it decided the command) to its arrival.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connect } from 'amqplib';
import { createAmqpPublisher } from '../src/adapters/amqp/publisher.ts';
import { createPostgresEventStore } from '../src/adapters/postgres/event-store.ts';
import { createIntegrationRelay } from '../src/application/integration-relay.ts';
import { silentLogger } from '../src/application/ports/logger.ts';
import { createBenchDatabase, percentile } from './support/bench-database.ts';
import { generateWorkload } from './support/workload.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '50000' },
    transfers: { type: 'string', default: '4000' },
    json: { type: 'boolean', default: false },
  },
});
const log = (message: string) => !values.json && process.stderr.write(`${message}\n`);
const BROKER_URL = process.env.BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const admin = await connect(BROKER_URL);
const channel = await admin.createChannel();
/** A durable topic exchange of its own with one queue bound to every key; deleted by `drop`. */
async function benchExchange() {
  const exchange = `esbank.bench.${randomBytes(4).toString('hex')}`;
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, exchange, '#');
  return {
    exchange,
    queue,
    drop: async () => {
      await channel.deleteQueue(queue);
      await channel.deleteExchange(exchange);
    },
  };
}

async function throughput() {
  const db = await createBenchDatabase();
  const target = await benchExchange();
  const store = createPostgresEventStore(db.sql);
  try {
    log(`writing ${values.events} events of a bank workload...`);
    await generateWorkload(store, { events: Number(values.events), concurrency: 32 });
    const head = await store.headPosition();
    const relay = createIntegrationRelay({
      store,
      publisher: createAmqpPublisher({ url: BROKER_URL, exchange: target.exchange }),
      logger: silentLogger,
    });
    log('relaying the backlog...');
    const started = performance.now();
    relay.start();
    while ((await relay.checkpoint()) < head) await sleep(20);
    const seconds = (performance.now() - started) / 1000;
    const { confirmed } = relay.status();
    await relay.stop();
    return { logEvents: head, published: confirmed, seconds, eventsPerSecond: confirmed / seconds };
  } finally {
    await store.close();
    await target.drop();
    await db.drop();
  }
}

async function lagUnderLoad() {
  const target = await benchExchange();
  const lags: number[] = [];
  const ids = new Set<string>();
  let lastArrival = performance.now();
  await channel.consume(
    target.queue,
    (message) => {
      if (!message) return;
      const body = JSON.parse(message.content.toString()) as { id: string; occurredAt: string };
      lags.push(Date.now() - Date.parse(body.occurredAt));
      ids.add(body.id);
      lastArrival = performance.now();
    },
    { noAck: true },
  );
  log(`bench:api with the relay on (${values.transfers} transfers)...`);
  const api = spawn(
    'node',
    ['--import', 'tsx', 'scripts/bench-api.ts', '--json', '--transfers', values.transfers!],
    {
      env: { ...process.env, BROKER_URL, BROKER_EXCHANGE: target.exchange },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  api.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => api.once('exit', resolve));
  if (code !== 0) throw new Error(`bench:api exited with ${code}`);
  while (performance.now() - lastArrival < 1_000) await sleep(100);
  await target.drop();
  const api_ = JSON.parse(output) as {
    transfers: number;
    accounts: number;
    postsPerSecond: number;
    completedPerSecondEndToEnd: number;
  };
  lags.sort((a, b) => a - b);
  return {
    api: api_,
    received: ids.size,
    duplicates: lags.length - ids.size,
    // Opened and funded accounts, and each transfer requested and then completed or cancelled.
    expected: api_.accounts * 2 + api_.transfers * 2,
    lagMs: { p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags.at(-1) ?? Number.NaN },
  };
}

try {
  const drain = await throughput();
  const load = await lagUnderLoad();
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ throughput: drain, underLoad: load }, null, 2)}\n`);
  } else {
    const f = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d });
    console.log(`
esbank bench:relay (RabbitMQ at ${new URL(BROKER_URL).host}, publisher confirms, persistent messages)
  backlog drain        ${f(drain.published)} public events of ${f(drain.logEvents)} in the log, in ${f(drain.seconds, 1)} s = ${f(drain.eventsPerSecond)} events/s confirmed
  under bench:api      ${f(load.api.postsPerSecond)} POST/s, ${f(load.api.completedPerSecondEndToEnd)} transfers/s end to end (relay on)
  relay lag            occurredAt to consumer: p50 ${f(load.lagMs.p50)} ms   p99 ${f(load.lagMs.p99)} ms   max ${f(load.lagMs.max)} ms
  delivered            ${f(load.received)} of ${f(load.expected)} expected events, ${f(load.duplicates)} duplicates`);
  }
} finally {
  await admin.close();
}
