/**
 * npm run bench:latency [-- --transfers N --stall --stall-seconds N --json]: how long one transfer
 * takes at idle, from POST /transfers (Prefer: wait=5) to the COMPLETED answer, against
 * `esbank serve` in its own process: one transfer at a time, p50/p90/p99 of the request and of the
 * transfer's own timeline (REQUESTED → COMPLETED, the saga's hops). --stall holds a write
 * transaction (one with a transaction id) open in another database of the same cluster meanwhile,
 * which appends nothing to esbank's log, and prints how long the transfers sent under it took.
 */
import { Agent } from 'node:http';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { mintToken } from '../src/adapters/http/auth.ts';
import { createScratchDatabase } from '../src/adapters/postgres/database.ts';
import { createBenchDatabase, percentile } from './support/bench-database.ts';
import { cpuMeter } from './support/cpu.ts';
import { jsonPoster } from './support/http.ts';
import { BENCH_SECRET, spawnService } from './support/service-process.ts';

const { values } = parseArgs({
  options: {
    transfers: { type: 'string', default: '200' },
    stall: { type: 'boolean', default: false },
    'stall-seconds': { type: 'string', default: '8' },
    json: { type: 'boolean', default: false },
  },
});
const TRANSFERS = Number(values.transfers);
const STALL_MS = Number(values['stall-seconds']) * 1000;
const WARM_UP = 20;
const log = (message: string) => !values.json && process.stderr.write(`${message}\n`);

type Transfer = { transferId: string; status: string; timeline: { step: string; at: string }[] };

const agent = new Agent({ keepAlive: true, maxSockets: 2 });
const db = await createBenchDatabase();
const service = await spawnService({ DATABASE_URL: db.url, RATE_LIMIT_PER_MINUTE: '10000000' });
try {
  const operator = await mintToken({ sub: 'bench-ops', role: 'operator' }, BENCH_SECRET);
  const customer = await mintToken({ sub: 'bench-customer' }, BENCH_SECRET);
  const post = jsonPoster(service.url, agent);
  const accounts: string[] = [];
  for (let i = 0; i < 2; i++) {
    const response = await post('/accounts', customer, { currency: 'EUR' });
    const { accountId } = JSON.parse(response.body) as { accountId: string };
    accounts.push(accountId);
    await post(`/accounts/${accountId}/deposits`, operator, { amount: 1_000_000_000 });
  }

  /** One transfer: POST with Prefer: wait=5, then (if it answered 202) GET until it has ended. */
  const transfer = async (i: number) => {
    const started = performance.now();
    const response = await post(
      '/transfers',
      customer,
      { fromAccountId: accounts[i % 2], toAccountId: accounts[(i + 1) % 2], amount: 1 },
      { prefer: 'wait=5' },
    );
    let body = JSON.parse(response.body) as Transfer;
    const { transferId } = body;
    while (body.status === 'PENDING') {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const answer = await fetch(`${service.url}/transfers/${transferId}`, {
        headers: { authorization: `Bearer ${customer}` },
      });
      // 404 until the read model has the transfer at all.
      if (answer.status !== 404) body = (await answer.json()) as Transfer;
    }
    if (body.status !== 'COMPLETED') throw new Error(`transfer ${body.transferId} ${body.status}`);
    const at = (step: string) => Date.parse(body.timeline.find((s) => s.step === step)!.at);
    const hops = body.timeline.slice(1).map((step, i) => ({
      hop: `${body.timeline[i]!.step}→${step.step}`,
      ms: Date.parse(step.at) - Date.parse(body.timeline[i]!.at),
    }));
    return {
      requestMs: performance.now() - started,
      timelineMs: at('COMPLETED') - at('REQUESTED'),
      hops,
      answered: response.status,
    };
  };

  log(`${WARM_UP} transfers to warm up...`);
  for (let i = 0; i < WARM_UP; i++) await transfer(i);

  const f = (n: number, d = 1) => n.toLocaleString('en-US', { maximumFractionDigits: d });
  const spread = (ms: number[]) => {
    const sorted = [...ms].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99) };
  };
  const line = (ms: number[]) => {
    const { p50, p90, p99 } = spread(ms);
    return `p50 ${f(p50)} ms   p90 ${f(p90)} ms   p99 ${f(p99)} ms   max ${f(Math.max(...ms))} ms`;
  };

  if (!values.stall) {
    log(`${TRANSFERS} transfers, one at a time...`);
    // CPU per transfer, the service's and PostgreSQL's: steadier than latency on a noisy machine.
    const meter = cpuMeter(db.sql, new URL(db.url).pathname.slice(1), { service: service.child.pid! });
    const cpuAtStart = await meter.read();
    const runs = [];
    for (let i = 0; i < TRANSFERS; i++) runs.push(await transfer(i));
    const cpu = await meter.spent(cpuAtStart);
    const cpuMsPerTransfer = {
      service: cpu.byProcess.service == null ? null : cpu.byProcess.service / TRANSFERS,
      postgres: cpu.postgresMs === null ? null : cpu.postgresMs / TRANSFERS,
    };
    const request = runs.map((run) => run.requestMs);
    const timeline = runs.map((run) => run.timelineMs);
    // The timeline's steps one by one (each a saga hop or two): where the time goes.
    const byHop = new Map<string, number[]>();
    for (const { hop, ms } of runs.flatMap((run) => run.hops))
      byHop.set(hop, [...(byHop.get(hop) ?? []), ms]);
    const hops = Object.fromEntries([...byHop].map(([hop, ms]) => [hop, spread(ms).p50]));
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ transfers: TRANSFERS, request: spread(request), timeline: spread(timeline), hopsP50: hops, cpuMsPerTransfer }, null, 2)}\n`,
      );
    } else {
      console.log(`
esbank bench:latency (${TRANSFERS} transfers one at a time at idle, Prefer: wait=5, ${db.server}, service in its own process)
  POST → COMPLETED answer        ${line(request)}
  timeline REQUESTED → COMPLETED ${line(timeline)}
  its steps, p50                 ${Object.entries(hops)
    .map(([hop, ms]) => `${hop} ${f(ms)} ms`)
    .join('   ')}
  CPU per transfer               service ${f(cpuMsPerTransfer.service ?? Number.NaN)} ms   PostgreSQL ${f(cpuMsPerTransfer.postgres ?? Number.NaN)} ms`);
    }
  } else {
    const adminUrl = new URL(db.url);
    adminUrl.pathname = '/postgres';
    const other = await createScratchDatabase(adminUrl.toString(), 'esbank_stall');
    const holder = postgres(other.url, { max: 1, onnotice: () => {} });
    try {
      let holding!: () => void;
      const held = new Promise<void>((resolve) => {
        holding = resolve;
      });
      const heldUntil = Date.now() + STALL_MS;
      const hold = holder.begin(async (tx) => {
        await tx`SELECT txid_current()`;
        holding();
        await tx`SELECT pg_sleep(${STALL_MS / 1000})`;
      });
      await held;
      log(
        `a transaction holds an xid for ${STALL_MS / 1000} s in ${new URL(other.url).pathname.slice(1)}; transfers one at a time meanwhile...`,
      );
      const runs = [];
      for (let i = 0; Date.now() < heldUntil - 100; i++) runs.push(await transfer(i));
      await hold;
      const request = runs.map((run) => run.requestMs);
      const timeline = runs.map((run) => run.timelineMs);
      if (values.json) {
        process.stdout.write(
          `${JSON.stringify({ stallMs: STALL_MS, transfers: runs.length, request: spread(request), timeline: spread(timeline), maxRequestMs: Math.max(...request) }, null, 2)}\n`,
        );
      } else {
        console.log(`
esbank bench:latency --stall (a transaction with an xid held open ${STALL_MS / 1000} s in another database of the cluster, ${db.server})
  transfers completed meanwhile  ${runs.length} (one at a time)
  POST → COMPLETED               ${line(request)}
  timeline REQUESTED → COMPLETED ${line(timeline)}`);
      }
    } finally {
      await holder.end();
      await other.drop();
    }
  }
} finally {
  agent.destroy();
  await service.stop();
  await db.drop();
}
