import type {
  ClaimOutcome,
  IdempotencyStore,
  KeyClaim,
  StoredAnswer,
} from '../../application/ports/idempotency-store.ts';
import { createBatcher } from './batcher.ts';
import { failedByItsInput, mappingOutages, type Sql } from './client.ts';

type Row = { principal: string; key: string; request_hash: string };
const row = (claim: KeyClaim): Row => ({
  principal: claim.principal,
  key: claim.key,
  request_hash: claim.requestHash,
});
const slot = ({ principal, key }: { principal: string; key: string }) => `${principal}\n${key}`;

/**
 * The idempotency store in PostgreSQL (migrations 0004 and 0008): the port's contract, with the
 * claims and the answers of concurrent requests each sharing one statement (batcher.ts: under
 * load, batches grow instead of round trips; bench:api in README, "Benchmarks").
 */
export function createPostgresIdempotencyStore(
  sql: Sql,
  { ttlHours = 24, leaseSeconds = 5 }: { ttlHours?: number; leaseSeconds?: number } = {},
): IdempotencyStore {
  /** The key's generation where the claim now holds it, else null. */
  const claimKeys = createBatcher<Row, string | null>({
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
              content_type = NULL, created_at = now(),
              -- A taken-over or released claim keeps its generation and its lifetime (counted from
              -- the first claim), so one operation id never lives past the accounts' memory of it.
              expires_at = CASE WHEN idempotency_keys.expires_at < now() THEN excluded.expires_at
                                ELSE idempotency_keys.expires_at END,
              generation = CASE WHEN idempotency_keys.expires_at < now() THEN excluded.generation
                                ELSE idempotency_keys.generation END,
              generation_at = CASE WHEN idempotency_keys.expires_at < now() THEN now()
                                   ELSE idempotency_keys.generation_at END
          WHERE idempotency_keys.expires_at < now()
             OR (idempotency_keys.status_code IS NULL
                 AND idempotency_keys.request_hash = excluded.request_hash
                 AND idempotency_keys.created_at < now() - make_interval(secs => ${leaseSeconds}))
        RETURNING principal, key, generation`;
      const won = new Map(rows.map((won) => [slot(won), won.generation]));
      return claims.map((c, i) => (firsts.get(slot(c)) === i ? (won.get(slot(c)) ?? null) : null));
    },
  });

  const storeAnswers = createBatcher<Row & StoredAnswer, void>({
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
                    ${column('status')}::int[], ${column('body')}::text[], ${column('contentType')}::text[])
             AS a(principal, key, request_hash, status_code, response_body, content_type)
        WHERE k.principal = a.principal AND k.key = a.key AND k.request_hash = a.request_hash
          AND k.status_code IS NULL`;
      return answers.map(() => undefined);
    },
  });

  /** The claim's row while the claim holds it (no answer yet). */
  const held = (claim: KeyClaim) =>
    sql`principal = ${claim.principal} AND key = ${claim.key} AND request_hash = ${claim.requestHash} AND status_code IS NULL`;

  // Connection failures reach callers as the port's unavailable error (a 503), never as a driver code.
  return mappingOutages({
    async claim(claim): Promise<ClaimOutcome> {
      const generation = await claimKeys(row(claim));
      if (generation !== null) return { kind: 'claimed', generation };
      const [found] = await sql<
        {
          request_hash: string;
          status_code: number | null;
          response_body: string | null;
          content_type: string | null;
        }[]
      >`
        SELECT request_hash, status_code, response_body, content_type FROM idempotency_keys
        WHERE principal = ${claim.principal} AND key = ${claim.key}`;
      if (!found) return { kind: 'free' };
      if (found.status_code === null) return { kind: 'in-flight', requestHash: found.request_hash };
      return {
        kind: 'answered',
        requestHash: found.request_hash,
        answer: {
          status: found.status_code,
          body: found.response_body ?? '',
          contentType: found.content_type,
        },
      };
    },
    async renew(claim) {
      // `created_at` doubles as the claim's heartbeat; the key's lifetime runs from its first claim.
      await sql`UPDATE idempotency_keys SET created_at = now() WHERE ${held(claim)}`;
    },
    answer: (claim, answer) => storeAnswers({ ...row(claim), ...answer }),
    async release(claim) {
      await sql`UPDATE idempotency_keys SET created_at = '-infinity' WHERE ${held(claim)}`;
    },
    async sweep() {
      return (await sql`DELETE FROM idempotency_keys WHERE expires_at < now()`).count;
    },
  });
}
