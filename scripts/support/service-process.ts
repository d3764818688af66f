import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { createServer } from 'node:net';

export const BENCH_SECRET = 'bench-secret-bench-secret-bench-secret-0123';

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

/** `esbank serve` as its own process (as in production), ready when /health/ready answers 200. */
export async function spawnService(
  env: Record<string, string>,
): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(
    'node',
    [
      ...(process.env.BENCH_SERVICE_NODE_FLAGS ? process.env.BENCH_SERVICE_NODE_FLAGS.split(' ') : []),
      'bin/esbank.js',
      'serve',
    ],
    {
      env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn', AUTH_JWT_SECRET: BENCH_SECRET, ...env },
      // BENCH_SERVICE_LOG=<file>: the service's log lines (level warn and above) go there.
      stdio: [
        'ignore',
        process.env.BENCH_SERVICE_LOG ? openSync(process.env.BENCH_SERVICE_LOG, 'a') : 'ignore',
        'inherit',
      ],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/health/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`esbank serve exited with ${child.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
