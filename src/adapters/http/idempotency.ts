import { createHash } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { IdempotencyStore, KeyClaim } from '../../application/ports/idempotency-store.ts';
import type { AppEnv } from './context.ts';
import { HttpProblem } from './problem.ts';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** How often a running request renews its claim: well inside the store's lease (5 s). */
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

/** A request's Idempotency-Key as claimed: the key and its generation (see migration 0008). */
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
 * Idempotency-Key on POST (SPEC §6), over an IdempotencyStore: the same key and body replay the
 * first response; another body → 422; the first still in flight → 409. The key is claimed before
 * the command runs, so concurrent duplicates run it once; the claim is renewed every
 * `heartbeatMs` while the request runs (the store's lease is longer), so a slow command or a
 * `Prefer: wait` is never run twice. A 5xx releases the key to a retry of the same body, which
 * keeps the key's generation (the command may have been booked).
 */
export function idempotency(
  keys: IdempotencyStore,
  { heartbeatMs = HEARTBEAT_MS } = {},
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
    const mine: KeyClaim = {
      principal,
      key,
      requestHash: sha256(`${c.req.method} ${c.req.path}\n${await c.req.text()}`),
    };

    let generation: string | null = null;
    for (let attempt = 0; attempt < 3 && generation === null; attempt++) {
      const found = await keys.claim(mine);
      if (found.kind === 'claimed') generation = found.generation;
      else if (found.kind === 'free')
        continue; // released or swept a moment ago: claim again
      else if (found.requestHash !== mine.requestHash) {
        throw new HttpProblem(
          422,
          'idempotency-key-reused',
          'Idempotency-Key reused',
          'This key was used with another request',
        );
      } else if (found.kind === 'in-flight') throw inFlight();
      else {
        const { status, body, contentType } = found.answer;
        return c.body(body, status as ContentfulStatusCode, {
          ...(contentType ? { 'content-type': contentType } : {}),
          'Idempotent-Replayed': 'true',
        });
      }
    }
    if (generation === null) throw inFlight();

    const heartbeat = setInterval(() => keys.renew(mine).catch(() => {}), heartbeatMs);
    heartbeat.unref();
    c.set('idempotencyKey', { key, generation });
    const answer = captureAnswer(c);
    try {
      await next();
    } finally {
      clearInterval(heartbeat);
    }
    // A refusal (4xx) is an answer like any other and is replayed.
    if (c.res.status >= 500) return keys.release(mine);
    await keys.answer(mine, {
      status: c.res.status,
      body: answer.text ?? (await c.res.clone().text()),
      contentType: c.res.headers.get('content-type'),
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
