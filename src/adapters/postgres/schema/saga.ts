import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

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

/** Mirrors migrations/0002_saga.sql and 0007_parked_events.sql. */
export const sagaParkedEvents = pgTable(
  'saga_parked_events',
  {
    eventId: uuid('event_id').primaryKey(),
    position: bigint('position', { mode: 'number' }).notNull(),
    type: text('type').notNull(),
    correlationId: text('correlation_id').notNull(),
    error: text('error').notNull(),
    parkedAt: timestamp('parked_at', { withTimezone: true, mode: 'string' }).notNull().defaultNow(),
    resolution: text('resolution').$type<'retried' | 'discarded'>(),
    resolvedBy: text('resolved_by'),
    resolvedAt: timestamp('resolved_at', { withTimezone: true, mode: 'string' }),
  },
  (table) => [index('saga_parked_events_open').on(table.position).where(sql`${table.resolution} IS NULL`)],
);

export const sagaParkedEventActions = pgTable(
  'saga_parked_event_actions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    eventId: uuid('event_id')
      .notNull()
      .references(() => sagaParkedEvents.eventId),
    action: text('action').$type<'retried' | 'retry-failed' | 'discarded'>().notNull(),
    actor: text('actor').notNull(),
    detail: text('detail'),
    at: timestamp('at', { withTimezone: true, mode: 'string' }).notNull().defaultNow(),
  },
  (table) => [index('saga_parked_event_actions_event').on(table.eventId, table.id)],
);

export type ParkedEventRow = typeof sagaParkedEvents.$inferSelect;
