import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../src/adapters/postgres/migrate.ts';
import { createTestDatabase } from './database.ts';

describe('test databases', () => {
  it('are created migrated, re-migrate as a no-op, and are dropped', async () => {
    const db = await createTestDatabase();
    const applied = await db.sql<{ name: string }[]>`SELECT name FROM schema_migrations ORDER BY name`;
    const files = (await readdir(new URL('../../src/adapters/postgres/migrations/', import.meta.url))).sort();
    expect(applied.map((row) => row.name)).toEqual(files.filter((name) => name.endsWith('.sql')));
    expect(await migrate(db.sql)).toEqual([]);
    const [row] = await db.sql<{ big: number }[]>`SELECT 9007199254740991::bigint AS big`;
    expect(row?.big).toBe(Number.MAX_SAFE_INTEGER);
    await db.drop();
  });
});
