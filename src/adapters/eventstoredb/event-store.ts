import {
  type AllStreamRecordedEvent,
  type AllStreamSubscription,
  ANY,
  BACKWARDS,
  type Direction,
  END,
  type ExpectedRevision as EsdbExpectedRevision,
  EventStoreDBClient,
  FORWARDS,
  type JSONType,
  jsonEvent,
  NO_STREAM,
  type Position,
  type ReadPosition,
  type ResolvedEvent,
  START,
  StreamNotFoundError,
  streamNameFilter,
  UnavailableError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  type EventMetadata,
  type EventStore,
  EventStoreUnavailableError,
  type ExpectedRevision,
  type ReadAllOptions,
  type RecordedEvent,
  type Snapshot,
  type SubscribeOptions,
  type Subscription,
  WrongExpectedRevisionError,
} from '../../application/ports/event-store.ts';
import { upcast } from '../../application/upcasting.ts';

const DEFAULT_BATCH_SIZE = 500;
/** gRPC status UNAVAILABLE: what a call fails with when no server answers. */
const GRPC_UNAVAILABLE = 14;

export const snapshotStreamName = (streamName: string): string => `snapshot-${streamName}`;
export const checkpointStreamName = (name: string): string => `checkpoint-${name}`;

/** Streams this adapter keeps for itself; readers of the global log never see them. */
const INTERNAL_PREFIXES = ['snapshot-', 'checkpoint-'];

/** Our events: not system ones (`$` streams or types) and not our snapshot or checkpoint streams. */
export const isApplicationEvent = (streamId: string, type: string): boolean =>
  !streamId.startsWith('$') &&
  !type.startsWith('$') &&
  !INTERNAL_PREFIXES.some((p) => streamId.startsWith(p));

/**
 * Global position = the commit position, as a JS number. For non-transactional writes (the only
 * kind the gRPC API makes) commit and prepare positions are equal, so a number maps back to a
 * full Position. Positions are byte offsets in the transaction log: exact up to 2^53 (8 PiB).
 */
export const positionToNumber = (position: Position): number => Number(position.commit);

export const numberToPosition = (position: number): ReadPosition =>
  position <= 0 ? START : { commit: BigInt(position), prepare: BigInt(position) };

export const toEsdbExpectedRevision = (expected: ExpectedRevision): EsdbExpectedRevision =>
  expected === 'no_stream' ? NO_STREAM : expected === 'any' ? ANY : BigInt(expected);

/** Maps client errors onto the port's errors; anything else passes through unchanged. */
export function toStoreError(
  error: unknown,
  streamName = 'unknown',
  expected: ExpectedRevision = 'any',
): unknown {
  if (error instanceof WrongExpectedVersionError) {
    const actual = error.actualVersion;
    return new WrongExpectedRevisionError(
      error.streamName || streamName,
      expected,
      typeof actual === 'bigint' ? Number(actual) : actual === NO_STREAM ? 'no_stream' : 'unknown',
    );
  }
  const grpcCode = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  if (error instanceof UnavailableError || grpcCode === GRPC_UNAVAILABLE) {
    const reason = error instanceof Error ? error.message : String(error);
    return new EventStoreUnavailableError(`EventStoreDB is unavailable: ${reason}`, { cause: error });
  }
  return error;
}

const withStoreErrors = async <T>(
  work: () => Promise<T>,
  streamName?: string,
  expected?: ExpectedRevision,
) => {
  try {
    return await work();
  } catch (error) {
    throw toStoreError(error, streamName, expected);
  }
};

function toRecordedEvent(
  event: AllStreamRecordedEvent | NonNullable<ResolvedEvent['event']>,
  commit?: bigint,
) {
  const position = event.position?.commit ?? commit;
  if (position === undefined)
    throw new Error('EventStoreDB returned no position: a server >= 22.6 is needed');
  const recorded: RecordedEvent = {
    id: event.id,
    type: event.type,
    data: event.data as Record<string, unknown>,
    metadata: event.metadata as EventMetadata,
    streamName: event.streamId,
    revision: Number(event.revision),
    position: Number(position),
  };
  return upcast(recorded);
}

/**
 * The EventStore port on EventStoreDB (gRPC client v6). Pass a connection string (the store then
 * owns the client and disposes it on close) or a client you own. Snapshots and checkpoints live in
 * companion streams capped to their latest event (`maxCount: 1`).
 */
export function createEventStoreDBStore(connection: string | EventStoreDBClient): EventStore {
  const ownsClient = typeof connection === 'string';
  const client =
    typeof connection === 'string' ? EventStoreDBClient.connectionString(connection) : connection;
  const running = new Set<Subscription>();

  /**
   * Up to `maxCount` events of `$all` strictly beyond `from` (after it reading forwards, before it
   * reading backwards; 'edge' = the start or the end of the log). System events included.
   */
  async function readAllPage(from: number | 'edge', maxCount: number, direction: Direction) {
    const forwards = direction === FORWARDS;
    const fromPosition = from === 'edge' ? (forwards ? START : END) : numberToPosition(from);
    const beyond = (position: number) => from === 'edge' || (forwards ? position > from : position < from);
    const page: AllStreamRecordedEvent[] = [];
    // A read from a position includes the event at that position: ask for one more and skip it.
    for await (const resolved of client.readAll({ fromPosition, maxCount: maxCount + 1, direction })) {
      if (resolved.event && beyond(positionToNumber(resolved.event.position))) page.push(resolved.event);
    }
    return page.slice(0, maxCount);
  }

  async function readAll({ after, batchSize = DEFAULT_BATCH_SIZE, eventTypes }: ReadAllOptions) {
    const types = eventTypes ? new Set(eventTypes) : null;
    const batch: RecordedEvent[] = [];
    // v6 readAll has no server-side filter: page on until the batch is full or the log ends.
    for (let cursor: number | 'edge' = after > 0 ? after : 'edge'; batch.length < batchSize; ) {
      const page = await readAllPage(cursor, batchSize, FORWARDS);
      for (const event of page) {
        if (
          batch.length < batchSize &&
          isApplicationEvent(event.streamId, event.type) &&
          (!types || types.has(event.type))
        ) {
          batch.push(toRecordedEvent(event));
        }
      }
      if (page.length < batchSize) break;
      cursor = positionToNumber(page.at(-1)!.position);
    }
    return batch;
  }

  async function headPosition() {
    // The head a reader can see is the newest application event: page back past system and internal ones.
    for (let cursor: number | 'edge' = 'edge'; ; ) {
      const page = await readAllPage(cursor, DEFAULT_BATCH_SIZE, BACKWARDS);
      const newest = page.find((event) => isApplicationEvent(event.streamId, event.type));
      if (newest) return positionToNumber(newest.position);
      if (page.length < DEFAULT_BATCH_SIZE) return 0;
      cursor = positionToNumber(page.at(-1)!.position);
    }
  }

  async function readLatest(streamName: string): Promise<Record<string, unknown> | null> {
    try {
      for await (const resolved of client.readStream(streamName, {
        fromRevision: END,
        direction: BACKWARDS,
        maxCount: 1,
      })) {
        return (resolved.event?.data as Record<string, unknown> | undefined) ?? null;
      }
      return null;
    } catch (error) {
      if (error instanceof StreamNotFoundError) return null;
      throw error;
    }
  }

  /** Appends to a companion stream that keeps only its latest event (capped on the first write). */
  async function writeLatest(streamName: string, type: string, data: JSONType) {
    const result = await client.appendToStream(streamName, jsonEvent({ type, data }));
    if (result.nextExpectedRevision === 0n) await client.setStreamMetadata(streamName, { maxCount: 1 });
  }

  function subscribe({
    checkpoint,
    after = 0,
    batchSize,
    eventTypes,
    handle,
  }: SubscribeOptions): Subscription {
    let stopping = false;
    let live: AllStreamSubscription | null = null;
    const types = eventTypes ? new Set(eventTypes) : null;

    const loop = async () => {
      let position = (checkpoint === undefined ? null : await store.readCheckpoint(checkpoint)) ?? after;
      const handled = async (events: RecordedEvent[]) => {
        await handle(events);
        position = events.at(-1)!.position;
        if (checkpoint !== undefined) await store.storeCheckpoint(checkpoint, position);
      };
      // Catch up in batches from the global log, then follow it live from where the batches ended.
      for (;;) {
        if (stopping) return;
        const batch = await readAll({ after: position, batchSize, eventTypes });
        if (batch.length === 0) break;
        await handled(batch);
      }
      if (stopping) return;
      live = client.subscribeToAll({
        fromPosition: numberToPosition(position),
        filter: streamNameFilter({ regex: `^(?!\\$|${INTERNAL_PREFIXES.join('|')})` }),
      });
      try {
        for await (const resolved of live) {
          if (stopping) return;
          const event = resolved.event;
          if (!event || !isApplicationEvent(event.streamId, event.type) || (types && !types.has(event.type)))
            continue;
          // Subscriptions start after the given position; the guard keeps that true whatever the server does.
          if (positionToNumber(event.position) <= position) continue;
          await handled([toRecordedEvent(event)]);
        }
      } catch (error) {
        // Unsubscribing cancels the call; that is how a stop ends the live phase, not a failure.
        if (!stopping) throw error;
      }
      if (!stopping) throw new EventStoreUnavailableError('EventStoreDB ended the live subscription');
    };

    const done = withStoreErrors(loop).finally(async () => {
      running.delete(subscription);
      await live?.unsubscribe().catch(() => {});
    });
    // The owner watches `done`; an unobserved failure must not crash the process.
    done.catch(() => {});
    const subscription: Subscription = {
      async stop() {
        stopping = true;
        await live?.unsubscribe().catch(() => {});
        await done.catch(() => {});
      },
      done,
    };
    running.add(subscription);
    return subscription;
  }

  const store: EventStore = {
    append: (streamName, events, expected) =>
      withStoreErrors(
        async () => {
          const result = await client.appendToStream(
            streamName,
            events.map(({ id, type, data, metadata }) => jsonEvent({ id, type, data, metadata })),
            { expectedRevision: toEsdbExpectedRevision(expected) },
          );
          if (!result.position) throw new Error('EventStoreDB returned no position for the append');
          return {
            nextExpectedRevision: Number(result.nextExpectedRevision),
            position: positionToNumber(result.position),
          };
        },
        streamName,
        expected,
      ),

    readStream: (streamName, { fromRevision = 0, maxCount } = {}) =>
      withStoreErrors(async () => {
        if (maxCount !== undefined && maxCount <= 0) return [];
        const events: RecordedEvent[] = [];
        try {
          for await (const resolved of client.readStream(streamName, {
            fromRevision: BigInt(Math.max(0, fromRevision)),
            ...(maxCount === undefined ? {} : { maxCount }),
          })) {
            if (resolved.event) events.push(toRecordedEvent(resolved.event, resolved.commitPosition));
          }
        } catch (error) {
          if (error instanceof StreamNotFoundError) return [];
          throw error;
        }
        return events;
      }, streamName),

    readAll: (options) => withStoreErrors(() => readAll(options)),
    headPosition: () => withStoreErrors(headPosition),
    // The server assigns $all positions at commit: the newest visible event is the newest committed.
    lastPosition: () => withStoreErrors(headPosition),
    subscribe,

    readCheckpoint: (name) =>
      withStoreErrors(async () => {
        const latest = await readLatest(checkpointStreamName(name));
        return latest === null ? null : Number(latest.position);
      }),

    storeCheckpoint: (name, position) =>
      withStoreErrors(() => writeLatest(checkpointStreamName(name), 'CheckpointStored', { position })),

    readSnapshot: (streamName) =>
      withStoreErrors(async () => (await readLatest(snapshotStreamName(streamName))) as Snapshot | null),

    writeSnapshot: (streamName, snapshot) =>
      withStoreErrors(() =>
        writeLatest(snapshotStreamName(streamName), 'SnapshotTaken', snapshot as unknown as JSONType),
      ),

    async close() {
      await Promise.all([...running].map((subscription) => subscription.stop()));
      if (ownsClient) await client.dispose();
    },
  };
  return store;
}
