import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectMoneyConserved, startTestService, type TestService } from '../support/service.ts';

describe('Idempotency-Key (SPEC §6)', () => {
  let api: TestService;
  let alice: string;
  let bob: string;
  let from: string;
  let to: string;
  let bobs: string;

  beforeAll(async () => {
    api = await startTestService();
    alice = await api.token('alice');
    bob = await api.token('bob');
    const operator = await api.token('ops', 'operator');
    from = (await api.call('POST', '/accounts', { token: alice, body: { currency: 'EUR' } })).body.accountId;
    to = (await api.call('POST', '/accounts', { token: bob, body: { currency: 'EUR' } })).body.accountId;
    bobs = (await api.call('POST', '/accounts', { token: bob, body: { currency: 'EUR' } })).body.accountId;
    await api.call('POST', `/accounts/${from}/deposits`, { token: operator, body: { amount: 10_000 } });
    await api.call('POST', `/accounts/${bobs}/deposits`, { token: operator, body: { amount: 10_000 } });
  });
  afterAll(async () => {
    await api.close();
  });

  const requested = async () => {
    const rows = await api.db.sql<
      { id: string }[]
    >`SELECT data->>'transferId' AS id FROM events WHERE type = 'TransferRequested'`;
    return rows.map((row) => row.id);
  };

  it('50 concurrent requests with one key create exactly one transfer; a replay returns it', async () => {
    const body = { fromAccountId: from, toAccountId: to, amount: 100 };
    const headers = { 'idempotency-key': 'pay-rent-2030-01' };
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => api.call('POST', '/transfers', { token: alice, body, headers })),
    );
    const accepted = responses.filter((r) => r.status === 202);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(responses.every((r) => r.status === 202 || r.status === 409)).toBe(true);
    for (const r of responses.filter((r) => r.status === 409))
      expect(r.body.type).toBe('idempotency-request-in-flight');
    expect(new Set(accepted.map((r) => r.body.transferId)).size).toBe(1);
    expect(await requested()).toEqual([accepted[0]!.body.transferId]);

    const replay = await api.call('POST', '/transfers', { token: alice, body, headers });
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual(accepted[0]!.body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    const other = await api.call('POST', '/transfers', {
      token: alice,
      body: { ...body, amount: 101 },
      headers,
    });
    expect(other.status).toBe(422);
    expect(other.body.type).toBe('idempotency-key-reused');
    expect(await requested()).toHaveLength(1);
  });

  it('replays the first answer of a refused request too', async () => {
    const body = { fromAccountId: from, toAccountId: from, amount: 1 };
    const headers = { 'idempotency-key': 'same-account-once' };
    const first = await api.call('POST', '/transfers', { token: alice, body, headers });
    const again = await api.call('POST', '/transfers', { token: alice, body, headers });
    expect([first.status, again.status]).toEqual([422, 422]);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const otherBody = await api.call('POST', '/transfers', {
      token: alice,
      body: { fromAccountId: from, toAccountId: to, amount: 1 },
      headers,
    });
    expect([otherBody.status, otherBody.body.type]).toEqual([422, 'idempotency-key-reused']);
  });

  it('answers 409 while the first request with the key is in flight', async () => {
    await api.db.sql`
      INSERT INTO idempotency_keys (principal, key, request_hash, expires_at)
      VALUES ('alice', 'in-flight-key', 'whatever', now() + interval '1 day')`;
    const body = { fromAccountId: from, toAccountId: to, amount: 1 };
    const response = await api.call('POST', '/transfers', {
      token: alice,
      body,
      headers: { 'idempotency-key': 'in-flight-key' },
    });
    expect(response.status).toBe(422); // another body hash: reused
    await api.db
      .sql`UPDATE idempotency_keys SET request_hash = ${await hashOf(body)} WHERE key = 'in-flight-key'`;
    const inFlight = await api.call('POST', '/transfers', {
      token: alice,
      body,
      headers: { 'idempotency-key': 'in-flight-key' },
    });
    expect(inFlight.status).toBe(409);
    expect(inFlight.body.type).toBe('idempotency-request-in-flight');
  });

  it('scopes keys to the principal', async () => {
    const headers = { 'idempotency-key': 'shared-key-name' };
    const a = await api.call('POST', '/transfers', {
      token: alice,
      body: { fromAccountId: from, toAccountId: to, amount: 7 },
      headers,
    });
    const b = await api.call('POST', '/transfers', {
      token: bob,
      body: { fromAccountId: bobs, toAccountId: to, amount: 7 },
      headers,
    });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.transferId).not.toBe(b.body.transferId);
  });

  it('replays a Prefer: wait answer as it was, and the transfer moved money once', async () => {
    const headers = { 'idempotency-key': 'waited-once', prefer: 'wait=10' };
    const body = { fromAccountId: from, toAccountId: to, amount: 11 };
    const first = await api.call('POST', '/transfers', { token: alice, body, headers });
    expect([first.status, first.body.status]).toEqual([200, 'COMPLETED']);
    const again = await api.call('POST', '/transfers', { token: alice, body, headers });
    expect([again.status, again.body]).toEqual([200, first.body]);
    await expectMoneyConserved(api);
  });

  it('applies a cash deposit once when the first answer was lost and the client retries', async () => {
    const operator = await api.token('ops', 'operator');
    const headers = { 'idempotency-key': 'cash-in-after-crash' };
    const body = { amount: 700 };
    const first = await api.call('POST', `/accounts/${bobs}/deposits`, { token: operator, body, headers });
    expect(first.status).toBe(201);
    // What a crash between the deposit and the storing of its answer leaves: a claim nobody
    // renews, without an answer. The retry takes the claim over and runs the command again.
    await api.db.sql`
      UPDATE idempotency_keys SET status_code = NULL, response_body = NULL, content_type = NULL,
                                  created_at = now() - interval '1 minute'
      WHERE key = ${headers['idempotency-key']}`;
    const retry = await api.call('POST', `/accounts/${bobs}/deposits`, { token: operator, body, headers });
    expect(retry.status).toBe(201);
    expect(retry.body.available).toBe(first.body.available);
    const deposits = await api.db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM events WHERE type = 'CashDeposited' AND stream_name = ${`account-${bobs}`}`;
    expect(deposits[0]!.n).toBe(2); // the opening deposit and this one, once
  });

  /** The account's CashDeposited/CashWithdrawn events, oldest first, as [type, amount]. */
  const cashEvents = async (accountId: string) =>
    (
      await api.db.sql<{ type: string; amount: number }[]>`
        SELECT type, (data->>'amount')::bigint::int AS amount FROM events
        WHERE stream_name = ${`account-${accountId}`} AND type IN ('CashDeposited', 'CashWithdrawn')
        ORDER BY revision`
    ).map((row) => [row.type, row.amount]);

  // The audit's phantom cash: a 201 for a deposit (or withdrawal) the account ignored.
  it('books a cash movement sent with a key whose record expired, whatever the body (a 2xx means booked)', async () => {
    const operator = await api.token('ops', 'operator');
    const { accountId } = (await api.call('POST', '/accounts', { token: bob, body: { currency: 'EUR' } }))
      .body;
    const headers = { 'idempotency-key': 'daily-cash' };
    const expire = () =>
      api.db
        .sql`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'daily-cash'`;
    const first = await api.call('POST', `/accounts/${accountId}/deposits`, {
      token: operator,
      body: { amount: 100 },
      headers,
    });
    expect([first.status, first.body.available]).toEqual([201, 100]);
    await expire();
    const next = await api.call('POST', `/accounts/${accountId}/deposits`, {
      token: operator,
      body: { amount: 250 },
      headers,
    });
    expect([next.status, next.body.amount, next.body.available]).toEqual([201, 250, 350]);
    await expire();
    const sameAgain = await api.call('POST', `/accounts/${accountId}/deposits`, {
      token: operator,
      body: { amount: 250 },
      headers,
    });
    expect([sameAgain.status, sameAgain.body.available]).toEqual([201, 600]); // tomorrow's deposit: a new one
    await expire();
    const out = await api.call('POST', `/accounts/${accountId}/withdrawals`, {
      token: operator,
      body: { amount: 50 },
      headers,
    });
    expect([out.status, out.body.available]).toEqual([201, 550]);
    expect(await cashEvents(accountId)).toEqual([
      ['CashDeposited', 100],
      ['CashDeposited', 250],
      ['CashDeposited', 250],
      ['CashWithdrawn', 50],
    ]);
  });

  it('after a 5xx released the key, the same body is booked once and another body is refused', async () => {
    const operator = await api.token('ops', 'operator');
    const { accountId } = (await api.call('POST', '/accounts', { token: bob, body: { currency: 'EUR' } }))
      .body;
    const headers = { 'idempotency-key': 'cash-after-5xx' };
    const first = await api.call('POST', `/accounts/${accountId}/deposits`, {
      token: operator,
      body: { amount: 100 },
      headers,
    });
    expect(first.status).toBe(201);
    // What a 5xx after the deposit was booked leaves (the answer never stored, the claim released).
    await api.db.sql`
      UPDATE idempotency_keys SET status_code = NULL, response_body = NULL, content_type = NULL,
                                  created_at = '-infinity'
      WHERE key = ${headers['idempotency-key']}`;
    const other = await api.call('POST', `/accounts/${accountId}/deposits`, {
      token: operator,
      body: { amount: 250 },
      headers,
    });
    expect([other.status, other.body.type]).toEqual([422, 'idempotency-key-reused']);
    const retry = await api.call('POST', `/accounts/${accountId}/deposits`, {
      token: operator,
      body: { amount: 100 },
      headers,
    });
    expect([retry.status, retry.body.available]).toEqual([201, 100]);
    expect(await cashEvents(accountId)).toEqual([['CashDeposited', 100]]);
  });

  it('keeps keys for at least 24 hours', async () => {
    const [row] = await api.db.sql<{ hours: number }[]>`
      SELECT min(extract(epoch FROM expires_at - generation_at) / 3600)::float AS hours FROM idempotency_keys`;
    expect(row!.hours).toBeGreaterThanOrEqual(24);
  });
});

async function hashOf(body: unknown): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256')
    .update(`POST /transfers\n${JSON.stringify(body)}`)
    .digest('hex');
}
