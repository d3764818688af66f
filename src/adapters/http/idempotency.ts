import { createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Sql } from '../postgres/client.ts';
import type { AppEnv } from './context.ts';
import { HttpProblem } from './problem.ts';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/**
 * An in-flight claim not renewed for this long belonged to a process that died: a retry with the
 * same body takes it over and runs the command again. A live request renews its claim every
 * HEARTBEAT_MS, so a slow command (or a `Prefer: wait`) is never run twice.
 */
const IN_FLIGHT_LEASE_SECONDS = 5;
const HEARTBEAT_MS = 1_500;

const inFlight = () =>
  new HttpProblem(
    409,
    'idempotency-request-in-flight',
    'Request in flight',
    'The first request with this key is still running',
    { headers: { 'Retry-After': '1' } },
  );

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A UUID derived from (principal, key, purpose): a retried command gets the same aggregate id. */
export function idFromKey(principal: string, key: string, purpose: string): string {
  const bytes = createHash('sha256').update(`${principal}\n${key}\n${purpose}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80; // version 8: custom
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Idempotency-Key on POST (SPEC §6), kept in PostgreSQL per principal for `ttlHours`: the same key
 * and body replay the first response; another body → 422; the first still in flight → 409. The
 * key is claimed before the command runs, so concurrent duplicates run it once; a 5xx releases it.
 */
export function idempotency(
  sql: Sql,
  { ttlHours = 24, leaseSeconds = IN_FLIGHT_LEASE_SECONDS, heartbeatMs = HEARTBEAT_MS } = {},
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = c.req.header('idempotency-key');
    const principal = c.get('principal')?.sub;
    // Public routes (no principal) take no POST; their 404/405 needs no key.
    if (c.req.method !== 'POST' || key === undefined || principal === undefined) return next();
    if (!KEY_PATTERN.test(key)) {
      throw new HttpProblem(
        400,
        'validation-error',
        'Invalid Idempotency-Key',
        'Use 1 to 255 visible ASCII characters',
      );
    }
    const hash = sha256(`${c.req.method} ${c.req.path}\n${await c.req.text()}`);

    let claimed = false;
    for (let attempt = 0; attempt < 3 && !claimed; attempt++) {
      const claim = await sql`
        INSERT INTO idempotency_keys (principal, key, request_hash, expires_at)
        VALUES (${principal}, ${key}, ${hash}, now() + make_interval(hours => ${ttlHours}))
        ON CONFLICT (principal, key) DO UPDATE
          SET request_hash = excluded.request_hash, status_code = NULL, response_body = NULL,
              content_type = NULL, created_at = now(), expires_at = excluded.expires_at
          WHERE idempotency_keys.expires_at < now()
             OR (idempotency_keys.status_code IS NULL
                 AND idempotency_keys.request_hash = excluded.request_hash
                 AND idempotency_keys.created_at < now() - make_interval(secs => ${leaseSeconds}))
        RETURNING 1`;
      claimed = claim.length === 1;
      if (claimed) break;
      const [row] = await sql<
        {
          request_hash: string;
          status_code: number | null;
          response_body: string | null;
          content_type: string | null;
        }[]
      >`
        SELECT request_hash, status_code, response_body, content_type FROM idempotency_keys
        WHERE principal = ${principal} AND key = ${key}`;
      if (!row) continue; // released by a failed first attempt a moment ago: claim again
      if (row.request_hash !== hash) {
        throw new HttpProblem(
          422,
          'idempotency-key-reused',
          'Idempotency-Key reused',
          'This key was used with another request',
        );
      }
      if (row.status_code === null) throw inFlight();
      return c.body(row.response_body ?? '', row.status_code as ContentfulStatusCode, {
        ...(row.content_type ? { 'content-type': row.content_type } : {}),
        'Idempotent-Replayed': 'true',
      });
    }

    if (!claimed) throw inFlight();

    // `created_at` doubles as the claim's heartbeat; `expires_at` moves with it (still ≥ 24 h).
    const mine = sql`principal = ${principal} AND key = ${key} AND request_hash = ${hash} AND status_code IS NULL`;
    const heartbeat = setInterval(() => {
      sql`
        UPDATE idempotency_keys
        SET created_at = now(), expires_at = now() + make_interval(hours => ${ttlHours})
        WHERE ${mine}`.catch(() => {});
    }, heartbeatMs);
    heartbeat.unref();
    c.set('idempotencyKey', key);
    try {
      await next();
    } finally {
      clearInterval(heartbeat);
    }
    // A refusal (4xx) is an answer like any other and is replayed; a 5xx may not have run at all.
    if (c.res.status >= 500) {
      await sql`DELETE FROM idempotency_keys WHERE ${mine}`;
      return;
    }
    const body = await c.res.clone().text();
    await sql`
      UPDATE idempotency_keys
      SET status_code = ${c.res.status}, response_body = ${body}, content_type = ${c.res.headers.get('content-type')}
      WHERE ${mine}`;
  };
}

/** Drops expired keys; run now and then. */
export async function sweepIdempotencyKeys(sql: Sql): Promise<number> {
  const deleted = await sql`DELETE FROM idempotency_keys WHERE expires_at < now()`;
  return deleted.count;
}
