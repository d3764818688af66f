import { describe, expect, it } from 'vitest';
import {
  type AccountCommand,
  type AccountEvent,
  accountDecider,
  CASH_OPERATION_RETENTION_MS,
  type DebitRejectionReason,
} from '../../src/domain/account/index.ts';
import { MAX_AMOUNT } from '../../src/domain/money.ts';
import { given } from '../support/given-when-then.ts';

const accountId = 'acc-1';
const other = 'acc-2';
const transferId = 't-1';

const opened: AccountEvent = {
  type: 'AccountOpened',
  data: { accountId, ownerId: 'owner-1', currency: 'EUR' },
};
const deposited = (amount: number): AccountEvent => ({ type: 'CashDeposited', data: { accountId, amount } });
const held = (amount: number, id = transferId): AccountEvent => ({
  type: 'TransferCreditHeld',
  data: { accountId, transferId: id, amount, fromAccountId: other },
});
const refused = (amount: number): AccountEvent => ({
  type: 'TransferCreditRefused',
  data: { accountId, transferId, amount, fromAccountId: other, reason: 'ACCOUNT_CLOSED' },
});
const released = (amount: number): AccountEvent => ({
  type: 'TransferCreditReleased',
  data: { accountId, transferId, amount },
});
const creditCancelled = (amount: number): AccountEvent => ({
  type: 'TransferCreditCancelled',
  data: { accountId, transferId, amount },
});
const debited = (amount: number): AccountEvent => ({
  type: 'TransferDebited',
  data: { accountId, transferId, amount, toAccountId: other },
});
const debitRejected = (amount: number, reason: DebitRejectionReason): AccountEvent => ({
  type: 'TransferDebitRejected',
  data: { accountId, transferId, amount, toAccountId: other, reason },
});
const voided = (amount: number): AccountEvent => ({
  type: 'TransferDebitVoided',
  data: { accountId, transferId, amount, toAccountId: other, reason: 'DEADLINE_EXPIRED' },
});
const refunded = (amount: number): AccountEvent => ({
  type: 'TransferDebitRefunded',
  data: { accountId, transferId, amount },
});
const closed: AccountEvent = { type: 'AccountClosed', data: { accountId } };

const open = (currency = 'EUR'): AccountCommand => ({
  type: 'OpenAccount',
  data: { accountId, ownerId: 'owner-1', currency },
});
const deposit = (amount: number): AccountCommand => ({ type: 'DepositCash', data: { accountId, amount } });
const withdraw = (amount: number): AccountCommand => ({ type: 'WithdrawCash', data: { accountId, amount } });
const hold = (amount: number, currency = 'EUR'): AccountCommand => ({
  type: 'HoldTransferCredit',
  data: { accountId, transferId, amount, currency, fromAccountId: other },
});
const release: AccountCommand = { type: 'ReleaseTransferCredit', data: { accountId, transferId } };
const cancelCredit: AccountCommand = { type: 'CancelTransferCredit', data: { accountId, transferId } };
const debit = (amount: number, currency = 'EUR'): AccountCommand => ({
  type: 'DebitForTransfer',
  data: { accountId, transferId, amount, currency, toAccountId: other },
});
const refund: AccountCommand = { type: 'RefundTransferDebit', data: { accountId, transferId } };
const voidDebit = (amount: number): AccountCommand => ({
  type: 'VoidTransferDebit',
  data: { accountId, transferId, amount, toAccountId: other, reason: 'DEADLINE_EXPIRED' },
});
const close: AccountCommand = { type: 'CloseAccount', data: { accountId } };
/** A close for which the application found these transfers COMPLETED. */
const closeSettled = (...settledDebits: string[]): AccountCommand => ({
  type: 'CloseAccount',
  data: { accountId, settledDebits },
});

const account = (...history: AccountEvent[]) => given(accountDecider, history);
const invalidAmounts = [0, -1, 1.5, Number.NaN, MAX_AMOUNT + 1, Number.POSITIVE_INFINITY];
/** Nine deposits of the largest amount: 9 * 10^15, just under Number.MAX_SAFE_INTEGER. */
const nearlyFull = Array.from({ length: 9 }, () => deposited(MAX_AMOUNT));

describe('OpenAccount', () => {
  it('opens an account', () => account().when(open()).then([opened]));
  it('refuses an account that exists', () =>
    account(opened).when(open()).thenThrows('ACCOUNT_ALREADY_EXISTS'));
  it('refuses to reopen a closed account', () =>
    account(opened, closed).when(open()).thenThrows('ACCOUNT_ALREADY_EXISTS'));
  it.each(['eur', 'EURO', 'E1R', ''])('refuses currency %j', (currency) =>
    account().when(open(currency)).thenThrows('INVALID_CURRENCY'),
  );
});

describe('DepositCash', () => {
  it('records the deposit with its reference', () =>
    account(opened)
      .when({ type: 'DepositCash', data: { accountId, amount: 100, reference: 'r-1' } })
      .then([{ type: 'CashDeposited', data: { accountId, amount: 100, reference: 'r-1' } }]));
  it('accepts the largest amount', () =>
    account(opened)
      .when(deposit(MAX_AMOUNT))
      .then([deposited(MAX_AMOUNT)]));
  it('refuses an unknown account', () => account().when(deposit(100)).thenThrows('ACCOUNT_NOT_FOUND'));
  it('refuses a closed account', () =>
    account(opened, closed).when(deposit(100)).thenThrows('ACCOUNT_CLOSED'));
  it.each(invalidAmounts)('refuses amount %s', (amount) =>
    account(opened).when(deposit(amount)).thenThrows('INVALID_AMOUNT'),
  );
  it('refuses a balance past the largest exact amount', () =>
    account(opened, ...nearlyFull)
      .when(deposit(MAX_AMOUNT))
      .thenThrows('BALANCE_LIMIT_EXCEEDED'));
  it('counts pending credits towards the balance limit', () => {
    const eight = nearlyFull.slice(1);
    account(opened, ...eight)
      .when(deposit(MAX_AMOUNT))
      .then([deposited(MAX_AMOUNT)]);
    account(opened, ...eight, held(MAX_AMOUNT))
      .when(deposit(MAX_AMOUNT))
      .thenThrows('BALANCE_LIMIT_EXCEEDED');
  });
});

describe('WithdrawCash', () => {
  it('withdraws from the available balance', () =>
    account(opened, deposited(100))
      .when(withdraw(40))
      .then([{ type: 'CashWithdrawn', data: { accountId, amount: 40 } }]));
  it('withdraws the whole balance', () =>
    account(opened, deposited(100))
      .when(withdraw(100))
      .then([{ type: 'CashWithdrawn', data: { accountId, amount: 100 } }]));
  it('refuses more than is available', () =>
    account(opened, deposited(100)).when(withdraw(101)).thenThrows('INSUFFICIENT_FUNDS'));
  it('never spends a pending credit', () =>
    account(opened, deposited(10), held(500)).when(withdraw(11)).thenThrows('INSUFFICIENT_FUNDS'));
  it('refuses an unknown account', () => account().when(withdraw(1)).thenThrows('ACCOUNT_NOT_FOUND'));
  it('refuses a closed account', () =>
    account(opened, closed).when(withdraw(1)).thenThrows('ACCOUNT_CLOSED'));
  it.each(invalidAmounts)('refuses amount %s', (amount) =>
    account(opened, deposited(100)).when(withdraw(amount)).thenThrows('INVALID_AMOUNT'),
  );
});

describe('cash operations sent again (operation id)', () => {
  const T0 = Date.parse('2030-01-01T00:00:00.000Z');
  const time = (ms: number) => new Date(T0 + ms).toISOString();
  const depositOnce = (id: string, amount = 100, at = 0): AccountCommand => ({
    type: 'DepositCash',
    data: { accountId, amount, operation: { id, at: time(at) } },
  });
  const depositedOnce = (id: string, amount = 100, at = 0): AccountEvent => ({
    type: 'CashDeposited',
    data: { accountId, amount, operationId: id, bookedAt: time(at) },
  });
  const withdrawOnce = (id: string, amount = 40, at = 0): AccountCommand => ({
    type: 'WithdrawCash',
    data: { accountId, amount, operation: { id, at: time(at) } },
  });
  const withdrawnOnce = (id: string, amount = 40, at = 0): AccountEvent => ({
    type: 'CashWithdrawn',
    data: { accountId, amount, operationId: id, bookedAt: time(at) },
  });
  const HOUR = 60 * 60 * 1000;

  it('records the operation id and its time with the deposit', () =>
    account(opened)
      .when(depositOnce('op-1'))
      .then([depositedOnce('op-1')]));
  it('applies a deposit sent again once', () =>
    account(opened, depositedOnce('op-1'))
      .when(depositOnce('op-1', 100, 5_000))
      .then([]));
  it('applies a withdrawal sent again once', () =>
    account(opened, deposited(100), withdrawnOnce('op-2')).when(withdrawOnce('op-2')).then([]));
  it('answers a repeat even once the account is closed', () =>
    account(opened, depositedOnce('op-1'), withdrawnOnce('op-2', 100), closed)
      .when(depositOnce('op-1'))
      .then([]));
  it('applies another operation', () =>
    account(opened, depositedOnce('op-1'))
      .when(depositOnce('op-3'))
      .then([depositedOnce('op-3')]));
  // Never a success for an operation the account ignores: the id sent with other content is refused.
  it('refuses the id of a booked deposit with another amount, or as a withdrawal', () => {
    account(opened, depositedOnce('op-1', 100))
      .when(depositOnce('op-1', 250))
      .thenThrows('OPERATION_ID_REUSED');
    account(opened, depositedOnce('op-1', 100))
      .when(withdrawOnce('op-1', 100))
      .thenThrows('OPERATION_ID_REUSED');
  });
  it('applies a repeat once however many other operations came in between (no window of N)', () => {
    const others = Array.from({ length: 500 }, (_, i) => depositedOnce(`other-${i}`, 1, 10 * HOUR + i));
    account(opened, depositedOnce('op-1'), ...others)
      .when(depositOnce('op-1', 100, 23 * HOUR))
      .then([]);
  });
  it('forgets an operation older than the retention, so the state stays bounded', () => {
    const state = [
      opened,
      depositedOnce('op-1'),
      depositedOnce('op-2', 1, CASH_OPERATION_RETENTION_MS + 1),
    ].reduce(accountDecider.evolve, accountDecider.initialState());
    expect(state.status === 'Open' && Object.keys(state.cashOperations)).toEqual(['op-2']);
  });
  it('keeps every operation within the retention', () => {
    const state = [
      opened,
      depositedOnce('op-1'),
      depositedOnce('op-2', 1, CASH_OPERATION_RETENTION_MS),
    ].reduce(accountDecider.evolve, accountDecider.initialState());
    expect(state.status === 'Open' && Object.keys(state.cashOperations)).toEqual(['op-1', 'op-2']);
  });
});

describe('HoldTransferCredit', () => {
  it('holds the credit as pending', () =>
    account(opened)
      .when(hold(500))
      .then([held(500)]));
  it('holds once per transfer', () => account(opened, held(500)).when(hold(500)).then([]));
  it('does not hold again after release or cancellation', () => {
    account(opened, held(500), released(500)).when(hold(500)).then([]);
    account(opened, held(500), creditCancelled(500)).when(hold(500)).then([]);
  });
  it('holds another transfer beside the first', () =>
    account(opened, held(500, 't-0'))
      .when(hold(500))
      .then([held(500)]));
  it('refuses the hold on a closed account with an event', () =>
    account(opened, closed)
      .when(hold(500))
      .then([refused(500)]));
  it('refuses once per transfer', () => account(opened, closed, refused(500)).when(hold(500)).then([]));
  it('rejects an unknown account', () => account().when(hold(500)).thenThrows('ACCOUNT_NOT_FOUND'));
  it('rejects another currency', () =>
    account(opened).when(hold(500, 'USD')).thenThrows('CURRENCY_MISMATCH'));
  it.each(invalidAmounts)('rejects amount %s', (amount) =>
    account(opened).when(hold(amount)).thenThrows('INVALID_AMOUNT'),
  );
  // Refused with an event, so the saga cancels the transfer at once with the real reason.
  it('refuses a credit past the largest exact amount with an event', () =>
    account(opened, ...nearlyFull)
      .when(hold(MAX_AMOUNT))
      .then([
        {
          type: 'TransferCreditRefused',
          data: { accountId, transferId, amount: MAX_AMOUNT, fromAccountId: other, reason: 'BALANCE_LIMIT' },
        },
      ]));
});

describe('ReleaseTransferCredit', () => {
  it('releases the held amount', () =>
    account(opened, held(500))
      .when(release)
      .then([released(500)]));
  it('releases once', () => account(opened, held(500), released(500)).when(release).then([]));
  it('rejects a transfer with no credit here', () => {
    account(opened).when(release).thenThrows('TRANSFER_LEG_NOT_FOUND');
    account(opened, deposited(500), debited(500)).when(release).thenThrows('TRANSFER_LEG_NOT_FOUND');
  });
  it('rejects a cancelled or refused credit', () => {
    account(opened, held(500), creditCancelled(500)).when(release).thenThrows('INVALID_TRANSITION');
    account(opened, closed, refused(500)).when(release).thenThrows('INVALID_TRANSITION');
  });
  it('rejects an unknown account', () => account().when(release).thenThrows('ACCOUNT_NOT_FOUND'));
});

describe('CancelTransferCredit', () => {
  it('cancels the held amount', () =>
    account(opened, held(500))
      .when(cancelCredit)
      .then([creditCancelled(500)]));
  it('cancels once', () => account(opened, held(500), creditCancelled(500)).when(cancelCredit).then([]));
  it('does nothing while no credit is held yet', () => account(opened).when(cancelCredit).then([]));
  it('does nothing for a refused credit', () =>
    account(opened, closed, refused(500)).when(cancelCredit).then([]));
  it('rejects a released credit', () =>
    account(opened, held(500), released(500)).when(cancelCredit).thenThrows('INVALID_TRANSITION'));
  it('rejects a debit of the same transfer', () =>
    account(opened, deposited(500), debited(500)).when(cancelCredit).thenThrows('INVALID_TRANSITION'));
  it('rejects an unknown account', () => account().when(cancelCredit).thenThrows('ACCOUNT_NOT_FOUND'));
});

describe('DebitForTransfer', () => {
  it('debits the available balance', () =>
    account(opened, deposited(500))
      .when(debit(300))
      .then([debited(300)]));
  it('debits the whole balance', () =>
    account(opened, deposited(500))
      .when(debit(500))
      .then([debited(500)]));
  it('records insufficient funds as a rejection', () =>
    account(opened, deposited(500))
      .when(debit(501))
      .then([debitRejected(501, 'INSUFFICIENT_FUNDS')]));
  it('never debits a pending credit', () =>
    account(opened, held(500, 't-0'))
      .when(debit(1))
      .then([debitRejected(1, 'INSUFFICIENT_FUNDS')]));
  it('records a closed account as a rejection', () =>
    account(opened, closed)
      .when(debit(1))
      .then([debitRejected(1, 'ACCOUNT_CLOSED')]));
  it('debits once per transfer, whatever the outcome was', () => {
    account(opened, deposited(500), debited(300)).when(debit(300)).then([]);
    account(opened, debitRejected(300, 'INSUFFICIENT_FUNDS'), deposited(500)).when(debit(300)).then([]);
    account(opened, deposited(500), debited(300), refunded(300)).when(debit(300)).then([]);
  });
  it('rejects an unknown account', () => account().when(debit(1)).thenThrows('ACCOUNT_NOT_FOUND'));
  it('rejects another currency', () =>
    account(opened, deposited(500)).when(debit(1, 'USD')).thenThrows('CURRENCY_MISMATCH'));
  it.each(invalidAmounts)('rejects amount %s', (amount) =>
    account(opened, deposited(500)).when(debit(amount)).thenThrows('INVALID_AMOUNT'),
  );
});

describe('RefundTransferDebit', () => {
  it('refunds the debited amount', () =>
    account(opened, deposited(500), debited(300))
      .when(refund)
      .then([refunded(300)]));
  // Only an older version closed an account before its debit's transfer completed (a close now
  // waits for it): such a history still loads, and the refund is still given, so no money is destroyed.
  it('refunds into an account an older version closed before the refund (a compensation is never refused)', () =>
    account(opened, deposited(300), debited(300), closed)
      .when(refund)
      .then([refunded(300)]));
  it("loads an older version's history in which a refund landed after AccountClosed", () => {
    const state = [opened, deposited(300), debited(300), closed, refunded(300)].reduce(
      accountDecider.evolve,
      accountDecider.initialState(),
    );
    expect(state).toMatchObject({ status: 'Closed', available: 300, pending: 0 });
    expect(state.status === 'Closed' && state.legs.get(transferId)).toEqual({
      side: 'debit',
      amount: 300,
      phase: 'refunded',
    });
  });
  it('refunds once', () =>
    account(opened, deposited(500), debited(300), refunded(300)).when(refund).then([]));
  it('has nothing to refund after a rejected debit', () =>
    account(opened, debitRejected(300, 'INSUFFICIENT_FUNDS')).when(refund).then([]));
  it('rejects a transfer with no debit here', () => {
    account(opened).when(refund).thenThrows('TRANSFER_LEG_NOT_FOUND');
    account(opened, held(300)).when(refund).thenThrows('TRANSFER_LEG_NOT_FOUND');
  });
  // A compensation is never refused: deposits that used up the room in between do not block it.
  it('refunds whatever deposits came in between (no balance limit on a compensation)', () =>
    account(opened, ...nearlyFull.slice(1), debited(MAX_AMOUNT), deposited(MAX_AMOUNT))
      .when(refund)
      .then([refunded(MAX_AMOUNT)]));
  it('rejects an unknown account', () => account().when(refund).thenThrows('ACCOUNT_NOT_FOUND'));
});

describe('VoidTransferDebit (the deadline bids for the pivot)', () => {
  it('voids the debit of a transfer the account has not debited', () =>
    account(opened, deposited(500))
      .when(voidDebit(300))
      .then([voided(300)]));
  it('voids on a closed account too (no money moves)', () =>
    account(opened, closed)
      .when(voidDebit(300))
      .then([voided(300)]));
  it('does nothing once the debit was recorded: the debit came first, the transfer goes forward', () =>
    account(opened, deposited(500), debited(300)).when(voidDebit(300)).then([]));
  it('does nothing after a rejected debit, or a void', () => {
    account(opened, debitRejected(300, 'INSUFFICIENT_FUNDS')).when(voidDebit(300)).then([]);
    account(opened, voided(300)).when(voidDebit(300)).then([]);
  });
  it('makes a later debit of that transfer do nothing: the void came first', () =>
    account(opened, deposited(500), voided(300)).when(debit(300)).then([]));
  it('leaves the balance as it was', () => {
    const state = [opened, deposited(500), voided(300)].reduce(
      accountDecider.evolve,
      accountDecider.initialState(),
    );
    expect(state.status === 'Open' && [state.available, state.pending]).toEqual([500, 0]);
  });
  it('rejects an unknown account', () => account().when(voidDebit(1)).thenThrows('ACCOUNT_NOT_FOUND'));
});

describe('CloseAccount', () => {
  it('closes an empty account', () => account(opened).when(close).then([closed]));
  const withdrawn = (amount: number): AccountEvent => ({
    type: 'CashWithdrawn',
    data: { accountId, amount },
  });
  it("closes once money has come and gone, its debit's transfer completed", () =>
    account(opened, deposited(500), debited(300), withdrawn(200))
      .when(closeSettled(transferId))
      .then([closed]));
  it('refuses while a transfer that debited the account has not completed (SPEC §2)', () => {
    account(opened, deposited(300), debited(300)).when(close).thenThrows('ACCOUNT_HAS_PENDING_TRANSFERS');
    account(opened, deposited(300), debited(300))
      .when(closeSettled())
      .thenThrows('ACCOUNT_HAS_PENDING_TRANSFERS');
  });
  it('refuses while any debit is unsettled: another transfer found completed settles only its own', () =>
    account(opened, deposited(300), debited(300))
      .when(closeSettled('t-other'))
      .thenThrows('ACCOUNT_HAS_PENDING_TRANSFERS'));
  it('names the unsettled transfers in the refusal', () => {
    const state = [opened, deposited(300), debited(300)].reduce(
      accountDecider.evolve,
      accountDecider.initialState(),
    );
    expect(() => accountDecider.decide(close, state)).toThrow(/has not completed: t-1$/);
  });
  it('is not held up by a debit that was rejected, voided or (old histories) refunded', () => {
    account(opened, debitRejected(300, 'INSUFFICIENT_FUNDS')).when(close).then([closed]);
    account(opened, voided(300)).when(close).then([closed]);
    account(opened, deposited(300), debited(300), refunded(300), withdrawn(300)).when(close).then([closed]);
  });
  it('refuses a non-zero balance before it looks at the debits', () =>
    account(opened, deposited(500), debited(300)).when(close).thenThrows('ACCOUNT_NOT_EMPTY'));
  it('closes after a held credit is cancelled', () =>
    account(opened, held(200), creditCancelled(200)).when(close).then([closed]));
  it('refuses while a transfer holds a credit', () =>
    account(opened, held(200)).when(close).thenThrows('ACCOUNT_HAS_PENDING_TRANSFERS'));
  it('refuses a non-zero balance', () => {
    account(opened, deposited(1)).when(close).thenThrows('ACCOUNT_NOT_EMPTY');
    account(opened, held(200), released(200)).when(close).thenThrows('ACCOUNT_NOT_EMPTY');
  });
  it('refuses a closed account', () => account(opened, closed).when(close).thenThrows('ACCOUNT_CLOSED'));
  it('refuses an unknown account', () => account().when(close).thenThrows('ACCOUNT_NOT_FOUND'));
});
