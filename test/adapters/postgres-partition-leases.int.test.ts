import { afterAll, beforeAll } from 'vitest';
import { createPostgresPartitionLeases } from '../../src/adapters/postgres/partition-leases.ts';
import { partitionLeasesContract } from '../contract/partition-leases.contract.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

partitionLeasesContract('PostgreSQL', async () => ({
  leases: createPostgresPartitionLeases(db.sql),
  leasesPass: async () => {
    await db.sql`UPDATE processor_partitions SET lease_until = now() - interval '1 second' WHERE owner IS NOT NULL`;
    await db.sql`UPDATE processor_members SET seen_until = now() - interval '1 second'`;
  },
}));
