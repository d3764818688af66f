import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './context.ts';
import { HttpProblem } from './problem.ts';

/**
 * A token bucket per principal, per instance: `perMinute` requests a minute, with bursts up to
 * that many. Over the limit → 429 with Retry-After.
 */
export function rateLimit(perMinute: number, now = () => Date.now()): MiddlewareHandler<AppEnv> {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const perMs = perMinute / 60_000;
  return async (c, next) => {
    const key = c.get('principal').sub;
    const t = now();
    const bucket = buckets.get(key) ?? { tokens: perMinute, at: t };
    bucket.tokens = Math.min(perMinute, bucket.tokens + (t - bucket.at) * perMs);
    bucket.at = t;
    buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
      throw new HttpProblem(429, 'rate-limited', 'Too many requests', `Try again in ${retryAfter} s`, {
        headers: { 'Retry-After': String(retryAfter) },
      });
    }
    bucket.tokens -= 1;
    if (buckets.size > 100_000) buckets.clear(); // bounded memory under a flood of principals
    await next();
  };
}
