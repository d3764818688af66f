import { createInMemoryPartitionLeases } from '../../src/adapters/memory/partition-leases.ts';
import { partitionLeasesContract } from '../contract/partition-leases.contract.ts';

partitionLeasesContract('memory', async () => {
  let now = Date.parse('2030-01-01T00:00:00Z');
  return {
    leases: createInMemoryPartitionLeases(() => now),
    leasesPass: async () => {
      now += 120_000;
    },
  };
});
