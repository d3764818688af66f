import { describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../../src/adapters/memory/event-store.ts';
import { createInMemorySagaStore } from '../../src/adapters/memory/saga-store.ts';
import { accountStreamName } from '../../src/domain/account/index.ts';
import { MAX_AMOUNT } from '../../src/domain/money.ts';
import { transferStreamName } from '../../src/domain/transfer/index.ts';
import { appendCancelledThenDebited } from '../support/legacy.ts';
import {
  allEvents,
  createBank,
  expectConservation,
  expectMoneyRules,
  handDelivery,
  request,
} from '../support/saga.ts';

/**
 * The audit's reproductions (issue 11), each driven by hand on the in-memory store: events are
 * handed to a coordinator one at a time, the clock is moved between them, and the deadline job is
 * called where the audit called it.
 */
function setUp() {
  const store = createInMemoryEventStore();
  const sagaStore = createInMemorySagaStore();
  const bank = createBank(store, sagaStore);
  const coordinator = bank.coordinator('by-hand');
  const { deliver, deliverAll } = handDelivery(store, coordinator);
  /** Account a with 100, account b empty, and a transfer of 60 from a to b, requested (nothing delivered yet). */
  const sixtyFromAHundred = async () => {
    const a = await bank.openWith(100);
    const b = await bank.openWith(0);
    const { transferId } = await bank.banking.requestTransfer(
      { fromAccountId: a, toAccountId: b, amount: 60 },
      request,
    );
    return { a, b, transferId };
  };
  const typesOf = async (streamName: string) =>
    (await allEvents(store)).filter((e) => e.streamName === streamName).map((e) => e.type);
  return { store, sagaStore, bank, coordinator, deliver, deliverAll, typesOf, sixtyFromAHundred };
}

describe('the pivot has one arbiter: the source account', () => {
  it('a saga that sees the debit 30 s late still completes the transfer (no cancel, no refund)', async () => {
    const { store, bank, deliver, deliverAll, typesOf, sixtyFromAHundred } = setUp();
    const { a, b, transferId } = await sixtyFromAHundred();
    await deliver('TransferRequested');
    await deliver('TransferCreditHeld');
    await deliver('TransferCreditRecorded'); // the debit lands on the source
    expect(await typesOf(accountStreamName(a))).toContain('TransferDebited');
    bank.clock.advance(30_000);
    await deliver('TransferDebited');
    await deliverAll();
    expect(await typesOf(transferStreamName(transferId))).toEqual([
      'TransferRequested',
      'TransferCreditRecorded',
      'TransferDebitRecorded',
      'TransferCompleted',
    ]);
    expect(await bank.balances([a, b])).toEqual([
      { id: a, available: 40, pending: 0 },
      { id: b, available: 60, pending: 0 },
    ]);
    await expectConservation(store);
    await expectMoneyRules(store);
  });

  it('the deadline job firing after the debit landed changes nothing: the transfer completes', async () => {
    const { store, bank, coordinator, deliver, deliverAll, typesOf, sixtyFromAHundred } = setUp();
    const { a, b, transferId } = await sixtyFromAHundred();
    await deliver('TransferRequested');
    await deliver('TransferCreditHeld');
    await deliver('TransferCreditRecorded');
    bank.clock.advance(30_000);
    expect(await coordinator.fireDueDeadlines()).toBe(1);
    expect(await typesOf(accountStreamName(a))).not.toContain('TransferDebitVoided');
    await deliverAll();
    expect((await bank.transferState(transferId)).status).toBe('Completed');
    expect(await coordinator.fireDueDeadlines()).toBe(0); // the deadline is gone
    await expectConservation(store);
    await expectMoneyRules(store);
  });

  it('a deadline that fires first voids the debit on the source; the debit sent later does nothing', async () => {
    const { store, bank, coordinator, deliver, deliverAll, typesOf, sixtyFromAHundred } = setUp();
    const { a, b, transferId } = await sixtyFromAHundred();
    await deliver('TransferRequested');
    await deliver('TransferCreditHeld');
    bank.clock.advance(30_000);
    await coordinator.fireDueDeadlines();
    await deliverAll(); // includes TransferCreditRecorded, whose debit the voided source ignores
    expect(await typesOf(accountStreamName(a))).toEqual([
      'AccountOpened',
      'CashDeposited',
      'TransferDebitVoided',
    ]);
    expect(await bank.transferState(transferId)).toMatchObject({
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
  });
});

describe('the deadline job ends a transfer even when the saga never reacts to the source', () => {
  it('void recorded, its event never handled (parked, a stalled subscription): the job cancels the transfer', async () => {
    const { store, bank, coordinator, deliver, deliverAll, typesOf, sixtyFromAHundred } = setUp();
    const { a, b, transferId } = await sixtyFromAHundred();
    await deliver('TransferRequested');
    bank.clock.advance(30_000);
    await coordinator.fireDueDeadlines(); // voids on the source, then cancels the transfer itself
    expect(await typesOf(accountStreamName(a))).toContain('TransferDebitVoided');
    expect(await bank.transferState(transferId)).toMatchObject({
      status: 'Cancelled',
      reason: 'DEADLINE_EXPIRED',
    });
    expect(await coordinator.fireDueDeadlines()).toBe(0); // its deadline is done
    await deliverAll(); // later, the saga withdraws the held credit (TransferCancelled)
    expect(await bank.balances([a, b])).toEqual([
      { id: a, available: 100, pending: 0 },
      { id: b, available: 0, pending: 0 },
    ]);
    await expectConservation(store);
    await expectMoneyRules(store);
  });

  it('debit recorded, its event never handled: the job records the debit and the transfer goes forward', async () => {
    const { store, bank, coordinator, deliver, deliverAll, sixtyFromAHundred } = setUp();
    const { a, b, transferId } = await sixtyFromAHundred();
    await deliver('TransferRequested');
    await deliver('TransferCreditHeld');
    await deliver('TransferCreditRecorded'); // the debit lands; TransferDebited is never handled
    bank.clock.advance(30_000);
    await coordinator.fireDueDeadlines();
    expect((await bank.transferState(transferId)).status).toBe('Debited');
    await deliverAll(); // the rest (release, complete) runs from TransferDebitRecorded
    expect((await bank.transferState(transferId)).status).toBe('Completed');
    await expectConservation(store);
    await expectMoneyRules(store);
  });
});

describe('no compensation is refused, nothing is stranded', () => {
  it('the balance-limit scenario: deposits in between do not block anything and no money vanishes', async () => {
    const { store, sagaStore, bank, coordinator, deliver, deliverAll } = setUp();
    const a = await bank.openWith(0);
    const b = await bank.openWith(0);
    for (let i = 0; i < 9; i++) await bank.banking.depositCash({ accountId: a, amount: MAX_AMOUNT }, request);
    const { transferId } = await bank.banking.requestTransfer(
      { fromAccountId: a, toAccountId: b, amount: MAX_AMOUNT },
      request,
    );
    await deliver('TransferRequested');
    await deliver('TransferCreditHeld');
    bank.clock.advance(30_000);
    await coordinator.fireDueDeadlines(); // deadline
    // The late debit: sent before the deadline fired, it reaches the source after it.
    await bank.banking.accounts.handle(
      a,
      {
        type: 'DebitForTransfer',
        data: { accountId: a, transferId, amount: MAX_AMOUNT, currency: 'EUR', toAccountId: b },
      },
      bank.banking.commandContext(request, transferId),
    );
    // The old code let this deposit fill the room the late debit had made, and the refund then threw.
    // The void kept the debit out, so the deposit is refused at the edge instead (a 422, nothing written).
    await expect(
      bank.banking.depositCash({ accountId: a, amount: MAX_AMOUNT }, request),
    ).rejects.toMatchObject({
      code: 'BALANCE_LIMIT_EXCEEDED',
    });
    await deliverAll();
    expect(await sagaStore.parked()).toEqual([]);
    expect((await bank.transferState(transferId)).status).toBe('Cancelled');
    expect(await bank.balances([a, b])).toEqual([
      { id: a, available: 9 * MAX_AMOUNT, pending: 0 },
      { id: b, available: 0, pending: 0 },
    ]);
    await expectConservation(store);
    await expectMoneyRules(store);
  });

  it('a hold refused for the balance limit cancels the transfer at once with BALANCE_LIMIT', async () => {
    const { store, sagaStore, bank, deliverAll } = setUp();
    const a = await bank.openWith(MAX_AMOUNT);
    const b = await bank.openWith(0);
    for (let i = 0; i < 9; i++) await bank.banking.depositCash({ accountId: b, amount: MAX_AMOUNT }, request);
    const { transferId } = await bank.banking.requestTransfer(
      { fromAccountId: a, toAccountId: b, amount: MAX_AMOUNT },
      request,
    );
    await deliverAll(); // the clock never moves: no deadline is involved
    expect(await bank.transferState(transferId)).toMatchObject({
      status: 'Cancelled',
      reason: 'BALANCE_LIMIT',
    });
    expect(await sagaStore.parked()).toEqual([]);
    await expectConservation(store);
    await expectMoneyRules(store);
  });

  it('an account with a held credit, or with a transfer between hold and release, cannot be closed', async () => {
    const { bank, deliver } = setUp();
    const a = await bank.openWith(60);
    const b = await bank.openWith(0);
    await bank.banking.requestTransfer({ fromAccountId: a, toAccountId: b, amount: 60 }, request);
    await deliver('TransferRequested');
    await expect(bank.banking.closeAccount({ accountId: b }, request)).rejects.toMatchObject({
      code: 'ACCOUNT_HAS_PENDING_TRANSFERS',
    });
  });
});

describe('histories written before the void still load and replay', () => {
  it('a debit recorded after its transfer was cancelled (the old deadline race) is refunded', async () => {
    const { store, bank, deliverAll } = setUp();
    const a = await bank.openWith(100);
    const b = await bank.openWith(0);
    const transferId = await appendCancelledThenDebited(store, { from: a, to: b });
    await deliverAll();
    const state = await bank.transferState(transferId);
    expect(state).toMatchObject({ status: 'Cancelled', reason: 'DEADLINE_EXPIRED' });
    expect(state.status === 'Cancelled' && [...state.compensations].sort()).toEqual([
      'CREDIT_CANCELLED',
      'DEBIT_REFUNDED',
    ]);
    expect(await bank.balances([a, b])).toEqual([
      { id: a, available: 100, pending: 0 },
      { id: b, available: 0, pending: 0 },
    ]);
    await expectConservation(store);
  });
});
