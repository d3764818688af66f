import { appendListeners } from '../../application/append-listeners.ts';
import {
  type AppendResult,
  type EventStore,
  EventStoreUnavailableError,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type RecordedEvent,
  type Snapshot,
  type SubscribeOptions,
  type Subscription,
  WrongExpectedRevisionError,
} from '../../application/ports/event-store.ts';
import { upcast } from '../../application/upcasting.ts';

const DEFAULT_BATCH_SIZE = 500;

export type InMemoryEventStore = EventStore & {
  /** The next `count` appends throw EventStoreUnavailableError and write nothing (fault tests). */
  failNextAppends(count: number): void;
};

/**
 * An event store held in process memory, for unit and property tests. Positions are 1-based
 * indexes into one global log, assigned at append time, so readers never see a gap. Every event,
 * snapshot and checkpoint is deep-copied in and out: a caller cannot change what was stored.
 */
export function createInMemoryEventStore(): InMemoryEventStore {
  const log: RecordedEvent[] = [];
  const streams = new Map<string, RecordedEvent[]>();
  const checkpoints = new Map<string, number>();
  const snapshots = new Map<string, Snapshot>();
  /** Woken on every append, then forgotten: subscriptions waiting for live events. */
  let waiters: Array<() => void> = [];
  const running = new Set<Subscription>();
  let failingAppends = 0;
  let closed = false;
  const appended = appendListeners();

  const assertOpen = () => {
    if (closed) throw new EventStoreUnavailableError('The in-memory event store is closed');
  };

  const notify = () => {
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
  };

  const lastRevision = (stream: RecordedEvent[] | undefined): number | 'no_stream' =>
    stream?.length ? stream.length - 1 : 'no_stream';

  function readAllNow({
    after,
    batchSize = DEFAULT_BATCH_SIZE,
    eventTypes,
  }: ReadAllOptions): RecordedEvent[] {
    const types = eventTypes ? new Set(eventTypes) : null;
    const batch: RecordedEvent[] = [];
    // Position p sits at index p - 1, so the first event after `after` is at index `after`.
    for (let index = Math.max(0, after); index < log.length && batch.length < batchSize; index++) {
      const event = log[index]!;
      if (types === null || types.has(event.type)) batch.push(upcast(structuredClone(event)));
    }
    return batch;
  }

  const store: InMemoryEventStore = {
    async append(streamName: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
      assertOpen();
      if (failingAppends > 0) {
        failingAppends--;
        throw new EventStoreUnavailableError('Injected append failure');
      }
      const stream = streams.get(streamName) ?? [];
      const actual = lastRevision(stream);
      if (expected !== 'any' && expected !== actual) {
        throw new WrongExpectedRevisionError(streamName, expected, actual);
      }
      for (const event of events) {
        const recorded: RecordedEvent = {
          ...structuredClone(event),
          streamName,
          revision: stream.length,
          position: log.length + 1,
        };
        stream.push(recorded);
        log.push(recorded);
      }
      if (stream.length > 0) streams.set(streamName, stream);
      const result = { nextExpectedRevision: stream.length - 1, position: log.length };
      appended.emit(streamName, events, result);
      notify();
      return result;
    },

    onAppended: appended.listen,

    async readStream(streamName, { fromRevision = 0, maxCount = Number.POSITIVE_INFINITY } = {}) {
      assertOpen();
      const stream = streams.get(streamName) ?? [];
      return structuredClone(
        stream.slice(Math.max(0, fromRevision), Math.max(0, fromRevision) + maxCount),
      ).map(upcast);
    },

    async readAll(options) {
      assertOpen();
      return readAllNow(options);
    },

    async lastPosition() {
      return store.headPosition();
    },

    async streamPosition(streamName) {
      assertOpen();
      return streams.get(streamName)?.at(-1)?.position ?? 0;
    },

    async headPosition() {
      assertOpen();
      return log.length;
    },

    subscribe({ checkpoint, after = 0, batchSize, eventTypes, handle }: SubscribeOptions): Subscription {
      let stopping = false;
      let wakeSelf = () => {};
      const loop = async () => {
        let position = (checkpoint === undefined ? undefined : checkpoints.get(checkpoint)) ?? after;
        while (!stopping) {
          assertOpen();
          const batch = readAllNow({ after: position, batchSize, eventTypes });
          if (batch.length === 0) {
            // Registered before yielding, so no append slips between the read and the wait.
            await new Promise<void>((resolve) => {
              wakeSelf = resolve;
              waiters.push(resolve);
            });
            continue;
          }
          await handle(batch);
          position = batch.at(-1)!.position;
          if (checkpoint !== undefined) checkpoints.set(checkpoint, position);
        }
      };
      const done = loop().finally(() => running.delete(subscription));
      // The owner watches `done`; an unobserved failure must not crash the process.
      done.catch(() => {});
      const subscription: Subscription = {
        async stop() {
          stopping = true;
          wakeSelf();
          await done.catch(() => {});
        },
        done,
      };
      running.add(subscription);
      return subscription;
    },

    async readCheckpoint(name) {
      assertOpen();
      return checkpoints.get(name) ?? null;
    },

    async storeCheckpoint(name, position) {
      assertOpen();
      checkpoints.set(name, position);
    },

    async readSnapshot(streamName) {
      assertOpen();
      const snapshot = snapshots.get(streamName);
      return snapshot === undefined ? null : structuredClone(snapshot);
    },

    async writeSnapshot(streamName, snapshot) {
      assertOpen();
      snapshots.set(streamName, structuredClone(snapshot));
    },

    async close() {
      if (closed) return;
      await Promise.all([...running].map((subscription) => subscription.stop()));
      closed = true;
    },

    failNextAppends(count) {
      failingAppends = count;
    },
  };
  return store;
}
