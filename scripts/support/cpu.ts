import { readFileSync } from 'node:fs';
import type { Sql } from '../../src/adapters/postgres/client.ts';

/** CPU milliseconds (user + system) of a process, from /proc; null where /proc cannot tell. */
export function processCpuMs(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
  } catch {
    return null;
  }
}

export type CpuReading = { processes: Map<string, number | null>; backends: Map<number, number> };
export type CpuSpent = { byProcess: Record<string, number | null>; postgresMs: number | null };

/**
 * Where the CPU goes while a benchmark runs: named local processes (this one, a spawned service)
 * and the PostgreSQL backends serving one database (found through pg_stat_activity, read from
 * /proc: the server must be local). `read()` now, `spent(earlier)` later.
 */
export function cpuMeter(sql: Sql, database: string, processes: Record<string, number>) {
  const read = async (): Promise<CpuReading> => {
    const pids = await sql<{ pid: number }[]>`
      SELECT pid FROM pg_stat_activity WHERE datname = ${database} AND pid <> pg_backend_pid()`;
    const backends = new Map<number, number>();
    for (const { pid } of pids) {
      const ms = processCpuMs(pid);
      if (ms !== null) backends.set(pid, ms);
    }
    return {
      processes: new Map(Object.entries(processes).map(([name, pid]) => [name, processCpuMs(pid)])),
      backends,
    };
  };
  const spent = async (start: CpuReading): Promise<CpuSpent> => {
    const now = await read();
    const byProcess: Record<string, number | null> = {};
    for (const [name, ms] of now.processes) {
      const before = start.processes.get(name);
      byProcess[name] = ms === null || before == null ? null : ms - before;
    }
    let postgresMs = 0;
    for (const [pid, ms] of now.backends) postgresMs += ms - (start.backends.get(pid) ?? 0);
    return { byProcess, postgresMs: now.backends.size === 0 ? null : postgresMs };
  };
  return { read, spent };
}
