import { createInMemoryIdempotencyStore } from '../../src/adapters/memory/idempotency-store.ts';
import { idempotencyStoreContract } from '../contract/idempotency-store.contract.ts';

idempotencyStoreContract('memory', async () => {
  let now = Date.parse('2030-01-01T00:00:00Z');
  const store = createInMemoryIdempotencyStore({ leaseSeconds: 5, ttlHours: 24, now: () => now });
  return {
    store,
    leasePasses: async () => {
      now += 6_000;
    },
    // One clock for every key: a whole lifetime passes for all of them.
    expire: async () => {
      now += 25 * 3_600_000;
    },
  };
});
