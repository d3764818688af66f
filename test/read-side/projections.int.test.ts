import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../src/adapters/postgres/event-store.ts';
import { startProjections } from '../../src/adapters/postgres/projections/runner.ts';
import { createReadModel, decodeCursor } from '../../src/adapters/postgres/read-model.ts';
import { createPostgresSagaStore } from '../../src/adapters/postgres/saga-store.ts';
import { silentLogger } from '../../src/application/ports/logger.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { allEvents, createBank, expectConservation, request } from '../support/saga.ts';

describe('read models on PostgreSQL', () => {
  let db: TestDatabase;
  let bank: ReturnType<typeof createBank>;
  let store: ReturnType<typeof createPostgresEventStore>;
  const accounts: string[] = [];
  const transferIds: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    store = createPostgresEventStore(db.sql);
    bank = createBank(store, createPostgresSagaStore(db.sql));
    const coordinator = bank.coordinator();
    coordinator.start();
    // Two runners at once, as two instances would run them: neither may double-apply.
    const runners = [
      startProjections({ store, sql: db.sql, logger: silentLogger, batchSize: 7 }),
      startProjections({ store, sql: db.sql, logger: silentLogger, batchSize: 13 }),
    ];
    for (const amount of [500, 300, 0, 0]) accounts.push(await bank.openWith(amount));
    for (let i = 0; i < 24; i++) {
      const { transferId } = await bank.banking.requestTransfer(
        {
          fromAccountId: accounts[i % 4]!,
          toAccountId: accounts[(i + 1) % 4]!,
          amount: 10 + i,
          reference: `r${i}`,
        },
        request,
      );
      transferIds.push(transferId);
    }
    await bank.banking.withdrawCash({ accountId: accounts[0]!, amount: 5, reference: 'atm' }, request);
    await bank.settle(transferIds);
    await coordinator.stop();
    const head = await store.headPosition();
    expect(await createReadModel(db.sql).waitForPosition(head, 15_000)).toBe(true);
    await Promise.all(runners.map((runner) => runner.stop()));
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it('balances equal the aggregates folded from the log', async () => {
    const readModel = createReadModel(db.sql);
    for (const { id, available, pending } of await bank.balances(accounts)) {
      expect(await readModel.getAccount(id)).toMatchObject({
        accountId: id,
        available,
        pending,
        status: 'OPEN',
        currency: 'EUR',
      });
    }
    await expectConservation(store);
  });

  it('history has exactly one row per balance-changing event, newest first, with running balances', async () => {
    const moving = (await allEvents(store)).filter((e) =>
      [
        'CashDeposited',
        'CashWithdrawn',
        'TransferCreditHeld',
        'TransferCreditReleased',
        'TransferCreditCancelled',
        'TransferDebited',
        'TransferDebitRefunded',
      ].includes(e.type),
    );
    const [{ count }] = (await db.sql`SELECT count(*)::int AS count FROM history`) as unknown as [
      { count: number },
    ];
    expect(count).toBe(moving.length);

    const readModel = createReadModel(db.sql);
    const first = await readModel.getHistory(accounts[0]!, { limit: 5 });
    expect(first.items).toHaveLength(5);
    const positions = first.items.map((item) => item.position);
    expect(positions).toEqual([...positions].sort((a, b) => b - a));
    const everything = await readModel.getHistory(accounts[0]!, { limit: 100 });
    expect(everything.items.filter((item) => item.kind === 'CASH_WITHDRAWN')).toMatchObject([
      { amount: 5, reference: 'atm' },
    ]);
    const [latest] = await bank.balances([accounts[0]!]);
    expect(first.items[0]).toMatchObject({
      availableAfter: latest!.available,
      pendingAfter: latest!.pending,
    });

    const second = await readModel.getHistory(accounts[0]!, {
      limit: 5,
      cursor: decodeCursor(first.nextCursor!)!,
    });
    expect(second.items[0]!.position).toBeLessThan(positions[4]!);
    // Account 1 is paid by account 0 (which holds money): a release names the payer.
    const ofAccount1 = await readModel.getHistory(accounts[1]!, { limit: 100 });
    const released = ofAccount1.items.find((item) => item.kind === 'TRANSFER_CREDIT_RELEASED');
    expect(released?.counterpartyAccountId).toBe(accounts[0]);
  });

  it('transfers carry status, reason and a timeline of every step', async () => {
    const readModel = createReadModel(db.sql);
    for (const transferId of transferIds) {
      const state = await bank.transferState(transferId);
      const view = await readModel.getTransfer(transferId);
      expect(view?.status).toBe(state.status === 'Completed' ? 'COMPLETED' : 'CANCELLED');
      if (view?.status === 'COMPLETED') {
        expect(view.timeline.map((t) => t.step)).toEqual([
          'REQUESTED',
          'CREDIT_HELD',
          'DEBITED',
          'CREDIT_RELEASED',
          'COMPLETED',
        ]);
      } else {
        expect(view?.reason).toBe('INSUFFICIENT_FUNDS');
        expect(view?.timeline.map((t) => t.step)).toEqual([
          'REQUESTED',
          'CREDIT_HELD',
          'DEBIT_REJECTED',
          'CANCELLED',
          'CREDIT_CANCELLED',
        ]);
      }
    }
    const page1 = await readModel.listTransfers({ accountId: accounts[1]!, limit: 4 });
    expect(page1.items).toHaveLength(4);
    expect(page1.items.every((t) => t.fromAccountId === accounts[1] || t.toAccountId === accounts[1])).toBe(
      true,
    );
    const rest = await readModel.listTransfers({
      accountId: accounts[1]!,
      limit: 100,
      cursor: decodeCursor(page1.nextCursor!)!,
    });
    expect(page1.items.length + rest.items.length).toBe(12);
    expect((await readModel.listTransfers({ limit: 100, visibleToOwner: 'nobody' })).items).toEqual([]);
  });
});
