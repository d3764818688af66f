import { execFile } from 'node:child_process';
import { verify } from 'hono/jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../src/adapters/postgres/event-store.ts';
import { startProjections } from '../../src/adapters/postgres/projections/runner.ts';
import { createReadModel } from '../../src/adapters/postgres/read-model.ts';
import { createPostgresSagaStore } from '../../src/adapters/postgres/saga-store.ts';
import { silentLogger } from '../../src/application/ports/logger.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createBank, request } from '../support/saga.ts';

const SECRET = 'cli-test-secret-cli-test-secret-cli-test-secret';

type Run = { code: number; stdout: string; stderr: string };
const esbank = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
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
    expect(await tables()).toEqual(live);
  });

  it('replay --until T rebuilds the balances as of T, and a full replay restores them', async () => {
    const run = await esbank(['replay', '--until', t.afterDeposit, '--projection', 'balances'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/rebuilt balances/);
    const asOf = await db.sql<
      { account_id: string; available: number }[]
    >`SELECT account_id, available FROM balances`;
    expect(Object.fromEntries(asOf.map((r) => [r.account_id, r.available]))).toEqual({
      [accounts[0]!]: 1000,
      [accounts[1]!]: 0,
    });
    expect((await esbank(['replay'], env)).code).toBe(0);
    const now = await db.sql<
      { account_id: string; available: number }[]
    >`SELECT account_id, available FROM balances`;
    expect(Object.fromEntries(now.map((r) => [r.account_id, r.available]))).toEqual({
      [accounts[0]!]: 700,
      [accounts[1]!]: 250,
    });
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
  });

  it('events prints a stream; snapshot takes snapshots; token mints a verifiable JWT', async () => {
    const events = await esbank(['events', `account-${accounts[0]}`, '--json'], env);
    expect(events.code).toBe(0);
    expect(
      JSON.parse(events.stdout)
        .map((e: { type: string }) => e.type)
        .slice(0, 2),
    ).toEqual(['AccountOpened', 'CashDeposited']);
    const snapshot = await esbank(['snapshot', '--all', '--json'], env);
    expect(snapshot.code).toBe(0);
    expect(JSON.parse(snapshot.stdout).snapshots).toBeGreaterThanOrEqual(5);
    const token = await esbank(['token', '--sub', 'carol', '--role', 'operator', '--ttl', '10m']);
    expect(token.code).toBe(0);
    expect(await verify(token.stdout.trim(), SECRET, 'HS256')).toMatchObject({
      sub: 'carol',
      role: 'operator',
    });
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
  ])('bad arguments %j → exit 2 with usage', async (args) => {
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
});
