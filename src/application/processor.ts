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

const DEFAULT_LEASE_MS = 2_500;
const DEFAULT_RENEW_MS = 500;

/** What an instance holds of one processor right now, and until when it may act on it by its own clock. */
export type Tenure = {
  claims(): readonly PartitionClaim[];
  /**
   * A fence for work on what is held now: it throws LeaseLostError once what is held changes (a
   * partition lost, gained or claimed anew) or the lease runs out by this process's clock.
   */
  fence(what: string): Fence;
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
  /** Bumped whenever what is held changes: fences of an older tenure fail. */
  let generation = 0;
  let restartAsked = false;
  let wake = new AbortController();

  const tenure: Tenure = {
    claims: () => held,
    fence(what) {
      const of = generation;
      return {
        assert() {
          if (of !== generation || performance.now() >= validUntil)
            throw new LeaseLostError(`${processor}: ${what} is no longer this instance's`);
        },
      };
    },
  };
  const shape = (claims: readonly PartitionClaim[]) => claims.map((c) => `${c.partition}:${c.fence}`).join();

  const run = async () => {
    let applied = '';
    let failing = false;
    while (!stopping.signal.aborted) {
      const sentAt = performance.now();
      try {
        held = await leases.acquire(processor, partitions, owner, leaseMs);
        validUntil = sentAt + leaseMs * 0.8;
        failing = false;
      } catch (error) {
        // One line per outage: the renewal is tried again every renewMs.
        if (!failing) logger.warn({ err: error, processor }, 'partition leases not renewed; retrying');
        failing = true;
      }
      if (performance.now() >= validUntil) held = [];
      const now = shape(held);
      if (now !== applied) generation++;
      if (now !== applied || restartAsked) {
        restartAsked = false;
        applied = now;
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
      generation++;
      await leases.release(owner).catch(() => {});
    },
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
  start: (claim: PartitionClaim, fence: Fence) => { stop(): Promise<void> };
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
      running = options.start(claim, tenure.fence(options.name));
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
