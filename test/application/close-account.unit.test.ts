import { describe, expect, it } from 'vitest';
import { DOMAIN_PROBLEMS } from '../../src/adapters/http/problem.ts';
import { createInMemoryEventStore } from '../../src/adapters/memory/event-store.ts';
import { createInMemorySagaStore } from '../../src/adapters/memory/saga-store.ts';
import { accountStreamName } from '../../src/domain/account/index.ts';
import { DomainError } from '../../src/domain/errors.ts';
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
 * SPEC §2, through the banking service on the in-memory store: closing is refused while a debit's
 * transfer has not settled. The saga's events are handed to a coordinator by hand, so the close is
 * tried between any two steps.
 */
function setUp() {
  const store = createInMemoryEventStore();
  const bank = createBank(store, createInMemorySagaStore());
  const coordinator = bank.coordinator('by-hand');
  const { deliver, deliverAll } = handDelivery(store, coordinator);
  const close = (accountId: string) => bank.banking.closeAccount({ accountId }, request);
  const refusedClose = async (accountId: string) => {
    const error = await close(accountId).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('ACCOUNT_HAS_PENDING_TRANSFERS');
    return error as DomainError;
  };
  return { store, bank, deliver, deliverAll, close, refusedClose };
}

describe('closing an account whose debit has not settled', () => {
  it('is refused after the debit of a transfer of the whole balance, until the transfer completes', async () => {
    const { store, bank, deliver, close, refusedClose } = setUp();
    const a = await bank.openWith(100);
    const b = await bank.openWith(0);
    const { transferId } = await bank.banking.requestTransfer(
      { fromAccountId: a, toAccountId: b, amount: 100 },
      request,
    );
    await deliver('TransferRequested');
    await deliver('TransferCreditHeld');
    await deliver('TransferCreditRecorded'); // the debit lands on a: available 0, nothing pending
    expect(await bank.balances([a])).toEqual([{ id: a, available: 0, pending: 0 }]);
    expect((await refusedClose(a)).message).toContain(transferId);

    await deliver('TransferDebited'); // the transfer records the debit
    await refusedClose(a);
    await deliver('TransferDebitRecorded'); // b's credit is released
    await refusedClose(a);
    expect(await bank.transferState(transferId)).toMatchObject({ status: 'Debited' });

    await deliver('TransferCreditReleased'); // the transfer completes
    expect(await bank.transferState(transferId)).toMatchObject({ status: 'Completed' });
    const { state } = await close(a);
    expect(state.status).toBe('Closed');
    await expectConservation(store);
    await expectMoneyRules(store);
  });

  it('is answered 409 account-not-closable (problem+json) through the existing mapping', () => {
    expect(DOMAIN_PROBLEMS.ACCOUNT_HAS_PENDING_TRANSFERS).toEqual({
      status: 409,
      type: 'account-not-closable',
      title: 'Account cannot be closed',
    });
  });

  it('is allowed once every one of many transfers that debited the account completed', async () => {
    const { store, bank, deliverAll } = setUp();
    const a = await bank.openWith(50);
    const b = await bank.openWith(0);
    for (let i = 0; i < 50; i++) {
      await bank.banking.requestTransfer({ fromAccountId: a, toAccountId: b, amount: 1 }, request);
    }
    await deliverAll();
    expect(await bank.balances([a])).toEqual([{ id: a, available: 0, pending: 0 }]);
    // A fresh service on the same store knows none of the transfers: it reads each of them.
    const fresh = createBank(store, createInMemorySagaStore());
    const { state } = await fresh.banking.closeAccount({ accountId: a }, request);
    expect(state.status).toBe('Closed');
  });

  it('a fresh service (nothing cached) reads the transfers and refuses too', async () => {
    const { store, bank, deliver, refusedClose } = setUp();
    const a = await bank.openWith(100);
    const b = await bank.openWith(0);
    await bank.banking.requestTransfer({ fromAccountId: a, toAccountId: b, amount: 100 }, request);
    await deliver('TransferRequested');
    await deliver('TransferCreditHeld');
    await deliver('TransferCreditRecorded'); // a is debited: available 0
    const other = createBank(store, createInMemorySagaStore());
    await expect(other.banking.closeAccount({ accountId: a }, request)).rejects.toMatchObject({
      code: 'ACCOUNT_HAS_PENDING_TRANSFERS',
    });
    await refusedClose(a);
  });
});

describe('histories written before the void: a refund can no longer land on a closed account', () => {
  it('the close is refused while a cancelled transfer’s debit is not refunded; allowed after the refund', async () => {
    const { store, bank, deliverAll, close, refusedClose } = setUp();
    const a = await bank.openWith(100);
    const b = await bank.openWith(0);
    await appendCancelledThenDebited(store, { from: a, to: b });

    // The saga has not seen the debit yet: a is emptied, and its close is refused (the old hole).
    await bank.banking.withdrawCash({ accountId: a, amount: 40 }, request);
    expect(await bank.balances([a])).toEqual([{ id: a, available: 0, pending: 0 }]);
    await refusedClose(a);

    await deliverAll(); // the refund lands on a, still open
    expect(await bank.balances([a])).toEqual([{ id: a, available: 60, pending: 0 }]);
    await bank.banking.withdrawCash({ accountId: a, amount: 60 }, request);
    const { state } = await close(a);
    expect(state.status).toBe('Closed');

    const onA = (await allEvents(store)).filter((e) => e.streamName === accountStreamName(a));
    expect(onA.map((e) => e.type).slice(-3)).toEqual([
      'TransferDebitRefunded',
      'CashWithdrawn',
      'AccountClosed',
    ]);
    await expectConservation(store);
  });
});
