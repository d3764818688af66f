import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { authenticate, mintToken, parseTtl } from '../../src/adapters/http/auth.ts';
import type { AppEnv } from '../../src/adapters/http/context.ts';
import { HttpProblem } from '../../src/adapters/http/problem.ts';

const SECRET = 'unit-secret-unit-secret-unit-secret-0123';

function appAt(clock: { now: number }) {
  const app = new Hono<AppEnv>();
  app.onError((error, c) =>
    c.json(
      { status: error instanceof HttpProblem ? error.status : 500 },
      error instanceof HttpProblem ? error.status : 500,
    ),
  );
  app.use(
    '*',
    authenticate(SECRET, () => clock.now),
  );
  app.get('/me', (c) => c.json(c.get('principal')));
  return app;
}

describe('bearer authentication', () => {
  it('remembers a verified token only until it expires', async () => {
    const clock = { now: Date.now() };
    const app = appAt(clock);
    const token = await mintToken({ sub: 'alice', role: 'operator', ttlSeconds: 60 }, SECRET, clock.now);
    const headers = { authorization: `Bearer ${token}` };
    expect(await (await app.request('/me', { headers })).json()).toEqual({ sub: 'alice', role: 'operator' });
    expect((await app.request('/me', { headers })).status).toBe(200); // from the cache
    clock.now += 61_000;
    expect((await app.request('/me', { headers })).status).toBe(401);
  });

  it('refuses a token whose signature was tampered with, even after the genuine one was seen', async () => {
    const clock = { now: Date.now() };
    const app = appAt(clock);
    const token = await mintToken({ sub: 'alice' }, SECRET);
    await app.request('/me', { headers: { authorization: `Bearer ${token}` } });
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: 'alice', role: 'operator', exp: 9e9 })).toString('base64url')}.${signature}`;
    expect((await app.request('/me', { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
  });

  it.each([
    ['a NUL character', 'ali\u0000ce'],
    ['a lone surrogate', 'ali\ud800ce'],
  ])(
    'refuses a subject with %s (it would become an account owner PostgreSQL cannot store)',
    async (_, sub) => {
      const app = appAt({ now: Date.now() });
      const token = await mintToken({ sub }, SECRET);
      expect((await app.request('/me', { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    },
  );

  it('parses token lifetimes', () => {
    expect([parseTtl('1h'), parseTtl('45m'), parseTtl('30s'), parseTtl('2d'), parseTtl('600')]).toEqual([
      3600, 2700, 30, 172_800, 600,
    ]);
    expect([parseTtl('0'), parseTtl('forever'), parseTtl('-1h')]).toEqual([null, null, null]);
  });
});
