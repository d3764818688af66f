import { describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../../src/adapters/memory/event-store.ts';
import {
  EventStoreUnavailableError,
  type NewEvent,
  type RecordedEvent,
  WrongExpectedRevisionError,
} from '../../src/application/ports/event-store.ts';
import { eventStoreContract } from '../contract/event-store.contract.ts';

let ids = 0;
const newEvent = (type = 'CashDeposited', amount = 1): NewEvent => ({
  id: `e-${++ids}`,
  type,
  data: { amount, nested: { tags: ['a'] } },
  metadata: {
    correlationId: 'c',
    causationId: 'c',
    occurredAt: '2030-01-01T00:00:00.000Z',
    schemaVersion: 1,
  },
});

eventStoreContract(
  'memory',
  async () => {
    const store = createInMemoryEventStore();
    return { store, teardown: () => store.close() };
  },
  { heavy: true },
);

describe('in-memory event store, beyond the contract', () => {
  it('keeps its own copies: callers cannot change the log through what they passed or read', async () => {
    const store = createInMemoryEventStore();
    const event = newEvent();
    await store.append('account-1', [event], 'no_stream');
    (event.data.nested as { tags: string[] }).tags.push('mutated-after-append');

    const [read] = await store.readStream('account-1');
    (read!.data.nested as { tags: string[] }).tags.push('mutated-after-read');
    read!.data.amount = 999;
    const [fromLog] = await store.readAll({ after: 0 });
    (fromLog!.metadata as { correlationId: string }).correlationId = 'changed';

    const [again] = await store.readStream('account-1');
    expect(again!.data).toEqual({ amount: 1, nested: { tags: ['a'] } });
    expect(again!.metadata.correlationId).toBe('c');

    const snapshot = { revision: 0, schemaVersion: 1, state: { available: 1 } };
    await store.writeSnapshot('account-1', snapshot);
    snapshot.state.available = 2;
    const stored = await store.readSnapshot('account-1');
    (stored!.state as { available: number }).available = 3;
    expect(await store.readSnapshot('account-1')).toEqual({
      revision: 0,
      schemaVersion: 1,
      state: { available: 1 },
    });
  });

  it('fails the next appends on request, writing nothing, then recovers', async () => {
    const store = createInMemoryEventStore();
    store.failNextAppends(2);
    await expect(store.append('account-1', [newEvent()], 'no_stream')).rejects.toBeInstanceOf(
      EventStoreUnavailableError,
    );
    await expect(store.append('account-1', [newEvent()], 'any')).rejects.toBeInstanceOf(
      EventStoreUnavailableError,
    );
    expect(await store.headPosition()).toBe(0);
    expect(await store.append('account-1', [newEvent()], 'no_stream')).toEqual({
      nextExpectedRevision: 0,
      position: 1,
    });
    await expect(store.append('account-1', [newEvent()], 'no_stream')).rejects.toBeInstanceOf(
      WrongExpectedRevisionError,
    );
  });

  it('delivers live events to a subscription and resumes after its checkpoint', async () => {
    const store = createInMemoryEventStore();
    await store.append('account-1', [newEvent(), newEvent('CashWithdrawn')], 'no_stream');
    const seen: RecordedEvent[] = [];
    let arrived = () => {};
    const twoArrived = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const subscription = store.subscribe({
      checkpoint: 'test',
      eventTypes: ['CashDeposited'],
      handle: async (events) => {
        seen.push(...events);
        if (seen.length === 2) arrived();
      },
    });
    await store.append('account-2', [newEvent('CashDeposited', 7)], 'no_stream');
    await twoArrived;
    await subscription.stop();
    await expect(subscription.done).resolves.toBeUndefined();
    expect(seen.map((event) => [event.streamName, event.position])).toEqual([
      ['account-1', 1],
      ['account-2', 3],
    ]);
    expect(await store.readCheckpoint('test')).toBe(3);

    await store.append('account-3', [newEvent('CashDeposited', 9)], 'no_stream');
    let firstBatch = (_events: RecordedEvent[]) => {};
    const resumed = new Promise<RecordedEvent[]>((resolve) => {
      firstBatch = resolve;
    });
    const again = store.subscribe({ checkpoint: 'test', handle: async (events) => firstBatch(events) });
    expect((await resumed).map((event) => event.position)).toEqual([4]);
    await again.stop();
  });

  it('ends a subscription whose handler throws, with that error', async () => {
    const store = createInMemoryEventStore();
    await store.append('account-1', [newEvent()], 'no_stream');
    const failure = new Error('handler failed');
    const subscription = store.subscribe({
      checkpoint: 'failing',
      handle: async () => {
        throw failure;
      },
    });
    await expect(subscription.done).rejects.toBe(failure);
    expect(await store.readCheckpoint('failing')).toBeNull();
  });

  it('stops its subscriptions on close and refuses work afterwards', async () => {
    const store = createInMemoryEventStore();
    const subscription = store.subscribe({ handle: async () => {} });
    await store.close();
    await expect(subscription.done).resolves.toBeUndefined();
    await expect(store.readAll({ after: 0 })).rejects.toBeInstanceOf(EventStoreUnavailableError);
  });
});
