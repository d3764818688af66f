import { describe, expect, it } from 'vitest';
import { createEventStoreDBStore } from '../../src/adapters/eventstoredb/event-store.ts';
import { EventStoreUnavailableError } from '../../src/application/ports/event-store.ts';
import { waitUntil } from '../contract/event-store.contract.ts';
import { createStubClient, newEvent } from './eventstoredb-stub-client.ts';

/**
 * Issue 16 item 7. Client 6.2.1 dispose (dist/Client/index.js) cancels every gRPC call in flight;
 * grpc-js then ends the read's stream and emits CANCELLED "Cancelled on client", which
 * dist/streams/utils/ReadStream.js drops (dist/utils/isClientCancellationError.js). The read ends
 * early and quietly, and a caller would take the short result for the end of the log.
 */
function logOf1000() {
  const stub = createStubClient();
  for (let i = 0; i < 1_000; i++) stub.write(`account-${i}`, 'CashDeposited');
  return stub;
}

describe('EventStoreDB adapter: shutdown', () => {
  it('the stub, as the client: dispose ends a read in flight early and without an error', async () => {
    const stub = logOf1000();
    stub.holdReads(200);
    const read = (async () => {
      let count = 0;
      for await (const _ of stub.client.readAll({ maxCount: 500 })) count++;
      return count;
    })();
    await waitUntil(() => stub.wire.readAll === 200);
    await stub.client.dispose();
    await expect(read).resolves.toBe(200);
    expect(stub.readsInFlight()).toBe(0);
  });

  it('close waits for a read in flight, which returns whole', async () => {
    const stub = logOf1000();
    const store = createEventStoreDBStore(stub.client);
    const release = stub.holdReads(200);
    const read = store.readAll({ after: 0, batchSize: 500 });
    await waitUntil(() => stub.wire.readAll === 200);
    // The owner closes the store, then disposes the client.
    const shutdown = store.close().then(() => stub.client.dispose());
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stub.disposals()).toBe(0);
    release();
    await shutdown;
    expect(await read).toHaveLength(500);
  });

  it.each([
    ['readAll', (store: ReturnType<typeof createEventStoreDBStore>) => store.readAll({ after: 0 })],
    // Three checkpoint events sent, then cut: a short first page would read as an empty log (0).
    ['headPosition', (store: ReturnType<typeof createEventStoreDBStore>) => store.headPosition()],
    ['readStream', (store: ReturnType<typeof createEventStoreDBStore>) => store.readStream('account-big')],
  ])('a %s still running when close stops waiting fails loudly, never cut short', async (_, call) => {
    const stub = logOf1000();
    const store = createEventStoreDBStore(stub.client, { closeTimeoutMs: 50 });
    await store.append(
      'account-big',
      Array.from({ length: 10 }, () => newEvent()),
      'no_stream',
    );
    for (const name of ['saga', 'projections', 'relay']) await store.storeCheckpoint(name, 1);
    stub.holdReads(3);
    stub.resetWire();
    const read = call(store);
    read.catch(() => {});
    await waitUntil(() => stub.wire.readAll + stub.wire.readStream === 3);
    await store.close();
    await stub.client.dispose();
    await expect(read).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(read).rejects.toThrow(/closed while this read was running/);
  });

  it('a store that owns its client disposes it on close, after giving up on reads; then refuses calls', async () => {
    const stub = logOf1000();
    const store = createEventStoreDBStore(stub.client, { ownsClient: true, closeTimeoutMs: 50 });
    stub.holdReads(200);
    const read = store.readAll({ after: 0, batchSize: 500 });
    read.catch(() => {});
    await waitUntil(() => stub.wire.readAll === 200);
    await store.close();
    expect(stub.disposals()).toBe(1);
    await expect(read).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(store.readAll({ after: 0 })).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(store.append('account-x', [newEvent()], 'no_stream')).rejects.toBeInstanceOf(
      EventStoreUnavailableError,
    );
    await store.close();
    expect(stub.disposals()).toBe(1);
  });

  it('close stops subscriptions first: one stopping can still store its checkpoint', async () => {
    const stub = logOf1000();
    const store = createEventStoreDBStore(stub.client, { ownsClient: true });
    let handled = 0;
    const subscription = store.subscribe({
      checkpoint: 'saga',
      batchSize: 100,
      handle: async (events) => {
        handled += events.length;
      },
    });
    await waitUntil(() => handled === 1_000 && stub.openSubscriptions().length === 1);
    await store.close();
    await expect(subscription.done).resolves.toBeUndefined();
    expect(stub.openSubscriptions()).toHaveLength(0);
    expect(stub.disposals()).toBe(1);
  });
});
