import {
  type AllStreamSubscription,
  type EventStoreDBClient,
  eventTypeFilter,
  type Filter,
  type Position,
  streamNameFilter,
  TimeoutError,
} from '@eventstore/db-client';
import {
  type EventStore,
  EventStoreUnavailableError,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from '../../application/ports/event-store.ts';
import { toStoreError } from './errors.ts';
import {
  INTERNAL_PREFIXES,
  isApplicationEvent,
  numberToPosition,
  positionToNumber,
  toRecordedEvent,
} from './records.ts';

const DEFAULT_BATCH_SIZE = 500;
/** Events held in the process while the handler works: past this many batches, catch up by reading. */
const LIVE_BACKLOG_BATCHES = 4;
/**
 * The server reports a checkpoint every `checkpointInterval × maxSearchWindow (32)` events it
 * considered: 32 × 32 = one per 1,024 events, so checkpoints that only skip filtered-out events
 * (our own checkpoint writes among them) write one event per thousand.
 */
const CHECKPOINT_INTERVAL = 32;

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The server-side filter for the live phase: the event types asked for, else every stream but
 * system (`$`) and companion ones. Either way the adapter checks each event again.
 */
function liveFilter(
  eventTypes: readonly string[] | undefined,
  checkpointReached: Filter['checkpointReached'],
) {
  const options = { checkpointInterval: CHECKPOINT_INTERVAL, checkpointReached };
  return eventTypes
    ? eventTypeFilter({ regex: `^(?:${eventTypes.map(escapeRegex).join('|')})$`, ...options })
    : streamNameFilter({ regex: `^(?!\\$|${INTERNAL_PREFIXES.join('|')})`, ...options });
}

/**
 * Server oss-v23.10 keeps 32 live events per subscriber (Enumerators.cs MaxLiveEventBufferCount) and
 * drops a subscriber that lets them pile up: ABORTED "Consumer too slow to handle event while live.
 * Client resubscription required." (Enumerators.AllSubscriptionFiltered.cs ConsumerTooSlow), which
 * the client raises as TimeoutError. Not a failure: the subscription catches up from its position.
 */
const isConsumerTooSlow = (error: unknown) => error instanceof TimeoutError;

type Live = RecordedEvent | { checkpoint: number };

type Deps = {
  client: EventStoreDBClient;
  store: Pick<EventStore, 'readAll' | 'readCheckpoint' | 'storeCheckpoint'>;
};

/**
 * Catch up in batches read from `$all`, then follow it live: the live subscription is drained as
 * fast as it delivers into a queue in the process, and the handler takes that queue in batches of
 * `batchSize`, one checkpoint write per batch. A server checkpoint that only passed filtered-out
 * events moves the stored checkpoint too. When the queue outgrows a few batches, or the server drops
 * the subscriber as too slow, the subscription goes back to reading from its position.
 */
export function subscribeToLog(
  { client, store }: Deps,
  { checkpoint, after = 0, batchSize = DEFAULT_BATCH_SIZE, eventTypes, handle }: SubscribeOptions,
): Subscription {
  let stopping = false;
  let live: AllStreamSubscription | null = null;
  let wake = () => {};
  const types = eventTypes ? new Set(eventTypes) : null;
  let position = after;

  const moveTo = async (reached: number) => {
    position = reached;
    if (checkpoint !== undefined) await store.storeCheckpoint(checkpoint, reached);
  };

  /** Follows the log live until stopped (true) or until it must catch up again (false). */
  async function followLive(): Promise<boolean> {
    const queue: Live[] = [];
    let queued = 0;
    let failure: unknown = null;
    let ended = false;
    const subscription = client.subscribeToAll({
      fromPosition: numberToPosition(position),
      filter: liveFilter(eventTypes, (_, reached: Position) => {
        queue.push({ checkpoint: positionToNumber(reached) });
        wake();
      }),
    });
    live = subscription;
    subscription
      .on('data', ({ event }) => {
        if (!event || !isApplicationEvent(event.streamId, event.type) || (types && !types.has(event.type)))
          return;
        queue.push(toRecordedEvent(event));
        queued++;
        wake();
      })
      .on('error', (error) => {
        failure = error;
        wake();
      })
      .on('end', () => {
        ended = true;
        wake();
      });
    try {
      for (;;) {
        if (stopping) return true;
        if (queued > LIVE_BACKLOG_BATCHES * batchSize) return false;
        const items = take(queue, batchSize);
        const batch = items.filter((item): item is RecordedEvent => 'id' in item);
        // The server starts after the given position; the guard keeps that true whatever it does.
        const events = batch.filter((event) => event.position > position);
        queued -= batch.length;
        const reached = Math.max(
          position,
          ...items.map((item) => ('id' in item ? item.position : item.checkpoint)),
        );
        if (events.length > 0) await handle(events);
        if (reached > position) await moveTo(reached);
        if (items.length > 0) continue;
        if (failure !== null) {
          if (isConsumerTooSlow(failure) && !stopping) return false;
          throw failure;
        }
        if (ended) {
          if (stopping) return true;
          throw new EventStoreUnavailableError('EventStoreDB ended the live subscription');
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      wake = () => {};
      live = null;
      await subscription.unsubscribe().catch(() => {});
    }
  }

  const loop = async () => {
    position = (checkpoint === undefined ? null : await store.readCheckpoint(checkpoint)) ?? after;
    for (;;) {
      for (;;) {
        if (stopping) return;
        const batch = await store.readAll({ after: position, batchSize, eventTypes });
        if (batch.length === 0) break;
        await handle(batch);
        await moveTo(batch.at(-1)!.position);
      }
      if (stopping || (await followLive())) return;
    }
  };

  const done = loop().catch((error) => {
    // Unsubscribing cancels the call; that is how a stop ends the live phase, not a failure.
    if (!stopping) throw toStoreError(error);
  });
  // The owner watches `done`; an unobserved failure must not crash the process.
  done.catch(() => {});
  return {
    async stop() {
      stopping = true;
      wake();
      await live?.unsubscribe().catch(() => {});
      await done.catch(() => {});
    },
    done,
  };
}

/** Up to `count` events off the front of the queue, with the checkpoints among and right after them. */
function take(queue: Live[], count: number): Live[] {
  let events = 0;
  let end = 0;
  while (end < queue.length && (events < count || !('id' in queue[end]!))) {
    if ('id' in queue[end]!) events++;
    end++;
  }
  return queue.splice(0, end);
}
