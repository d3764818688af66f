import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPostgresEventStore } from '../../src/adapters/postgres/event-store.ts';
import { createPostgresPartitionLeases } from '../../src/adapters/postgres/partition-leases.ts';
import { balancesProjection } from '../../src/adapters/postgres/projections/balances.ts';
import {
  applyBatch,
  ensureCheckpoints,
  PROJECTIONS_PROCESSOR,
  rangeOf,
} from '../../src/adapters/postgres/projections/runner.ts';
import { createPostgresSagaStore } from '../../src/adapters/postgres/saga-store.ts';
import { LeaseLostError } from '../../src/application/processor.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { newEvent } from '../support/events.ts';
import { createBank } from '../support/saga.ts';

describe('a projection batch is fenced by its lease', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('applies nothing under a fence that was superseded, and applies under the current one', async () => {
    const store = createPostgresEventStore(db.sql);
    const bank = createBank(store, createPostgresSagaStore(db.sql));
    await bank.openWith(500);
    await bank.openWith(0);
    const head = await store.headPosition();
    await ensureCheckpoints(db.sql, ['balances']);
    const leases = createPostgresPartitionLeases(db.sql);
    const processor = PROJECTIONS_PROCESSOR;

    const [stale] = await leases.acquire(processor, 1, 'paused-instance', 60_000);
    // The holder was paused past its lease; another instance claimed it with a new fence.
    await db.sql`UPDATE processor_partitions SET lease_until = now() - interval '1 second'`;
    await db.sql`UPDATE processor_members SET seen_until = now() - interval '1 second'`;
    const [current] = await leases.acquire(processor, 1, 'new-owner', 60_000);
    expect(current!.fence).toBe(stale!.fence + 1);

    const batch = rangeOf({ after: 0, upTo: head });
    await expect(
      applyBatch(
        db.sql,
        [balancesProjection],
        batch,
        { balances: 0 },
        {
          processor,
          owner: 'paused-instance',
          fence: stale!.fence,
        },
      ),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect(await db.sql`SELECT * FROM balances`).toHaveLength(0);
    expect(
      (await db.sql`SELECT position FROM projection_checkpoints WHERE name = 'balances'`)[0]!.position,
    ).toBe(0);

    expect(
      await applyBatch(
        db.sql,
        [balancesProjection],
        batch,
        { balances: 0 },
        {
          processor,
          owner: 'new-owner',
          fence: current!.fence,
        },
      ),
    ).toEqual({ balances: head });
    expect(await db.sql`SELECT * FROM balances`).toHaveLength(2);

    // A range with none of the projection's events runs none of its statements and only moves
    // the checkpoint, still under the fence: the stale owner moves nothing, the owner moves it.
    const unrelated = () =>
      store.append(`other-${crypto.randomUUID()}`, [newEvent('SomethingElse')], 'no_stream');
    await unrelated();
    await unrelated();
    const later = await store.headPosition();
    const short = rangeOf({ after: head, upTo: later });
    const checkpoint = async () =>
      (await db.sql`SELECT position FROM projection_checkpoints WHERE name = 'balances'`)[0]!.position;
    const watched = { ...balancesProjection, apply: vi.fn(balancesProjection.apply) };
    await expect(
      applyBatch(
        db.sql,
        [watched],
        short,
        { balances: head },
        {
          processor,
          owner: 'paused-instance',
          fence: stale!.fence,
        },
      ),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect(await checkpoint()).toBe(head);
    const balancesBefore = await db.sql`SELECT * FROM balances ORDER BY account_id`;
    expect(
      await applyBatch(
        db.sql,
        [watched],
        short,
        { balances: head },
        {
          processor,
          owner: 'new-owner',
          fence: current!.fence,
        },
      ),
    ).toEqual({ balances: later });
    expect(await checkpoint()).toBe(later);
    expect(watched.apply).not.toHaveBeenCalled();
    expect(await db.sql`SELECT * FROM balances ORDER BY account_id`).toEqual(balancesBefore);
    await store.close();
  });
});
