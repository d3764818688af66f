import { sql } from 'drizzle-orm';
import { bigint, check, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * The read models of SPEC §5, as data; mirrors migrations/0003_read_models.sql. Table names are
 * unqualified so that `esbank replay` can build copies in a scratch schema through search_path.
 */

export type AccountStatus = 'OPEN' | 'CLOSED';

export const balances = pgTable(
  'balances',
  {
    accountId: uuid('account_id').primaryKey(),
    ownerId: text('owner_id').notNull(),
    currency: text('currency').notNull(),
    status: text('status').$type<AccountStatus>().notNull(),
    available: bigint('available', { mode: 'number' }).notNull(),
    pending: bigint('pending', { mode: 'number' }).notNull(),
    /** The account stream's revision of the last event applied. */
    version: bigint('version', { mode: 'number' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'string' }).notNull(),
  },
  (table) => [
    index('balances_owner').on(table.ownerId),
    check('balances_status_check', sql`${table.status} IN ('OPEN', 'CLOSED')`),
  ],
);

export type HistoryKind =
  | 'CASH_DEPOSITED'
  | 'CASH_WITHDRAWN'
  | 'TRANSFER_CREDIT_HELD'
  | 'TRANSFER_CREDIT_RELEASED'
  | 'TRANSFER_CREDIT_CANCELLED'
  | 'TRANSFER_DEBITED'
  | 'TRANSFER_DEBIT_REFUNDED';

export const history = pgTable(
  'history',
  {
    position: bigint('position', { mode: 'number' }).primaryKey(),
    accountId: uuid('account_id').notNull(),
    kind: text('kind').$type<HistoryKind>().notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    availableAfter: bigint('available_after', { mode: 'number' }).notNull(),
    pendingAfter: bigint('pending_after', { mode: 'number' }).notNull(),
    transferId: uuid('transfer_id'),
    counterpartyAccountId: uuid('counterparty_account_id'),
    reference: text('reference'),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'string' }).notNull(),
  },
  (table) => [
    index('history_account_position').on(table.accountId, table.position.desc().nullsFirst()),
    index('history_transfer').on(table.transferId).where(sql`${table.transferId} IS NOT NULL`),
  ],
);

export type TransferStatus = 'PENDING' | 'COMPLETED' | 'CANCELLED';
export type TimelineEntry = { step: string; at: string; position: number };

export const transfers = pgTable(
  'transfers',
  {
    transferId: uuid('transfer_id').primaryKey(),
    /** The position of TransferRequested: the keyset of listings. */
    requestedPosition: bigint('requested_position', { mode: 'number' }).notNull(),
    /** The position of the last event applied. */
    lastPosition: bigint('last_position', { mode: 'number' }).notNull(),
    fromAccountId: uuid('from_account_id').notNull(),
    toAccountId: uuid('to_account_id').notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
    status: text('status').$type<TransferStatus>().notNull(),
    reason: text('reason'),
    reference: text('reference'),
    timeline: jsonb('timeline').$type<TimelineEntry[]>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'string' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'string' }).notNull(),
  },
  (table) => [
    index('transfers_from').on(table.fromAccountId, table.requestedPosition.desc().nullsFirst()),
    index('transfers_to').on(table.toAccountId, table.requestedPosition.desc().nullsFirst()),
    index('transfers_status').on(table.status, table.requestedPosition.desc().nullsFirst()),
    index('transfers_requested').on(table.requestedPosition.desc().nullsFirst()),
    check('transfers_status_check', sql`${table.status} IN ('PENDING', 'COMPLETED', 'CANCELLED')`),
  ],
);

export const projectionCheckpoints = pgTable('projection_checkpoints', {
  name: text('name').primaryKey(),
  position: bigint('position', { mode: 'number' }).notNull(),
});

export type HistoryRow = typeof history.$inferSelect;
export type TransferRow = typeof transfers.$inferSelect;
