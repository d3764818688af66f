import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../support/service.ts';

type Case = {
  name: string;
  method: string;
  path: () => string;
  body?: unknown | (() => unknown);
  raw?: string;
  headers?: Record<string, string>;
  status: number;
  as?: 'owner' | 'operator';
};

describe('bad input → a 4xx problem and no event written', () => {
  let api: TestService;
  let eur = '';
  let usd = '';
  let other = '';
  let owner: string;
  let operator: string;

  beforeAll(async () => {
    api = await startTestService();
    owner = await api.token('alice');
    operator = await api.token('ops', 'operator');
    eur = (await api.call('POST', '/accounts', { token: owner, body: { currency: 'EUR' } })).body.accountId;
    usd = (await api.call('POST', '/accounts', { token: owner, body: { currency: 'USD' } })).body.accountId;
    other = (await api.call('POST', '/accounts', { token: owner, body: { currency: 'EUR' } })).body.accountId;
    await api.call('POST', `/accounts/${eur}/deposits`, { token: operator, body: { amount: 100 } });
  });
  afterAll(async () => {
    await api.close();
  });

  // Lazy: the accounts exist only once beforeAll ran.
  const transfer = (body: Record<string, unknown>) => () => ({
    fromAccountId: eur,
    toAccountId: other,
    amount: 10,
    ...body,
  });
  const amounts: Array<[string, unknown]> = [
    ['0', 0],
    ['-1', -1],
    ['1.5', 1.5],
    ['"100"', '100'],
    ['1e308', 1e308],
    ['2^53+1', 2 ** 53 + 1],
    ['above 10^15', 1_000_000_000_000_001],
    ['null', null],
    ['true', true],
    ['an object', { value: 1 }],
  ];

  const cases: Case[] = [
    ...amounts.map(
      ([name, amount]): Case => ({
        name: `transfer amount ${name}`,
        method: 'POST',
        path: () => '/transfers',
        body: transfer({ amount }),
        status: 400,
      }),
    ),
    ...amounts.map(
      ([name, amount]): Case => ({
        name: `deposit amount ${name}`,
        method: 'POST',
        path: () => `/accounts/${eur}/deposits`,
        body: { amount },
        status: 400,
        as: 'operator',
      }),
    ),
    {
      name: 'transfer amount missing',
      method: 'POST',
      path: () => '/transfers',
      body: { fromAccountId: eur, toAccountId: other },
      status: 400,
    },
    {
      name: 'withdrawal amount missing',
      method: 'POST',
      path: () => `/accounts/${eur}/withdrawals`,
      body: {},
      status: 400,
      as: 'operator',
    },
    {
      name: 'from = to',
      method: 'POST',
      path: () => '/transfers',
      body: () => transfer({ toAccountId: eur })(),
      status: 422,
    },
    {
      name: 'currency mismatch',
      method: 'POST',
      path: () => '/transfers',
      body: () => transfer({ toAccountId: usd })(),
      status: 422,
    },
    {
      name: 'unknown destination',
      method: 'POST',
      path: () => '/transfers',
      body: transfer({ toAccountId: randomUUID() }),
      status: 404,
    },
    {
      name: 'unknown source',
      method: 'POST',
      path: () => '/transfers',
      body: transfer({ fromAccountId: randomUUID() }),
      status: 404,
    },
    {
      name: 'malformed source id',
      method: 'POST',
      path: () => '/transfers',
      body: transfer({ fromAccountId: 'acc-1' }),
      status: 400,
    },
    {
      name: 'malformed destination id',
      method: 'POST',
      path: () => '/transfers',
      body: transfer({ toAccountId: 42 }),
      status: 400,
    },
    {
      name: 'malformed transferId',
      method: 'POST',
      path: () => '/transfers',
      body: transfer({ transferId: 'x' }),
      status: 400,
    },
    {
      name: 'unknown field on transfer',
      method: 'POST',
      path: () => '/transfers',
      body: transfer({ fee: 1 }),
      status: 400,
    },
    {
      name: 'unknown field on account',
      method: 'POST',
      path: () => '/accounts',
      body: { currency: 'EUR', overdraft: 1000 },
      status: 400,
    },
    {
      name: 'unknown field on deposit',
      method: 'POST',
      path: () => `/accounts/${eur}/deposits`,
      body: { amount: 1, currency: 'EUR' },
      status: 400,
      as: 'operator',
    },
    {
      name: 'lower-case currency',
      method: 'POST',
      path: () => '/accounts',
      body: { currency: 'eur' },
      status: 400,
    },
    {
      name: 'four-letter currency',
      method: 'POST',
      path: () => '/accounts',
      body: { currency: 'EURO' },
      status: 400,
    },
    { name: 'currency missing', method: 'POST', path: () => '/accounts', body: {}, status: 400 },
    {
      name: 'malformed accountId on open',
      method: 'POST',
      path: () => '/accounts',
      body: { currency: 'EUR', accountId: '123' },
      status: 400,
    },
    {
      name: 'reference too long',
      method: 'POST',
      path: () => '/transfers',
      body: transfer({ reference: 'x'.repeat(141) }),
      status: 400,
    },
    {
      name: 'body is an array',
      method: 'POST',
      path: () => '/transfers',
      body: () => [transfer({})()],
      status: 400,
    },
    { name: 'body is a string', method: 'POST', path: () => '/transfers', body: 'transfer', status: 400 },
    {
      name: 'malformed JSON',
      method: 'POST',
      path: () => '/transfers',
      raw: '{"amount": 10,',
      headers: { 'content-type': 'application/json' },
      status: 400,
    },
    {
      name: 'empty body with JSON type',
      method: 'POST',
      path: () => '/transfers',
      raw: '',
      headers: { 'content-type': 'application/json' },
      status: 400,
    },
    {
      name: 'no content type',
      method: 'POST',
      path: () => '/transfers',
      raw: JSON.stringify({ amount: 10 }),
      status: 415,
    },
    { name: 'no body and no content type', method: 'POST', path: () => '/transfers', status: 400 },
    {
      name: 'text/plain',
      method: 'POST',
      path: () => '/transfers',
      raw: JSON.stringify({ amount: 10 }),
      headers: { 'content-type': 'text/plain' },
      status: 415,
    },
    {
      name: 'form encoded',
      method: 'POST',
      path: () => `/accounts/${eur}/deposits`,
      raw: 'amount=5',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      status: 415,
      as: 'operator',
    },
    {
      name: 'deposit to a malformed account id',
      method: 'POST',
      path: () => '/accounts/nope/deposits',
      body: { amount: 1 },
      status: 400,
      as: 'operator',
    },
    {
      name: 'deposit to an unknown account',
      method: 'POST',
      path: () => `/accounts/${randomUUID()}/deposits`,
      body: { amount: 1 },
      status: 404,
      as: 'operator',
    },
    {
      name: 'withdraw more than available',
      method: 'POST',
      path: () => `/accounts/${eur}/withdrawals`,
      body: { amount: 101 },
      status: 422,
      as: 'operator',
    },
    {
      name: 'close an unknown account',
      method: 'POST',
      path: () => `/accounts/${randomUUID()}/close`,
      status: 404,
    },
    {
      name: 'close an account holding money',
      method: 'POST',
      path: () => `/accounts/${eur}/close`,
      status: 409,
    },
    { name: 'history limit 0', method: 'GET', path: () => `/accounts/${eur}/history?limit=0`, status: 400 },
    {
      name: 'history limit 1000',
      method: 'GET',
      path: () => `/accounts/${eur}/history?limit=1000`,
      status: 400,
    },
    {
      name: 'history unknown query param',
      method: 'GET',
      path: () => `/accounts/${eur}/history?sort=asc`,
      status: 400,
    },
    {
      name: 'history bad cursor',
      method: 'GET',
      path: () => `/accounts/${eur}/history?cursor=%%%`,
      status: 400,
    },
    { name: 'transfers bad status', method: 'GET', path: () => '/transfers?status=done', status: 400 },
    {
      name: 'transfers malformed accountId',
      method: 'GET',
      path: () => '/transfers?accountId=1',
      status: 400,
    },
    {
      name: 'minPosition negative',
      method: 'GET',
      path: () => `/accounts/${eur}?minPosition=-1`,
      status: 400,
    },
    {
      name: 'minPosition not a number',
      method: 'GET',
      path: () => `/accounts/${eur}?minPosition=abc`,
      status: 400,
    },
    {
      name: 'malformed Idempotency-Key',
      method: 'POST',
      path: () => '/transfers',
      body: transfer({}),
      headers: { 'idempotency-key': 'has spaces in it' },
      status: 400,
    },
    {
      name: 'empty Idempotency-Key',
      method: 'POST',
      path: () => '/transfers',
      body: transfer({}),
      headers: { 'idempotency-key': '' },
      status: 400,
    },
    {
      name: 'withdrawal amount 1.5',
      method: 'POST',
      path: () => `/accounts/${eur}/withdrawals`,
      body: { amount: 1.5 },
      status: 400,
      as: 'operator',
    },
    {
      name: 'reference is a number',
      method: 'POST',
      path: () => `/accounts/${eur}/deposits`,
      body: { amount: 1, reference: 42 },
      status: 400,
      as: 'operator',
    },
    {
      name: 'source id null',
      method: 'POST',
      path: () => '/transfers',
      body: transfer({ fromAccountId: null }),
      status: 400,
    },
    {
      name: 'empty ownerId',
      method: 'POST',
      path: () => '/accounts',
      body: { currency: 'EUR', ownerId: '' },
      status: 400,
    },
    // Text PostgreSQL cannot store (a NUL) or that is not Unicode (a lone surrogate): 400, not 500.
    ...(
      [
        ['a NUL character', 'a\u0000b'],
        ['a lone high surrogate', 'a\ud800b'],
        ['a lone low surrogate', 'a\udc00'],
      ] as const
    ).flatMap(([what, text]): Case[] => [
      {
        name: `transfer reference with ${what}`,
        method: 'POST',
        path: () => '/transfers',
        body: transfer({ reference: text }),
        status: 400,
      },
      {
        name: `deposit reference with ${what}`,
        method: 'POST',
        path: () => `/accounts/${eur}/deposits`,
        body: { amount: 1, reference: text },
        status: 400,
        as: 'operator',
      },
      {
        name: `ownerId with ${what}`,
        method: 'POST',
        path: () => '/accounts',
        body: { currency: 'EUR', ownerId: text },
        status: 400,
        as: 'operator',
      },
    ]),
    {
      name: 'close with malformed JSON',
      method: 'POST',
      path: () => `/accounts/${other}/close`,
      raw: '{"now": tru',
      headers: { 'content-type': 'application/json' },
      status: 400,
    },
    {
      name: 'close with an unknown field',
      method: 'POST',
      path: () => `/accounts/${other}/close`,
      body: { force: true },
      status: 400,
    },
    {
      name: 'close with a text body',
      method: 'POST',
      path: () => `/accounts/${other}/close`,
      raw: 'please',
      headers: { 'content-type': 'text/plain' },
      status: 415,
    },
    { name: 'DELETE an account', method: 'DELETE', path: () => `/accounts/${eur}`, status: 405 },
    { name: 'PUT /transfers', method: 'PUT', path: () => '/transfers', body: transfer({}), status: 405 },
    { name: 'transfers limit 1.5', method: 'GET', path: () => '/transfers?limit=1.5', status: 400 },
    { name: 'transfers empty limit', method: 'GET', path: () => '/transfers?limit=', status: 400 },
    {
      name: 'history cursor not given out by the API',
      method: 'GET',
      path: () => `/accounts/${eur}/history?cursor=${Buffer.from('-5').toString('base64url')}`,
      status: 400,
    },
    { name: 'GET a malformed transfer id', method: 'GET', path: () => '/transfers/1234', status: 400 },
    // Last: after a 413 the server closes the connection without reading the body.
    {
      name: '2 MB body',
      method: 'POST',
      path: () => '/transfers',
      raw: JSON.stringify({ amount: 10, reference: 'x'.repeat(2 * 1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
      status: 413,
    },
  ];

  it(`has at least 40 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)('$name → $status', async (c) => {
    const before = await api.eventCount();
    const response = await api.call(c.method, c.path(), {
      token: c.as === 'operator' ? operator : owner,
      ...(c.body !== undefined ? { body: typeof c.body === 'function' ? c.body() : c.body } : {}),
      ...(c.raw !== undefined ? { raw: c.raw } : {}),
      ...(c.headers ? { headers: c.headers } : {}),
    });
    expect({ status: response.status, body: response.body }).toMatchObject({ status: c.status });
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: c.status });
    expect(typeof response.body.detail).toBe('string');
    expect(await api.eventCount()).toBe(before);
  });
});
