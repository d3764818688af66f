import { afterEach, describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../../src/adapters/memory/event-store.ts';
import { createInMemoryPartitionLeases } from '../../src/adapters/memory/partition-leases.ts';
import { partitionOf, startPartitionedProcessor } from '../../src/application/partitioned-processor.ts';
import {
  type EventStore,
  EventStoreUnavailableError,
  type RecordedEvent,
} from '../../src/application/ports/event-store.ts';
import { silentLogger } from '../../src/application/ports/logger.ts';
import type { PartitionLeases } from '../../src/application/ports/partition-leases.ts';
import type { Fence } from '../../src/application/processor.ts';

const PARTITIONS = 8;
const TIMING = { leaseMs: 400, renewMs: 50 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise that stays pending until `open()`. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** `count` events, keyed `key-0` … `key-{keys-1}` in turn, appended one stream per key. */
async function appendKeyed(store: EventStore, count: number, keys = 40, from = 0) {
  for (let i = from; i < from + count; i++) {
    const key = `key-${i % keys}`;
    await store.append(
      `thing-${key}`,
      [
        {
          id: crypto.randomUUID(),
          type: 'Happened',
          data: { key, n: i },
          metadata: {
            correlationId: key,
            causationId: key,
            occurredAt: new Date(0).toISOString(),
            schemaVersion: 1,
          },
        },
      ],
      'any',
    );
  }
}

describe('partitioned processor', () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
  });

  /** One instance: what it handled, in order, and the processor. `leases` may be wrapped (a dying instance). */
  const instance = (
    store: EventStore,
    leases: PartitionLeases,
    owner: string,
    handle?: (events: RecordedEvent[], fence: Fence) => Promise<void>,
  ) => {
    const handled: RecordedEvent[] = [];
    /** Event ids shown to `observe`; each handled event is checked to have been shown first. */
    const observed = new Set<string>();
    let handledUnseen = 0;
    const processor = startPartitionedProcessor({
      name: 'things',
      partitions: PARTITIONS,
      store,
      leases,
      owner,
      logger: silentLogger,
      eventTypes: ['Happened'],
      keyOf: (event) => String(event.data.key),
      handle: async (events, fence) => {
        handledUnseen += events.filter((event) => !observed.has(event.id)).length;
        await handle?.(events, fence);
        handled.push(...events);
      },
      observe: (events) => {
        for (const event of events) observed.add(event.id);
      },
      timing: TIMING,
    });
    stops.push(() => processor.stop());
    return { handled, observed, processor, handledUnseen: () => handledUnseen };
  };

  const expectInKeyOrder = (events: RecordedEvent[]) => {
    const last = new Map<string, number>();
    for (const event of events) {
      const key = String(event.data.key);
      expect(event.data.n as number).toBeGreaterThan(last.get(key) ?? -1);
      last.set(key, event.data.n as number);
    }
  };

  it('splits the partitions among instances: each event handled once, each key in order, by its partition owner', async () => {
    const store = createInMemoryEventStore();
    const leases = createInMemoryPartitionLeases();
    const [a, b, c] = ['a', 'b', 'c'].map((owner) => instance(store, leases, owner));
    await expect
      .poll(() => [a, b, c].map((i) => i!.processor.status().held.length).sort(), { timeout: 5_000 })
      .toEqual([2, 3, 3]);
    await appendKeyed(store, 400);
    await expect.poll(() => a!.handled.length + b!.handled.length + c!.handled.length).toBe(400);
    const all = [a!, b!, c!].flatMap((i) => i.handled);
    expect(new Set(all.map((event) => event.id)).size).toBe(400);
    for (const i of [a!, b!, c!]) {
      expect(i.handled.length).toBeGreaterThan(0);
      expectInKeyOrder(i.handled);
      const held = new Set(i.processor.status().held);
      for (const event of i.handled)
        expect(held.has(partitionOf(String(event.data.key), PARTITIONS))).toBe(true);
    }
  });

  it('shows each instance every event of every partition, each before it is handled', async () => {
    const store = createInMemoryEventStore();
    const leases = createInMemoryPartitionLeases();
    // Appended by another process: met by the readers only (not handed over as their own appends).
    const { onAppended: _, ...elsewhere } = store;
    const [a, b] = ['a', 'b'].map((owner) => instance(elsewhere, leases, owner));
    await expect
      .poll(() => [a, b].map((i) => i!.processor.status().held.length), { timeout: 5_000 })
      .toEqual([4, 4]);
    await appendKeyed(store, 200);
    await expect.poll(() => a!.handled.length + b!.handled.length).toBe(200);
    await expect.poll(() => [a!.observed.size, b!.observed.size]).toEqual([200, 200]);
    expect(a!.handled.length).toBeLessThan(200);
    expect([a!.handledUnseen(), b!.handledUnseen()]).toEqual([0, 0]);
  });

  it("takes over a dead instance's partitions once its leases run out, from their checkpoints", async () => {
    const store = createInMemoryEventStore();
    const leases = createInMemoryPartitionLeases();
    let dead = false;
    // A dead (or cut off) instance's calls never reach the database: its leases are left to run
    // out, nothing is given back.
    const unreachable = () => Promise.reject(new EventStoreUnavailableError('cut off'));
    const dying: PartitionLeases = {
      acquire: (...args) => (dead ? unreachable() : leases.acquire(...args)),
      commit: (...args) => (dead ? unreachable() : leases.commit(...args)),
      release: async () => {},
    };
    const a = instance(store, dying, 'a');
    const b = instance(store, leases, 'b');
    await expect.poll(() => b.processor.status().held.length, { timeout: 5_000 }).toBe(PARTITIONS / 2);
    await appendKeyed(store, 100);
    await expect.poll(() => a.handled.length + b.handled.length).toBe(100);
    await sleep(200); // past the checkpoint writes of what `a` handled
    dead = true;
    const diedAt = Date.now();
    await expect.poll(() => b.processor.status().held.length, { timeout: 5_000 }).toBe(PARTITIONS);
    expect(Date.now() - diedAt).toBeLessThan(TIMING.leaseMs + 5 * TIMING.renewMs + 500);
    const handledByA = a.handled.length;
    await appendKeyed(store, 100, 40, 100);
    const ids = () => new Set([...a.handled, ...b.handled].map((event) => event.id));
    await expect.poll(() => ids().size, { timeout: 5_000 }).toBe(200);
    expect(a.handled.length).toBe(handledByA);
    // `a` wrote its checkpoints before it was cut off: `b` starts from them and handles nothing again.
    const byA = new Set(a.handled.map((event) => event.id));
    expect(b.handled.filter((event) => byA.has(event.id))).toEqual([]);
    expect(b.handled.filter((event) => (event.data.n as number) >= 100)).toHaveLength(100);
  });

  it('fences a paused instance: woken past its lease it applies nothing, and another instance handles its events', async () => {
    const store = createInMemoryEventStore();
    const leases = createInMemoryPartitionLeases();
    const { opened: paused, open: release } = gate();
    let appliedAfterPause = 0;
    let fencedOff = 0;
    // The first batch `a` gets stalls (a SIGSTOP, a long GC) until well past its lease, then tries to go on.
    const a = instance(store, leases, 'a', async (_events, fence) => {
      await paused;
      try {
        fence.assert();
        appliedAfterPause++;
      } catch (error) {
        fencedOff++;
        throw error;
      }
    });
    await expect.poll(() => a.processor.status().held.length, { timeout: 5_000 }).toBe(PARTITIONS);
    await appendKeyed(store, 50);
    await sleep(50); // `a` is stuck in its first batch now
    const b = instance(store, leases, 'b');
    await expect.poll(() => b.handled.length, { timeout: 5_000 }).toBe(50);
    release();
    await expect.poll(() => fencedOff).toBeGreaterThan(0);
    expect(appliedAfterPause).toBe(0);
    expect(a.handled).toEqual([]);
    await sleep(3 * TIMING.renewMs);
    // The stale owner's checkpoint writes were refused: `b` holds the partitions at the log's end.
    expect(b.processor.status().held.length).toBeGreaterThan(0);
    expect(new Set(b.handled.map((event) => event.id)).size).toBe(50);
  });

  it('restarts from its checkpoints after a failure while the reader waits for room (more than MAX_IN_FLIGHT in hand)', async () => {
    const store = createInMemoryEventStore();
    const leases = createInMemoryPartitionLeases();
    // One key: its events are handled one after another, so the reader soon has 1,000 in hand.
    await appendKeyed(store, 1_000, 1);
    let failOnce = true;
    const a = instance(store, leases, 'a', async (events) => {
      if (failOnce && events[0]!.data.n === 0) {
        failOnce = false;
        await sleep(20); // the reader is waiting for room by now
        throw new Error('a handler failed');
      }
    });
    await expect.poll(() => new Set(a.handled.map((event) => event.id)).size, { timeout: 5_000 }).toBe(1_000);
    expectInKeyOrder(a.handled);
  });

  /** The store, with its subscriptions' batches held back until `open()`: what is handled meanwhile came from onAppended. */
  const withReaderHeldBack = (store: EventStore) => {
    const { opened, open } = gate();
    const held: EventStore = {
      ...store,
      subscribe: (options) =>
        store.subscribe({
          ...options,
          handle: async (events) => {
            await opened;
            await options.handle(events);
          },
        }),
    };
    return { store: held, open };
  };

  it("handles this process's own appends before its reader reads them, once, and its checkpoints pass them", async () => {
    const base = createInMemoryEventStore();
    const { store, open } = withReaderHeldBack(base);
    const leases = createInMemoryPartitionLeases();
    const a = instance(store, leases, 'a');
    await expect.poll(() => a.processor.status().held.length, { timeout: 5_000 }).toBe(PARTITIONS);
    await appendKeyed(store, 60, 5);
    // The reader has delivered nothing: every event came from the append itself, in key order.
    await expect.poll(() => a.handled.length).toBe(60);
    expectInKeyOrder(a.handled);
    open();
    await sleep(300); // the reader meets all 60, and the checkpoints are written
    expect(a.handled).toHaveLength(60);
    await a.processor.stop();
    // Another instance starts from the checkpoints: it has nothing left to handle.
    const b = instance(base, leases, 'b');
    await expect.poll(() => b.processor.status().held.length, { timeout: 5_000 }).toBe(PARTITIONS);
    await appendKeyed(base, 1, 5, 60);
    await expect.poll(() => b.handled.map((event) => event.data.n)).toEqual([60]);
  });

  it('redelivers an event whose early handling failed, from the checkpoints', async () => {
    const { store, open } = withReaderHeldBack(createInMemoryEventStore());
    const leases = createInMemoryPartitionLeases();
    let failures = 0;
    const a = instance(store, leases, 'a', async (events) => {
      if (events[0]!.data.n === 3 && failures++ === 0) throw new Error('a handler failed');
    });
    await expect.poll(() => a.processor.status().held.length, { timeout: 5_000 }).toBe(PARTITIONS);
    await appendKeyed(store, 10, 1);
    await expect.poll(() => failures).toBe(1); // handed over by the append, before any read
    open();
    await expect.poll(() => a.handled.map((event) => event.data.n), { timeout: 5_000 }).toContain(9);
    expect(failures).toBe(2);
    // Each event handled, each key in order: the events after the failure came again from the log.
    expect(new Set(a.handled.map((event) => event.data.n))).toEqual(
      new Set(Array.from({ length: 10 }, (_, n) => n)),
    );
    expectInKeyOrder(a.handled.filter((event, i, all) => all.findIndex((e) => e.id === event.id) === i));
  });

  it('is quiet once nothing is in hand; while the events of many keys are, at once', async () => {
    const store = createInMemoryEventStore();
    const leases = createInMemoryPartitionLeases();
    const { opened: stuck, open: release } = gate();
    const a = instance(store, leases, 'a', () => stuck);
    await expect.poll(() => a.processor.status().held.length, { timeout: 5_000 }).toBe(PARTITIONS);
    const settled = (promise: Promise<void>) =>
      Promise.race([promise.then(() => true), sleep(100).then(() => false)]);
    expect(await settled(a.processor.quiet(5_000))).toBe(true);
    await appendKeyed(store, 1, 1);
    const quiet = a.processor.quiet(5_000);
    expect(await settled(quiet)).toBe(false);
    await appendKeyed(store, 9, 10, 1); // ten keys in hand: under load nothing waits
    expect(await settled(a.processor.quiet(5_000))).toBe(true);
    release();
    expect(await settled(quiet)).toBe(true);
  });

  it('reports how long its oldest event in hand has waited (a step that does not settle shows)', async () => {
    const store = createInMemoryEventStore();
    const leases = createInMemoryPartitionLeases();
    const { opened: stuck, open: release } = gate();
    const a = instance(store, leases, 'a', (events) => (events[0]!.data.n === 0 ? stuck : Promise.resolve()));
    await expect.poll(() => a.processor.status().held.length, { timeout: 5_000 }).toBe(PARTITIONS);
    expect(a.processor.status().oldestInHandMs).toBe(0);
    await appendKeyed(store, 3);
    await sleep(300);
    expect(a.processor.status().oldestInHandMs).toBeGreaterThanOrEqual(250);
    release();
    await expect.poll(() => a.handled.length).toBe(3);
    expect(a.processor.status().oldestInHandMs).toBe(0);
  });
});
