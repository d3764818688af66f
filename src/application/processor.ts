import type { EventStore, RecordedEvent, Subscription } from './ports/event-store.ts';
import type { AppLogger } from './ports/logger.ts';
import type { PartitionClaim, PartitionLeases } from './ports/partition-leases.ts';
import { pause } from './retry.ts';

/** This instance no longer holds the partition it was acting for: it must apply nothing more. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

/** Handed to a processor's handler: `assert()` throws LeaseLostError once the batch's partitions are no longer this instance's. */
export type Fence = { assert(): void };

export type LeaseTiming = {
  /** How long a claim lasts without renewal: a dead instance's partitions move after at most this plus `renewMs`. */
  leaseMs?: number;
  renewMs?: number;
};

const DEFAULT_LEASE_MS = 3_000;
const DEFAULT_RENEW_MS = 1_000;

/** What an instance holds of one processor right now, and until when it may act on it by its own clock. */
export type Tenure = {
  claims(): readonly PartitionClaim[];
  /** True while `claim` (partition and fence) is still held and its lease has not run out locally. */
  holds(claim: PartitionClaim): boolean;
};

/**
 * Keeps `owner`'s leases on `processor`'s partitions: claims its fair share, renews it every
 * `renewMs`, and calls `onChange` (awaited) whenever what it holds changes, or when `restart()`
 * asks for it (the work failed). The local deadline of a tenure is taken from before the renewal
 * was sent, minus a margin, so this process stops acting before the database lets another claim.
 * A process paused past its lease (SIGSTOP, a long GC) wakes with an expired tenure.
 */
export function keepLeases(options: {
  leases: PartitionLeases;
  processor: string;
  partitions: number;
  owner: string;
  logger: AppLogger;
  timing?: LeaseTiming;
  onChange: (claims: readonly PartitionClaim[], tenure: Tenure) => Promise<void>;
}) {
  const { leases, processor, partitions, owner, logger } = options;
  const leaseMs = options.timing?.leaseMs ?? DEFAULT_LEASE_MS;
  const renewMs = options.timing?.renewMs ?? DEFAULT_RENEW_MS;
  const stopping = new AbortController();
  let held: readonly PartitionClaim[] = [];
  let validUntil = 0;
  let restartAsked = false;
  let wake = new AbortController();

  const tenure: Tenure = {
    claims: () => held,
    holds: (claim) =>
      performance.now() < validUntil &&
      held.some((c) => c.partition === claim.partition && c.fence === claim.fence),
  };
  const shape = (claims: readonly PartitionClaim[]) => claims.map((c) => `${c.partition}:${c.fence}`).join();

  const run = async () => {
    let applied = '';
    while (!stopping.signal.aborted) {
      const sentAt = performance.now();
      try {
        held = await leases.acquire(processor, partitions, owner, leaseMs);
        validUntil = sentAt + leaseMs * 0.8;
      } catch (error) {
        logger.warn({ err: error, processor }, 'partition leases not renewed; retrying');
      }
      if (performance.now() >= validUntil) held = [];
      if (shape(held) !== applied || restartAsked) {
        restartAsked = false;
        applied = shape(held);
        await options.onChange(held, tenure).catch((error) => {
          logger.warn({ err: error, processor }, 'processor did not start; retrying');
          restartAsked = true;
        });
      }
      await pause(renewMs, AbortSignal.any([stopping.signal, wake.signal]));
      wake = new AbortController();
    }
  };
  const running = run();

  return {
    tenure,
    /** The work failed: start it again from the checkpoints at the next renewal, which comes now. */
    restart() {
      restartAsked = true;
      wake.abort();
    },
    /** Stops renewing, lets `drain` stop the work, then gives everything back so that others take over at once. */
    async stop(drain: () => Promise<void>) {
      stopping.abort();
      wake.abort();
      await running;
      await drain();
      held = [];
      await leases.release(owner).catch(() => {});
    },
  };
}

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
  /** Events this instance handed to the handler since it started. */
  handled: number;
};

export type PartitionedProcessor = { stop(): Promise<void>; status(): ProcessorStatus };

/**
 * A checkpointed processor split into partitions (SPEC §3): events are keyed (`keyOf`: the saga's
 * transfer id, so one transfer's events and the account events it causes stay in order in one
 * partition), and each instance handles the partitions it leases. It follows the log from the
 * lowest checkpoint it holds, hands `handle` the events of its partitions past their checkpoints,
 * and then moves those checkpoints under their fences. A lease lost on the way (rebalanced, or
 * this process paused past it) fails `fence.assert()` in the handler and the checkpoint write, and
 * the work restarts from what the instance holds then.
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
  batchSize?: number;
  timing?: LeaseTiming;
}): PartitionedProcessor {
  const { name, partitions, store, leases, owner, logger } = options;
  let subscription: Subscription | undefined;
  let handled = 0;

  const follow = (claims: readonly PartitionClaim[], tenure: Tenure) => {
    const owned = new Map(claims.map((claim) => [claim.partition, { ...claim }]));
    const fence: Fence = {
      assert() {
        for (const claim of owned.values())
          if (!tenure.holds(claim)) throw new LeaseLostError(`${name} partition ${claim.partition} was lost`);
      },
    };
    return store.subscribe({
      after: Math.min(...claims.map((claim) => claim.position)),
      eventTypes: options.eventTypes,
      batchSize: options.batchSize ?? 500,
      handle: async (events) => {
        fence.assert();
        const mine = events.filter((event) => {
          const claim = owned.get(partitionOf(options.keyOf(event), partitions));
          return claim !== undefined && event.position > claim.position;
        });
        if (mine.length > 0) await options.handle(mine, fence);
        handled += mine.length;
        const last = events[events.length - 1]!.position;
        const moved = [...owned.values()].map((claim) => ({ ...claim, position: last }));
        const written = await leases.commit(name, owner, moved);
        for (const claim of owned.values()) claim.position = last;
        if (written.length < moved.length)
          throw new LeaseLostError(`${name}: a checkpoint write was fenced off`);
      },
    });
  };

  const keeper = keepLeases({
    leases,
    processor: name,
    partitions,
    owner,
    logger,
    ...(options.timing ? { timing: options.timing } : {}),
    async onChange(claims, tenure) {
      await subscription?.stop();
      subscription = undefined;
      if (claims.length === 0) return;
      const started = follow(claims, tenure);
      subscription = started;
      started.done.then(
        () => {},
        (error) => {
          if (subscription !== started) return;
          if (!(error instanceof LeaseLostError))
            logger.warn({ err: error, processor: name }, 'processor failed; restarting from its checkpoints');
          keeper.restart();
        },
      );
      logger.debug({ processor: name, partitions: claims.map((c) => c.partition) }, 'processor partitions');
    },
  });

  return {
    stop: () =>
      keeper.stop(async () => {
        await subscription?.stop();
        subscription = undefined;
      }),
    status: () => ({
      processor: name,
      partitions,
      held: keeper.tenure.claims().map((claim) => claim.partition),
      handled,
    }),
  };
}

/**
 * Work that one instance at a time does (a projection, the relay): a processor of one partition.
 * `start` begins it with the claim's fence; it is stopped when the lease is lost or given back.
 */
export function runWhileLeased(options: {
  name: string;
  leases: PartitionLeases;
  owner: string;
  logger: AppLogger;
  timing?: LeaseTiming;
  start: (claim: PartitionClaim, fence: Fence) => { stop(): Promise<void>; done?: Promise<void> };
}) {
  let running: { stop(): Promise<void> } | undefined;
  const keeper = keepLeases({
    leases: options.leases,
    processor: options.name,
    partitions: 1,
    owner: options.owner,
    logger: options.logger,
    ...(options.timing ? { timing: options.timing } : {}),
    async onChange(claims, tenure) {
      await running?.stop();
      running = undefined;
      const [claim] = claims;
      if (!claim) return;
      running = options.start(claim, {
        assert() {
          if (!tenure.holds(claim)) throw new LeaseLostError(`${options.name} was lost`);
        },
      });
    },
  });
  return {
    /** True while this instance holds the work. */
    active: () => keeper.tenure.claims().length > 0,
    stop: () =>
      keeper.stop(async () => {
        await running?.stop();
        running = undefined;
      }),
  };
}
