import { describe } from 'vitest';
import { createEventStoreDBStore } from '../../src/adapters/eventstoredb/event-store.ts';
import { eventStoreContract } from '../contract/event-store.contract.ts';

const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;

// No EventStoreDB server runs on this machine (SPEC §4): the suite runs wherever
// EVENTSTORE_CONNECTION_STRING points at one, e.g. esdb://127.0.0.1:2113?tls=false.
describe.skipIf(!connectionString)('EventStoreDB event store', () => {
  // $all is shared by every test on one server: each store sees the whole log, so the contract
  // suite must not assume an empty log. Stream names carry a fresh id per store to stay apart.
  eventStoreContract('eventstoredb', async () => {
    const store = createEventStoreDBStore(connectionString!);
    return { store, teardown: () => store.close() };
  });
});
