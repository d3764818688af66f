import { bigint, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** Mirrors migrations/0002_saga.sql. */
export const transferDeadlines = pgTable(
  'transfer_deadlines',
  {
    transferId: uuid('transfer_id').primaryKey(),
    dueAt: timestamp('due_at', { withTimezone: true }).notNull(),
    claimedUntil: timestamp('claimed_until', { withTimezone: true }),
  },
  (table) => [index('transfer_deadlines_due').on(table.dueAt)],
);

export const sagaParkedEvents = pgTable('saga_parked_events', {
  eventId: uuid('event_id').primaryKey(),
  position: bigint('position', { mode: 'number' }).notNull(),
  type: text('type').notNull(),
  correlationId: text('correlation_id').notNull(),
  error: text('error').notNull(),
  parkedAt: timestamp('parked_at', { withTimezone: true }).notNull().defaultNow(),
});
