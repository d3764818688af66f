import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../src/adapters/postgres/event-store.ts';
import { eventStoreContract } from '../contract/event-store.contract.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

eventStoreContract(
  'postgres',
  async () => {
    const db = await createTestDatabase();
    const store = createPostgresEventStore(db.sql);
    return {
      store,
      teardown: async () => {
        await store.close();
        await db.drop();
      },
    };
  },
  { heavy: true },
);

describe('PostgreSQL event store: late commits', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  const event = (type: string) => ({
    id: randomUUID(),
    type,
    data: {},
    metadata: {
      correlationId: 'c',
      causationId: 'c',
      occurredAt: new Date().toISOString(),
      schemaVersion: 1,
    },
  });

  it('holds back a committed event while an earlier position is still uncommitted, then delivers both', async () => {
    const store = createPostgresEventStore(db.sql);
    const start = await store.headPosition();
    let releaseSlow!: () => void;
    const slowHeld = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    let slowAppended!: () => void;
    const slowReady = new Promise<void>((resolve) => {
      slowAppended = resolve;
    });
    // A writer that draws its position first but commits last.
    const slow = db.sql.begin(async (tx) => {
      await tx`SELECT * FROM esbank_append(${'late-slow'}, ${null}, ${tx.json([event('Slow')] as never)})`;
      slowAppended();
      await slowHeld;
    });
    await slowReady;
    const fast = await store.append('late-fast', [event('Fast')], 'no_stream');

    const whileOpen = await store.readAll({ after: start });
    expect(whileOpen.map((e) => e.type)).toEqual([]);
    expect(await store.headPosition()).toBe(start);

    releaseSlow();
    await slow;
    const afterCommit = await store.readAll({ after: start });
    expect(afterCommit.map((e) => e.type)).toEqual(['Slow', 'Fast']);
    expect(afterCommit[1]!.position).toBe(fast.position);
    await store.close();
  });
});
