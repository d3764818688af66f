import { appendListeners } from '../../application/append-listeners.ts';
import type { EventStore, Subscription } from '../../application/ports/event-store.ts';
import type { Sql } from './client.ts';
import { createAppender } from './event-store/append.ts';
import { createCheckpoints } from './event-store/checkpoints.ts';
import { createLogReader } from './event-store/read-log.ts';
import { createStreamReader } from './event-store/read-stream.ts';
import { createSnapshots } from './event-store/snapshots.ts';
import { createSubscriptions, type LogRange } from './event-store/subscription.ts';

export type { LogRange } from './event-store/subscription.ts';

export type PostgresEventStore = EventStore & {
  /** The pool the store runs on: readers in the same database may read the log table themselves. */
  readonly sql: Sql;
  /** Every stream name with the prefix (e.g. `account-`), for `esbank snapshot --all`. */
  listStreams(prefix?: string): Promise<string[]>;
  /**
   * Follows the log without reading it: hands over, one after another, ranges of at most `span`
   * positions whose events are all visible (every lower position has committed or aborted), for
   * a consumer that reads them from the `events` table itself, in its own transaction.
   */
  followLog(options: {
    after: number;
    span?: number;
    handle: (range: LogRange) => Promise<void>;
    /** Awaited before each look at the head: lets a burst of appends finish, so one range takes it whole. */
    settle?: () => Promise<void>;
  }): Subscription;
};

const isPostgresEventStore = (store: EventStore): store is PostgresEventStore =>
  'followLog' in store && typeof store.followLog === 'function';

/** Whether `store` keeps its log in the database `sql` is a pool of: its `events` table is readable there. */
export const logTableOn = (store: EventStore, sql: Sql): store is PostgresEventStore =>
  isPostgresEventStore(store) && store.sql === sql;

/**
 * The event store on PostgreSQL (migrations/0001_event_store.sql and 0005_append_batch.sql), one
 * job a file in ./event-store/: append, read a stream, read the log (gap-free: read-log.ts says
 * how), checkpoints, snapshots, subscriptions. Round trips, not rows, are what an append or a load
 * costs here, so appends, stream reads and snapshot reads each batch concurrent calls.
 */
export function createPostgresEventStore(sql: Sql): PostgresEventStore {
  const appendToStream = createAppender(sql);
  const log = createLogReader(sql);
  const checkpoints = createCheckpoints(sql);
  const snapshots = createSnapshots(sql);
  const subscriptions = createSubscriptions(sql, log, checkpoints);
  const appended = appendListeners();
  return {
    sql,
    async append(streamName, events, expected) {
      const result = await appendToStream(streamName, events, expected);
      // One call of esbank_append_batch draws an entry's positions in a row, under one lock.
      appended.emit(streamName, events, result);
      subscriptions.announce();
      return result;
    },
    onAppended: appended.listen,
    readStream: createStreamReader(sql),
    readAll: log.readAll,
    headPosition: log.headPosition,
    lastPosition: log.lastPosition,
    streamPosition: log.streamPosition,
    listStreams: log.listStreams,
    subscribe: subscriptions.subscribe,
    followLog: subscriptions.followLog,
    ...checkpoints,
    ...snapshots,
    close: subscriptions.close,
  };
}
