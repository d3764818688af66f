/** Who and what caused an event; stored beside it for audit and tracing. */
export type EventMetadata = {
  /** The transfer id for saga traffic; otherwise the request id. */
  correlationId: string;
  /** The id of the event or request that caused this one. */
  causationId: string;
  /** ISO-8601 business time, taken from the command. */
  occurredAt: string;
  schemaVersion: number;
  /** The authenticated subject, when known (audit). */
  principal?: string;
  /** W3C trace context of the code that appended the event, when it was traced (src/application/tracing.ts). */
  traceparent?: string;
  tracestate?: string;
};

export type NewEvent = {
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
};

export type RecordedEvent = NewEvent & {
  streamName: string;
  /** 0-based position of the event in its stream. */
  revision: number;
  /** Position in the global log; increases in the order readers see events. */
  position: number;
};

/** `no_stream`: the stream must not exist; `any`: no check; a number: the last event's revision. */
export type ExpectedRevision = 'no_stream' | 'any' | number;

export type AppendResult = {
  /** Revision of the last appended event: the expected revision of the next append. */
  nextExpectedRevision: number;
  /** Global position of the last appended event. */
  position: number;
};

/** Thrown by `append` when the stream is not at the expected revision. */
export class WrongExpectedRevisionError extends Error {
  override readonly name = 'WrongExpectedRevisionError';

  constructor(
    readonly streamName: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | 'no_stream' | 'unknown',
  ) {
    super(`Stream ${streamName} is at ${actual}, expected ${expected}`);
  }
}

/** Thrown when the store cannot be reached; callers retry with backoff. */
export class EventStoreUnavailableError extends Error {
  override readonly name = 'EventStoreUnavailableError';
}

export type Snapshot = {
  /** Revision of the last event folded into the state. */
  revision: number;
  schemaVersion: number;
  state: unknown;
};

export type ReadAllOptions = {
  /** Read events strictly after this global position; 0 = from the start. */
  after: number;
  /** At most this many events in one batch. */
  batchSize?: number;
  /** Only events of these types (others are skipped, not returned). */
  eventTypes?: readonly string[];
};

export type SubscriptionHandler = (events: RecordedEvent[]) => Promise<void>;

export type SubscribeOptions = {
  /**
   * Durable checkpoint name: the subscription starts after the stored checkpoint and stores
   * a new one after each handled batch. Without it, it starts after `after` and stores nothing.
   */
  checkpoint?: string;
  after?: number;
  batchSize?: number;
  eventTypes?: readonly string[];
  /** Called with each batch in log order; the next batch waits for it. A throw stops the subscription. */
  handle: SubscriptionHandler;
  /**
   * The subscriber takes this store's own appends as they commit (onAppended), so they need not
   * wake it: it reads on another process's appends and on its poll. A hint a store may ignore.
   */
  ownAppendsTaken?: boolean;
};

export type Subscription = {
  /** Stops after the batch in hand; resolves once stopped. */
  stop(): Promise<void>;
  /** Settles when the subscription ends: resolves on stop, rejects with the handler's or store's error. */
  done: Promise<void>;
};

/**
 * The event log. Streams are appended with optimistic concurrency; the global log is read in
 * an order that never skips an event committed later with a lower position.
 */
export interface EventStore {
  append(streamName: string, events: NewEvent[], expectedRevision: ExpectedRevision): Promise<AppendResult>;
  /** Events of one stream from `fromRevision` (inclusive), in revision order; [] for no stream. */
  readStream(
    streamName: string,
    options?: { fromRevision?: number; maxCount?: number },
  ): Promise<RecordedEvent[]>;
  /** One batch of the global log after `after`; an empty batch means the reader is caught up. */
  readAll(options: ReadAllOptions): Promise<RecordedEvent[]>;
  /** The global position of the newest event a reader can see now (0 for an empty log). */
  headPosition(): Promise<number>;
  /**
   * The position of the newest committed event, which a reader may not see yet (an event with a
   * lower position can still be in flight). Queries wait for read models to reach it, so a client
   * reads its own writes.
   */
  lastPosition(): Promise<number>;
  /**
   * The global position of the newest event of `streamName` (0 for no stream). A query of one
   * stream's read model (an account's balance or history) waits for it: every write to that
   * stream committed before the query is in the answer, whatever else the log holds.
   */
  streamPosition(streamName: string): Promise<number>;
  /** Catch up from the checkpoint, then follow new events live. */
  subscribe(options: SubscribeOptions): Subscription;
  readCheckpoint(name: string): Promise<number | null>;
  storeCheckpoint(name: string, position: number): Promise<void>;
  /** Every stream name starting with `prefix`, in name order (optional: for `esbank snapshot --all`). */
  listStreams?(prefix?: string): Promise<string[]>;
  /**
   * Calls `listener` with the events of every append through this store object, as recorded (with
   * their positions), right after their commit: an in-process hint that lets a follower of the log
   * act on them before its subscription reads them. The log stays the source of truth: what a
   * listener does with a hint, the subscription must still reach and account for. A listener is
   * called before the appender hears back, so it must only take note (act later), and the events
   * are the appender's own objects, to be read, not changed. Returns the way to stop listening.
   * Optional: a store that cannot tell an append's positions (EventStoreDB) offers none.
   */
  onAppended?(listener: (events: readonly RecordedEvent[]) => void): () => void;
  readSnapshot(streamName: string): Promise<Snapshot | null>;
  writeSnapshot(streamName: string, snapshot: Snapshot): Promise<void>;
  close(): Promise<void>;
}
