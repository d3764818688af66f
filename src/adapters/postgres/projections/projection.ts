import type { RecordedEvent } from '../../../application/ports/event-store.ts';
import type { AccountEvent } from '../../../domain/account/index.ts';
import type { TransferEvent } from '../../../domain/transfer/index.ts';
import type { TransactionSql } from '../client.ts';

/** Tables keyed by event type are checked against the domain's event names. */
export type ByEventType<Value> = Partial<Record<AccountEvent['type'] | TransferEvent['type'], Value>>;

export const PROJECTION_NAMES = ['balances', 'history', 'transfers'] as const;
export type ProjectionName = (typeof PROJECTION_NAMES)[number];

/**
 * A read model fed from the log. `apply` writes one batch (in position order) inside the caller's
 * transaction, with set-based SQL on unqualified table names. It is idempotent: events a row has
 * already seen (by stream revision or position) are skipped, so applying a batch twice changes
 * nothing. Events of other types are ignored.
 */
export type Projection = {
  name: ProjectionName;
  eventTypes: ReadonlySet<string>;
  /** Indexes (by name) that `apply` reads through; a rebuild builds the table's others after loading. */
  lookupIndexes: readonly string[];
  apply(tx: TransactionSql, events: readonly RecordedEvent[]): Promise<void>;
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

export const isAccountEvent = (event: RecordedEvent) => event.streamName.startsWith('account-');

/** The events of `projection` in the batch. */
export const relevant = (projection: Pick<Projection, 'eventTypes'>, events: readonly RecordedEvent[]) =>
  events.filter((event) => projection.eventTypes.has(event.type));

/**
 * Rows travel as one JSON text parameter, unpacked by `json_to_recordset`: one round trip and one
 * statement per batch, whatever its size. Text then a cast, so no client serializer can touch it.
 */
export const asJson = (rows: readonly object[]) => JSON.stringify(rows);

export const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
