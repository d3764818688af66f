/**
 * npm run bench:api [-- --transfers N --accounts N --clients N --instances N --rate N --fresh-tokens --json]:
 * drives `esbank serve` (its own process, auth on; --instances of them on one database, requests
 * spread round-robin) over real HTTP: POST /transfers latency and rate, GET /accounts/:id latency
 * under that load, requested-to-terminal time of each transfer (from the log), completed
 * transfers/s end to end (until every transfer is terminal and projected), and the CPU each
 * transfer cost the services, PostgreSQL and this client. --fresh-tokens gives every transfer a
 * token of its own, so each pays the verification the service caches otherwise. --rate N offers
 * N transfers/s (transfer i leaves at i/N s, on the first of the clients free) instead of as
 * many as the clients can send: the latencies at a load the machine carries, not at saturation.
 */
import { Agent } from 'node:http';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { mintToken } from '../src/adapters/http/auth.ts';
import { partitionOf } from '../src/application/partitioned-processor.ts';
import { SAGA_PARTITIONS } from '../src/application/transfer-saga-coordinator.ts';
import { createBenchDatabase, percentile } from './support/bench-database.ts';
import { cpuMeter } from './support/cpu.ts';
import { jsonPoster } from './support/http.ts';
import { BENCH_SECRET, spawnService } from './support/service-process.ts';

const { values } = parseArgs({
  options: {
    transfers: { type: 'string', default: '4000' },
    accounts: { type: 'string', default: '200' },
    clients: { type: 'string', default: '32' },
    instances: { type: 'string', default: '1' },
    rate: { type: 'string' },
    // Every transfer with a token of its own: each request pays the HS256 verification that the
    // service otherwise caches per token. The difference to a normal run is what auth costs.
    'fresh-tokens': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const TRANSFERS = Number(values.transfers);
const ACCOUNTS = Number(values.accounts);
const CLIENTS = Number(values.clients);
const INSTANCES = Number(values.instances);
const RATE = values.rate === undefined ? null : Number(values.rate);
const log = (message: string) => !values.json && process.stderr.write(`${message}\n`);

const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
const db = await createBenchDatabase();
const services = [];
for (let i = 0; i < INSTANCES; i++)
  services.push(await spawnService({ DATABASE_URL: db.url, RATE_LIMIT_PER_MINUTE: '10000000' }));
try {
  const operator = await mintToken({ sub: 'bench-ops', role: 'operator' }, BENCH_SECRET);
  const customer = await mintToken({ sub: 'bench-customer' }, BENCH_SECRET);
  // Same principal, distinct tokens (a different lifetime each).
  const tokens = values['fresh-tokens']
    ? await Promise.all(
        Array.from({ length: TRANSFERS }, (_, i) =>
          mintToken({ sub: 'bench-customer', ttlSeconds: 3600 + i }, BENCH_SECRET),
        ),
      )
    : null;
  const posters = services.map((service) => jsonPoster(service.url, agent));
  let turn = 0;
  const post: ReturnType<typeof jsonPoster> = (...args) => posters[turn++ % posters.length]!(...args);

  log(`opening ${ACCOUNTS} accounts...`);
  const accounts: string[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const response = await post('/accounts', customer, { currency: 'EUR' });
    const { accountId } = JSON.parse(response.body) as { accountId: string };
    accounts.push(accountId);
    await post(`/accounts/${accountId}/deposits`, operator, { amount: 1_000_000 });
  }

  log(`${TRANSFERS} transfers from ${CLIENTS} clients...`);
  const bar = values.json || !process.stderr.isTTY ? null : new SingleBar({ stream: process.stderr });
  bar?.start(TRANSFERS, 0);
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const meter = cpuMeter(db.sql, new URL(db.url).pathname.slice(1), {
    ...Object.fromEntries(services.map((service, i) => [`service${i}`, service.child.pid!])),
    client: process.pid,
  });
  // A reader beside the load: GET /accounts/:id every 20 ms (it waits for the balances read model
  // to reach the account's newest event, so this is what read-your-writes costs under load).
  // Every other read passes ?minPosition=1, which waits for nothing: the difference is the wait.
  const reads: number[] = [];
  const unwaitedReads: number[] = [];
  let loading = true;
  const reader = (async () => {
    for (let i = 0; loading; i++) {
      const t0 = performance.now();
      const query = i % 2 === 1 ? '?minPosition=1' : '';
      await fetch(`${services[i % services.length]!.url}/accounts/${accounts[i % ACCOUNTS]}${query}`, {
        headers: { authorization: `Bearer ${operator}` },
      }).then((response) => response.text());
      (query ? unwaitedReads : reads).push(performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const commits = async () =>
    (
      await db.sql<
        { n: number }[]
      >`SELECT xact_commit::int AS n FROM pg_stat_database WHERE datname = current_database()`
    )[0]!.n;
  const commitsAtStart = await commits();
  const cpuAtStart = await meter.read();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < TRANSFERS) {
        const i = next++;
        if (RATE !== null) {
          const due = started + (i * 1000) / RATE - performance.now();
          if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
        }
        const from = accounts[Math.floor(Math.random() * ACCOUNTS)]!;
        let to = accounts[Math.floor(Math.random() * ACCOUNTS)]!;
        if (to === from) to = accounts[(accounts.indexOf(from) + 1) % ACCOUNTS]!;
        const t0 = performance.now();
        const response = await post('/transfers', tokens?.[i] ?? customer, {
          fromAccountId: from,
          toAccountId: to,
          amount: 1 + (i % 500),
        });
        latencies.push(performance.now() - t0);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        bar?.increment();
      }
    }),
  );
  const postSeconds = (performance.now() - started) / 1000;
  loading = false;
  await reader;
  bar?.stop();

  log('waiting until every transfer is terminal and projected...');
  const ended = async () => {
    const [row] = await db.sql<
      { done: number }[]
    >`SELECT count(*)::int AS done FROM transfers WHERE status <> 'PENDING'`;
    return row!.done;
  };
  for (let i = 0; i < 6000 && (await ended()) < TRANSFERS; i++) {
    // Still waiting after 3 s: a step may be stuck. Show a few such transfers' steps and deadlines.
    if (i === 60) {
      const pending = await db.sql<{ transfer_id: string; steps: string; due_at: Date | null }[]>`
        SELECT t.transfer_id, d.due_at,
               (SELECT string_agg(e.type || '@' || e.global_position, ' > ' ORDER BY e.global_position) FROM events e
                WHERE e.data ->> 'transferId' = t.transfer_id::text) AS steps
        FROM transfers t LEFT JOIN transfer_deadlines d USING (transfer_id)
        WHERE t.status = 'PENDING' LIMIT 5`;
      const partitions = await db.sql<
        { partition: number; owner: string | null; position: number; fence: number }[]
      >`
        SELECT partition, owner, position, fence FROM processor_partitions
        WHERE processor = 'transfer-saga' ORDER BY partition`;
      for (const row of pending) {
        const partition = partitions[partitionOf(row.transfer_id, SAGA_PARTITIONS)];
        process.stderr.write(
          `still pending after 3 s: ${row.transfer_id} ${row.steps} (deadline ${row.due_at?.toISOString() ?? 'none'}; saga partition ${JSON.stringify(partition)})\n`,
        );
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const totalSeconds = (performance.now() - started) / 1000;
  const cpu = await meter.spent(cpuAtStart);
  await new Promise((resolve) => setTimeout(resolve, 1_100)); // the statistics are flushed about once a second
  const transactionsPerTransfer = ((await commits()) - commitsAtStart) / TRANSFERS;
  const done = await ended();
  // Requested to terminal, as the log's own timeline has it (occurredAt of each transfer's first and last event).
  const [timeline] = await db.sql<{ p50: number; p99: number }[]>`
    WITH spans AS (
      SELECT data->>'transferId' AS id,
             max((metadata->>'occurredAt')::timestamptz) FILTER (WHERE type IN ('TransferCompleted', 'TransferCancelled'))
               - min((metadata->>'occurredAt')::timestamptz) FILTER (WHERE type = 'TransferRequested') AS took
      FROM events WHERE stream_name LIKE 'transfer-%' GROUP BY 1)
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM took) * 1000) AS p50,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM took) * 1000) AS p99
    FROM spans WHERE took IS NOT NULL`;
  reads.sort((a, b) => a - b);
  unwaitedReads.sort((a, b) => a - b);
  const serviceCpu = services.reduce<number | null>((total, _, i) => {
    const ms = cpu.byProcess[`service${i}`];
    return total === null || ms == null ? null : total + ms;
  }, 0);
  const [sums] = await db.sql<
    { available: number; pending: number }[]
  >`SELECT sum(available)::bigint AS available, sum(pending)::bigint AS pending FROM balances`;

  latencies.sort((a, b) => a - b);
  const perTransfer = (ms: number | null | undefined) => (ms == null ? null : ms / TRANSFERS);
  const results = {
    transfers: TRANSFERS,
    accounts: ACCOUNTS,
    clients: CLIENTS,
    instances: INSTANCES,
    offeredPerSecond: RATE,
    statuses: Object.fromEntries(statuses),
    postP50Ms: percentile(latencies, 50),
    postP99Ms: percentile(latencies, 99),
    postsPerSecond: TRANSFERS / postSeconds,
    getAccountP50Ms: percentile(reads, 50),
    getAccountP99Ms: percentile(reads, 99),
    getAccountNoWaitP50Ms: percentile(unwaitedReads, 50),
    requestedToTerminalP50Ms: timeline!.p50,
    requestedToTerminalP99Ms: timeline!.p99,
    terminalTransfers: done,
    completedPerSecondEndToEnd: done / totalSeconds,
    conserved: sums!.available === ACCOUNTS * 1_000_000 && sums!.pending === 0,
    /** PostgreSQL transactions committed per transfer (every statement outside a transaction is one). */
    transactionsPerTransfer,
    /** CPU per transfer while the transfers ran, in ms: where the time goes. */
    cpuMsPerTransfer: {
      service: perTransfer(serviceCpu),
      client: perTransfer(cpu.byProcess.client),
      postgres: perTransfer(cpu.postgresMs),
    },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } else {
    const f = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d });
    console.log(`
esbank bench:api (${TRANSFERS} transfers, ${ACCOUNTS} accounts, ${CLIENTS} clients, auth on${values['fresh-tokens'] ? ', a token per transfer' : ''}, ${INSTANCES} service process${INSTANCES > 1 ? 'es' : ''}${RATE === null ? '' : `, ${f(RATE)} transfers/s offered`})
  POST /transfers      p50 ${f(results.postP50Ms, 1)} ms   p99 ${f(results.postP99Ms, 1)} ms   ${f(results.postsPerSecond)} POST/s   statuses ${JSON.stringify(results.statuses)}
  GET /accounts/:id    p50 ${f(results.getAccountP50Ms, 1)} ms   p99 ${f(results.getAccountP99Ms, 1)} ms   (${reads.length} reads during the load; with ?minPosition=1, no wait: p50 ${f(results.getAccountNoWaitP50Ms, 1)} ms)
  requested→terminal   p50 ${f(results.requestedToTerminalP50Ms, 1)} ms   p99 ${f(results.requestedToTerminalP99Ms, 1)} ms
  end to end           ${f(done)} terminal and projected in ${f(totalSeconds, 1)} s = ${f(results.completedPerSecondEndToEnd)} transfers/s
  CPU per transfer     service${INSTANCES > 1 ? 's' : ''} ${f(results.cpuMsPerTransfer.service ?? Number.NaN, 2)} ms   PostgreSQL ${f(results.cpuMsPerTransfer.postgres ?? Number.NaN, 2)} ms   this client ${f(results.cpuMsPerTransfer.client ?? Number.NaN, 2)} ms   (${availableParallelism()} cores)
  PostgreSQL           ${f(transactionsPerTransfer, 1)} transactions per transfer
  money conserved      ${results.conserved}
  (for the store's own ceiling, run npm run bench:store)`);
  }
} finally {
  agent.destroy();
  await Promise.all(services.map((service) => service.stop()));
  await db.drop();
}
