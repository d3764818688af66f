import { TimeoutError } from '@eventstore/db-client';
import { describe, expect, it } from 'vitest';
import { createEventStoreDBStore } from '../../src/adapters/eventstoredb/event-store.ts';
import type { RecordedEvent } from '../../src/application/ports/event-store.ts';
import { waitUntil } from '../contract/event-store.contract.ts';
import { createStubClient, newEvent } from './eventstoredb-stub-client.ts';

const tooSlow = () =>
  new TimeoutError(
    undefined,
    '10 ABORTED: Operation timed out: Consumer too slow to handle event while live. Client resubscription required.',
  );

/** A store on a stub, a subscription on it with a handler that takes `handlerMs`, followed live. */
async function liveSubscription(
  options: { batchSize?: number; eventTypes?: string[]; handlerMs?: number } = {},
) {
  const stub = createStubClient();
  const store = createEventStoreDBStore(stub.client);
  const handled: RecordedEvent[] = [];
  const batches: number[] = [];
  const subscription = store.subscribe({
    checkpoint: 'saga',
    batchSize: options.batchSize ?? 10,
    ...(options.eventTypes ? { eventTypes: options.eventTypes } : {}),
    handle: async (events) => {
      batches.push(events.length);
      await new Promise((resolve) => setTimeout(resolve, options.handlerMs ?? 2));
      handled.push(...events);
    },
  });
  let failed: unknown = null;
  subscription.done.catch((error: unknown) => {
    failed = error;
  });
  await waitUntil(() => stub.openSubscriptions().length === 1);
  return { stub, store, subscription, handled, batches, failed: () => failed };
}

describe('EventStoreDB subscription, live phase', () => {
  it('takes a burst of writes in batches, one checkpoint per batch, and is never dropped as too slow', async () => {
    const { stub, store, subscription, handled, batches, failed } = await liveSubscription({
      batchSize: 100,
    });
    const appended = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        store.append(`transfer-${i}`, [newEvent('TransferRequested')], 'no_stream'),
      ),
    );
    await waitUntil(() => handled.length >= 300);
    expect(handled.map((event) => event.position)).toEqual(appended.map((result) => result.position));
    expect(Math.max(...batches)).toBeGreaterThan(1);
    expect(Math.max(...batches)).toBeLessThanOrEqual(100);
    expect(stub.calls.subscribeToAll).toBe(1);
    expect(stub.stream('checkpoint-saga').length).toBe(batches.length);
    await expect(store.readCheckpoint('saga')).resolves.toBe(appended.at(-1)!.position);
    expect(failed()).toBeNull();
    await subscription.stop();
    await expect(subscription.done).resolves.toBeUndefined();
  });

  it('when the server drops it as too slow, catches up from its checkpoint and follows again, without failing', async () => {
    const { stub, store, subscription, handled, failed } = await liveSubscription();
    await store.append('transfer-a', [newEvent('TransferRequested')], 'no_stream');
    await waitUntil(() => handled.length === 1);
    stub.dropLive(tooSlow());
    await store.append('transfer-b', [newEvent('TransferRequested')], 'no_stream');
    await waitUntil(() => handled.length === 2 && stub.openSubscriptions().length === 1);
    await store.append('transfer-c', [newEvent('TransferRequested')], 'no_stream');
    await waitUntil(() => handled.length === 3);
    expect(handled.map((event) => event.streamName)).toEqual(['transfer-a', 'transfer-b', 'transfer-c']);
    expect(stub.calls.subscribeToAll).toBe(2);
    expect(failed()).toBeNull();
    await subscription.stop();
  });

  it('when its own queue outgrows a few batches, goes back to reading and loses nothing', async () => {
    const { stub, store, subscription, handled, failed } = await liveSubscription({
      batchSize: 5,
      handlerMs: 20,
    });
    for (let i = 0; i < 200; i++)
      await store.append(`transfer-${i}`, [newEvent('TransferRequested')], 'no_stream');
    await waitUntil(() => handled.length >= 200, 20_000);
    expect(new Set(handled.map((event) => event.id)).size).toBe(200);
    expect(handled).toHaveLength(200);
    expect(stub.calls.subscribeToAll).toBeGreaterThan(1);
    expect(failed()).toBeNull();
    await subscription.stop();
  });

  it('filters on the server by event type, and moves its checkpoint on the server’s checkpoints', async () => {
    const { stub, store, subscription, handled } = await liveSubscription({
      eventTypes: ['TransferRequested'],
    });
    stub.resetWire();
    stub.write('account-1', 'CashDeposited', 2_100);
    await store.append('transfer-1', [newEvent('TransferRequested')], 'no_stream');
    await waitUntil(() => handled.length === 1);
    expect(stub.wire.subscribeToAll).toBe(1);
    expect(stub.wire.readAll).toBe(0);
    expect(stub.stream('checkpoint-saga').length).toBeGreaterThanOrEqual(3);
    await subscription.stop();
  });

  it('ends on another server error, as unavailable', async () => {
    const { stub, subscription } = await liveSubscription();
    const { UnavailableError } = await import('@eventstore/db-client');
    stub.dropLive(new UnavailableError(undefined, '14 UNAVAILABLE: Connection dropped'));
    await expect(subscription.done).rejects.toMatchObject({ name: 'EventStoreUnavailableError' });
  });
});
