import { afterAll, beforeAll } from 'vitest';
import { createPostgresIdempotencyStore } from '../../src/adapters/postgres/idempotency-store.ts';
import { idempotencyStoreContract } from '../contract/idempotency-store.contract.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

idempotencyStoreContract('PostgreSQL', async () => ({
  store: createPostgresIdempotencyStore(db.sql, { leaseSeconds: 5 }),
  leasePasses: async () => {
    await db.sql`UPDATE idempotency_keys SET created_at = created_at - interval '6 seconds' WHERE status_code IS NULL`;
  },
  expire: async (key) => {
    await db.sql`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = ${key}`;
  },
}));
