import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/adapters/http/auth.ts';
import { expectMoneyConserved, startTestService, TEST_SECRET, type TestService } from '../support/service.ts';

type Who = 'owner' | 'other' | 'operator' | 'expired' | 'garbage' | 'algNone' | 'wrongKey' | 'none';
type Row = {
  name: string;
  method: string;
  path: () => Promise<string> | string;
  body?: () => unknown;
  expect: Partial<Record<Who, number>>;
};

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('who may move whose money (SPEC §9): principals × routes', () => {
  let api: TestService;
  const tokens = {} as Record<Who, string | undefined>;
  let mine = '';
  let mineToo = '';
  let theirs = '';
  let internalTransfer = '';

  beforeAll(async () => {
    api = await startTestService({ RATE_LIMIT_PER_MINUTE: '100000' }, { inProcess: true });
    const now = Math.floor(Date.now() / 1000);
    tokens.owner = await api.token('alice');
    tokens.other = await api.token('bob');
    tokens.operator = await api.token('ops', 'operator');
    tokens.expired = await mintToken({ sub: 'alice', ttlSeconds: 60 }, TEST_SECRET, Date.now() - 3_600_000);
    tokens.garbage = 'not.a.token';
    tokens.algNone = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', role: 'operator', exp: now + 600 })}.`;
    tokens.wrongKey = await mintToken(
      { sub: 'alice', role: 'operator' },
      'another-secret-another-secret-another-secret',
    );
    tokens.none = undefined;
    const open = async (token: string) =>
      (await api.call('POST', '/accounts', { token, body: { currency: 'EUR' } })).body.accountId as string;
    mine = await open(tokens.owner);
    mineToo = await open(tokens.owner);
    theirs = await open(tokens.other);
    await api.call('POST', `/accounts/${mine}/deposits`, {
      token: tokens.operator,
      body: { amount: 1_000_000 },
    });
    internalTransfer = (
      await api.call('POST', '/transfers', {
        token: tokens.owner,
        headers: { prefer: 'wait=10' },
        body: { fromAccountId: mine, toAccountId: mineToo, amount: 1 },
      })
    ).body.transferId;
  });
  afterAll(async () => {
    await api.close();
  });

  const refusedForStrangers = { expired: 401, garbage: 401, algNone: 401, wrongKey: 401, none: 401 } as const;
  const rows: Row[] = [
    {
      name: 'POST /accounts',
      method: 'POST',
      path: () => '/accounts',
      body: () => ({ currency: 'EUR' }),
      expect: { owner: 201, other: 201, operator: 201 },
    },
    {
      name: "POST /accounts for someone else's ownerId",
      method: 'POST',
      path: () => '/accounts',
      body: () => ({ currency: 'EUR', ownerId: 'carol' }),
      expect: { owner: 403, other: 403, operator: 201 },
    },
    {
      name: 'GET /accounts/:id',
      method: 'GET',
      path: () => `/accounts/${mine}`,
      expect: { owner: 200, other: 404, operator: 200 },
    },
    {
      name: 'GET /accounts/:id/history',
      method: 'GET',
      path: () => `/accounts/${mine}/history`,
      expect: { owner: 200, other: 404, operator: 200 },
    },
    {
      name: 'POST /accounts/:id/deposits',
      method: 'POST',
      path: () => `/accounts/${mine}/deposits`,
      body: () => ({ amount: 1 }),
      expect: { owner: 403, other: 403, operator: 201 },
    },
    {
      name: 'POST /accounts/:id/deposits to an unknown account',
      method: 'POST',
      path: () => `/accounts/${randomUUID()}/deposits`,
      body: () => ({ amount: 1 }),
      expect: { owner: 403, other: 403, operator: 404 },
    },
    {
      name: 'POST /accounts/:id/withdrawals',
      method: 'POST',
      path: () => `/accounts/${mine}/withdrawals`,
      body: () => ({ amount: 1 }),
      expect: { owner: 403, other: 403, operator: 201 },
    },
    {
      name: 'POST /accounts/:id/close',
      method: 'POST',
      path: async () =>
        `/accounts/${(await api.call('POST', '/accounts', { token: tokens.owner, body: { currency: 'EUR' } })).body.accountId}/close`,
      expect: { owner: 200, other: 404, operator: 200 },
    },
    {
      name: 'POST /transfers from my account',
      method: 'POST',
      path: () => '/transfers',
      body: () => ({ fromAccountId: mine, toAccountId: theirs, amount: 1 }),
      expect: { owner: 202, other: 404, operator: 202 },
    },
    {
      name: 'POST /transfers from an unknown account',
      method: 'POST',
      path: () => '/transfers',
      body: () => ({ fromAccountId: randomUUID(), toAccountId: theirs, amount: 1 }),
      expect: { owner: 404, other: 404, operator: 404 },
    },
    {
      name: 'GET /transfers/:id',
      method: 'GET',
      path: () => `/transfers/${internalTransfer}`,
      expect: { owner: 200, other: 404, operator: 200 },
    },
    {
      name: 'GET /transfers',
      method: 'GET',
      path: () => '/transfers',
      expect: { owner: 200, other: 200, operator: 200 },
    },
    {
      name: 'GET /transfers?accountId',
      method: 'GET',
      path: () => `/transfers?accountId=${mine}`,
      expect: { owner: 200, other: 404, operator: 200 },
    },
  ];
  const everyone = {
    owner: 200,
    other: 200,
    operator: 200,
    expired: 200,
    garbage: 200,
    algNone: 200,
    wrongKey: 200,
    none: 200,
  };
  for (const path of ['/health/live', '/health/ready', '/openapi.json', '/docs', '/metrics']) {
    rows.push({ name: `GET ${path} (public)`, method: 'GET', path: () => path, expect: everyone });
  }
  const principals: Who[] = [
    'owner',
    'other',
    'operator',
    'expired',
    'garbage',
    'algNone',
    'wrongKey',
    'none',
  ];
  const cases = rows.flatMap((row) =>
    principals.map((who) => ({
      ...row,
      who,
      status: row.expect[who] ?? refusedForStrangers[who as keyof typeof refusedForStrangers],
    })),
  );

  it.each(cases)('$name as $who → $status', async ({ method, path, body, who, status }) => {
    const target = await path();
    const before = await api.eventCount();
    const response = await api.call(method, target, {
      ...(tokens[who] ? { token: tokens[who] } : {}),
      ...(body ? { body: body() } : {}),
    });
    expect(response.status).toBe(status);
    if (status >= 400) {
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await api.eventCount()).toBe(before);
    }
    if (status === 401) expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('reads the Authorization header as RFC 6750 and RFC 7235 say', async () => {
    const now = Math.floor(Date.now() / 1000);
    const lowerCase = await api.call('GET', `/accounts/${mine}`, {
      headers: { authorization: `bearer ${tokens.owner}` },
    });
    expect(lowerCase.status).toBe(200);
    const basic = await api.call('GET', `/accounts/${mine}`, { headers: { authorization: 'Basic YTpi' } });
    expect(basic.status).toBe(401);
    expect(basic.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    const missing = await api.call('GET', `/accounts/${mine}`);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="esbank"');
    // A token another tool minted without `exp` is honoured; one with a future `nbf` is not yet valid.
    const { sign } = await import('hono/jwt');
    const noExpiry = await sign({ sub: 'alice' }, TEST_SECRET, 'HS256');
    expect((await api.call('GET', `/accounts/${mine}`, { token: noExpiry })).status).toBe(200);
    const notYet = await sign({ sub: 'alice', nbf: now + 600, exp: now + 1200 }, TEST_SECRET, 'HS256');
    expect((await api.call('GET', `/accounts/${mine}`, { token: notYet })).status).toBe(401);
    const hs512 = await sign({ sub: 'alice', exp: now + 600 }, TEST_SECRET, 'HS512');
    expect((await api.call('GET', `/accounts/${mine}`, { token: hs512 })).status).toBe(401);
    const unknownRole = await sign({ sub: 'alice', role: 'admin', exp: now + 600 }, TEST_SECRET, 'HS256');
    expect((await api.call('GET', `/accounts/${mine}`, { token: unknownRole })).status).toBe(401);
  });

  it('a customer lists only transfers touching its own accounts', async () => {
    const list = await api.call('GET', '/transfers?limit=100', { token: tokens.other });
    expect(list.body.items.some((t: { transferId: string }) => t.transferId === internalTransfer)).toBe(
      false,
    );
  });

  it('every event records its principal', async () => {
    const rows = await api.db.sql<
      { principal: string | null }[]
    >`SELECT metadata->>'principal' AS principal FROM events`;
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((row) => !row.principal)).toEqual([]);
  });

  it('conserves money across the matrix', async () => {
    await expectMoneyConserved(api);
  });

  it('rate-limits per principal with 429 and Retry-After', async () => {
    const limited = await startTestService({ RATE_LIMIT_PER_MINUTE: '5' }, { inProcess: true });
    try {
      const token = await limited.token('flood');
      const statuses = [];
      for (let i = 0; i < 8; i++) statuses.push((await limited.call('GET', '/transfers', { token })).status);
      expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      const refused = await limited.call('GET', '/transfers', { token });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(
        (await limited.call('GET', '/transfers', { token: await limited.token('someone-else') })).status,
      ).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
