import { execFile } from 'node:child_process';

export const SECRET = 'cli-test-secret-cli-test-secret-cli-test-secret';

export type Run = { code: number; stdout: string; stderr: string };

/** `node bin/esbank.js ...args` as a child process: its exit code and output. */
export const esbank = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      'node',
      ['bin/esbank.js', ...args],
      { env: { ...process.env, AUTH_JWT_SECRET: SECRET, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
