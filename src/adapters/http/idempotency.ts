import { createHash } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { createBatcher } from '../postgres/batcher.ts';
import { failedByItsInput, type Sql } from '../postgres/client.ts';
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

/** Whose key: a principal's keys are its own (SPEC §9). */
type Claim = { principal: string; key: string; request_hash: string };
const slot = ({ principal, key }: { principal: string; key: string }) => `${principal}\n${key}`;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A request's Idempotency-Key as claimed: the key and its generation (see migration 0007). */
export type ClaimedKey = { key: string; generation: string };

/**
 * A UUID derived from (principal, key, generation, purpose): a retried command gets the same
 * aggregate or operation id for as long as its key lives; the key used again after it expired, a new one.
 */
export function idFromKey(principal: string, claimed: ClaimedKey, purpose: string): string {
  const bytes = createHash('sha256')
    .update(`${principal}\n${claimed.key}\n${claimed.generation}\n${purpose}`)
    .digest()
    .subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80; // version 8: custom
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Idempotency-Key on POST (SPEC §6), kept in PostgreSQL per principal for `ttlHours`: the same key
 * and body replay the first response; another body → 422; the first still in flight → 409. The
 * key is claimed before the command runs, so concurrent duplicates run it once; a 5xx releases it
 * to a retry of the same body, which keeps the key's generation (the command may have been booked).
 * Claims and answers of concurrent requests each share one statement.
 */
export function idempotency(
  sql: Sql,
  { ttlHours = 24, leaseSeconds = IN_FLIGHT_LEASE_SECONDS, heartbeatMs = HEARTBEAT_MS } = {},
): MiddlewareHandler<AppEnv> {
  /** Claims of concurrent requests leave together; the key's generation where the request now holds it. */
  const claim = createBatcher<Claim, string | null>({
    maxInFlight: 2,
    isolate: failedByItsInput,
    flush: async (claims) => {
      // One statement may touch a row once: a second request with the same key in the batch loses.
      const firsts = new Map<string, number>();
      for (const [i, c] of claims.entries()) if (!firsts.has(slot(c))) firsts.set(slot(c), i);
      const rows = await sql<{ principal: string; key: string; generation: string }[]>`
        INSERT INTO idempotency_keys (principal, key, request_hash, expires_at)
        SELECT c.principal, c.key, c.request_hash, now() + make_interval(hours => ${ttlHours})
        FROM json_to_recordset(${JSON.stringify([...firsts.values()].map((i) => claims[i]))}::text::json)
             AS c(principal text, key text, request_hash text)
        ON CONFLICT (principal, key) DO UPDATE
          SET request_hash = excluded.request_hash, status_code = NULL, response_body = NULL,
              content_type = NULL, created_at = now(), expires_at = excluded.expires_at,
              generation = CASE WHEN idempotency_keys.expires_at < now() THEN excluded.generation
                                ELSE idempotency_keys.generation END
          WHERE idempotency_keys.expires_at < now()
             OR (idempotency_keys.status_code IS NULL
                 AND idempotency_keys.request_hash = excluded.request_hash
                 AND idempotency_keys.created_at < now() - make_interval(secs => ${leaseSeconds}))
        RETURNING principal, key, generation`;
      const won = new Map(rows.map((row) => [slot(row), row.generation]));
      return claims.map((c, i) => (firsts.get(slot(c)) === i ? (won.get(slot(c)) ?? null) : null));
    },
  });

  /** Answers of concurrent requests are stored together. */
  const store = createBatcher<
    Claim & { status_code: number; response_body: string; content_type: string | null },
    void
  >({
    maxInFlight: 2,
    isolate: failedByItsInput,
    flush: async (answers) => {
      const column = <K extends keyof (typeof answers)[number]>(key: K) =>
        answers.map((answer) => answer[key]);
      // Arrays, not JSON rows: the planner sizes unnest() small and looks each key up by its index
      // (json_to_recordset's guess of 100 rows had it scan the whole table instead).
      await sql`
        UPDATE idempotency_keys k
        SET status_code = a.status_code, response_body = a.response_body, content_type = a.content_type
        FROM unnest(${column('principal')}::text[], ${column('key')}::text[], ${column('request_hash')}::text[],
                    ${column('status_code')}::int[], ${column('response_body')}::text[], ${column('content_type')}::text[])
             AS a(principal, key, request_hash, status_code, response_body, content_type)
        WHERE k.principal = a.principal AND k.key = a.key AND k.request_hash = a.request_hash
          AND k.status_code IS NULL`;
      return answers.map(() => undefined);
    },
  });

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
    const mine: Claim = { principal, key, request_hash: hash };

    let generation: string | null = null;
    for (let attempt = 0; attempt < 3 && generation === null; attempt++) {
      generation = await claim(mine);
      if (generation !== null) break;
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

    if (generation === null) throw inFlight();

    // `created_at` doubles as the claim's heartbeat; `expires_at` moves with it (still ≥ 24 h).
    const held = sql`principal = ${principal} AND key = ${key} AND request_hash = ${hash} AND status_code IS NULL`;
    const heartbeat = setInterval(() => {
      sql`
        UPDATE idempotency_keys
        SET created_at = now(), expires_at = now() + make_interval(hours => ${ttlHours})
        WHERE ${held}`.catch(() => {});
    }, heartbeatMs);
    heartbeat.unref();
    c.set('idempotencyKey', { key, generation });
    const answer = captureAnswer(c);
    try {
      await next();
    } finally {
      clearInterval(heartbeat);
    }
    // A refusal (4xx) is an answer like any other and is replayed. A 5xx may or may not have been
    // booked: the claim is released at once to a retry of the same body, which keeps the generation
    // (so a booked command is recognised by its id, not booked again).
    if (c.res.status >= 500) {
      await sql`UPDATE idempotency_keys SET created_at = '-infinity' WHERE ${held}`;
      return;
    }
    await store({
      ...mine,
      status_code: c.res.status,
      response_body: answer.text ?? (await c.res.clone().text()),
      content_type: c.res.headers.get('content-type'),
    });
  };
}

/**
 * The body of the answer being built, as the handlers hand it to `c.json` or `c.body` (every
 * answer here is made by one of them). Reading it back from the Response instead would turn the
 * server's lightweight Response into a web-stream one and tee it: a third of a POST's CPU.
 */
function captureAnswer(c: Context<AppEnv>): { text?: string } {
  const answer: { text?: string } = {};
  const { body, json } = c;
  c.body = ((data: unknown, ...rest: unknown[]) => {
    answer.text = typeof data === 'string' ? data : undefined;
    return (body as (...args: unknown[]) => Response)(data, ...rest);
  }) as typeof c.body;
  c.json = ((object: unknown, ...rest: unknown[]) => {
    answer.text = JSON.stringify(object);
    return (json as (...args: unknown[]) => Response)(object, ...rest);
  }) as typeof c.json;
  return answer;
}

/** Drops expired keys; run now and then. */
export async function sweepIdempotencyKeys(sql: Sql): Promise<number> {
  const deleted = await sql`DELETE FROM idempotency_keys WHERE expires_at < now()`;
  return deleted.count;
}
