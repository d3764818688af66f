import { Readable } from 'node:stream';
import {
  type AppendExpectedRevision,
  type AppendResult,
  type EventData,
  type EventStoreDBClient,
  type Filter,
  type Position,
  StreamNotFoundError,
  TimeoutError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import type { NewEvent } from '../../src/application/ports/event-store.ts';
import { currentVersion } from '../../src/application/upcasting.ts';

/**
 * An in-memory stand-in for `EventStoreDBClient` 6.2.1, written to what its sources say the client
 * and server do: reads from a position include the event at it; `$all` holds system events;
 * a filtered subscription applies its filter on the server and reports a checkpoint every
 * `checkpointInterval × maxSearchWindow (32)` events it considered; a live subscriber whose buffer
 * holds 32 undelivered events is dropped with TimeoutError "Consumer too slow" (server oss-v23.10
 * Enumerators.cs, Enumerators.AllSubscriptionFiltered.cs, SubscriptionsService.cs); appends are
 * checked against the expected revision and the same ids at the same revision are taken as the
 * same write (idempotent append). `wire` counts the events each call hands to the adapter.
 *
 * `dispose()` ends the reads in flight as client 6.2.1 does: Client/index.js dispose cancels every
 * gRPC call, grpc-js ends the cancelled stream and emits CANCELLED "Cancelled on client", and
 * streams/utils/ReadStream.js drops that error (utils/isClientCancellationError.js): the read just
 * ends, early and without an error. `holdReads` keeps reads in flight until released.
 */

type Stored = {
  id: string;
  type: string;
  streamId: string;
  revision: bigint;
  data: unknown;
  metadata: unknown;
  position: Position;
};

type Op = 'appendToStream' | 'readStream' | 'readAll' | 'setStreamMetadata';
type Fault = { op: Op; error: Error; landed: boolean };

/** The server's live buffer per subscription (Enumerators.cs MaxLiveEventBufferCount). */
const LIVE_BUFFER = 32;
/** The server's default filter search window (Enumerators.cs ReadBatchSize). */
const SEARCH_WINDOW = 32;

type LiveSubscription = Readable & {
  unsubscribe(): Promise<void>;
  from: bigint;
  filter: Filter | undefined;
  considered: number;
};

export function createStubClient({ throwOnAppendFailure = true } = {}) {
  const log: Stored[] = [];
  const streams = new Map<string, Stored[]>();
  const faults: Fault[] = [];
  const subscriptions = new Set<LiveSubscription>();
  const wire = { readAll: 0, readStream: 0, subscribeToAll: 0 };
  const calls = { appendToStream: 0, readStream: 0, readAll: 0, setStreamMetadata: 0, subscribeToAll: 0 };
  let nextPosition = 1_000n;
  /** Reads in flight, which dispose cancels. */
  const reads = new Set<{ cancel(): void; ended: Promise<void> }>();
  /** While set, each read pauses once it has sent `after` events, until `gate` resolves. */
  let hold: { gate: Promise<void>; after: number } | null = null;
  let disposals = 0;

  /** A read call that sends `events()` one by one, pauses on a hold and ends quietly when cancelled. */
  function readCall(events: () => Stored[], counted: 'readAll' | 'readStream') {
    let cancelled = false;
    let started = false;
    let wakeCancelled = () => {};
    const onCancel = new Promise<void>((resolve) => {
      wakeCancelled = resolve;
    });
    let end = () => {};
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    const read = {
      cancel() {
        cancelled = true;
        wakeCancelled();
        if (!started) end();
      },
      ended,
    };
    reads.add(read);
    return (async function* () {
      started = true;
      try {
        let sent = 0;
        for (const event of events()) {
          while (hold && sent >= hold.after && !cancelled) await Promise.race([hold.gate, onCancel]);
          if (cancelled) return;
          wire[counted]++;
          sent++;
          yield toResolved(event);
        }
      } finally {
        reads.delete(read);
        end();
      }
    })();
  }

  const takeFault = (op: Op) => {
    const index = faults.findIndex((fault) => fault.op === op);
    return index < 0 ? undefined : faults.splice(index, 1)[0];
  };

  const toResolved = (event: Stored) => ({
    event: { ...event, isJson: true, created: new Date() },
    commitPosition: event.position.commit,
  });

  const passes = (filter: Filter | undefined, event: Stored) => {
    if (!filter) return true;
    const value = filter.filterOn === 'eventType' ? event.type : event.streamId;
    return 'regex' in filter
      ? new RegExp(filter.regex).test(value)
      : filter.prefixes.some((prefix) => value.startsWith(prefix));
  };

  function deliver(subscription: LiveSubscription, event: Stored, live: boolean) {
    // The server skips what it already sent (Enumerators.AllSubscriptionFiltered.cs MoveNextAsync).
    if (subscription.destroyed || event.position.commit <= subscription.from) return;
    subscription.from = event.position.commit;
    if (passes(subscription.filter, event)) {
      if (live && subscription.readableLength >= LIVE_BUFFER) {
        subscription.destroy(
          new TimeoutError(
            undefined,
            '10 ABORTED: Operation timed out: Consumer too slow to handle event while live. Client resubscription required.',
          ),
        );
        return;
      }
      wire.subscribeToAll++;
      subscription.push(toResolved(event));
    }
    const filter = subscription.filter;
    if (!filter?.checkpointReached) return;
    subscription.considered++;
    if (subscription.considered >= filter.checkpointInterval * (filter.maxSearchWindow ?? SEARCH_WINDOW)) {
      subscription.considered = 0;
      void filter.checkpointReached(subscription as never, event.position);
    }
  }

  function write(streamName: string, events: EventData[], expected: AppendExpectedRevision): AppendResult {
    const stream = streams.get(streamName) ?? [];
    const current = stream.length - 1;
    const start = expected === 'no_stream' ? 0 : typeof expected === 'bigint' ? Number(expected) + 1 : -1;
    if (start >= 0) {
      const already = stream.slice(start, start + events.length);
      if (already.length === events.length && already.every((event, i) => event.id === events[i]!.id)) {
        const last = already.at(-1)!;
        return { success: true, nextExpectedRevision: last.revision, position: last.position };
      }
    }
    const ok =
      expected === 'any' ||
      (expected === 'no_stream' && current === -1) ||
      (expected === 'stream_exists' && current >= 0) ||
      (typeof expected === 'bigint' && Number(expected) === current);
    if (!ok) {
      if (throwOnAppendFailure)
        throw new WrongExpectedVersionError(undefined, {
          streamName,
          expected,
          current: current === -1 ? 'no_stream' : BigInt(current),
        });
      // As the 6.2.1 batch append reports it: BigInt(hasCurrentStreamRevision()).
      return { success: false, nextExpectedRevision: current === -1 ? -1n : 1n, position: undefined };
    }
    for (const event of events) {
      const position = { commit: nextPosition, prepare: nextPosition };
      nextPosition += 100n;
      const stored: Stored = {
        id: event.id,
        type: event.type,
        streamId: streamName,
        revision: BigInt(stream.length),
        data: event.data,
        metadata: event.metadata,
        position,
      };
      stream.push(stored);
      log.push(stored);
      setImmediate(() => {
        for (const subscription of subscriptions) deliver(subscription, stored, true);
      });
    }
    streams.set(streamName, stream);
    const last = stream.at(-1)!;
    return { success: true, nextExpectedRevision: last.revision, position: last.position };
  }

  const client = {
    async appendToStream(
      streamName: string,
      events: EventData | EventData[],
      { expectedRevision = 'any' }: { expectedRevision?: AppendExpectedRevision } = {},
    ): Promise<AppendResult> {
      calls.appendToStream++;
      await Promise.resolve();
      const fault = takeFault(streamName.startsWith('$$') ? 'setStreamMetadata' : 'appendToStream');
      if (fault && !fault.landed) throw fault.error;
      const result = write(streamName, Array.isArray(events) ? events : [events], expectedRevision);
      if (fault) throw fault.error;
      return result;
    },

    setStreamMetadata(
      streamName: string,
      metadata: Record<string, unknown>,
      options?: { expectedRevision?: AppendExpectedRevision },
    ) {
      calls.setStreamMetadata++;
      const event = {
        id: crypto.randomUUID(),
        type: '$metadata',
        data: metadata,
        contentType: 'application/json',
      };
      return client.appendToStream(`$$${streamName}`, event as EventData, options);
    },

    readStream(
      streamName: string,
      {
        fromRevision = 'start',
        direction = 'forwards',
        maxCount = Number.MAX_SAFE_INTEGER,
      }: { fromRevision?: bigint | 'start' | 'end'; direction?: string; maxCount?: number | bigint } = {},
    ) {
      calls.readStream++;
      return readCall(() => {
        const fault = takeFault('readStream');
        if (fault) throw fault.error;
        const stream = streams.get(streamName);
        if (!stream) throw new StreamNotFoundError(undefined, streamName);
        const backwards = direction === 'backwards';
        const from =
          fromRevision === 'start' ? 0 : fromRevision === 'end' ? stream.length - 1 : Number(fromRevision);
        const picked = backwards ? stream.slice(0, from + 1).reverse() : stream.slice(from);
        return picked.slice(0, Number(maxCount));
      }, 'readStream');
    },

    readAll({
      fromPosition = 'start',
      direction = 'forwards',
      maxCount = Number.MAX_SAFE_INTEGER,
    }: {
      fromPosition?: Position | 'start' | 'end';
      direction?: string;
      maxCount?: number | bigint;
    } = {}) {
      calls.readAll++;
      return readCall(() => {
        const fault = takeFault('readAll');
        if (fault) throw fault.error;
        const backwards = direction === 'backwards';
        const picked =
          fromPosition === 'start'
            ? log
            : fromPosition === 'end'
              ? [...log].reverse()
              : backwards
                ? log.filter((event) => event.position.commit <= fromPosition.commit).reverse()
                : log.filter((event) => event.position.commit >= fromPosition.commit);
        return picked.slice(0, Number(maxCount));
      }, 'readAll');
    },

    subscribeToAll({
      fromPosition = 'start',
      filter,
    }: {
      fromPosition?: Position | 'start' | 'end';
      filter?: Filter;
    } = {}) {
      calls.subscribeToAll++;
      const subscription = Object.assign(new Readable({ objectMode: true, read() {} }), {
        from: fromPosition === 'start' ? -1n : fromPosition === 'end' ? nextPosition : fromPosition.commit,
        filter,
        considered: 0,
        async unsubscribe() {
          subscriptions.delete(subscription);
          subscription.push(null);
        },
      }) as LiveSubscription;
      subscription.on('close', () => subscriptions.delete(subscription));
      subscriptions.add(subscription);
      // Catch-up is paced by the reader on the server (a bounded channel that waits): no drop there.
      const history = [...log];
      setImmediate(() => {
        for (const event of history) deliver(subscription, event, false);
      });
      return subscription;
    },

    /** As Client/index.js dispose: cancels every call in flight and waits for each to end. */
    async dispose() {
      disposals++;
      const ending = [...reads].map((read) => {
        read.cancel();
        return read.ended;
      });
      for (const subscription of subscriptions) await subscription.unsubscribe();
      await Promise.all(ending);
    },
  };

  return {
    client: client as unknown as EventStoreDBClient,
    wire,
    calls,
    /** Every event of one stream, as stored. */
    stream: (name: string) => streams.get(name) ?? [],
    /** Events the adapter did not write: a system event in `$all`, or another writer's. */
    write: (streamName: string, type: string, count = 1) => {
      for (let i = 0; i < count; i++)
        write(
          streamName,
          [
            {
              id: crypto.randomUUID(),
              type,
              data: {},
              // As the adapter writes every event: with its metadata, at its type's current schema.
              metadata: {
                correlationId: 'stub',
                causationId: 'stub',
                occurredAt: '2030-01-01T00:00:00.000Z',
                schemaVersion: currentVersion(type),
              },
              contentType: 'application/json',
            } as EventData,
          ],
          'any',
        );
    },
    /** The next call of `op` fails with `error`; `landed`: the write happens before the failure. */
    failNext: (op: Op, error: Error, { landed = false } = {}) => faults.push({ op, error, landed }),
    /** The server ends every live subscription with `error` (as ConsumerTooSlow does). */
    dropLive: (error: Error) => {
      for (const subscription of subscriptions) subscription.destroy(error);
    },
    /** Live subscriptions open now. */
    openSubscriptions: () => [...subscriptions],
    /** Reads pause once each has sent `afterEvents` events, until `release()`; dispose still ends them. */
    holdReads: (afterEvents = 0) => {
      let release = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const held = { gate, after: afterEvents };
      hold = held;
      return () => {
        if (hold === held) hold = null;
        release();
      };
    },
    /** Reads in flight now. */
    readsInFlight: () => reads.size,
    /** How many times the client was disposed. */
    disposals: () => disposals,
    resetWire: () => Object.assign(wire, { readAll: 0, readStream: 0, subscribeToAll: 0 }),
  };
}

export type StubClient = ReturnType<typeof createStubClient>;

/** A new application event for the tests that drive a store on the stub. */
export const newEvent = (type = 'CashDeposited'): NewEvent => ({
  id: crypto.randomUUID(),
  type,
  data: { amount: 1 },
  metadata: {
    correlationId: 'c',
    causationId: 'c',
    occurredAt: '2030-01-01T00:00:00.000Z',
    schemaVersion: 1,
  },
});
