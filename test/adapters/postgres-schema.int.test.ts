import { is } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as eventStore from '../../src/adapters/postgres/schema/event-store.ts';
import * as idempotency from '../../src/adapters/postgres/schema/idempotency.ts';
import * as processors from '../../src/adapters/postgres/schema/processors.ts';
import * as readModels from '../../src/adapters/postgres/schema/read-models.ts';
import * as saga from '../../src/adapters/postgres/schema/saga.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const tables = [eventStore, idempotency, processors, readModels, saga]
  .flatMap((module) => Object.values(module))
  .filter((value): value is PgTable => is(value, PgTable))
  .map((table) => getTableConfig(table));

/** Drizzle names a serial column's type by its pseudo-type; the catalog by the column's real type. */
const catalogType = (sqlType: string) =>
  ({ bigserial: 'bigint', serial: 'integer', smallserial: 'smallint' })[sqlType] ?? sqlType;

describe('Drizzle schemas match the migrated database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('covers every table the migrations create', async () => {
    const rows = await db.sql<{ name: string }[]>`
      SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'
      ORDER BY table_name`;
    expect(tables.map((table) => table.name).sort()).toEqual(rows.map((row) => row.name));
  });

  it.each(tables.map((table) => [table.name, table] as const))(
    '%s: columns, types and nullability',
    async (name, table) => {
      const rows = await db.sql<{ column: string; type: string; notNull: boolean }[]>`
      SELECT a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull"
      FROM pg_attribute a
      WHERE a.attrelid = ${`public.${name}`}::regclass AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attname`;
      const declared = table.columns
        .map((column) => ({
          column: column.name,
          type: catalogType(column.getSQLType()),
          notNull: column.notNull || column.primary,
        }))
        .sort((a, b) => a.column.localeCompare(b.column));
      expect(declared).toEqual(rows);
    },
  );
});
