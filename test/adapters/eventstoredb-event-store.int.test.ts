import { describe } from 'vitest';
import { createEventStoreDBStore } from '../../src/adapters/eventstoredb/event-store.ts';
import { eventStoreContract } from '../contract/event-store.contract.ts';

const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;

// Skipped, not failed, without a server: none can run on the machines this project is built on,
// so the suite runs wherever EVENTSTORE_CONNECTION_STRING points at one
// (e.g. esdb://admin:changeit@127.0.0.1:2113?tls=false; reading $all needs an admin or ops user).
describe.skipIf(!connectionString)('EventStoreDB event store', () => {
  eventStoreContract(
    'eventstoredb',
    async () => {
      const store = createEventStoreDBStore(connectionString!);
      return { store, teardown: () => store.close() };
    },
    { heavy: true },
  );
});
