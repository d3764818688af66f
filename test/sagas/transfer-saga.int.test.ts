import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../src/adapters/postgres/event-store.ts';
import { createPostgresSagaStore } from '../../src/adapters/postgres/saga-store.ts';
import type { EventStore } from '../../src/application/ports/event-store.ts';
import type { SagaStore } from '../../src/application/ports/saga-store.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import {
  allEvents,
  createBank,
  expectConservation,
  expectMoneyRules,
  expectNoDoubleSteps,
  request,
} from '../support/saga.ts';

describe('transfer saga on PostgreSQL', () => {
  let db: TestDatabase;
  let store: EventStore;
  let sagaStore: SagaStore;
  let bank: ReturnType<typeof createBank>;
  const stops: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    db = await createTestDatabase();
    store = createPostgresEventStore(db.sql);
    sagaStore = createPostgresSagaStore(db.sql);
    bank = createBank(store, sagaStore);
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    await store.close();
    await db.drop();
  });

  const running = (checkpointName?: string) => {
    const coordinator = bank.coordinator(checkpointName);
    coordinator.start();
    stops.push(() => coordinator.stop());
    return coordinator;
  };

  /** Hands the saga's events to a coordinator by hand, one at a time, in log order. */
  const deliver = async (types: string[], coordinator = bank.coordinator('manual')) => {
    const events = (await allEvents(store)).filter((e) => types.includes(e.type));
    for (const event of events) await coordinator.handleBatch([event]);
  };

  it('completes a transfer: credit held first, then the debit, then release', async () => {
    const a = await bank.openWith(100);
    const b = await bank.openWith(0);
    running();
    const { transferId } = await bank.banking.requestTransfer(
      { fromAccountId: a, toAccountId: b, amount: 60 },
      request,
    );
    const [state] = await bank.settle([transferId]);
    expect(state?.status).toBe('Completed');
    expect(await bank.balances([a, b])).toEqual([
      { id: a, available: 40, pending: 0 },
      { id: b, available: 60, pending: 0 },
    ]);
    const steps = (await allEvents(store))
      .filter((e) => e.metadata.correlationId === transferId)
      .map((e) => e.type);
    expect(steps).toEqual([
      'TransferRequested',
      'TransferCreditHeld',
      'TransferCreditRecorded',
      'TransferDebited',
      'TransferDebitRecorded',
      'TransferCreditReleased',
      'TransferCompleted',
    ]);
    await expectConservation(store);
    await expectNoDoubleSteps(store);
  });

  it('cancels with INSUFFICIENT_FUNDS and withdraws the held credit', async () => {
    const a = await bank.openWith(10);
    const b = await bank.openWith(0);
    running();
    const { transferId } = await bank.banking.requestTransfer(
      { fromAccountId: a, toAccountId: b, amount: 60 },
      request,
    );
    const [state] = await bank.settle([transferId]);
    expect(state).toMatchObject({
      status: 'Cancelled',
      reason: 'INSUFFICIENT_FUNDS',
      compensations: ['CREDIT_CANCELLED'],
    });
    expect(await bank.balances([a, b])).toEqual([
      { id: a, available: 10, pending: 0 },
      { id: b, available: 0, pending: 0 },
    ]);
    await expectConservation(store);
  });

  it('cancels with ACCOUNT_CLOSED when the source closed after the request', async () => {
    const a = await bank.openWith(0);
    const b = await bank.openWith(0);
    const { transferId } = await bank.banking.requestTransfer(
      { fromAccountId: a, toAccountId: b, amount: 5 },
      request,
    );
    await bank.banking.closeAccount({ accountId: a }, request);
    running();
    const [state] = await bank.settle([transferId]);
    expect(state).toMatchObject({ status: 'Cancelled', reason: 'ACCOUNT_CLOSED' });
    expect(await bank.balances([b])).toEqual([{ id: b, available: 0, pending: 0 }]);
    await expectConservation(store);
  });

  it('cancels with DEADLINE_EXPIRED when the deadline passes before the pivot', async () => {
    const a = await bank.openWith(100);
    const b = await bank.openWith(0);
    const { transferId } = await bank.banking.requestTransfer(
      { fromAccountId: a, toAccountId: b, amount: 60 },
      request,
    );
    await deliver(['TransferRequested']); // the credit is held and the deadline stored; the debit never came
    expect(await bank.balances([b])).toEqual([{ id: b, available: 0, pending: 60 }]);

    const coordinator = bank.coordinator();
    expect(await coordinator.fireDueDeadlines()).toBe(0);
    bank.clock.advance(30_001);
    expect(await coordinator.fireDueDeadlines()).toBe(1);
    running();
    const [state] = await bank.settle([transferId]);
    expect(state).toMatchObject({ status: 'Cancelled', reason: 'DEADLINE_EXPIRED' });
    expect(await bank.balances([a, b])).toEqual([
      { id: a, available: 100, pending: 0 },
      { id: b, available: 0, pending: 0 },
    ]);
    expect(await coordinator.fireDueDeadlines()).toBe(0);
    await expectConservation(store);
    await expectNoDoubleSteps(store);
  });

  it('the deadline race, void first: a debit sent after the source voided it does nothing, and the transfer is cancelled', async () => {
    const a = await bank.openWith(100);
    const b = await bank.openWith(0);
    const { transferId } = await bank.banking.requestTransfer(
      { fromAccountId: a, toAccountId: b, amount: 60 },
      request,
    );
    await deliver(['TransferRequested']);
    await deliver(['TransferCreditHeld']); // the transfer records the credit: the debit command is now in flight
    bank.clock.advance(30_001);
    await bank.coordinator().fireDueDeadlines(); // the deadline's void reaches the source first
    // ...and the in-flight debit lands on the source afterwards: it finds the void and does nothing.
    const late = await bank.banking.accounts.handle(
      a,
      {
        type: 'DebitForTransfer',
        data: { accountId: a, transferId, amount: 60, currency: 'EUR', toAccountId: b },
      },
      bank.banking.commandContext(request, transferId),
    );
    expect(late.position).toBeNull();
    running();
    const [state] = await bank.settle([transferId]);
    expect(state).toMatchObject({
      status: 'Cancelled',
      reason: 'DEADLINE_EXPIRED',
      compensations: ['CREDIT_CANCELLED'],
    });
    expect(await bank.balances([a, b])).toEqual([
      { id: a, available: 100, pending: 0 },
      { id: b, available: 0, pending: 0 },
    ]);
    await expectConservation(store);
    await expectMoneyRules(store);
    await expectNoDoubleSteps(store);
  });

  it('the deadline race, debit first: a debit the source recorded before the deadline fired goes forward, however late the saga', async () => {
    const a = await bank.openWith(100);
    const b = await bank.openWith(0);
    const { transferId } = await bank.banking.requestTransfer(
      { fromAccountId: a, toAccountId: b, amount: 60 },
      request,
    );
    await deliver(['TransferRequested']);
    await deliver(['TransferCreditHeld']);
    await deliver(['TransferCreditRecorded']); // the debit lands on the source
    bank.clock.advance(30_001);
    await bank.coordinator().fireDueDeadlines(); // too late: the source recorded the debit first
    running();
    const [state] = await bank.settle([transferId]);
    expect(state?.status).toBe('Completed');
    expect(await bank.balances([a, b])).toEqual([
      { id: a, available: 40, pending: 0 },
      { id: b, available: 60, pending: 0 },
    ]);
    await expectConservation(store);
    await expectMoneyRules(store);
    await expectNoDoubleSteps(store);
  });

  it('changes nothing when every event is delivered again', async () => {
    const a = await bank.openWith(100);
    const b = await bank.openWith(0);
    const c = await bank.openWith(0);
    running();
    const ok = await bank.banking.requestTransfer({ fromAccountId: a, toAccountId: b, amount: 70 }, request);
    const short = await bank.banking.requestTransfer(
      { fromAccountId: c, toAccountId: b, amount: 70 },
      request,
    );
    await bank.settle([ok.transferId, short.transferId]);
    const before = await allEvents(store);

    const again = bank.coordinator('replayer');
    await again.handleBatch(before);
    for (const event of before) await again.handleBatch([event, event]);
    expect((await allEvents(store)).length).toBe(before.length);
    expect(await bank.balances([a, b, c])).toEqual([
      { id: a, available: 30, pending: 0 },
      { id: b, available: 70, pending: 0 },
      { id: c, available: 0, pending: 0 },
    ]);
    await expectConservation(store);
    await expectNoDoubleSteps(store);
  });

  it('completes a transfer when a new coordinator takes over after the credit was held', async () => {
    const a = await bank.openWith(100);
    const b = await bank.openWith(0);
    const { transferId } = await bank.banking.requestTransfer(
      { fromAccountId: a, toAccountId: b, amount: 25 },
      request,
    );
    const first = running();
    await expect
      .poll(async () => (await bank.balances([b]))[0]?.pending, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(0);
    await first.stop();
    await deliver(['TransferRequested']); // as if the first instance died right after the hold
    running();
    const [state] = await bank.settle([transferId]);
    expect(state?.status).toBe('Completed');
    expect(await bank.balances([a, b])).toEqual([
      { id: a, available: 75, pending: 0 },
      { id: b, available: 25, pending: 0 },
    ]);
    await expectConservation(store);
    await expectNoDoubleSteps(store);
  });

  it('completes every transfer exactly once with two coordinators at once', async () => {
    const accounts = await Promise.all([100, 100, 100, 100].map((amount) => bank.openWith(amount)));
    running('transfer-saga');
    running('transfer-saga-other-instance');
    const transfers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        bank.banking.requestTransfer(
          { fromAccountId: accounts[i % 4]!, toAccountId: accounts[(i + 1) % 4]!, amount: 1 + (i % 7) },
          request,
        ),
      ),
    );
    const states = await bank.settle(transfers.map((t) => t.transferId));
    expect(states.every((s) => s.status === 'Completed')).toBe(true);
    await expectConservation(store);
    await expectNoDoubleSteps(store);
  });

  it('completes every transfer exactly once with two instances, each with its own cache, under expiring deadlines', async () => {
    // Two processes: their own repositories (aggregate caches), coordinators sharing one checkpoint
    // and one deadline table, the API traffic spread over both. Each instance's cache goes stale
    // whenever the other one writes, and a third of the transfers outlive their deadline mid-way.
    const other = createBank(store, sagaStore, { deadlineMs: 30_000 });
    const accounts = await Promise.all([500, 500, 500, 500, 500].map((amount) => bank.openWith(amount)));
    const coordinators = [bank.coordinator(), other.coordinator()];
    for (const coordinator of coordinators) {
      coordinator.start();
      stops.push(() => coordinator.stop());
    }
    const instances = [bank, other];
    const cashIn = 5 * 500 + 12 * 3; // the opening deposits and the twelve of 3 below
    const requested = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const via = instances[i % 2]!;
        if (i % 5 === 0) await via.banking.depositCash({ accountId: accounts[i % 5]!, amount: 3 }, request);
        return via.banking.requestTransfer(
          { fromAccountId: accounts[i % 5]!, toAccountId: accounts[(i + 2) % 5]!, amount: 1 + (i % 9) },
          request,
        );
      }),
    );
    // Both clocks jump past every deadline while the sagas run (some transfers are done by then,
    // some half-way): both deadline jobs fire.
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const instance of instances) instance.clock.advance(31_000);
    await Promise.all(coordinators.map((coordinator) => coordinator.fireDueDeadlines()));
    // Settled: every transfer ended and the accounts hold exactly the cash paid in (no credit left
    // held, no late debit left unrefunded). A transfer that expired before its hold has nothing to
    // compensate, so its timeline ends at the cancellation.
    let states: Awaited<ReturnType<typeof bank.transferState>>[] = [];
    for (const deadline = Date.now() + 20_000; ; ) {
      states = await Promise.all(requested.map((t) => bank.transferState(t.transferId)));
      const ended = states.every((state) => state.status === 'Completed' || state.status === 'Cancelled');
      const held = await bank.balances(accounts);
      const available = held.reduce((sum, account) => sum + account.available, 0);
      const pending = held.reduce((sum, account) => sum + account.pending, 0);
      if (ended && pending === 0 && available === cashIn) break;
      if (Date.now() > deadline) throw new Error(`not settled: ${states.map((state) => state.status)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(states.every((s) => s.status === 'Completed' || s.status === 'Cancelled')).toBe(true);
    await expectConservation(store);
    await expectNoDoubleSteps(store);
  });

  /** `store` with every stream read (and snapshot read) recorded by stream name. */
  const recordingReads = () => {
    const reads: string[] = [];
    const recorded: EventStore = {
      ...store,
      readStream: (stream, ...rest) => {
        reads.push(stream);
        return store.readStream(stream, ...rest);
      },
      readSnapshot: (stream) => {
        reads.push(stream);
        return store.readSnapshot(stream);
      },
    };
    return { reads, recorded };
  };

  it("keeps another instance's accounts current from the log: what it observed needs no read to be known", async () => {
    const a = await bank.openWith(100);
    const b = await bank.openWith(0);
    const { reads, recorded } = recordingReads();
    const other = createBank(recorded, sagaStore);
    // The other instance knows both accounts as they were opened; then this one moves money.
    await Promise.all([a, b].map((id) => other.banking.accounts.lastKnown(id)));
    const position = (await allEvents(store)).at(-1)!.position;
    running();
    const { transferId } = await bank.banking.requestTransfer(
      { fromAccountId: a, toAccountId: b, amount: 60 },
      request,
    );
    await bank.settle([transferId]);
    other.coordinator('observer').observe((await allEvents(store)).filter((e) => e.position > position));
    reads.length = 0;
    for (const id of [a, b])
      expect(await other.banking.accounts.lastKnown(id)).toEqual(await bank.banking.accounts.load(id));
    expect(reads).toEqual([]);
    await expectConservation(store);
    await expectMoneyRules(store);
  });

  it('takes the step of a transfer another process requested without reading the transfer', async () => {
    const a = await bank.openWith(100);
    const b = await bank.openWith(0);
    const { reads, recorded } = recordingReads();
    const other = createBank(recorded, sagaStore);
    await other.banking.accounts.lastKnown(b);
    const { transferId } = await bank.banking.requestTransfer(
      { fromAccountId: a, toAccountId: b, amount: 60 },
      request,
    );
    const [requested] = (await allEvents(store)).filter((e) => e.type === 'TransferRequested');
    reads.length = 0;
    await other.coordinator('manual').handleBatch([requested!]);
    expect(reads).toEqual([]);
    expect((await bank.banking.accounts.load(b)).state).toMatchObject({ pending: 60, available: 0 });
    // The rest of the way, by a running saga: the transfer completes and the rules hold.
    running();
    expect((await bank.settle([transferId]))[0]?.status).toBe('Completed');
    await expectConservation(store);
    await expectMoneyRules(store);
  });

  it('keeps the deposit-first hazard safe: a held credit is never spendable', async () => {
    running();
    for (let round = 0; round < 15; round++) {
      const a = await bank.openWith(100);
      const b = await bank.openWith(0);
      const c = await bank.openWith(0);
      const [ab, bc] = await Promise.all([
        bank.banking.requestTransfer({ fromAccountId: a, toAccountId: b, amount: 100 }, request),
        bank.banking.requestTransfer({ fromAccountId: b, toAccountId: c, amount: 100 }, request),
      ]);
      const [abState, bcState] = await bank.settle([ab.transferId, bc.transferId]);
      expect(abState?.status).toBe('Completed');

      const bEvents = await store.readStream(`account-${b}`);
      let available = 0;
      for (const e of bEvents) {
        if (e.type === 'TransferCreditReleased') available += Number(e.data.amount);
        if (e.type === 'TransferDebited') available -= Number(e.data.amount);
        expect(available).toBeGreaterThanOrEqual(0);
      }
      const released = bEvents.find((e) => e.type === 'TransferCreditReleased');
      const debited = bEvents.find((e) => e.type === 'TransferDebited');
      if (bcState?.status === 'Completed') {
        expect(debited!.revision).toBeGreaterThan(released!.revision);
      } else {
        expect(bcState).toMatchObject({ status: 'Cancelled', reason: 'INSUFFICIENT_FUNDS' });
      }
    }
    await expectConservation(store);
    await expectNoDoubleSteps(store);
  });
});
