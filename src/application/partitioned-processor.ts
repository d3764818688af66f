import type { EventStore, RecordedEvent, Subscription } from './ports/event-store.ts';
import type { AppLogger } from './ports/logger.ts';
import type { PartitionClaim, PartitionLeases } from './ports/partition-leases.ts';
import { type Fence, keepLeases, LeaseLostError, type LeaseTiming, type Tenure } from './processor.ts';

let thisTurnDone: Promise<void> | undefined;
/**
 * Resolves once the code running now, and the promise callbacks it set off, are done: one
 * setImmediate shared by whoever asks in the same turn (the events of many appends under load).
 */
const afterThisTurn = () =>
  (thisTurnDone ??= new Promise<void>((resolve) =>
    setImmediate(() => {
      thisTurnDone = undefined;
      resolve();
    }),
  ));

/** FNV-1a: a stable partition for a key, the same in every process. */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % partitions;
}

export type ProcessorStatus = {
  processor: string;
  partitions: number;
  /** The partitions this instance holds now. */
  held: number[];
  /** Events this instance handled since it started. */
  handled: number;
  /** How long the oldest event in hand has waited to be handled, in ms (0: none): a step that never settles shows here. */
  oldestInHandMs: number;
};

export type PartitionedProcessor = {
  stop(): Promise<void>;
  status(): ProcessorStatus;
  /**
   * Resolves once this instance has no event in hand (its steps, and the appends they make, are
   * done), or after `maxMs`; at once while it has the events of more than a few keys in hand
   * (under load nothing is ever quiet, and whoever waits gathers a batch by itself meanwhile).
   */
  quiet(maxMs: number): Promise<void>;
};

/** Events handed over and not yet handled, at most: the reader waits beyond it. */
const MAX_IN_FLIGHT = 512;
/** An event in hand this long is reported (once per event): its step is stuck, and so is the checkpoint. */
export const STALLED_AFTER_MS = 30_000;
const COMMIT_EVERY_MS = 100;
/** quiet() waits only for a burst: the hops of this many keys (transfers) in hand at most. */
const QUIET_AT_MOST_KEYS = 4;

/**
 * A checkpointed processor split into partitions (SPEC §3). Events are keyed (`keyOf`: the saga's
 * transfer id, so one transfer's events and the account events it causes share a partition), and
 * each instance handles the partitions it leases: it follows the log from the lowest checkpoint
 * it holds and hands `handle` each event of its partitions past their checkpoints.
 *
 * Events of one key are handled one after another, in log order, except that an event this
 * process appended is handled as its append returns (it follows its key's events in hand, and
 * an earlier one from another process may come after it, as on a redelivery); different keys run
 * at once, and the reader goes on reading while they do (at most MAX_IN_FLIGHT events in hand), so one hop of
 * a saga costs its own step, not the slowest step of a batch. The checkpoints move, under their
 * fences, to the low-water mark: the position below which every event is handled. A lost lease
 * (rebalanced, or this process paused past it) fails `fence.assert()` in the handler and the
 * checkpoint write; a failure stops what is in hand, and the work restarts from the checkpoints.
 */
export function startPartitionedProcessor(options: {
  name: string;
  partitions: number;
  store: EventStore;
  leases: PartitionLeases;
  owner: string;
  logger: AppLogger;
  eventTypes: readonly string[];
  keyOf: (event: RecordedEvent) => string;
  handle: (events: RecordedEvent[], fence: Fence) => Promise<void>;
  /**
   * Shown every event the reader meets, of every partition, before it hands any of them over:
   * what other instances' partitions did, for caches (the saga's aggregates). Must not throw.
   */
  observe?: (events: readonly RecordedEvent[]) => void;
  batchSize?: number;
  timing?: LeaseTiming;
}): PartitionedProcessor {
  const { name, partitions, store, leases, owner, logger } = options;
  let current:
    | { subscription: Subscription; drain(): Promise<void>; oldestInHandMs(): number; keysInHand(): number }
    | undefined;
  /** Waiting for this instance to have nothing in hand (`quiet`). */
  const quietWaiters = new Set<() => void>();
  const wakeQuietWaiters = () => {
    for (const wake of quietWaiters) wake();
  };
  let handled = 0;

  /** One tenure's work: a subscription from the lowest checkpoint held, and its lanes of keys. */
  const follow = (claims: readonly PartitionClaim[], tenure: Tenure, restart: () => void) => {
    const owned = new Map(claims.map((claim) => [claim.partition, { ...claim }]));
    const types = new Set(options.eventTypes);
    const fence = tenure.fence(`${name} partitions ${claims.map((claim) => claim.partition).join(',')}`);
    /** Positions handed over and not yet handled, in log order (a Map keeps insertion order), with when. */
    const inFlight = new Map<number, number>();
    /** Each key's last event queued: its handling resolves true once it succeeded. */
    const lanes = new Map<string, Promise<boolean>>();
    /** Events this process appended, handed to their lanes before the reader met them (onAppended), by id. */
    const ahead = new Map<string, { position: number; handled: Promise<boolean> }>();
    let readTo = Math.min(...claims.map((claim) => claim.position));
    let committed = readTo;
    let failed: unknown;
    let draining = false;
    /** Wakes the reader while it waits for room (MAX_IN_FLIGHT): a lane finished, the work failed, or it is drained. */
    let room: (() => void) | undefined;
    let committing: Promise<void> | undefined;
    let commitAgain = false;

    const fail = (error: unknown) => {
      if (failed !== undefined) return;
      failed = error;
      // The lanes left skip their events without making room: the reader must not wait for them.
      room?.();
      if (!(error instanceof LeaseLostError))
        logger.warn({ err: error, processor: name }, 'processor failed; restarting from its checkpoints');
      restart();
    };
    /** Every event at or below it is handled. */
    const lowWaterMark = () => {
      const oldest = inFlight.keys().next();
      return oldest.done ? readTo : oldest.value - 1;
    };
    /** Checkpoints are written at most every COMMIT_EVERY_MS: off the hop's path, and one statement for many events. */
    let commitTimer: NodeJS.Timeout | undefined;
    const commitSoon = () => {
      commitTimer ??= setTimeout(() => {
        commitTimer = undefined;
        void commit();
      }, COMMIT_EVERY_MS);
    };
    const commit = () => {
      if (committing) {
        commitAgain = true;
        return committing;
      }
      committing = (async () => {
        do {
          commitAgain = false;
          const position = lowWaterMark();
          if (position <= committed || failed !== undefined) continue;
          const moved = [...owned.values()].map((claim) => ({ ...claim, position }));
          const written = await leases.commit(name, owner, moved);
          if (written.length < moved.length)
            throw new LeaseLostError(`${name}: a checkpoint write was fenced off`);
          committed = position;
        } while (commitAgain);
      })()
        .catch(fail)
        .finally(() => {
          committing = undefined;
        });
      return committing;
    };

    const run = (event: RecordedEvent) => async () => {
      if (failed !== undefined) return false;
      try {
        await options.handle([event], fence);
        handled++;
        return true;
      } catch (error) {
        fail(error);
        return false;
      }
    };
    /** Queues `event` behind the events of its key in hand (`later`: and behind what is running now). */
    const enqueue = (key: string, event: RecordedEvent, later = false) => {
      const before = lanes.get(key) ?? Promise.resolve(true);
      const tail = (later ? before.then(afterThisTurn) : before).then(run(event));
      lanes.set(key, tail);
      void tail.then(() => {
        if (lanes.get(key) !== tail) return;
        lanes.delete(key);
        if (lanes.size === 0) wakeQuietWaiters();
      });
      return tail;
    };
    /** The partition's claim when `event` is this tenure's to handle (past the partition's checkpoint). */
    const claimFor = (event: RecordedEvent, key: string) => {
      const claim = owned.get(partitionOf(key, partitions));
      return claim && event.position > claim.position ? claim : undefined;
    };

    // This process's own appends are handed over as they commit: a saga hop costs its step, not a
    // read of the log. The reader still meets each of them, and counts it as handled (the
    // checkpoint passes it) only once its lane has handled it; so a crash redelivers it as ever.
    const stopOffers = store.onAppended?.((events) => {
      if (failed !== undefined || draining) return;
      for (const event of events) {
        if (event.position <= readTo || !types.has(event.type) || ahead.has(event.id)) continue;
        const key = options.keyOf(event);
        // Handled after the appender's own continuation (its repository remembers the new state
        // first); queued at once, so a transfer's lane stays busy from hop to hop (quiet()).
        if (claimFor(event, key))
          ahead.set(event.id, { position: event.position, handled: enqueue(key, event, true) });
      }
    });

    const subscription = store.subscribe({
      after: readTo,
      eventTypes: options.eventTypes,
      batchSize: options.batchSize ?? 500,
      ...(stopOffers ? { ownAppendsTaken: true } : {}),
      handle: async (events) => {
        if (failed !== undefined) throw failed;
        if (draining) return;
        fence.assert();
        options.observe?.(events);
        for (const event of events) {
          const key = options.keyOf(event);
          if (!claimFor(event, key)) continue;
          const early = ahead.get(event.id);
          ahead.delete(event.id);
          const { position } = event;
          inFlight.set(position, performance.now());
          void (early?.handled ?? enqueue(key, event)).then((ok) => {
            if (!ok) return; // failed: the work restarts from the checkpoints, which stay below it
            inFlight.delete(position);
            room?.();
            commitSoon();
          });
        }
        readTo = events[events.length - 1]!.position;
        // Handed over ahead yet not met by the reader at its position: let the reader's copy count.
        for (const [id, early] of ahead) if (early.position <= readTo) ahead.delete(id);
        commitSoon();
        while (inFlight.size > MAX_IN_FLIGHT && failed === undefined && !draining)
          await new Promise<void>((resolve) => {
            room = resolve;
          });
      },
    });
    subscription.done.catch(fail);

    /** The oldest event in hand, and how long it has waited (0: none). */
    const oldestInHand = () => {
      const oldest = inFlight.entries().next();
      return oldest.done
        ? { position: 0, waited: 0 }
        : { position: oldest.value[0], waited: performance.now() - oldest.value[1] };
    };
    const oldestInHandMs = () => oldestInHand().waited;
    /** A step past STALLED_AFTER_MS is logged once per event. */
    let reportedStall: number | undefined;
    const watch = setInterval(() => {
      const { position, waited } = oldestInHand();
      if (waited < STALLED_AFTER_MS || reportedStall === position) return;
      reportedStall = position;
      logger.error(
        { processor: name, position, waitedMs: Math.round(waited) },
        'processor step has not settled',
      );
    }, STALLED_AFTER_MS / 3);
    watch.unref();

    return {
      subscription,
      oldestInHandMs,
      keysInHand: () => lanes.size,
      /** Stops reading, lets the lanes finish (or skip, after a failure), then writes the last checkpoint. */
      async drain() {
        draining = true;
        stopOffers?.();
        clearInterval(watch);
        room?.();
        await subscription.stop();
        await Promise.all([...lanes.values()]);
        clearTimeout(commitTimer);
        commitTimer = undefined;
        await commit();
      },
    };
  };

  const keeper = keepLeases({
    leases,
    processor: name,
    partitions,
    owner,
    logger,
    ...(options.timing ? { timing: options.timing } : {}),
    async onChange(claims, tenure) {
      await current?.drain();
      current = undefined;
      if (claims.length === 0) return;
      current = follow(claims, tenure, () => keeper.restart());
      logger.debug({ processor: name, partitions: claims.map((c) => c.partition) }, 'processor partitions');
    },
  });

  return {
    stop: () =>
      keeper.stop(async () => {
        await current?.drain();
        current = undefined;
      }),
    quiet: (maxMs) =>
      new Promise<void>((resolve) => {
        const keys = current?.keysInHand() ?? 0;
        if (keys === 0 || keys > QUIET_AT_MOST_KEYS) return resolve();
        const done = () => {
          clearTimeout(timer);
          quietWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, maxMs);
        quietWaiters.add(done);
      }),
    status: () => ({
      processor: name,
      partitions,
      held: keeper.tenure.claims().map((claim) => claim.partition),
      handled,
      oldestInHandMs: Math.round(current?.oldestInHandMs() ?? 0),
    }),
  };
}
