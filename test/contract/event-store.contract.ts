import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type EventStore,
  type NewEvent,
  type RecordedEvent,
  WrongExpectedRevisionError,
} from '../../src/application/ports/event-store.ts';

export type StoreFactory = () => Promise<{ store: EventStore; teardown: () => Promise<void> }>;

const newEvent = (type: string, data: Record<string, unknown> = {}): NewEvent => ({
  id: randomUUID(),
  type,
  data,
  metadata: {
    correlationId: randomUUID(),
    causationId: randomUUID(),
    occurredAt: new Date().toISOString(),
    schemaVersion: 1,
    principal: 'tester',
  },
});

/** A fresh stream name per test: a shared log (EventStoreDB's $all) may hold other streams. */
const streamName = (kind = 'contract') => `${kind}-${randomUUID()}`;

/** Polls `condition` every 10 ms; fails after `timeoutMs`. */
export const waitUntil = async (condition: () => boolean | Promise<boolean>, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('Timed out waiting for the condition');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/**
 * Reads the whole log after `after`, keeping only the given streams, until `count` of their events
 * are visible: a store may hold back a committed event while an older transaction is in flight
 * (on PostgreSQL, any transaction on the cluster), so "readable at once after append" is not promised.
 */
const readAllOf = async (store: EventStore, after: number, streams: Set<string>, count: number) => {
  let seen: RecordedEvent[] = [];
  await waitUntil(async () => {
    seen = [];
    for (let position = after; ; ) {
      const batch = await store.readAll({ after: position, batchSize: 100 });
      if (batch.length === 0) return seen.length >= count;
      seen.push(...batch.filter((event) => streams.has(event.streamName)));
      position = batch[batch.length - 1]!.position;
    }
  });
  return seen;
};

/**
 * The behaviour every EventStore adapter promises (SPEC §4). Each adapter's test file calls this
 * with a factory for a fresh store. `heavy` adds the concurrent-writers test.
 */
export function eventStoreContract(
  name: string,
  factory: StoreFactory,
  options: { heavy?: boolean } = {},
): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let teardown: () => Promise<void>;

    beforeEach(async () => {
      ({ store, teardown } = await factory());
    });
    afterEach(async () => {
      await teardown();
    });

    describe('append and readStream', () => {
      it('round-trips events with their metadata, revisions and increasing positions', async () => {
        const stream = streamName();
        const events = [
          newEvent('Opened', { owner: 'a', amount: 100 }),
          newEvent('Deposited', { amount: 5 }),
        ];
        const result = await store.append(stream, events, 'no_stream');
        expect(result.nextExpectedRevision).toBe(1);

        const read = await store.readStream(stream);
        expect(read.map((e) => [e.id, e.type, e.data, e.metadata, e.revision, e.streamName])).toEqual(
          events.map((e, i) => [e.id, e.type, e.data, e.metadata, i, stream]),
        );
        expect(read[1]!.position).toBe(result.position);
        expect(read[0]!.position).toBeLessThan(read[1]!.position);
      });

      it("tells the position of a stream's newest event, not the log's (0 for no stream)", async () => {
        const [stream, other] = [streamName(), streamName()];
        expect(await store.streamPosition(stream)).toBe(0);
        await store.append(stream, [newEvent('N', { n: 1 })], 'no_stream');
        const newest = await store.append(stream, [newEvent('N', { n: 2 }), newEvent('N', { n: 3 })], 0);
        const elsewhere = await store.append(other, [newEvent('N', { n: 4 })], 'no_stream');
        expect(await store.streamPosition(stream)).toBe(newest.position);
        expect(await store.streamPosition(other)).toBe(elsewhere.position);
        expect(newest.position).toBeLessThan(elsewhere.position);
      });

      it('returns an empty list for a stream that does not exist', async () => {
        expect(await store.readStream(streamName())).toEqual([]);
      });

      it('reads from a revision and at most maxCount events', async () => {
        const stream = streamName();
        await store.append(
          stream,
          [1, 2, 3, 4, 5].map((n) => newEvent('N', { n })),
          'no_stream',
        );
        const read = await store.readStream(stream, { fromRevision: 2, maxCount: 2 });
        expect(read.map((e) => [e.revision, e.data.n])).toEqual([
          [2, 3],
          [3, 4],
        ]);
      });

      it('checks the expected revision: no_stream, a number and any', async () => {
        const stream = streamName();
        await store.append(stream, [newEvent('A')], 'no_stream');
        await expect(store.append(stream, [newEvent('B')], 'no_stream')).rejects.toBeInstanceOf(
          WrongExpectedRevisionError,
        );
        await expect(store.append(stream, [newEvent('B')], 5)).rejects.toBeInstanceOf(
          WrongExpectedRevisionError,
        );
        await expect(store.append(streamName(), [newEvent('B')], 0)).rejects.toBeInstanceOf(
          WrongExpectedRevisionError,
        );
        expect((await store.append(stream, [newEvent('B')], 0)).nextExpectedRevision).toBe(1);
        expect((await store.append(stream, [newEvent('C')], 'any')).nextExpectedRevision).toBe(2);
        expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['A', 'B', 'C']);
      });

      it('lets exactly one of two appends with the same expected revision win', async () => {
        const stream = streamName();
        await store.append(stream, [newEvent('A')], 'no_stream');
        const results = await Promise.allSettled([
          store.append(stream, [newEvent('B1')], 0),
          store.append(stream, [newEvent('B2')], 0),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedRevisionError);
        expect(await store.readStream(stream)).toHaveLength(2);
      });
    });

    it('appends every one of many concurrent appends with `any`, each at its own revision', async () => {
      const stream = streamName();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, n) => store.append(stream, [newEvent('Any', { n })], 'any')),
      );
      expect(results.map((r) => r.nextExpectedRevision).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 10 }, (_, i) => i),
      );
      const read = await store.readStream(stream);
      expect(read.map((e) => e.revision)).toEqual(Array.from({ length: 10 }, (_, i) => i));
      expect(new Set(read.map((e) => e.data.n)).size).toBe(10);
    });

    it('tells its own appends as the log records them (streams, revisions, positions), when the adapter can', async () => {
      if (!store.onAppended) return;
      const told: RecordedEvent[] = [];
      const stop = store.onAppended((events) => told.push(...events));
      const streams = Array.from({ length: 8 }, () => streamName());
      // Concurrent appends of one to three events each, gathered into shared statements where the store does.
      await Promise.all(
        streams.map((stream, n) =>
          store.append(
            stream,
            Array.from({ length: 1 + (n % 3) }, (_, k) => newEvent('Told', { n, k })),
            'any',
          ),
        ),
      );
      await store.append(streams[0]!, [newEvent('Told', { again: true })], 0);
      stop();
      await store.append(streams[1]!, [newEvent('NotTold')], 'any');
      const logged = await readAllOf(store, 0, new Set(streams), told.length + 1);
      const byId = new Map(logged.map((event) => [event.id, event]));
      expect(told).toHaveLength(1 + 2 + 3 + 1 + 2 + 3 + 1 + 2 + 1);
      for (const event of told) {
        const { streamName: stream, revision, position, type, data } = byId.get(event.id)!;
        expect({ streamName: stream, revision, position, type, data }).toEqual({
          streamName: event.streamName,
          revision: event.revision,
          position: event.position,
          type: event.type,
          data: event.data,
        });
      }
      expect(told.some((event) => event.type === 'NotTold')).toBe(false);
    });

    it('lists stream names by prefix, when the adapter can', async () => {
      if (!store.listStreams) return;
      const kind = `list${randomUUID().slice(0, 8)}`;
      const streams = [streamName(kind), streamName(kind)].sort();
      for (const stream of streams) await store.append(stream, [newEvent('A'), newEvent('B')], 'no_stream');
      await store.append(streamName(), [newEvent('Other')], 'no_stream');
      expect(await store.listStreams(`${kind}-`)).toEqual(streams);
    });

    describe('the global log', () => {
      it('reads all events after a position in batches, in order, with an event-type filter', async () => {
        const start = await store.headPosition();
        const a = streamName();
        const b = streamName();
        await store.append(a, [newEvent('X', { n: 1 }), newEvent('Y', { n: 2 })], 'no_stream');
        await store.append(b, [newEvent('X', { n: 3 })], 'no_stream');
        await store.append(a, [newEvent('Y', { n: 4 })], 1);

        const all = await readAllOf(store, start, new Set([a, b]), 4);
        expect(all.map((e) => e.data.n)).toEqual([1, 2, 3, 4]);
        const positions = all.map((e) => e.position);
        expect(positions).toEqual([...positions].sort((x, y) => x - y));
        expect(await store.headPosition()).toBeGreaterThanOrEqual(positions[3]!);
        expect(await store.lastPosition()).toBeGreaterThanOrEqual(positions[3]!);

        const firstTwo = await store.readAll({ after: start, batchSize: 2 });
        expect(firstTwo).toHaveLength(2);
        const onlyX = (await store.readAll({ after: start, eventTypes: ['X'] })).filter((e) =>
          [a, b].includes(e.streamName),
        );
        expect(onlyX.map((e) => e.data.n)).toEqual([1, 3]);
      });
    });

    describe('subscriptions', () => {
      it('catch up with the past, then follow new events live', async () => {
        const stream = streamName();
        const start = await store.headPosition();
        await store.append(stream, [newEvent('Past')], 'no_stream');
        const seen: RecordedEvent[] = [];
        const subscription = store.subscribe({
          after: start,
          handle: async (events) => {
            seen.push(...events.filter((e) => e.streamName === stream));
          },
        });
        await waitUntil(() => seen.length === 1);
        await store.append(stream, [newEvent('Live1'), newEvent('Live2')], 0);
        await waitUntil(() => seen.length === 3);
        await subscription.stop();
        await subscription.done;
        expect(seen.map((e) => e.type)).toEqual(['Past', 'Live1', 'Live2']);
      });

      it('resume from a durable checkpoint without redelivering or skipping', async () => {
        const stream = streamName();
        const checkpoint = `contract-${randomUUID()}`;
        await store.storeCheckpoint(checkpoint, await store.headPosition());
        await store.append(stream, [newEvent('One'), newEvent('Two')], 'no_stream');

        const seen: string[] = [];
        const handle = async (events: RecordedEvent[]) => {
          seen.push(...events.filter((e) => e.streamName === stream).map((e) => e.type));
        };
        const first = store.subscribe({ checkpoint, handle });
        await waitUntil(() => seen.length === 2);
        await first.stop();

        await store.append(stream, [newEvent('Three')], 1);
        const second = store.subscribe({ checkpoint, handle });
        await waitUntil(() => seen.length === 3);
        await second.stop();
        expect(seen).toEqual(['One', 'Two', 'Three']);
        expect(await store.readCheckpoint(checkpoint)).toBe((await store.readStream(stream))[2]!.position);
      });

      it('stop after the batch in hand: its handler finishes, its checkpoint is stored, nothing follows', async () => {
        const stream = streamName();
        const checkpoint = `contract-${randomUUID()}`;
        await store.storeCheckpoint(checkpoint, await store.headPosition());
        for (let i = 0; i < 3; i++) {
          await store.append(stream, [newEvent(`E${i}`)], i === 0 ? 'no_stream' : i - 1);
        }
        let release!: () => void;
        const released = new Promise<void>((resolve) => {
          release = resolve;
        });
        const handled: string[] = [];
        let calls = 0;
        const subscription = store.subscribe({
          checkpoint,
          batchSize: 1,
          handle: async (events) => {
            calls++;
            await released;
            handled.push(...events.filter((e) => e.streamName === stream).map((e) => e.type));
          },
        });
        await waitUntil(() => calls === 1);
        let stopped = false;
        const stopping = subscription.stop().then(() => {
          stopped = true;
        });
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(stopped).toBe(false);
        release();
        await stopping;
        await subscription.done;
        expect(calls).toBe(1);
        expect(handled).toEqual(['E0']);
        expect(await store.readCheckpoint(checkpoint)).toBe((await store.readStream(stream))[0]!.position);
      });

      it('end with the handler error in `done`', async () => {
        await store.append(streamName(), [newEvent('Boom')], 'no_stream');
        const subscription = store.subscribe({
          after: 0,
          handle: async () => {
            throw new Error('handler failed');
          },
        });
        await expect(subscription.done).rejects.toThrow('handler failed');
      });

      it('have no checkpoint until one is stored', async () => {
        expect(await store.readCheckpoint(`never-${randomUUID()}`)).toBeNull();
      });
    });

    describe('snapshots', () => {
      it('keep the latest snapshot of a stream', async () => {
        const stream = streamName();
        expect(await store.readSnapshot(stream)).toBeNull();
        await store.writeSnapshot(stream, { revision: 9, schemaVersion: 1, state: { available: 10 } });
        await store.writeSnapshot(stream, { revision: 19, schemaVersion: 2, state: { available: 20 } });
        expect(await store.readSnapshot(stream)).toEqual({
          revision: 19,
          schemaVersion: 2,
          state: { available: 20 },
        });
      });
    });

    if (options.heavy) {
      it('lets a reader following the log see every event of 8 concurrent writers exactly once, in order', async () => {
        const writers = 8;
        const appendsPerWriter = 500;
        const start = await store.headPosition();
        const streams = Array.from({ length: writers }, () => streamName('heavy'));
        const wanted = new Set(streams);
        const seen: RecordedEvent[] = [];
        let writing = true;

        const reader = (async () => {
          let after = start;
          // Bounded: stops once every event arrived or well after the writers finished.
          for (let idle = 0; idle < 500; ) {
            const batch = await store.readAll({ after, batchSize: 250 });
            if (batch.length === 0) {
              if (!writing && seen.length === writers * appendsPerWriter) return;
              if (!writing) idle++;
              await new Promise((resolve) => setTimeout(resolve, 5));
              continue;
            }
            for (const event of batch) {
              expect(event.position).toBeGreaterThan(after);
              after = event.position;
              if (wanted.has(event.streamName)) seen.push(event);
            }
          }
        })();

        await Promise.all(
          streams.map(async (stream) => {
            for (let i = 0; i < appendsPerWriter; i++) {
              await store.append(stream, [newEvent('Tick', { i })], i === 0 ? 'no_stream' : i - 1);
            }
          }),
        );
        writing = false;
        await reader;

        expect(seen).toHaveLength(writers * appendsPerWriter);
        expect(new Set(seen.map((e) => e.id)).size).toBe(writers * appendsPerWriter);
        for (const stream of streams) {
          const revisions = seen.filter((e) => e.streamName === stream).map((e) => e.revision);
          expect(revisions).toEqual(Array.from({ length: appendsPerWriter }, (_, i) => i));
        }
      });
    }
  });
}
