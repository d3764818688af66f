import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/adapters/logging.ts';
import { loadConfig } from '../../src/config.ts';
import { startService } from '../../src/main.ts';
import {
  type ApiResponse,
  expectMoneyConserved,
  startTestService,
  TEST_SECRET,
  type TestService,
  waitForTransfer,
} from '../support/service.ts';

const problemOf = (response: ApiResponse) => {
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ status: response.status });
  expect(typeof response.body.type).toBe('string');
  expect(typeof response.body.title).toBe('string');
  expect(typeof response.body.detail).toBe('string');
  return response.body;
};

describe('REST API over HTTP (SPEC §6)', () => {
  let api: TestService;
  let operator: string;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    api = await startTestService();
    operator = await api.token('ops', 'operator');
    alice = await api.token('alice');
    bob = await api.token('bob');
  });
  afterAll(async () => {
    await api.close();
  });

  const open = async (token: string, currency = 'EUR') => {
    const response = await api.call('POST', '/accounts', { token, body: { currency } });
    expect(response.status).toBe(201);
    return response.body.accountId as string;
  };
  const deposit = (accountId: string, amount: number) =>
    api.call('POST', `/accounts/${accountId}/deposits`, { token: operator, body: { amount } });

  it('POST /accounts → 201 with the account, owned by the caller', async () => {
    const response = await api.call('POST', '/accounts', { token: alice, body: { currency: 'EUR' } });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      currency: 'EUR',
      ownerId: 'alice',
      status: 'OPEN',
      available: 0,
      pending: 0,
      version: 0,
    });
    expect(response.body.position).toBeGreaterThan(0);
    expect(response.headers.get('location')).toBe(`/accounts/${response.body.accountId}`);
  });

  it('POST /accounts with a client id; the same id again → 409', async () => {
    const accountId = randomUUID();
    expect(
      (await api.call('POST', '/accounts', { token: alice, body: { currency: 'USD', accountId } })).body
        .accountId,
    ).toBe(accountId);
    const again = await api.call('POST', '/accounts', { token: alice, body: { currency: 'USD', accountId } });
    expect(again.status).toBe(409);
    problemOf(again);
  });

  it('GET /accounts/:id → 200 balance; unknown → 404; malformed id → 400', async () => {
    const id = await open(alice);
    const found = await api.call('GET', `/accounts/${id}`, { token: alice });
    expect(found.status).toBe(200);
    expect(found.body).toEqual({
      accountId: id,
      currency: 'EUR',
      ownerId: 'alice',
      status: 'OPEN',
      available: 0,
      pending: 0,
      version: 0,
    });
    expect(problemOf(await api.call('GET', `/accounts/${randomUUID()}`, { token: alice })).type).toBe(
      'not-found',
    );
    expect((await api.call('GET', '/accounts/not-a-uuid', { token: alice })).status).toBe(400);
  });

  it('deposits → 201; withdrawals → 201 or 422 insufficient-funds; minPosition reads see them', async () => {
    const id = await open(alice);
    const deposited = await deposit(id, 1000);
    expect(deposited.status).toBe(201);
    expect(deposited.body).toMatchObject({ accountId: id, amount: 1000, available: 1000, pending: 0 });
    const withdrawn = await api.call('POST', `/accounts/${id}/withdrawals`, {
      token: operator,
      body: { amount: 300, reference: 'atm' },
    });
    expect(withdrawn.status).toBe(201);
    expect(withdrawn.body.available).toBe(700);
    const tooMuch = await api.call('POST', `/accounts/${id}/withdrawals`, {
      token: operator,
      body: { amount: 701 },
    });
    expect(tooMuch.status).toBe(422);
    expect(problemOf(tooMuch).type).toBe('insufficient-funds');
    const read = await api.call('GET', `/accounts/${id}?minPosition=${withdrawn.body.position}`, {
      token: alice,
    });
    expect(read.body).toMatchObject({ available: 700, version: 2 });
    // Without minPosition a read waits for the account's newest event: each write is seen at once.
    for (const amount of [1, 2, 3]) {
      await deposit(id, amount);
      const [balance, history] = await Promise.all([
        api.call('GET', `/accounts/${id}`, { token: alice }),
        api.call('GET', `/accounts/${id}/history?limit=1`, { token: alice }),
      ]);
      expect(balance.body.available).toBe(700 + (amount * (amount + 1)) / 2);
      expect(history.body.items[0]).toMatchObject({ amount });
    }
  });

  it('GET /accounts/:id/history → newest first with a cursor; bad cursor or limit → 400', async () => {
    const id = await open(alice);
    for (const amount of [1, 2, 3]) await deposit(id, amount);
    const first = await api.call('GET', `/accounts/${id}/history?limit=2`, { token: alice });
    expect(first.status).toBe(200);
    expect(first.body.items.map((i: { amount: number }) => i.amount)).toEqual([3, 2]);
    expect(first.body.items[0]).toMatchObject({ kind: 'CASH_DEPOSITED', availableAfter: 6, pendingAfter: 0 });
    const second = await api.call('GET', `/accounts/${id}/history?limit=2&cursor=${first.body.nextCursor}`, {
      token: alice,
    });
    expect(second.body).toMatchObject({ items: [{ amount: 1 }], nextCursor: null });
    expect((await api.call('GET', `/accounts/${id}/history?limit=0`, { token: alice })).status).toBe(400);
    expect((await api.call('GET', `/accounts/${id}/history?limit=abc`, { token: alice })).status).toBe(400);
    expect((await api.call('GET', `/accounts/${id}/history?cursor=@@@`, { token: alice })).status).toBe(400);
    expect((await api.call('GET', `/accounts/${randomUUID()}/history`, { token: alice })).status).toBe(404);
  });

  it('POST /accounts/:id/close → 200; 409 while it holds money; 409 when already closed', async () => {
    const id = await open(alice);
    await deposit(id, 5);
    const refused = await api.call('POST', `/accounts/${id}/close`, { token: alice });
    expect(refused.status).toBe(409);
    expect(problemOf(refused).type).toBe('account-not-closable');
    await api.call('POST', `/accounts/${id}/withdrawals`, { token: operator, body: { amount: 5 } });
    const closed = await api.call('POST', `/accounts/${id}/close`, { token: alice });
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ accountId: id, status: 'CLOSED' });
    expect((await api.call('POST', `/accounts/${id}/close`, { token: alice })).status).toBe(409);
    expect(
      (await api.call('POST', `/accounts/${id}/deposits`, { token: operator, body: { amount: 1 } })).status,
    ).toBe(409);
  });

  it('POST /transfers → 202 PENDING, then COMPLETED with its timeline; balances move, money is conserved', async () => {
    const from = await open(alice);
    const to = await open(bob);
    await deposit(from, 1000);
    const accepted = await api.call('POST', '/transfers', {
      token: alice,
      body: { fromAccountId: from, toAccountId: to, amount: 400, reference: 'rent' },
    });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ status: 'PENDING' });
    expect(accepted.body.position).toBeGreaterThan(0);
    const done = await waitForTransfer(api, alice, accepted.body.transferId);
    expect(done).toMatchObject({
      fromAccountId: from,
      toAccountId: to,
      amount: 400,
      currency: 'EUR',
      status: 'COMPLETED',
      reference: 'rent',
    });
    expect(done.timeline.map((t: { step: string }) => t.step)).toEqual([
      'REQUESTED',
      'CREDIT_HELD',
      'DEBITED',
      'CREDIT_RELEASED',
      'COMPLETED',
    ]);
    const [a, b] = await Promise.all([
      api.call('GET', `/accounts/${from}`, { token: alice }),
      api.call('GET', `/accounts/${to}`, { token: bob }),
    ]);
    expect([a.body.available, b.body.available, a.body.pending, b.body.pending]).toEqual([600, 400, 0, 0]);
  });

  it('POST /transfers with Prefer: wait=N answers with the final state', async () => {
    const from = await open(alice);
    const to = await open(bob);
    const response = await api.call('POST', '/transfers', {
      token: alice,
      headers: { prefer: 'wait=10' },
      body: { fromAccountId: from, toAccountId: to, amount: 50 },
    });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'CANCELLED', reason: 'INSUFFICIENT_FUNDS' });
    expect(response.headers.get('preference-applied')).toBe('wait=10');
  });

  it('POST /transfers refusals: unknown account 404, same account 422, currency mismatch 422', async () => {
    const eur = await open(alice);
    const usd = await open(alice, 'USD');
    expect(
      (
        await api.call('POST', '/transfers', {
          token: alice,
          body: { fromAccountId: eur, toAccountId: randomUUID(), amount: 1 },
        })
      ).status,
    ).toBe(404);
    const same = await api.call('POST', '/transfers', {
      token: alice,
      body: { fromAccountId: eur, toAccountId: eur, amount: 1 },
    });
    expect([same.status, problemOf(same).type]).toEqual([422, 'same-account']);
    const mismatch = await api.call('POST', '/transfers', {
      token: alice,
      body: { fromAccountId: eur, toAccountId: usd, amount: 1 },
    });
    expect([mismatch.status, problemOf(mismatch).type]).toEqual([422, 'currency-mismatch']);
  });

  it('GET /transfers/:id → 404 unknown, 400 malformed; GET /transfers lists with filters and a cursor', async () => {
    expect((await api.call('GET', `/transfers/${randomUUID()}`, { token: alice })).status).toBe(404);
    expect((await api.call('GET', '/transfers/xyz', { token: alice })).status).toBe(400);
    const from = await open(alice);
    const to = await open(bob);
    await deposit(from, 100);
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const r = await api.call('POST', '/transfers', {
        token: alice,
        headers: { prefer: 'wait=10' },
        body: { fromAccountId: from, toAccountId: to, amount: 10 },
      });
      ids.push(r.body.transferId);
    }
    const page = await api.call('GET', `/transfers?accountId=${from}&status=COMPLETED&limit=2`, {
      token: alice,
    });
    expect(page.status).toBe(200);
    expect(page.body.items.map((t: { transferId: string }) => t.transferId)).toEqual([ids[2], ids[1]]);
    const next = await api.call(
      'GET',
      `/transfers?accountId=${from}&status=COMPLETED&limit=2&cursor=${page.body.nextCursor}`,
      { token: alice },
    );
    expect(next.body).toMatchObject({ items: [{ transferId: ids[0] }], nextCursor: null });
    expect((await api.call('GET', '/transfers?status=DONE', { token: alice })).status).toBe(400);
    expect((await api.call('GET', '/transfers?limit=101', { token: alice })).status).toBe(400);
  });

  it('ids are case-insensitive: an upper-case id names the same account', async () => {
    const id = await open(alice);
    const upper = id.toUpperCase();
    expect((await deposit(upper, 10)).body).toMatchObject({ accountId: id, available: 10 });
    const read = await api.call('GET', `/accounts/${upper}`, { token: alice });
    expect(read.body).toMatchObject({ accountId: id, available: 10 });
    const clientId = randomUUID();
    const opened = await api.call('POST', '/accounts', {
      token: alice,
      body: { currency: 'EUR', accountId: clientId.toUpperCase() },
    });
    expect(opened.body.accountId).toBe(clientId);
    const [row] = await api.db.sql<{ count: number }[]>`
      SELECT count(DISTINCT stream_name)::int AS count FROM events WHERE lower(stream_name) = ${`account-${id}`}`;
    expect(row!.count).toBe(1);
  });

  it('close takes no body, or an empty JSON object', async () => {
    const bare = await open(alice);
    expect(
      (
        await api.call('POST', `/accounts/${bare}/close`, {
          token: alice,
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(200);
    const withObject = await open(alice);
    expect((await api.call('POST', `/accounts/${withObject}/close`, { token: alice, body: {} })).status).toBe(
      200,
    );
  });

  it('another method on a known path → 405 with Allow; X-Request-Id goes back out', async () => {
    const id = await open(alice);
    const response = await api.call('PATCH', `/accounts/${id}`, { token: alice });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET');
    expect(problemOf(response).type).toBe('method-not-allowed');
    const traced = await api.call('GET', `/accounts/${id}`, {
      token: alice,
      headers: { 'x-request-id': 'trace-42' },
    });
    expect(traced.headers.get('x-request-id')).toBe('trace-42');
    expect((await api.call('GET', `/accounts/${id}`, { token: alice })).headers.get('x-request-id')).toMatch(
      /^[0-9a-f-]{36}$/,
    );
  });

  it('health, metrics, OpenAPI and docs are public', async () => {
    expect((await api.call('GET', '/health/live')).status).toBe(200);
    const ready = await api.call('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(Object.keys(ready.body.projections).sort()).toEqual(['balances', 'history', 'transfers']);
    const metrics = await fetch(`${api.url}/metrics`).then((r) => r.text());
    expect(metrics).toContain('esbank_http_request_duration_seconds_bucket');
    expect(metrics).toContain('esbank_projection_lag_events');
    const openapi = await api.call('GET', '/openapi.json');
    expect(openapi.status).toBe(200);
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining([
        '/accounts',
        '/accounts/{id}',
        '/accounts/{id}/history',
        '/accounts/{id}/deposits',
        '/accounts/{id}/withdrawals',
        '/accounts/{id}/close',
        '/transfers',
        '/transfers/{id}',
      ]),
    );
    expect((await fetch(`${api.url}/docs`)).status).toBe(200);
    expect((await api.call('GET', '/nowhere', { token: alice })).status).toBe(404);
  });

  it('a start that cannot bind its port fails and leaves nothing running', async () => {
    // The failed start's connections carry their own application name, so the running service's
    // pool (which opens connections as it pleases) is not counted with them.
    const url = new URL(api.db.url);
    url.searchParams.set('application_name', 'esbank-failed-start');
    const config = loadConfig({
      DATABASE_URL: url.toString(),
      PORT: String(api.port),
      AUTH_JWT_SECRET: TEST_SECRET,
    });
    const connections = async () => {
      const [row] = await api.db.sql<{ count: number }[]>`
        SELECT count(*)::int AS count FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'esbank-failed-start'`;
      return row!.count;
    };
    await expect(startService(config, { logger: createLogger('silent') })).rejects.toThrow(/EADDRINUSE/);
    // A closed connection's backend leaves pg_stat_activity a moment after the client hangs up.
    await vi.waitFor(async () => expect(await connections()).toBe(0), { timeout: 3000 });
    expect((await api.call('GET', '/health/live')).status).toBe(200);
  });

  it('conserves money across every test above', async () => {
    await expectMoneyConserved(api);
  });
});
