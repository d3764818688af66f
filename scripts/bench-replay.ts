/**
 * npm run bench:replay [-- --events 1000000 --database-url URL --batch-size N --live-seconds 10
 *                          --no-replay --no-verify --keep --json]
 *
 * Rebuilds every read model from the log with rebuildReadModels (what `esbank replay` runs) and
 * reports events/s and memory; then reconciles the whole store with verifyStore (what `esbank
 * verify` runs) and reports the same. Without --database-url it generates the events (scripts/
 * generate-events.ts, in a child process so its memory is not counted) into a fresh random
 * database, dropped at the end unless --keep; with one, it tops the log up to --events if needed.
 * Memory: peak RSS (resourceUsage().maxRSS) of this process, and RSS sampled at each quarter of
 * the rebuild (flat means batches are not accumulating).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createSql } from '../src/adapters/postgres/client.ts';
import { createScratchDatabase } from '../src/adapters/postgres/database.ts';
import { createPostgresEventStore } from '../src/adapters/postgres/event-store.ts';
import { migrate } from '../src/adapters/postgres/migrate.ts';
import { rebuildReadModels } from '../src/adapters/postgres/projections/rebuild.ts';
import { startProjections } from '../src/adapters/postgres/projections/runner.ts';
import { verifyStore } from '../src/adapters/postgres/verify.ts';
import { silentLogger } from '../src/application/ports/logger.ts';
import { loadConfig } from '../src/config.ts';
import { startDatabaseServer } from '../src/infrastructure.ts';
import { progressReporter } from './support/progress.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    'database-url': { type: 'string' },
    'batch-size': { type: 'string' },
    'live-seconds': { type: 'string', default: '10' },
    'no-replay': { type: 'boolean', default: false },
    'no-verify': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const target = Number(values.events);
const log = (message: string) => !values.json && process.stderr.write(`${message}\n`);
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

/** CPU time of this process and of its PostgreSQL backends (read from /proc when the server is local). */
async function cpuSince(start?: { nodeMs: number; backends: Map<number, number> }) {
  const usage = process.cpuUsage();
  const backends = new Map<number, number>();
  const pids = await sql<{ pid: number }[]>`
    SELECT pid FROM pg_stat_activity WHERE application_name = ${APPLICATION_NAME}`;
  for (const { pid } of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      backends.set(pid, (Number(fields[11]) + Number(fields[12])) * (1000 / 100));
    } catch {
      return { nodeMs: Math.round((usage.user + usage.system) / 1000), backends, postgresMs: null };
    }
  }
  let postgresMs = 0;
  for (const [pid, ms] of backends) postgresMs += ms - (start?.backends.get(pid) ?? 0);
  const nodeMs = Math.round((usage.user + usage.system) / 1000) - (start?.nodeMs ?? 0);
  return { nodeMs, backends, postgresMs };
}

const generate = (url: string, events: number) =>
  new Promise<void>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'scripts/generate-events.ts', '--events', String(events), '--database-url', url],
      { stdio: ['ignore', values.json ? 'ignore' : 'inherit', 'inherit'] },
    );
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`generator exited with ${code}`)),
    );
  });

// Without --database-url: a fresh database on DATABASE_URL's server, or else on the embedded bench cluster.
const server = values['database-url'] ? null : await startDatabaseServer(loadConfig(), 'bench-pg');
const fresh = server && (await createScratchDatabase(server.adminUrl, 'esbank_replay'));
const url = values['database-url'] ?? fresh!.url;
const APPLICATION_NAME = `esbank-bench-replay-${process.pid}`;
const sql = createSql(url, { max: 8, applicationName: APPLICATION_NAME });
const store = createPostgresEventStore(sql);
try {
  await migrate(sql);
  const [{ count }] = (await sql`SELECT count(*)::bigint AS count FROM events`) as unknown as [
    { count: number },
  ];
  if (count < target) {
    log(`the log holds ${count} events; generating ${target - count} more into ${url}`);
    await generate(url, target - count);
  }

  if (!values['no-replay']) await benchReplay();
  if (!values['no-verify']) await benchVerify();
} finally {
  await store.close();
  await sql.end({ timeout: 5 });
  if (fresh && !values.keep) await fresh.drop();
  else if (fresh) log(`kept ${fresh.url}`);
  await server?.stop();
}

async function benchReplay() {
  // The live runners (batches of 500, as `esbank serve` runs them) catching up from an empty read
  // side for at most --live-seconds: events/s all three apply, each batch with its checkpoint.
  const liveSeconds = Number(values['live-seconds']);
  let live: { seconds: number; events: number; eventsPerSecond: number } | null = null;
  if (liveSeconds > 0) {
    log(`live runners: catching up from an empty read side for ${liveSeconds} s...`);
    await rebuildReadModels({ sql, store, until: { position: 0 } });
    const runners = startProjections({ store, sql, logger: silentLogger, batchSize: 500 });
    const started = performance.now();
    const head = await store.headPosition();
    while (
      performance.now() - started < liveSeconds * 1000 &&
      Math.min(...Object.values(runners.positions())) < head
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await runners.stop();
    const seconds = (performance.now() - started) / 1000;
    const reached = Math.min(...Object.values(runners.positions()));
    const [{ applied }] = (await sql`
      SELECT count(*)::bigint AS applied FROM events WHERE global_position <= ${reached}`) as unknown as [
      { applied: number },
    ];
    live = {
      seconds: Math.round(seconds * 10) / 10,
      events: applied,
      eventsPerSecond: Math.round(applied / seconds),
    };
  }

  log('rebuilding balances, history and transfers...');
  const {
    result: summary,
    cpu,
    quarters,
    peakHeap,
    rssAtStart,
  } = await measured('replay', await store.headPosition(), (onProgress) =>
    rebuildReadModels({
      sql,
      store,
      ...(values['batch-size'] ? { batchSize: Number(values['batch-size']) } : {}),
      onProgress,
    }),
  );

  // Money check on the rebuilt balances: they hold exactly the cash deposited minus withdrawn.
  const [check] = (await sql`
    SELECT (SELECT coalesce(sum(available + pending), 0)::bigint FROM balances) AS held,
           (SELECT coalesce(sum(CASE type WHEN 'CashDeposited' THEN 1 ELSE -1 END * (data->>'amount')::bigint), 0)::bigint
              FROM events WHERE type IN ('CashDeposited', 'CashWithdrawn')) AS cash,
           (SELECT count(*)::bigint FROM history) AS history,
           (SELECT count(*)::bigint FROM transfers) AS transfers`) as unknown as [
    { held: number; cash: number; history: number; transfers: number },
  ];
  const result = {
    ...summary,
    loadAverage: loadavg()[0],
    cpuMs: { node: cpu.nodeMs, postgres: cpu.postgresMs },
    liveRunners: live,
    rssStartMb: mb(rssAtStart),
    rssByQuarterMb: quarters,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    peakHeapMb: mb(peakHeap),
    rows: { history: check.history, transfers: check.transfers },
    moneyConserved: check.held === check.cash,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    process.stdout.write(
      `replayed ${result.events} events in ${(result.durationMs / 1000).toFixed(1)} s: ` +
        `${result.eventsPerSecond} events/s (${result.source === 'log-table' ? `projections read the log table, ${result.batchSize} positions a statement` : `read through the store, ${result.batchSize} events a batch`})\n` +
        `memory: RSS ${result.rssStartMb} MB at start, ${result.rssByQuarterMb.join(' / ')} MB by quarter, ` +
        `peak RSS ${result.peakRssMb} MB, peak heap ${result.peakHeapMb} MB\n` +
        `CPU: node ${result.cpuMs.node} ms, PostgreSQL backends ${result.cpuMs.postgres ?? '?'} ms ` +
        `(load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)\n` +
        (live
          ? `live runners (batch 500): ${live.events} events in ${live.seconds} s, ${live.eventsPerSecond} events/s ` +
            `= ${Math.round(live.eventsPerSecond / 7)} transfers/s of 7 events\n`
          : '') +
        `rows: ${result.rows.history} history, ${result.rows.transfers} transfers; money conserved: ${result.moneyConserved}\n`,
    );
  }
  if (!result.moneyConserved) process.exitCode = 1;
}

/** `esbank verify` over the whole log (the read models as the rebuild left them): events/s and memory. */
async function benchVerify() {
  log('verifying the whole store...');
  const {
    result: report,
    cpu,
    quarters,
    peakHeap,
    rssAtStart,
  } = await measured('verify', await store.headPosition(), (onProgress) =>
    verifyStore({
      sql,
      store,
      ...(values['batch-size'] ? { batchSize: Number(values['batch-size']) } : {}),
      onProgress,
    }),
  );
  const result = {
    verify: {
      events: report.events,
      accounts: report.accounts,
      transfers: report.transfers,
      discrepancies: report.total,
      notes: report.noteCount,
      durationMs: report.durationMs,
      eventsPerSecond: report.eventsPerSecond,
      loadAverage: loadavg()[0],
      cpuMs: { node: cpu.nodeMs, postgres: cpu.postgresMs },
      rssStartMb: mb(rssAtStart),
      rssByQuarterMb: quarters,
      peakHeapMb: mb(peakHeap),
    },
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const v = result.verify;
    process.stdout.write(
      `verified ${v.events} events (${v.accounts} accounts, ${v.transfers} transfers) in ${(v.durationMs / 1000).toFixed(1)} s: ` +
        `${v.eventsPerSecond} events/s; ${v.discrepancies} discrepancies, ${v.notes} notes\n` +
        `memory: RSS ${v.rssStartMb} MB at start, ${v.rssByQuarterMb.join(' / ')} MB by quarter, peak heap ${v.peakHeapMb} MB\n` +
        `CPU: node ${v.cpuMs.node} ms, PostgreSQL backends ${v.cpuMs.postgres ?? '?'} ms ` +
        `(load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)\n`,
    );
  }
  if (report.total > 0) process.exitCode = 1;
}

/**
 * Runs `work` with a progress reporter, and measures it: RSS at each quarter of the log (flat
 * means batches are not accumulating), peak heap, CPU of this process and its PostgreSQL backends.
 */
async function measured<T>(
  label: string,
  head: number,
  work: (onProgress: (done: number, total: number) => void) => Promise<T>,
) {
  const progress = progressReporter(label, head, values.json);
  const quarters: number[] = [];
  let peakHeap = 0;
  const sampler = setInterval(() => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }, 100);
  const rssAtStart = process.memoryUsage().rss;
  const cpuAtStart = await cpuSince();
  const result = await work((done, total) => {
    progress.update(done);
    if (done >= ((quarters.length + 1) * total) / 4) quarters.push(mb(process.memoryUsage().rss));
  });
  clearInterval(sampler);
  const cpu = await cpuSince(cpuAtStart);
  progress.stop();
  return { result, cpu, quarters, peakHeap, rssAtStart };
}
