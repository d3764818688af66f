import {
  type AllStreamRecordedEvent,
  BACKWARDS,
  type Direction,
  END,
  EventStoreDBClient,
  FORWARDS,
  type JSONType,
  jsonEvent,
  NO_STREAM,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  type EventStore,
  EventStoreUnavailableError,
  type ReadAllOptions,
  type RecordedEvent,
  type Snapshot,
  type SubscribeOptions,
  type Subscription,
} from '../../application/ports/event-store.ts';
import { appendToStream } from './append.ts';
import { DEFAULT_RETRY, type RetryTiming, withRetries } from './errors.ts';
import {
  checkpointStreamName,
  isApplicationEvent,
  numberToPosition,
  positionToNumber,
  snapshotStreamName,
  toRecordedEvent,
} from './records.ts';
import { subscribeToLog } from './subscription.ts';

const DEFAULT_BATCH_SIZE = 500;
/** The first page `headPosition` reads back from the end of `$all`; the next ones grow eightfold. */
const HEAD_FIRST_PAGE = 8;
/** Companion streams known capped in this process; forgetting one costs one refused metadata write. */
const CAPPED_MEMO_SIZE = 10_000;
/** How long `close` waits for subscriptions to stop and for calls in flight to end. */
const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;

export type EventStoreDBStoreOptions = {
  retry?: RetryTiming;
  /** Dispose the client on close: by default, when the store made it from a connection string. */
  ownsClient?: boolean;
  /** How long `close` waits for subscriptions and calls in flight before it gives up on them. */
  closeTimeoutMs?: number;
};

/**
 * The EventStore port on EventStoreDB (gRPC client v6). Pass a connection string (the store then
 * owns the client and disposes it on close) or a client you own (close the store before you dispose
 * it). Snapshots and checkpoints live in companion streams capped to their latest event (`maxCount: 1`).
 *
 * Shutdown: disposing the client cancels every call in flight, and a read cancelled that way ends
 * early without an error (client 6.2.1 dist/streams/utils/ReadStream.js drops the "Cancelled on
 * client" error, dist/utils/isClientCancellationError.js, while grpc-js ends the stream), which a
 * caller would take for the end of the log. So `close` stops the subscriptions, refuses new calls,
 * waits (up to `closeTimeoutMs`) for those in flight, and a read still running after that fails with
 * EventStoreUnavailableError whatever the client yields: it never returns a truncated result.
 */
export function createEventStoreDBStore(
  connection: string | EventStoreDBClient,
  {
    retry = DEFAULT_RETRY,
    ownsClient = typeof connection === 'string',
    closeTimeoutMs = DEFAULT_CLOSE_TIMEOUT_MS,
  }: EventStoreDBStoreOptions = {},
): EventStore {
  const retrying = <T>(work: () => Promise<T>) => withRetries(retry, work);
  const client =
    typeof connection === 'string' ? EventStoreDBClient.connectionString(connection) : connection;
  const running = new Set<Subscription>();
  const capped = new Set<string>();
  /** Port calls in flight, which `close` waits for. */
  const inFlight = new Set<Promise<unknown>>();
  /** Set once subscriptions have stopped: new calls are refused. */
  let closed = false;
  /** Set once `close` stopped waiting: a read still running may be cut short by the disposal. */
  let abandoned = false;
  let closing: Promise<void> | null = null;

  /** Runs a port call unless the store is closed, and counts it in flight until it ends. */
  function tracked<T>(kind: 'read' | 'write', work: () => Promise<T>): Promise<T> {
    if (closed) return Promise.reject(new EventStoreUnavailableError('The EventStoreDB store is closed'));
    const call = work().then((result) => {
      if (kind === 'read' && abandoned)
        throw new EventStoreUnavailableError(
          'The EventStoreDB store closed while this read was running: its result may be cut short',
        );
      return result;
    });
    inFlight.add(call);
    const forget = () => inFlight.delete(call);
    call.then(forget, forget);
    return call;
  }
  const reading = <T>(work: () => Promise<T>) => tracked('read', () => retrying(work));

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
    const count = from === 'edge' ? maxCount : maxCount + 1;
    for await (const resolved of client.readAll({ fromPosition, maxCount: count, direction })) {
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

  /**
   * The head a reader can see is the newest application event: page back past system and internal
   * ones. Client 6.2.1 cannot filter a read of `$all` on the server (readAll.js always sends
   * NoFilter), so the pages start small and grow: at the top of a running log only a few checkpoint
   * and `$stats` events sit above the newest application event.
   */
  async function headPosition() {
    for (
      let cursor: number | 'edge' = 'edge', size = HEAD_FIRST_PAGE;
      ;
      size = Math.min(size * 8, DEFAULT_BATCH_SIZE)
    ) {
      const page = await readAllPage(cursor, size, BACKWARDS);
      const newest = page.find((event) => isApplicationEvent(event.streamId, event.type));
      if (newest) return positionToNumber(newest.position);
      if (page.length < size) return 0;
      cursor = positionToNumber(page.at(-1)!.position);
    }
  }

  /** The stream's newest event, read back from its end; null for no stream. */
  async function newestOf(streamName: string) {
    try {
      for await (const resolved of client.readStream(streamName, {
        fromRevision: END,
        direction: BACKWARDS,
        maxCount: 1,
      })) {
        return resolved;
      }
      return null;
    } catch (error) {
      if (error instanceof StreamNotFoundError) return null;
      throw error;
    }
  }

  async function readLatest(streamName: string): Promise<Record<string, unknown> | null> {
    return ((await newestOf(streamName))?.event?.data as Record<string, unknown> | undefined) ?? null;
  }

  /**
   * Appends to a companion stream that keeps only its latest event. The cap goes on first, once per
   * stream and process, and is written with `no_stream` on the metadata stream: a failure between the
   * two calls leaves no stream uncapped, and setting it again (another process, a restart) writes
   * nothing (a conflict, thrown or `{success:false}` with throwOnAppendFailure=false, means: capped).
   */
  async function writeLatest(streamName: string, type: string, data: JSONType) {
    if (!capped.has(streamName)) {
      try {
        await client.setStreamMetadata(streamName, { maxCount: 1 }, { expectedRevision: NO_STREAM });
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
      }
      if (capped.size >= CAPPED_MEMO_SIZE) capped.clear();
      capped.add(streamName);
    }
    await client.appendToStream(streamName, jsonEvent({ type, data }));
  }

  function subscribe(options: SubscribeOptions): Subscription {
    const subscription = subscribeToLog({ client, store }, options);
    running.add(subscription);
    subscription.done.finally(() => running.delete(subscription)).catch(() => {});
    return subscription;
  }

  const store: EventStore = {
    append: (streamName, events, expected) =>
      tracked('write', () => appendToStream(client, streamName, events, expected, retry)),

    readStream: (streamName, { fromRevision = 0, maxCount } = {}) =>
      reading(async () => {
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
      }),

    readAll: (options) => reading(() => readAll(options)),
    headPosition: () => reading(headPosition),
    // The server assigns $all positions at commit: the newest visible event is the newest committed.
    lastPosition: () => reading(headPosition),
    streamPosition: (streamName) =>
      reading(async () => {
        const newest = await newestOf(streamName);
        return newest?.event ? toRecordedEvent(newest.event, newest.commitPosition).position : 0;
      }),
    subscribe,

    readCheckpoint: (name) =>
      reading(async () => {
        const latest = await readLatest(checkpointStreamName(name));
        return latest === null ? null : Number(latest.position);
      }),

    storeCheckpoint: (name, position) =>
      tracked('write', () =>
        retrying(() => writeLatest(checkpointStreamName(name), 'CheckpointStored', { position })),
      ),

    readSnapshot: (streamName) =>
      reading(async () => (await readLatest(snapshotStreamName(streamName))) as Snapshot | null),

    writeSnapshot: (streamName, snapshot) =>
      tracked('write', () =>
        retrying(() =>
          writeLatest(snapshotStreamName(streamName), 'SnapshotTaken', snapshot as unknown as JSONType),
        ),
      ),

    close() {
      closing ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, closeTimeoutMs);
        });
        try {
          // Subscriptions first: stopping, one may still store its checkpoint.
          await Promise.race([
            Promise.all([...running].map((subscription) => subscription.stop())),
            deadline,
          ]);
          closed = true;
          await Promise.race([Promise.allSettled([...inFlight]), deadline]);
        } finally {
          clearTimeout(timer);
        }
        abandoned = true;
        if (ownsClient) await client.dispose();
      })();
      return closing;
    },
  };
  return store;
}
