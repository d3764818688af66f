import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppEnv } from '../../src/adapters/http/context.ts';
import { idempotency } from '../../src/adapters/http/idempotency.ts';
import { HttpProblem } from '../../src/adapters/http/problem.ts';
import { createPostgresIdempotencyStore } from '../../src/adapters/postgres/idempotency-store.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/**
 * The middleware alone on PostgreSQL, with a short lease: a slow command keeps its claim alive, a
 * dead one's claim is taken over, a 5xx releases the key, a 4xx is replayed.
 */
describe('Idempotency-Key claims (PostgreSQL)', () => {
  let db: TestDatabase;
  let runs = 0;
  let gate: Promise<void> = Promise.resolve();

  const app = () => {
    const hono = new Hono<AppEnv>();
    hono.onError((error, c) =>
      error instanceof HttpProblem
        ? c.json({ type: error.type }, error.status, error.extra.headers)
        : c.json({ type: 'internal-error' }, 500),
    );
    hono.use('*', async (c, next) => {
      c.set('principal', { sub: c.req.header('x-sub') ?? 'alice', role: 'customer' });
      await next();
    });
    hono.use(
      '*',
      idempotency(createPostgresIdempotencyStore(db.sql, { leaseSeconds: 1 }), { heartbeatMs: 200 }),
    );
    hono.post('/slow', async (c) => {
      runs++;
      await gate;
      return c.json({ run: runs }, 201);
    });
    hono.post('/fails', () => {
      runs++;
      throw new Error('boom');
    });
    hono.post('/refused', () => {
      runs++;
      throw new HttpProblem(422, 'insufficient-funds', 'Insufficient funds', 'no');
    });
    return hono;
  };
  const post = (hono: Hono<AppEnv>, path: string, key: string, body = '{}', sub = 'alice') =>
    hono.request(path, {
      method: 'POST',
      headers: { 'idempotency-key': key, 'content-type': 'application/json', 'x-sub': sub },
      body,
    });
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('a live request renews its claim: a retry past the lease gets 409, the command runs once', async () => {
    runs = 0;
    let open = () => {};
    gate = new Promise((resolve) => {
      open = resolve;
    });
    const hono = app();
    const first = post(hono, '/slow', 'slow-1');
    await sleep(1_600); // past the 1 s lease: only the heartbeat keeps the claim
    const retry = await post(hono, '/slow', 'slow-1');
    expect(retry.status).toBe(409);
    expect(retry.headers.get('retry-after')).toBe('1');
    open();
    expect((await first).status).toBe(201);
    const replay = await post(hono, '/slow', 'slow-1');
    expect([replay.status, await replay.json(), replay.headers.get('idempotent-replayed')]).toEqual([
      201,
      { run: 1 },
      'true',
    ]);
    expect(runs).toBe(1);
  });

  it("a dead request's claim is taken over by a retry with the same body, not by another body", async () => {
    runs = 0;
    gate = Promise.resolve();
    await db.sql`
      INSERT INTO idempotency_keys (principal, key, request_hash, created_at, expires_at)
      SELECT 'alice', 'orphan', request_hash, now() - interval '2 seconds', now() + interval '1 day'
      FROM (SELECT encode(sha256(convert_to(${'POST /slow\n{}'}, 'UTF8')), 'hex') AS request_hash) h`;
    const hono = app();
    expect((await post(hono, '/slow', 'orphan', '{"other":1}')).status).toBe(422);
    const retried = await post(hono, '/slow', 'orphan');
    expect(retried.status).toBe(201);
    expect(runs).toBe(1);
  });

  it('a 5xx releases the key so a retry runs again; a 4xx is kept and replayed', async () => {
    runs = 0;
    const hono = app();
    expect((await post(hono, '/fails', 'five')).status).toBe(500);
    expect((await post(hono, '/fails', 'five')).status).toBe(500);
    expect(runs).toBe(2);
    const refused = await post(hono, '/refused', 'four');
    const again = await post(hono, '/refused', 'four');
    expect([refused.status, again.status, again.headers.get('idempotent-replayed')]).toEqual([
      422,
      422,
      'true',
    ]);
    expect((await post(hono, '/refused', 'four', '{"amount":2}')).status).toBe(422);
    expect(runs).toBe(3);
  });

  it('scopes keys per principal and sweeps expired ones', async () => {
    runs = 0;
    const hono = app();
    expect((await post(hono, '/slow', 'shared', '{}', 'alice')).status).toBe(201);
    expect((await post(hono, '/slow', 'shared', '{}', 'bob')).status).toBe(201);
    expect(runs).toBe(2);
    await db.sql`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'shared'`;
    expect(await createPostgresIdempotencyStore(db.sql).sweep()).toBe(2);
    expect((await post(hono, '/slow', 'shared', '{}', 'alice')).status).toBe(201);
    expect(runs).toBe(3);
  });
});
