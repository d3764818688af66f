/**
 * npm run bench:api [-- --transfers N --accounts N --clients N --fresh-tokens --json]: drives
 * `esbank serve` (its own process, auth on) over real HTTP: POST /transfers latency and rate, then
 * completed transfers/s end to end (until every transfer is terminal and projected), and the CPU
 * each transfer cost the service, PostgreSQL and this client. --fresh-tokens gives every transfer
 * a token of its own, so each pays the verification the service caches otherwise.
 */
import { Agent } from 'node:http';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { mintToken } from '../src/adapters/http/auth.ts';
import { createBenchDatabase, percentile } from './support/bench-database.ts';
import { cpuMeter } from './support/cpu.ts';
import { jsonPoster } from './support/http.ts';
import { BENCH_SECRET, spawnService } from './support/service-process.ts';

const { values } = parseArgs({
  options: {
    transfers: { type: 'string', default: '4000' },
    accounts: { type: 'string', default: '200' },
    clients: { type: 'string', default: '32' },
    // Every transfer with a token of its own: each request pays the HS256 verification that the
    // service otherwise caches per token. The difference to a normal run is what auth costs.
    'fresh-tokens': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const TRANSFERS = Number(values.transfers);
const ACCOUNTS = Number(values.accounts);
const CLIENTS = Number(values.clients);
const log = (message: string) => !values.json && process.stderr.write(`${message}\n`);

const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
const db = await createBenchDatabase();
const service = await spawnService({ DATABASE_URL: db.url, RATE_LIMIT_PER_MINUTE: '10000000' });
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
  const post = jsonPoster(service.url, agent);

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
    service: service.child.pid!,
    client: process.pid,
  });
  const cpuAtStart = await meter.read();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < TRANSFERS) {
        const i = next++;
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
  bar?.stop();

  log('waiting until every transfer is terminal and projected...');
  const ended = async () => {
    const [row] = await db.sql<
      { done: number }[]
    >`SELECT count(*)::int AS done FROM transfers WHERE status <> 'PENDING'`;
    return row!.done;
  };
  for (let i = 0; i < 6000 && (await ended()) < TRANSFERS; i++)
    await new Promise((resolve) => setTimeout(resolve, 50));
  const totalSeconds = (performance.now() - started) / 1000;
  const cpu = await meter.spent(cpuAtStart);
  const done = await ended();
  const [sums] = await db.sql<
    { available: number; pending: number }[]
  >`SELECT sum(available)::bigint AS available, sum(pending)::bigint AS pending FROM balances`;

  latencies.sort((a, b) => a - b);
  const perTransfer = (ms: number | null | undefined) => (ms == null ? null : ms / TRANSFERS);
  const results = {
    transfers: TRANSFERS,
    accounts: ACCOUNTS,
    clients: CLIENTS,
    statuses: Object.fromEntries(statuses),
    postP50Ms: percentile(latencies, 50),
    postP99Ms: percentile(latencies, 99),
    postsPerSecond: TRANSFERS / postSeconds,
    terminalTransfers: done,
    completedPerSecondEndToEnd: done / totalSeconds,
    conserved: sums!.available === ACCOUNTS * 1_000_000 && sums!.pending === 0,
    /** CPU per transfer while the transfers ran, in ms: where the time goes. */
    cpuMsPerTransfer: {
      service: perTransfer(cpu.byProcess.service),
      client: perTransfer(cpu.byProcess.client),
      postgres: perTransfer(cpu.postgresMs),
    },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } else {
    const f = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d });
    console.log(`
esbank bench:api (${TRANSFERS} transfers, ${ACCOUNTS} accounts, ${CLIENTS} clients, auth on${values['fresh-tokens'] ? ', a token per transfer' : ''}, service in its own process)
  POST /transfers      p50 ${f(results.postP50Ms, 1)} ms   p99 ${f(results.postP99Ms, 1)} ms   ${f(results.postsPerSecond)} POST/s   statuses ${JSON.stringify(results.statuses)}
  end to end           ${f(done)} terminal and projected in ${f(totalSeconds, 1)} s = ${f(results.completedPerSecondEndToEnd)} transfers/s
  CPU per transfer     service ${f(results.cpuMsPerTransfer.service ?? Number.NaN, 2)} ms   PostgreSQL ${f(results.cpuMsPerTransfer.postgres ?? Number.NaN, 2)} ms   this client ${f(results.cpuMsPerTransfer.client ?? Number.NaN, 2)} ms   (${availableParallelism()} cores)
  money conserved      ${results.conserved}
  (for the store's own ceiling, run npm run bench:store)`);
  }
} finally {
  agent.destroy();
  await service.stop();
  await db.drop();
}
