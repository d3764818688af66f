import { randomUUID } from 'node:crypto';
import type { SubscribeOptions, Subscription } from '../../../application/ports/event-store.ts';
import { backoff, isTransient, type RetryPolicy, retry } from '../../../application/retry.ts';
import type { Sql } from '../client.ts';
import type { createCheckpoints } from './checkpoints.ts';
import { DEFAULT_BATCH_SIZE, type LogReader } from './read-log.ts';

const NOTIFY_CHANNEL = 'esbank_events';
/** A subscription waits an outage out: every 100 ms at first, at most every 5 s. */
const OUTAGES: RetryPolicy = {
  attempts: Number.POSITIVE_INFINITY,
  delayMs: backoff({ initialMs: 100, maxMs: 5_000 }),
  retryOn: isTransient,
};
const POLL_MIN_MS = 20;
const POLL_MAX_MS = 500;

type WakeUps = { count: number; waiters: Set<() => void> };

/** A range of the log: the events with `after < position <= upTo`, all of them visible. */
export type LogRange = { after: number; upTo: number };

/**
 * Following the log. Live subscriptions are woken at once by appends through this store and by
 * NOTIFY (sent after the append commits) from other processes. An event held back by an append in
 * flight is woken for when that append commits; only one that rolled back announces nothing, so
 * an adaptive poll (short after a wake-up, backing off while the log is quiet) is the safety net.
 */
export function createSubscriptions(
  sql: Sql,
  log: LogReader,
  checkpoints: ReturnType<typeof createCheckpoints>,
) {
  /** Sent with this store's NOTIFYs: its own come back to its LISTEN and wake nobody twice. */
  const self = randomUUID();
  /**
   * Who waits for what: every follower for an append by another process (NOTIFY), and most also
   * for this store's own. Each group counts its wake-ups, so a follower that read while one
   * arrived does not go to sleep.
   */
  const anyAppend: WakeUps = { count: 0, waiters: new Set() };
  const othersAppend: WakeUps = { count: 0, waiters: new Set() };
  let listening: Promise<{ unlisten(): Promise<void> } | null> | undefined;
  const subscriptions = new Set<Subscription>();
  let announcing: Promise<void> | undefined;
  let announceAgain = false;

  const wake = (group: WakeUps) => {
    group.count++;
    for (const waiter of group.waiters) waiter();
  };
  const wakeAll = (byOtherProcess: boolean) => {
    wake(anyAppend);
    if (byOtherProcess) wake(othersAppend);
  };

  let headRead: { wakeUps: number; position: Promise<number> } | undefined;
  /**
   * The visible head for followLog: the followers one wake-up sets off (a runner per projection)
   * share a read in flight that was sent after that wake-up, instead of one read each.
   */
  const sharedHead = () => {
    if (headRead?.wakeUps !== anyAppend.count) {
      const position = log.headPosition();
      const read = { wakeUps: anyAppend.count, position };
      headRead = read;
      const settled = () => {
        if (headRead === read) headRead = undefined;
      };
      position.then(settled, settled);
    }
    return headRead.position;
  };

  /** LISTEN once for all subscriptions; a failed LISTEN is tried again by the next subscription. */
  const ensureListening = () => {
    listening ??= sql
      .listen(NOTIFY_CHANNEL, (from) => from !== self && wakeAll(true))
      .catch(() => {
        listening = undefined;
        return null;
      });
  };

  /** After an append: wakes local subscriptions and notifies other processes, at most one NOTIFY in flight. */
  const announce = () => {
    wakeAll(false);
    if (announcing) {
      announceAgain = true;
      return;
    }
    announcing = (async () => {
      do {
        announceAgain = false;
        // A NOTIFY holds a database-wide lock through its commit; a wake-up hint needs no durable
        // commit, so this one does not wait for the WAL flush and releases the lock at once.
        await sql`SELECT set_config('synchronous_commit', 'off', true), pg_notify(${NOTIFY_CHANNEL}, ${self})`.catch(
          () => {},
        );
      } while (announceAgain);
      announcing = undefined;
    })();
  };

  /**
   * The loop under every subscription: `read` how far the log goes past `after` (and what to
   * hand over), `handle` it, move on; sleep while there is nothing new, until an append wakes it
   * or the adaptive poll does. Outages are waited out with backoff; other errors end it.
   */
  function follow<Batch>(options: {
    start: () => Promise<number>;
    /** `more`: the read stopped at its size limit, so the log may go on past `reached`. */
    read: (after: number) => Promise<{ batch: Batch | null; reached: number; more: boolean }>;
    handle: (batch: Batch) => Promise<void>;
    /** After a batch is handled (and after a stretch with nothing to hand over): record `reached`. */
    commit?: (reached: number) => Promise<void>;
    /** Woken by this store's own appends too (SubscribeOptions.ownAppendsTaken says when not). */
    wakeOnOwnAppends?: boolean;
  }): Subscription {
    const stopping = new AbortController();
    let wakeSelf: (() => void) | undefined;
    const wakeUps = options.wakeOnOwnAppends === false ? othersAppend : anyAppend;
    ensureListening();

    /** Sleeps `ms` unless woken or stopped first; returns at once if woken since `wakeUpsSeen`. */
    const pause = (ms: number, wakeUpsSeen: number) =>
      new Promise<void>((resolve) => {
        if (stopping.signal.aborted || wakeUps.count !== wakeUpsSeen) return resolve();
        const done = () => {
          clearTimeout(timer);
          wakeUps.waiters.delete(done);
          wakeSelf = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        wakeSelf = done;
        wakeUps.waiters.add(done);
      });

    /** Runs `work` through outages (OUTAGES); gives up (undefined) once stopped; other errors end it. */
    async function retrying<T>(work: () => Promise<T>): Promise<T | undefined> {
      try {
        return await retry(work, OUTAGES, { signal: stopping.signal });
      } catch (error) {
        if (stopping.signal.aborted && isTransient(error)) return undefined;
        throw error;
      }
    }

    const run = async () => {
      let after = await retrying(options.start);
      let idleMs = POLL_MIN_MS;
      while (!stopping.signal.aborted && after !== undefined) {
        const wakeUpsSeen = wakeUps.count;
        const next = await retrying(() => options.read(after!));
        if (next === undefined) break;
        if (next.reached > after) {
          idleMs = POLL_MIN_MS;
          if (next.batch !== null) await options.handle(next.batch);
          after = next.reached;
          const { commit } = options;
          // Only after the handler succeeded: at-least-once, never a skipped batch.
          if (commit) await retrying(() => commit(next.reached));
          if (next.more) continue;
        }
        // Caught up as of the read: whatever commits after it wakes this loop (an append through
        // this store at once, another process's by NOTIFY), so only a wake-up since the read was
        // sent, or the poll, is worth another read.
        await pause(idleMs, wakeUpsSeen);
        // After a wake-up the poll starts short again: an event a wake-up did not find (held back
        // by an append that then rolled back, which announces nothing) waits POLL_MIN_MS, not 500.
        idleMs = wakeUps.count !== wakeUpsSeen ? POLL_MIN_MS : Math.min(POLL_MAX_MS, idleMs * 2);
      }
    };

    const done = run();
    const subscription: Subscription = {
      done,
      async stop() {
        stopping.abort();
        wakeSelf?.();
        subscriptions.delete(subscription);
        await done.catch(() => {});
      },
    };
    subscriptions.add(subscription);
    done.catch(() => subscriptions.delete(subscription));
    return subscription;
  }

  return {
    announce,

    subscribe(options: SubscribeOptions): Subscription {
      const { checkpoint, batchSize = DEFAULT_BATCH_SIZE, eventTypes, handle } = options;
      return follow({
        wakeOnOwnAppends: !options.ownAppendsTaken,
        start: async () =>
          (checkpoint ? await checkpoints.readCheckpoint(checkpoint) : null) ?? options.after ?? 0,
        read: async (after) => {
          if (eventTypes) {
            const window = await log.readWindow(after, batchSize, eventTypes);
            return {
              batch: window.events.length > 0 ? window.events : null,
              reached: window.reached,
              more: window.full,
            };
          }
          const events = await log.readAll({ after, batchSize });
          return {
            batch: events.length > 0 ? events : null,
            reached: events.at(-1)?.position ?? after,
            more: events.length === batchSize,
          };
        },
        handle,
        ...(checkpoint
          ? { commit: (reached: number) => checkpoints.storeCheckpoint(checkpoint, reached) }
          : {}),
      });
    },

    /** Ranges of at most `span` visible positions, handed over one after another (see PostgresEventStore.followLog). */
    followLog({
      after,
      span = DEFAULT_BATCH_SIZE,
      handle,
      settle,
    }: {
      after: number;
      span?: number;
      handle: (range: LogRange) => Promise<void>;
      /** Awaited before each look at the head: lets a burst of appends finish, so one range takes it whole. */
      settle?: () => Promise<void>;
    }) {
      return follow({
        start: async () => after,
        read: async (from) => {
          await settle?.();
          // Every position up to the visible head has committed or rolled back, so any range below
          // it is complete, events or not (rolled-back appends leave gaps of any length).
          const head = await sharedHead();
          const reached = Math.max(from, Math.min(head, from + span));
          return {
            batch: reached > from ? { after: from, upTo: reached } : null,
            reached,
            more: head > reached,
          };
        },
        handle,
      });
    },

    /** Stops every subscription and the LISTEN. */
    async close() {
      await Promise.all([...subscriptions].map((subscription) => subscription.stop()));
      const listener = await listening;
      await listener?.unlisten().catch(() => {});
      await announcing;
    },
  };
}
