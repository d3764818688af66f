import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/adapters/postgres/client.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/**
 * patches/postgres+3.4.9.patch (applied by `npm ci` through patch-package) carries postgres.js
 * #1189's fix (as in the open PR #1218): a BEGIN that is the query filling a connection's pipeline
 * (the 100th in flight on it) reserves its connection all the same. Unpatched, begin() fails with
 * "Cannot set properties of undefined (setting 'onclose')" (and a TypeError no one can catch)
 * while the server stays inside the transaction; the pool's next statements on that connection
 * run in it and are never committed. Under load a projection's batch transaction met exactly
 * this: a saga's appends and deadlines that "succeeded" were lost, and transfers stopped.
 */
describe('postgres.js 3.4.9 begin() at the pipeline boundary, patched', () => {
  let db: TestDatabase;
  let sql: Sql;
  let other: Sql;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    sql = createSql(db.url, { max: 1 });
    other = createSql(db.url, { max: 1 });
    await sql`CREATE TABLE pipelined (n int)`;
  });
  afterAll(async () => {
    await sql.end({ timeout: 1 });
    await other.end({ timeout: 1 });
    await db.drop();
  });

  it.each([99, 100, 101])(
    'with %i queries in flight before it, commits, and so do the statements after it',
    async (inFlight) => {
      await sql`TRUNCATE pipelined`;
      // Sent at once (a query is sent when first awaited): they fill the connection's pipeline.
      const before = Array.from({ length: inFlight }, () => sql`SELECT pg_sleep(0.0005)`.execute());
      const transaction = sql.begin(async (tx) => {
        await tx`INSERT INTO pipelined VALUES (1)`;
      });
      await Promise.all(before);
      await transaction;
      await sql`INSERT INTO pipelined VALUES (2)`;
      // Seen from another connection: both committed, and no session is left inside a transaction.
      const rows = await other<{ n: number }[]>`SELECT n FROM pipelined ORDER BY n`;
      expect(rows.map((row) => row.n)).toEqual([1, 2]);
      const states = await other<{ state: string }[]>`
      SELECT state FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`;
      expect(states.map((row) => row.state)).not.toContain('idle in transaction');
    },
  );
});
