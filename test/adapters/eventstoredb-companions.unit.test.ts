import { UnavailableError } from '@eventstore/db-client';
import { describe, expect, it } from 'vitest';
import { createEventStoreDBStore } from '../../src/adapters/eventstoredb/event-store.ts';
import { EventStoreUnavailableError } from '../../src/application/ports/event-store.ts';
import { createStubClient } from './eventstoredb-stub-client.ts';

const unavailable = () => new UnavailableError(undefined, '14 UNAVAILABLE: No connection established');
const snapshot = (revision: number) => ({ revision, schemaVersion: 1, state: { revision } });
const metadataOf = (stub: ReturnType<typeof createStubClient>, stream: string) =>
  stub.stream(`$$${stream}`).map((event) => event.data);

describe('EventStoreDB companion streams (snapshots, checkpoints) are capped to their latest event', () => {
  it('caps before the first write, so a failure between the two calls leaves nothing uncapped', async () => {
    const stub = createStubClient();
    const store = createEventStoreDBStore(stub.client, { retry: { attempts: 1, delayMs: () => 0 } });
    stub.failNext('setStreamMetadata', unavailable());
    await expect(store.writeSnapshot('account-1', snapshot(1))).rejects.toBeInstanceOf(
      EventStoreUnavailableError,
    );
    expect(stub.stream('snapshot-account-1')).toHaveLength(0);
    await store.writeSnapshot('account-1', snapshot(2));
    expect(metadataOf(stub, 'snapshot-account-1')).toEqual([{ maxCount: 1 }]);
    await expect(store.readSnapshot('account-1')).resolves.toEqual(snapshot(2));
  });

  it('caps a stream an earlier version left uncapped, on its next write', async () => {
    const stub = createStubClient();
    stub.write('checkpoint-saga', 'CheckpointStored', 3);
    const store = createEventStoreDBStore(stub.client);
    await store.storeCheckpoint('saga', 42);
    expect(metadataOf(stub, 'checkpoint-saga')).toEqual([{ maxCount: 1 }]);
    await expect(store.readCheckpoint('saga')).resolves.toBe(42);
  });

  it('writes the cap once, whatever the processes, restarts or lost replies', async () => {
    for (const throwOnAppendFailure of [true, false]) {
      const stub = createStubClient({ throwOnAppendFailure });
      const [a, b] = [createEventStoreDBStore(stub.client), createEventStoreDBStore(stub.client)];
      // The cap landed but its reply was lost: the retry finds it set.
      stub.failNext('setStreamMetadata', unavailable(), { landed: true });
      await a.storeCheckpoint('saga', 1);
      await b.storeCheckpoint('saga', 2);
      await a.storeCheckpoint('saga', 3);
      expect(metadataOf(stub, 'checkpoint-saga')).toEqual([{ maxCount: 1 }]);
      expect(stub.calls.setStreamMetadata).toBe(3);
      await expect(b.readCheckpoint('saga')).resolves.toBe(3);
    }
  });
});

describe('EventStoreDB streamPosition', () => {
  it("reads one event back from the stream's end: its commit position, 0 for no stream", async () => {
    const stub = createStubClient();
    const store = createEventStoreDBStore(stub.client);
    expect(await store.streamPosition('account-1')).toBe(0);
    stub.write('account-1', 'CashDeposited', 3);
    stub.write('account-2', 'CashDeposited');
    const newest = Number(stub.stream('account-1').at(-1)!.position.commit);
    const reads = stub.calls.readStream;
    expect(await store.streamPosition('account-1')).toBe(newest);
    expect(stub.calls.readStream - reads).toBe(1);
    expect(await store.streamPosition('account-2')).toBeGreaterThan(newest);
  });
});
