import {
  bigint,
  customType,
  integer,
  jsonb,
  pgSequence,
  pgTable,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';

/** PostgreSQL's 64-bit transaction id type, read as text. */
const xid8 = customType<{ data: string }>({ dataType: () => 'xid8' });

/** Mirrors migrations/0001_event_store.sql. Positions are drawn by esbank_append_batch, not by a column default. */
export const globalPosition = pgSequence('esbank_global_position');

export const events = pgTable(
  'events',
  {
    globalPosition: bigint('global_position', { mode: 'number' }).primaryKey(),
    transactionId: xid8('transaction_id').notNull(),
    streamName: text('stream_name').notNull(),
    revision: bigint('revision', { mode: 'number' }).notNull(),
    eventId: uuid('event_id').notNull().unique(),
    type: text('type').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull(),
    recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [unique('events_stream_revision').on(table.streamName, table.revision)],
);

export const snapshots = pgTable('snapshots', {
  streamName: text('stream_name').primaryKey(),
  revision: bigint('revision', { mode: 'number' }).notNull(),
  schemaVersion: integer('schema_version').notNull(),
  state: jsonb('state').notNull(),
  takenAt: timestamp('taken_at', { withTimezone: true }).notNull().defaultNow(),
});

export const subscriptionCheckpoints = pgTable('subscription_checkpoints', {
  name: text('name').primaryKey(),
  position: bigint('position', { mode: 'number' }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
