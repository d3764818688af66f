import { describe, it } from 'vitest';
import { MAX_AMOUNT } from '../../src/domain/money.ts';
import type { CancellationReason, TransferCommand, TransferEvent } from '../../src/domain/transfer/index.ts';
import { transferDecider } from '../../src/domain/transfer/index.ts';
import { given } from '../support/given-when-then.ts';

const transferId = 't-1';
const deadlineAt = '2030-01-01T00:00:30.000Z';
const details = {
  transferId,
  fromAccountId: 'acc-1',
  toAccountId: 'acc-2',
  amount: 500,
  currency: 'EUR',
  reference: 'rent',
  deadlineAt,
};

const requested: TransferEvent = { type: 'TransferRequested', data: details };
const creditRecorded: TransferEvent = { type: 'TransferCreditRecorded', data: { transferId } };
const debitRecorded: TransferEvent = { type: 'TransferDebitRecorded', data: { transferId } };
const completed: TransferEvent = { type: 'TransferCompleted', data: { transferId } };
const cancelled = (reason: CancellationReason = 'INSUFFICIENT_FUNDS'): TransferEvent => ({
  type: 'TransferCancelled',
  data: { transferId, reason },
});
const creditCompensated: TransferEvent = {
  type: 'TransferCompensationRecorded',
  data: { transferId, step: 'CREDIT_CANCELLED' },
};
const debitCompensated: TransferEvent = {
  type: 'TransferCompensationRecorded',
  data: { transferId, step: 'DEBIT_REFUNDED' },
};

const request = (changes: Partial<typeof details> = {}): TransferCommand => ({
  type: 'RequestTransfer',
  data: { ...details, ...changes },
});
const recordCreditHeld: TransferCommand = { type: 'RecordCreditHeld', data: { transferId } };
const recordDebit: TransferCommand = { type: 'RecordDebit', data: { transferId } };
const complete: TransferCommand = { type: 'CompleteTransfer', data: { transferId } };
const cancel = (reason: CancellationReason): TransferCommand => ({
  type: 'CancelTransfer',
  data: { transferId, reason },
});
const compensate = (step: 'CREDIT_CANCELLED' | 'DEBIT_REFUNDED'): TransferCommand => ({
  type: 'RecordCompensation',
  data: { transferId, step },
});

const transfer = (...history: TransferEvent[]) => given(transferDecider, history);

/** Every state a transfer can be in, as the history that leads there. */
const states = {
  Requested: [requested],
  CreditHeld: [requested, creditRecorded],
  Debited: [requested, creditRecorded, debitRecorded],
  Completed: [requested, creditRecorded, debitRecorded, completed],
  Cancelled: [requested, cancelled()],
} satisfies Record<string, TransferEvent[]>;

describe('RequestTransfer', () => {
  it('records the request', () => transfer().when(request()).then([requested]));
  it('refuses a transfer id that exists', () =>
    transfer(requested).when(request()).thenThrows('TRANSFER_ALREADY_EXISTS'));
  it.each([0, -5, 2.5, MAX_AMOUNT + 1])('refuses amount %s', (amount) =>
    transfer().when(request({ amount })).thenThrows('INVALID_AMOUNT'),
  );
  it.each(['usd', 'US', ''])('refuses currency %j', (currency) =>
    transfer().when(request({ currency })).thenThrows('INVALID_CURRENCY'),
  );
  it('refuses a transfer to the same account', () =>
    transfer()
      .when(request({ toAccountId: details.fromAccountId }))
      .thenThrows('SAME_ACCOUNT'));
});

describe('RecordCreditHeld', () => {
  it('records the held credit', () =>
    transfer(...states.Requested)
      .when(recordCreditHeld)
      .then([creditRecorded]));
  it.each(['CreditHeld', 'Debited', 'Completed'] as const)('does nothing once %s', (state) =>
    transfer(...states[state])
      .when(recordCreditHeld)
      .then([]),
  );
  it('rejects a cancelled transfer, so the saga cancels the late hold', () =>
    transfer(...states.Cancelled)
      .when(recordCreditHeld)
      .thenThrows('TRANSFER_NOT_PENDING'));
  it('rejects an unknown transfer', () => transfer().when(recordCreditHeld).thenThrows('TRANSFER_NOT_FOUND'));
});

describe('RecordDebit', () => {
  it('records the debit (the pivot)', () =>
    transfer(...states.CreditHeld)
      .when(recordDebit)
      .then([debitRecorded]));
  it.each(['Debited', 'Completed'] as const)('does nothing once %s', (state) =>
    transfer(...states[state])
      .when(recordDebit)
      .then([]),
  );
  it('rejects a debit before the credit is held', () =>
    transfer(...states.Requested)
      .when(recordDebit)
      .thenThrows('INVALID_TRANSITION'));
  it('rejects a cancelled transfer, so the saga refunds the late debit', () =>
    transfer(...states.Cancelled)
      .when(recordDebit)
      .thenThrows('TRANSFER_NOT_PENDING'));
  it('rejects an unknown transfer', () => transfer().when(recordDebit).thenThrows('TRANSFER_NOT_FOUND'));
});

describe('CompleteTransfer', () => {
  it('completes a debited transfer', () =>
    transfer(...states.Debited)
      .when(complete)
      .then([completed]));
  it('completes once', () =>
    transfer(...states.Completed)
      .when(complete)
      .then([]));
  it.each(['Requested', 'CreditHeld', 'Cancelled'] as const)('rejects a %s transfer', (state) =>
    transfer(...states[state])
      .when(complete)
      .thenThrows('INVALID_TRANSITION'),
  );
  it('rejects an unknown transfer', () => transfer().when(complete).thenThrows('TRANSFER_NOT_FOUND'));
});

describe('CancelTransfer', () => {
  it.each(['Requested', 'CreditHeld'] as const)('cancels a %s transfer with the reason', (state) =>
    transfer(...states[state])
      .when(cancel('ACCOUNT_CLOSED'))
      .then([cancelled('ACCOUNT_CLOSED')]),
  );
  it('cancels once; the first reason stands', () =>
    transfer(...states.Cancelled)
      .when(cancel('DEADLINE_EXPIRED'))
      .then([]));
  it.each(['Debited', 'Completed'] as const)(
    'refuses a %s transfer: past the pivot it only goes forward',
    (state) =>
      transfer(...states[state])
        .when(cancel('INSUFFICIENT_FUNDS'))
        .thenThrows('TRANSFER_PAST_PIVOT'),
  );
  it('rejects an unknown transfer', () =>
    transfer().when(cancel('INSUFFICIENT_FUNDS')).thenThrows('TRANSFER_NOT_FOUND'));
});

describe('RecordCompensation', () => {
  it('records each compensation step once', () => {
    transfer(...states.Cancelled)
      .when(compensate('CREDIT_CANCELLED'))
      .then([creditCompensated]);
    transfer(...states.Cancelled, creditCompensated)
      .when(compensate('DEBIT_REFUNDED'))
      .then([debitCompensated]);
    transfer(...states.Cancelled, creditCompensated)
      .when(compensate('CREDIT_CANCELLED'))
      .then([]);
  });
  it.each(['Requested', 'CreditHeld', 'Debited', 'Completed'] as const)('rejects a %s transfer', (state) =>
    transfer(...states[state])
      .when(compensate('CREDIT_CANCELLED'))
      .thenThrows('INVALID_TRANSITION'),
  );
  it('rejects an unknown transfer', () =>
    transfer().when(compensate('CREDIT_CANCELLED')).thenThrows('TRANSFER_NOT_FOUND'));
});
