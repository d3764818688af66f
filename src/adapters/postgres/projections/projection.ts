import type { PendingQuery, Row } from 'postgres';
import type { RecordedEvent } from '../../../application/ports/event-store.ts';
import type { AccountEvent } from '../../../domain/account/index.ts';
import type { TransferEvent } from '../../../domain/transfer/index.ts';
import type { TransactionSql } from '../client.ts';

/** Tables keyed by event type are checked against the domain's event names. */
export type ByEventType<Value> = Partial<Record<AccountEvent['type'] | TransferEvent['type'], Value>>;

export const PROJECTION_NAMES = ['balances', 'history', 'transfers'] as const;
export type ProjectionName = (typeof PROJECTION_NAMES)[number];

/**
 * Where a batch of events comes from, as rows `(global_position, stream_name, revision, type,
 * data, metadata)` of the given types, for a projection's SQL to read in the same statement:
 * events sent along as JSON (whatever store they came from), or a range of the `events` table
 * itself when the log lives in the same database (nothing travels through this process then).
 */
export type EventSource = (tx: TransactionSql, types: readonly string[]) => PendingQuery<Row[]>;

/** The events of a batch, sent along as one JSON parameter. */
export const eventsFromBatch =
  (events: readonly RecordedEvent[]): EventSource =>
  (tx, types) => {
    const wanted = new Set(types);
    const rows = events
      .filter((event) => wanted.has(event.type))
      .map((event) => ({
        global_position: event.position,
        stream_name: event.streamName,
        revision: event.revision,
        type: event.type,
        data: event.data,
        metadata: event.metadata,
      }));
    return tx`
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) AS e(
        global_position bigint, stream_name text, revision bigint, type text, data jsonb, metadata jsonb)`;
  };

/**
 * The events with `after < position <= upTo`, read from the log table by the statement itself;
 * `upTo` must be a position whose events, and all before it, are visible (see followLog).
 */
export const eventsFromLog =
  (after: number, upTo: number): EventSource =>
  (tx, types) =>
    tx`
    SELECT global_position, stream_name, revision, type, data, metadata
    FROM events
    WHERE global_position > ${after} AND global_position <= ${upTo} AND type = ANY(${types as string[]})`;

/**
 * A read model fed from the log. `apply` writes the events of `source` (in position order) inside
 * the caller's transaction, with one set-based statement on unqualified table names. It is
 * idempotent: events a row has already seen (by stream revision or position) are skipped, so
 * applying a batch twice changes nothing. Events of other types are ignored.
 */
export type Projection = {
  name: ProjectionName;
  eventTypes: readonly string[];
  /** Indexes (by name) that `apply` reads through; a rebuild builds the table's others after loading. */
  lookupIndexes: readonly string[];
  apply(tx: TransactionSql, source: EventSource): Promise<void>;
};

/** How a balance-changing account event moves `available` and `pending`. */
export const BALANCE_EFFECTS: Readonly<Record<string, { available: -1 | 0 | 1; pending: -1 | 0 | 1 }>> = {
  CashDeposited: { available: 1, pending: 0 },
  CashWithdrawn: { available: -1, pending: 0 },
  TransferCreditHeld: { available: 0, pending: 1 },
  TransferCreditReleased: { available: 1, pending: -1 },
  TransferCreditCancelled: { available: 0, pending: -1 },
  TransferDebited: { available: -1, pending: 0 },
  TransferDebitRefunded: { available: 1, pending: 0 },
} satisfies ByEventType<{ available: -1 | 0 | 1; pending: -1 | 0 | 1 }>;

/**
 * A lookup table by event type for a projection's SQL, as one JSON parameter:
 * `(VALUES ...)`-like rows `{type, ...columns}`, joined on `type`.
 */
export const byTypeTable = (table: Readonly<Record<string, object | string>>, column = 'value') =>
  JSON.stringify(
    Object.entries(table).map(([type, value]) =>
      typeof value === 'string' ? { type, [column]: value } : { type, ...value },
    ),
  );
