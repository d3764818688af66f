import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { verify } from 'hono/jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../src/adapters/postgres/event-store.ts';
import { startProjections } from '../../src/adapters/postgres/projections/runner.ts';
import { createReadModel } from '../../src/adapters/postgres/read-model.ts';
import { createPostgresSagaStore } from '../../src/adapters/postgres/saga-store.ts';
import { silentLogger } from '../../src/application/ports/logger.ts';
import { esbank, SECRET } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createBank, request } from '../support/saga.ts';

describe('esbank CLI as a child process', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let store: ReturnType<typeof createPostgresEventStore>;
  const accounts: string[] = [];
  /** Business times of the known history (the bank's clock is moved by hand). */
  const t = { afterDeposit: '', afterTransfers: '' };

  const tables = async () => ({
    balances: await db.sql`SELECT * FROM balances ORDER BY account_id`,
    history: await db.sql`SELECT * FROM history ORDER BY position`,
    transfers: await db.sql`SELECT * FROM transfers ORDER BY transfer_id`,
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    env = { DATABASE_URL: db.url };
    store = createPostgresEventStore(db.sql);
    const bank = createBank(store, createPostgresSagaStore(db.sql));
    const coordinator = bank.coordinator();
    coordinator.start();
    const projections = startProjections({ store, sql: db.sql, logger: silentLogger });
    accounts.push(await bank.openWith(1000), await bank.openWith(0));
    bank.clock.advance(60_000);
    t.afterDeposit = bank.clock.now().toISOString();
    bank.clock.advance(60_000);
    const ids = [];
    for (const amount of [100, 200, 5000]) {
      ids.push(
        (
          await bank.banking.requestTransfer(
            { fromAccountId: accounts[0]!, toAccountId: accounts[1]!, amount },
            request,
          )
        ).transferId,
      );
    }
    await bank.settle(ids);
    bank.clock.advance(60_000);
    t.afterTransfers = bank.clock.now().toISOString();
    bank.clock.advance(60_000);
    await bank.banking.withdrawCash({ accountId: accounts[1]!, amount: 50 }, request);
    await coordinator.stop();
    expect(await createReadModel(db.sql).waitForPosition(await store.lastPosition(), 15_000)).toBe(true);
    await projections.stop();
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it('replay rebuilds balances, history and transfers identical to the live ones', async () => {
    const live = await tables();
    const run = await esbank(['replay', '--json'], env);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({
      projections: ['balances', 'history', 'transfers'],
      position: await store.lastPosition(),
    });
    expect(summary.events).toBeGreaterThan(0);
    expect(run.stderr).toBe(''); // no progress bar when stderr is not a terminal
    expect(await tables()).toEqual(live);
  });

  it('replay --until T or P rebuilds the balances as of then, and a full replay restores every table', async () => {
    const live = await tables();
    const balances = async () =>
      Object.fromEntries(
        (
          await db.sql<
            { account_id: string; available: number }[]
          >`SELECT account_id, available FROM balances`
        ).map((r) => [r.account_id, r.available]),
      );
    const byTime = await esbank(['replay', '--until', t.afterDeposit, '--projection', 'balances'], env);
    expect(byTime.code).toBe(0);
    expect(byTime.stdout).toMatch(/^rebuilt balances from \d+ events .*as of/);
    expect(await balances()).toEqual({ [accounts[0]!]: 1000, [accounts[1]!]: 0 });

    const [withdrawal] = await db.sql<{ position: number }[]>`
      SELECT global_position AS position FROM events WHERE type = 'CashWithdrawn'`;
    const byPosition = await esbank(['replay', '--until', String(withdrawal!.position - 1), '--json'], env);
    expect(byPosition.code).toBe(0);
    expect(JSON.parse(byPosition.stdout).position).toBeLessThan(withdrawal!.position);
    expect(await balances()).toEqual({ [accounts[0]!]: 700, [accounts[1]!]: 300 });

    expect((await esbank(['replay'], env)).code).toBe(0);
    expect(await balances()).toEqual({ [accounts[0]!]: 700, [accounts[1]!]: 250 });
    expect(await tables()).toEqual(live);
  });

  it('account --at folds the past balance from events', async () => {
    const past = await esbank(['account', accounts[1]!, '--at', t.afterTransfers, '--json'], env);
    expect(past.code).toBe(0);
    expect(JSON.parse(past.stdout)).toMatchObject({
      accountId: accounts[1],
      available: 300,
      pending: 0,
      status: 'OPEN',
    });
    const before = await esbank(['account', accounts[0]!, '--at', t.afterDeposit], env);
    expect(before.stdout).toMatch(/available\s+1000 EUR/);
    const unborn = await esbank(['account', accounts[0]!, '--at', '2029-12-31T23:59:59Z'], env);
    expect(unborn.code).toBe(1);
    expect(unborn.stderr).toMatch(
      /^esbank: account \S+ was opened at 2030-01-01T00:00:00.000Z, after 2029-12-31T23:59:59.000Z\n$/,
    );
  });

  it('events lists a stream for a person and for a program', async () => {
    const stream = `account-${accounts[0]}`;
    const [json, human, tail, unknown] = await Promise.all([
      esbank(['events', stream, '--json'], env),
      esbank(['events', stream.toUpperCase().replace('ACCOUNT', 'account')], env),
      esbank(['events', stream, '--from', '2', '--json'], env),
      esbank(['events', `transfer-${accounts[0]}`], env),
    ]);
    expect(json.code).toBe(0);
    const events = JSON.parse(json.stdout);
    expect(events.map((e: { type: string }) => e.type).slice(0, 2)).toEqual([
      'AccountOpened',
      'CashDeposited',
    ]);
    expect(events.map((e: { revision: number }) => e.revision)).toEqual(
      events.map((_: unknown, i: number) => i),
    );
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`${stream}: ${events.length} event(s)`);
    expect(human.stdout).toMatch(/\n\s+1\s+\d+\s+2030-01-01T00:00:00.000Z\s+CashDeposited\s+amount=1000\n/);
    expect(JSON.parse(tail.stdout)).toEqual(events.slice(2));
    expect([unknown.code, unknown.stderr]).toEqual([
      1,
      `esbank: stream transfer-${accounts[0]} does not exist\n`,
    ]);
  });

  it('snapshot takes a snapshot of one stream, or of every stream, at its head', async () => {
    const one = await esbank(['snapshot', `account-${accounts[1]}`], env);
    expect(one.code).toBe(0);
    const [head] = await store.readStream(`account-${accounts[1]}`).then((events) => events.slice(-1));
    expect(await store.readSnapshot(`account-${accounts[1]}`)).toMatchObject({
      revision: head!.revision,
      state: { status: 'Open', available: 250 },
    });
    expect(one.stdout).toBe(`snapshot of account-${accounts[1]} taken at revision ${head!.revision}\n`);

    const all = await esbank(['snapshot', '--all', '--json'], env);
    expect(all.code).toBe(0);
    const streams = await db.sql<{ stream: string; revision: number }[]>`
      SELECT stream_name AS stream, max(revision) AS revision FROM events GROUP BY stream_name ORDER BY stream_name`;
    expect(streams).toHaveLength(5); // two accounts, three transfers
    expect(JSON.parse(all.stdout)).toEqual({ snapshots: 5, streams: [...streams] });
    const stored = await db.sql`SELECT stream_name AS stream, revision FROM snapshots ORDER BY stream_name`;
    expect([...stored]).toEqual([...streams]);
  });

  it('token mints a JWT the service verifies, with the role and lifetime asked for', async () => {
    const token = await esbank(['token', '--sub', 'carol', '--role', 'operator', '--ttl', '10m']);
    expect(token.code).toBe(0);
    const claims = await verify(token.stdout.trim(), SECRET, 'HS256');
    expect(claims).toMatchObject({ sub: 'carol', role: 'operator' });
    expect(Number(claims.exp) - Number(claims.iat)).toBe(600);
  });

  it.each([
    [['bogus']],
    [['events']],
    [['account', 'not-a-uuid', '--at', '2030-01-01T00:00:00Z']],
    [['account', '3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f', '--at', 'yesterday']],
    [['account', '3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f']],
    [['replay', '--until', 'last week']],
    [['replay', '--projection', 'ledger']],
    [['events', 'account-1', '--from', 'x']],
    [['snapshot']],
    [['token', '--sub', 'x', '--ttl', 'forever']],
    [['token', '--role', 'operator']],
    [[]],
    [['account', '3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f', '--at', '2030-02-30T00:00:00Z']],
    [['replay', '--batch-size', '0']],
    [['replay', '--verbose']],
  ])('bad arguments %j → exit 2 with usage', { concurrent: true }, async (args) => {
    const run = await esbank(args, env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Usage: esbank/);
  });

  it('database unreachable → exit 1 with a one-line reason', async () => {
    const run = await esbank(['events', `account-${accounts[0]}`], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere',
    });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^esbank: database unreachable/);
  });

  it('migrate applies what is pending; serve answers until SIGTERM, then stops cleanly (exit 0)', async () => {
    const fresh = await createTestDatabase({ migrate: false });
    try {
      const freshEnv = { DATABASE_URL: fresh.url };
      const first = await esbank(['migrate'], freshEnv);
      expect([first.code, first.stdout]).toEqual([
        0,
        expect.stringMatching(/^applied 0001_event_store\.sql, /),
      ]);
      expect((await esbank(['migrate'], freshEnv)).stdout).toBe('up to date: no migration to apply\n');

      const child = spawn('node', ['bin/esbank.js', 'serve'], {
        env: { ...process.env, AUTH_JWT_SECRET: SECRET, ...freshEnv, PORT: '0', LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = once(child, 'exit');
      let url: string | undefined;
      for await (const line of createInterface({ input: child.stdout })) {
        const log = JSON.parse(line) as { msg?: string; url?: string };
        if (log.msg === 'esbank is serving') {
          url = log.url;
          break;
        }
      }
      expect((await fetch(`${url}/health/live`)).status).toBe(200);
      child.kill('SIGTERM');
      expect((await exited)[0]).toBe(0);
    } finally {
      await fresh.drop();
    }
  });
});
