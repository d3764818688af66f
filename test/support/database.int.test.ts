import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { createSql } from '../../src/adapters/postgres/client.ts';
import { migrate } from '../../src/adapters/postgres/migrate.ts';
import { createTestDatabase } from './database.ts';

const migrationFiles = async () =>
  (await readdir(new URL('../../src/adapters/postgres/migrations/', import.meta.url)))
    .filter((name) => name.endsWith('.sql'))
    .sort();

describe('test databases', () => {
  it('are created migrated, re-migrate as a no-op, and are dropped', async () => {
    const db = await createTestDatabase();
    const applied = await db.sql<{ name: string }[]>`SELECT name FROM schema_migrations ORDER BY name`;
    expect(applied.map((row) => row.name)).toEqual(await migrationFiles());
    expect(await migrate(db.sql)).toEqual([]);
    const [row] = await db.sql<{ big: number }[]>`SELECT 9007199254740991::bigint AS big`;
    expect(row?.big).toBe(Number.MAX_SAFE_INTEGER);
    await db.drop();
  });

  it('are migrated once when several instances start together', async () => {
    const db = await createTestDatabase({ migrate: false });
    const clients = [db.sql, createSql(db.url, { max: 2 }), createSql(db.url, { max: 2 })];
    try {
      const applied = (await Promise.all(clients.map((sql) => migrate(sql)))).flat();
      expect(applied.sort()).toEqual(await migrationFiles());
      const rows = await db.sql<{ name: string }[]>`SELECT name FROM schema_migrations ORDER BY name`;
      expect(rows.map((row) => row.name)).toEqual(await migrationFiles());
    } finally {
      await Promise.all(clients.slice(1).map((sql) => sql.end()));
      await db.drop();
    }
  });
});
