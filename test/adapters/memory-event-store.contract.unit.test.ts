import { createInMemoryEventStore } from '../../src/adapters/memory/event-store.ts';
import { eventStoreContract } from '../contract/event-store.contract.ts';

eventStoreContract(
  'memory',
  async () => {
    const store = createInMemoryEventStore();
    return { store, teardown: () => store.close() };
  },
  { heavy: true },
);
