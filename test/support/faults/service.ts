import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mintToken } from '../../../src/adapters/http/auth.ts';

export const FAULT_SECRET = 'fault-suite-secret-fault-suite-secret-0123';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `esbank serve` as a child process on a fixed port, so it can be SIGKILLed and started again at
 * the same address. Every child is killed by `dispose()` (call it in afterAll). Its log lines
 * of level `error` (FAULT_LOG_LEVEL to see more, e.g. `warn`) are printed with the test's output.
 */
export async function serviceProcess(env: Record<string, string>) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn('node', ['bin/esbank.js', 'serve'], {
      env: {
        ...process.env,
        PORT: String(port),
        LOG_LEVEL: process.env.FAULT_LOG_LEVEL ?? 'error',
        AUTH_JWT_SECRET: FAULT_SECRET,
        DEADLINE_CRON: '* * * * * *',
        ...env,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    for (let i = 0; i < 300; i++) {
      try {
        if ((await fetch(`${url}/health/live`)).status === 200) return;
      } catch {
        // not listening yet
      }
      if (child.exitCode !== null) throw new Error(`esbank serve exited with ${child.exitCode}`);
      await sleep(50);
    }
    throw new Error('esbank serve did not start');
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill(signal);
    });
  };

  /** Sends a signal without waiting for an exit (SIGSTOP and SIGCONT pause and resume the process). */
  const signal = (name: NodeJS.Signals) => {
    child?.kill(name);
  };

  await start();
  return { url, start, kill, signal, dispose: () => kill('SIGKILL') };
}

export const tokenFor = (sub: string, role: 'customer' | 'operator' = 'customer') =>
  mintToken({ sub, role, ttlSeconds: 3600 }, FAULT_SECRET);

/** A response; the body is typed loosely because fault tests read a few fields of it. */
// biome-ignore lint/suspicious/noExplicitAny: fault tests read a few fields of each body
export type Reply = { status: number; body: any };

/** One HTTP call; a connection failure (the service is down) is reported as status 0. */
export async function call(
  url: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  try {
    const response = await fetch(url + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  } catch {
    return { status: 0, body: null };
  }
}

/** Retries with the same Idempotency-Key until the service answers something other than 0/5xx/409 (bounded). */
export async function callUntilAnswered(
  url: string,
  path: string,
  token: string,
  body: unknown,
  key: string,
  deadlineMs = 60_000,
) {
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 0; ; attempt++) {
    const response = await call(url, 'POST', path, token, body, { 'idempotency-key': key });
    if (response.status !== 0 && response.status < 500 && response.status !== 409) return response;
    if (Date.now() > deadline) return response;
    await sleep(Math.min(500, 20 * 2 ** attempt));
  }
}

/** The i-th transfer of a fault workload: a spread of sources and destinations, never to itself, amounts 1–300. */
export function workloadTransfer(accounts: readonly string[], i: number) {
  const from = accounts[i % accounts.length]!;
  const to = accounts[(i * 7 + 1) % accounts.length]!;
  return {
    fromAccountId: from,
    toAccountId: from === to ? accounts[(i + 1) % accounts.length]! : to,
    amount: 1 + (i % 300),
  };
}
