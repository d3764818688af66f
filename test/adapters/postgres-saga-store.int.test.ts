import { afterAll, beforeAll } from 'vitest';
import { createPostgresSagaStore } from '../../src/adapters/postgres/saga-store.ts';
import { sagaDeadlinesContract } from '../contract/saga-deadlines.contract.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

sagaDeadlinesContract('PostgreSQL', async () => createPostgresSagaStore(db.sql));
