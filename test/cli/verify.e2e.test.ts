import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWorkload, type WorkloadSummary } from '../../scripts/support/workload.ts';
import { createPostgresEventStore } from '../../src/adapters/postgres/event-store.ts';
import { rebuildReadModels } from '../../src/adapters/postgres/projections/rebuild.ts';
import { startProjections } from '../../src/adapters/postgres/projections/runner.ts';
import { createReadModel } from '../../src/adapters/postgres/read-model.ts';
import { verifyStore } from '../../src/adapters/postgres/verify.ts';
import type { NewEvent } from '../../src/application/ports/event-store.ts';
import { silentLogger } from '../../src/application/ports/logger.ts';
import { esbank } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { newEvent } from '../support/events.ts';

describe('esbank verify as a child process', () => {
  let db: TestDatabase;
  let store: ReturnType<typeof createPostgresEventStore>;
  let workload: WorkloadSummary;
  const verify = (...args: string[]) => esbank(['verify', ...args], { DATABASE_URL: db.url });
  const rebuild = () => rebuildReadModels({ sql: db.sql, store });

  /** Appends `event` as a bug or a hand would, checks what verify says, then takes it out again. */
  async function withStrayEvent(
    stream: string,
    event: Omit<NewEvent, 'id' | 'metadata'>,
    check: () => Promise<void>,
  ) {
    const [{ revision } = { revision: -1 }] = await db.sql<{ revision: number }[]>`
      SELECT max(revision)::int AS revision FROM events WHERE stream_name = ${stream}`;
    const { position } = await store.append(
      stream,
      [
        {
          ...event,
          id: crypto.randomUUID(),
          metadata: {
            correlationId: 'hand',
            causationId: 'hand',
            occurredAt: '2030-01-01T00:00:00.000Z',
            schemaVersion: 1,
          },
        },
      ],
      revision,
    );
    await rebuild();
    try {
      await check();
    } finally {
      await db.sql`DELETE FROM events WHERE global_position = ${position}`;
      await rebuild();
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    store = createPostgresEventStore(db.sql);
    workload = await generateWorkload(store, { events: 3000, accounts: 40, seed: 7 });
    await rebuild();
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it('passes a clean workload and reports what it folded', async () => {
    const run = await verify('--json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({
      total: 0,
      discrepancies: [],
      events: workload.events,
      accounts: workload.accounts,
      transfers: workload.transfers,
      held: workload.cash,
      cash: workload.cash,
    });
    const text = await verify();
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('no discrepancy');
  });

  it('reports a read-model row altered by SQL, with exit 1', async () => {
    const [row] = await db.sql<{ account_id: string }[]>`
      UPDATE balances SET available = available + 7
      WHERE account_id = (SELECT account_id FROM balances ORDER BY account_id LIMIT 1) RETURNING account_id`;
    try {
      const run = await verify();
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^esbank: verify found 1 discrepancy \(read-model ×1\)/);
      expect(run.stdout).toContain(`read-model: balances row ${row!.account_id}`);
    } finally {
      await db.sql`UPDATE balances SET available = available - 7 WHERE account_id = ${row!.account_id}`;
    }
    const [transfer] = await db.sql<{ transfer_id: string }[]>`
      UPDATE transfers SET status = 'CANCELLED'
      WHERE transfer_id = (SELECT transfer_id FROM transfers WHERE status = 'COMPLETED' LIMIT 1) RETURNING transfer_id`;
    await db.sql`DELETE FROM history WHERE position = (SELECT max(position) FROM history)`;
    try {
      const run = await verify('--json');
      expect(run.code).toBe(1);
      const report = JSON.parse(run.stdout);
      expect(report.counts).toEqual({ 'read-model': 2 });
      expect(report.discrepancies.map((d: { subject: string }) => d.subject)).toEqual([
        expect.stringMatching(/^history row at position \d+$/),
        `transfers row ${transfer!.transfer_id}`,
      ]);
    } finally {
      await db.sql`UPDATE transfers SET status = 'COMPLETED' WHERE transfer_id = ${transfer!.transfer_id}`;
      await rebuild();
    }
    expect((await verify()).code).toBe(0);
  });

  it('reports a hand-appended event that creates money, with exit 1', async () => {
    const [debit] = await db.sql<{ stream_name: string; data: { accountId: string; transferId: string } }[]>`
      SELECT stream_name, data FROM events WHERE type = 'TransferDebited' LIMIT 1`;
    await withStrayEvent(
      debit!.stream_name,
      {
        type: 'CashDeposited',
        data: { accountId: debit!.data.accountId, amount: 10 },
      },
      async () => {
        // A deposit is money in: not a discrepancy.
        expect((await verify()).code).toBe(0);
      },
    );
    await withStrayEvent(
      debit!.stream_name,
      {
        type: 'TransferDebitRefunded',
        data: { accountId: debit!.data.accountId, transferId: debit!.data.transferId, amount: 125 },
      },
      async () => {
        const run = await verify();
        expect(run.code).toBe(1);
        expect(run.stderr).toContain('money-conserved');
        expect(run.stdout).toMatch(/money-conserved: ledger: .* created 125/);
      },
    );
  });

  it('leaves alone what a running service writes after the head it verifies', async () => {
    const projections = startProjections({ store, sql: db.sql, logger: silentLogger });
    const accountId = crypto.randomUUID();
    const stream = `account-${accountId}`;
    // An account opened, and projected, while verify reads the log: after the head it verifies.
    let opened: Promise<unknown> | undefined;
    const openLate = async () => {
      const { position } = await store.append(
        stream,
        [newEvent('AccountOpened', { accountId, ownerId: 'late', currency: 'EUR' })],
        'no_stream',
      );
      expect(await createReadModel(db.sql).waitForPosition(position, 10_000)).toBe(true);
    };
    const live = {
      ...store,
      readAll: async (options: Parameters<typeof store.readAll>[0]) => {
        const batch = await store.readAll(options);
        opened ??= openLate();
        await opened;
        return batch;
      },
    };
    try {
      const report = await verifyStore({ sql: db.sql, store: live, batchSize: 500 });
      expect(report).toMatchObject({ total: 0, skippedNewerRows: 1 });
    } finally {
      await projections.stop();
      await db.sql`DELETE FROM events WHERE stream_name = ${stream}`;
      await rebuild();
    }
  });

  it('reports a duplicated leg, with exit 1', async () => {
    const [held] = await db.sql<{ stream_name: string; type: string; data: Record<string, unknown> }[]>`
      SELECT stream_name, type, data FROM events WHERE type = 'TransferCreditHeld' LIMIT 1`;
    await withStrayEvent(held!.stream_name, { type: held!.type, data: held!.data }, async () => {
      const run = await verify('--json');
      expect(run.code).toBe(1);
      const report = JSON.parse(run.stdout);
      expect(report.counts['leg-once']).toBe(1);
      expect(report.discrepancies.find((d: { check: string }) => d.check === 'leg-once').detail).toContain(
        `TransferCreditHeld for transfer ${held!.data.transferId} recorded again`,
      );
    });
    expect((await verify()).code).toBe(0);
  });
});
