import { bigint, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/** Mirrors migrations/0011_processor_leases.sql: the instances that share the processors, by heartbeat. */
export const processorMembers = pgTable('processor_members', {
  owner: text('owner').primaryKey(),
  seenUntil: timestamp('seen_until', { withTimezone: true }).notNull(),
});

/** Mirrors migrations/0011_processor_leases.sql: one row per partition of a processor, its lease and checkpoint. */
export const processorPartitions = pgTable(
  'processor_partitions',
  {
    processor: text('processor').notNull(),
    partition: integer('partition').notNull(),
    owner: text('owner'),
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    fence: bigint('fence', { mode: 'number' }).notNull().default(0),
    position: bigint('position', { mode: 'number' }).notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.processor, table.partition] })],
);
