import { bigint, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** Mirrors migrations/0003_read_models.sql. Table names are unqualified: replay rebuilds via search_path. */
export const balances = pgTable(
  'balances',
  {
    accountId: uuid('account_id').primaryKey(),
    ownerId: text('owner_id').notNull(),
    currency: text('currency').notNull(),
    status: text('status').$type<'OPEN' | 'CLOSED'>().notNull(),
    available: bigint('available', { mode: 'number' }).notNull(),
    pending: bigint('pending', { mode: 'number' }).notNull(),
    version: bigint('version', { mode: 'number' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'string' }).notNull(),
  },
  (table) => [index('balances_owner').on(table.ownerId)],
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
  (table) => [index('history_account_position').on(table.accountId, table.position.desc())],
);

export type TimelineEntry = { step: string; at: string; position: number };

export const transfers = pgTable(
  'transfers',
  {
    transferId: uuid('transfer_id').primaryKey(),
    requestedPosition: bigint('requested_position', { mode: 'number' }).notNull(),
    fromAccountId: uuid('from_account_id').notNull(),
    toAccountId: uuid('to_account_id').notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
    status: text('status').$type<'PENDING' | 'COMPLETED' | 'CANCELLED'>().notNull(),
    reason: text('reason'),
    reference: text('reference'),
    timeline: jsonb('timeline').$type<TimelineEntry[]>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'string' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'string' }).notNull(),
  },
  (table) => [
    index('transfers_from').on(table.fromAccountId, table.requestedPosition.desc()),
    index('transfers_to').on(table.toAccountId, table.requestedPosition.desc()),
    index('transfers_status').on(table.status, table.requestedPosition.desc()),
    index('transfers_requested').on(table.requestedPosition.desc()),
  ],
);

export const projectionCheckpoints = pgTable('projection_checkpoints', {
  name: text('name').primaryKey(),
  position: bigint('position', { mode: 'number' }).notNull(),
});

export type BalanceRow = typeof balances.$inferSelect;
export type HistoryRow = typeof history.$inferSelect;
export type TransferRow = typeof transfers.$inferSelect;
