import { describe, expect, it } from 'vitest';
import type { TransferDetails, TransferState } from '../../src/domain/transfer/index.ts';
import { onDeadline, react, type SagaEvent } from '../../src/sagas/transfer-saga.ts';

const details: TransferDetails = {
  transferId: 't1',
  fromAccountId: 'src',
  toAccountId: 'dst',
  amount: 100,
  currency: 'EUR',
  deadlineAt: '2030-01-01T00:00:30.000Z',
};
const requested: TransferState = { status: 'Requested', details };
const creditHeld: TransferState = { status: 'CreditHeld', details };
const debited: TransferState = { status: 'Debited', details };
const completed: TransferState = { status: 'Completed', details };
const cancelled: TransferState = {
  status: 'Cancelled',
  details,
  reason: 'DEADLINE_EXPIRED',
  compensations: [],
};
const leg = { accountId: 'dst', transferId: 't1', amount: 100 };
const BEFORE = new Date('2030-01-01T00:00:00.000Z');
const AFTER = new Date('2030-01-01T00:00:31.000Z');

const ev = (type: SagaEvent['type'], data: Record<string, unknown> = {}) =>
  ({ type, data: { transferId: 't1', ...data } }) as SagaEvent;

describe('TransferSagaCoordinator reactions', () => {
  it('TransferRequested → hold the credit on the destination first and schedule the deadline', () => {
    expect(react({ type: 'TransferRequested', data: details }, requested, BEFORE)).toEqual({
      commands: [
        {
          aggregate: 'account',
          id: 'dst',
          command: {
            type: 'HoldTransferCredit',
            data: { accountId: 'dst', transferId: 't1', amount: 100, currency: 'EUR', fromAccountId: 'src' },
          },
        },
      ],
      deadlines: [{ type: 'schedule', transferId: 't1', dueAt: details.deadlineAt }],
    });
  });

  it('TransferRequested redelivered after the transfer moved on does nothing but keep the deadline', () => {
    expect(react({ type: 'TransferRequested', data: details }, creditHeld, BEFORE).commands).toEqual([]);
    expect(react({ type: 'TransferRequested', data: details }, completed, BEFORE)).toEqual({
      commands: [],
      deadlines: [],
    });
    expect(react({ type: 'TransferRequested', data: details }, cancelled, BEFORE)).toEqual({
      commands: [],
      deadlines: [],
    });
  });

  it('TransferCreditHeld → the transfer records the semantic lock', () => {
    expect(react(ev('TransferCreditHeld', leg), requested, BEFORE).commands).toEqual([
      { aggregate: 'transfer', id: 't1', command: { type: 'RecordCreditHeld', data: { transferId: 't1' } } },
    ]);
    expect(react(ev('TransferCreditHeld', leg), creditHeld, BEFORE).commands).toEqual([]);
  });

  it('TransferCreditHeld on a cancelled transfer → the late hold is cancelled', () => {
    expect(react(ev('TransferCreditHeld', leg), cancelled, BEFORE).commands).toEqual([
      {
        aggregate: 'account',
        id: 'dst',
        command: { type: 'CancelTransferCredit', data: { accountId: 'dst', transferId: 't1' } },
      },
    ]);
  });

  it('TransferCreditRefused → cancel the transfer with ACCOUNT_CLOSED', () => {
    expect(
      react(ev('TransferCreditRefused', { reason: 'ACCOUNT_CLOSED' }), requested, BEFORE).commands,
    ).toEqual([
      {
        aggregate: 'transfer',
        id: 't1',
        command: { type: 'CancelTransfer', data: { transferId: 't1', reason: 'ACCOUNT_CLOSED' } },
      },
    ]);
  });

  it('TransferCreditRecorded → debit the source (the pivot)', () => {
    expect(react(ev('TransferCreditRecorded'), creditHeld, BEFORE).commands).toEqual([
      {
        aggregate: 'account',
        id: 'src',
        command: {
          type: 'DebitForTransfer',
          data: { accountId: 'src', transferId: 't1', amount: 100, currency: 'EUR', toAccountId: 'dst' },
        },
      },
    ]);
    expect(react(ev('TransferCreditRecorded'), cancelled, BEFORE).commands).toEqual([]);
  });

  it('TransferDebited → record the pivot on the transfer', () => {
    expect(react(ev('TransferDebited'), creditHeld, BEFORE).commands).toEqual([
      { aggregate: 'transfer', id: 't1', command: { type: 'RecordDebit', data: { transferId: 't1' } } },
    ]);
    expect(react(ev('TransferDebited'), debited, BEFORE).commands).toEqual([]);
  });

  it('TransferDebited on a cancelled transfer (the deadline race) → refund the debit', () => {
    expect(react(ev('TransferDebited'), cancelled, BEFORE).commands).toEqual([
      {
        aggregate: 'account',
        id: 'src',
        command: { type: 'RefundTransferDebit', data: { accountId: 'src', transferId: 't1' } },
      },
    ]);
  });

  it('TransferDebitRejected → cancel the transfer with the reason; never after the pivot', () => {
    expect(
      react(ev('TransferDebitRejected', { reason: 'INSUFFICIENT_FUNDS' }), creditHeld, BEFORE).commands,
    ).toEqual([
      {
        aggregate: 'transfer',
        id: 't1',
        command: { type: 'CancelTransfer', data: { transferId: 't1', reason: 'INSUFFICIENT_FUNDS' } },
      },
    ]);
    expect(
      react(ev('TransferDebitRejected', { reason: 'INSUFFICIENT_FUNDS' }), cancelled, BEFORE).commands,
    ).toEqual([]);
  });

  it('TransferDebitRecorded → release the held credit and drop the deadline', () => {
    expect(react(ev('TransferDebitRecorded'), debited, BEFORE)).toEqual({
      commands: [
        {
          aggregate: 'account',
          id: 'dst',
          command: { type: 'ReleaseTransferCredit', data: { accountId: 'dst', transferId: 't1' } },
        },
      ],
      deadlines: [{ type: 'cancel', transferId: 't1' }],
    });
  });

  it('TransferCreditReleased → complete the transfer', () => {
    expect(react(ev('TransferCreditReleased', leg), debited, BEFORE).commands).toEqual([
      { aggregate: 'transfer', id: 't1', command: { type: 'CompleteTransfer', data: { transferId: 't1' } } },
    ]);
    expect(react(ev('TransferCreditReleased', leg), completed, BEFORE).commands).toEqual([]);
  });

  it('TransferCompleted → drop the deadline', () => {
    expect(react(ev('TransferCompleted'), completed, BEFORE)).toEqual({
      commands: [],
      deadlines: [{ type: 'cancel', transferId: 't1' }],
    });
  });

  it('TransferCancelled → compensate: cancel the held credit, drop the deadline', () => {
    expect(react(ev('TransferCancelled', { reason: 'DEADLINE_EXPIRED' }), cancelled, BEFORE)).toEqual({
      commands: [
        {
          aggregate: 'account',
          id: 'dst',
          command: { type: 'CancelTransferCredit', data: { accountId: 'dst', transferId: 't1' } },
        },
      ],
      deadlines: [{ type: 'cancel', transferId: 't1' }],
    });
  });

  it('TransferCreditCancelled and TransferDebitRefunded → the transfer records each compensation', () => {
    expect(react(ev('TransferCreditCancelled', leg), cancelled, BEFORE).commands).toEqual([
      {
        aggregate: 'transfer',
        id: 't1',
        command: { type: 'RecordCompensation', data: { transferId: 't1', step: 'CREDIT_CANCELLED' } },
      },
    ]);
    expect(react(ev('TransferDebitRefunded'), cancelled, BEFORE).commands).toEqual([
      {
        aggregate: 'transfer',
        id: 't1',
        command: { type: 'RecordCompensation', data: { transferId: 't1', step: 'DEBIT_REFUNDED' } },
      },
    ]);
  });

  it('does nothing for a transfer it cannot find', () => {
    expect(react(ev('TransferDebited'), { status: 'None' }, BEFORE)).toEqual({ commands: [], deadlines: [] });
  });

  const voidOnSource = [
    {
      aggregate: 'account',
      id: 'src',
      command: {
        type: 'VoidTransferDebit',
        data: {
          accountId: 'src',
          transferId: 't1',
          amount: 100,
          toAccountId: 'dst',
          reason: 'DEADLINE_EXPIRED',
        },
      },
    },
  ];

  it('an overdue transfer before its pivot asks its source to void the debit instead of moving on', () => {
    expect(react({ type: 'TransferRequested', data: details }, requested, AFTER)).toEqual({
      commands: voidOnSource,
      deadlines: [{ type: 'schedule', transferId: 't1', dueAt: details.deadlineAt }],
    });
    expect(react(ev('TransferCreditRecorded'), creditHeld, AFTER)).toEqual({
      commands: voidOnSource,
      deadlines: [],
    });
    // After the pivot the saga only goes forward, deadline or not.
    expect(react(ev('TransferDebitRecorded'), debited, AFTER).commands[0]?.command.type).toBe(
      'ReleaseTransferCredit',
    );
  });

  it('a debit the source recorded goes forward however late the saga sees it (the pivot is the source’s)', () => {
    expect(react(ev('TransferDebited', { accountId: 'src' }), creditHeld, AFTER).commands).toEqual([
      { aggregate: 'transfer', id: 't1', command: { type: 'RecordDebit', data: { transferId: 't1' } } },
    ]);
  });

  it('TransferDebitVoided → the transfer is cancelled (DEADLINE_EXPIRED); never once past the pivot', () => {
    const voided = ev('TransferDebitVoided', { accountId: 'src', reason: 'DEADLINE_EXPIRED' });
    for (const state of [requested, creditHeld]) {
      expect(react(voided, state, AFTER).commands).toEqual([
        {
          aggregate: 'transfer',
          id: 't1',
          command: { type: 'CancelTransfer', data: { transferId: 't1', reason: 'DEADLINE_EXPIRED' } },
        },
      ]);
    }
    for (const state of [debited, completed, cancelled])
      expect(react(voided, state, AFTER).commands).toEqual([]);
  });

  it('TransferCreditRefused for the balance limit cancels at once with that reason', () => {
    expect(
      react(ev('TransferCreditRefused', { reason: 'BALANCE_LIMIT' }), requested, BEFORE).commands,
    ).toEqual([
      {
        aggregate: 'transfer',
        id: 't1',
        command: { type: 'CancelTransfer', data: { transferId: 't1', reason: 'BALANCE_LIMIT' } },
      },
    ]);
  });

  describe('a due deadline (the cron job)', () => {
    it.each([
      ['Requested', requested],
      ['CreditHeld', creditHeld],
    ] as const)('asks the source of a %s transfer to void the debit', (_, state) => {
      expect(onDeadline(state, undefined, new Date(details.deadlineAt))).toEqual(voidOnSource);
      expect(onDeadline(state, undefined, new Date('2030-01-01T00:01:00.000Z'))).toEqual(voidOnSource);
    });
    it('does nothing before the deadline', () => {
      expect(onDeadline(creditHeld, undefined, new Date('2030-01-01T00:00:29.999Z'))).toEqual([]);
    });
    it('once the source has decided, tells the transfer what it decided (the void: cancelled; a debit: forward)', () => {
      const leg = (phase: 'voided' | 'debited' | 'rejected') => ({
        side: 'debit' as const,
        amount: 100,
        phase,
      });
      expect(onDeadline(creditHeld, leg('voided'), AFTER)).toEqual([
        {
          aggregate: 'transfer',
          id: 't1',
          command: { type: 'CancelTransfer', data: { transferId: 't1', reason: 'DEADLINE_EXPIRED' } },
        },
      ]);
      expect(onDeadline(creditHeld, leg('debited'), AFTER)).toEqual([
        { aggregate: 'transfer', id: 't1', command: { type: 'RecordDebit', data: { transferId: 't1' } } },
      ]);
      // A rejection is the saga's to act on, with its reason.
      expect(onDeadline(creditHeld, leg('rejected'), AFTER)).toEqual([]);
    });
    it('compares instants, not strings', () => {
      expect(onDeadline(requested, undefined, new Date('2030-01-01T01:00:29+01:00'))).toEqual([]);
    });
    it.each([
      ['Debited', debited],
      ['Completed', completed],
      ['Cancelled', cancelled],
      ['None', { status: 'None' } as TransferState],
    ] as const)('does nothing once %s', (_, state) => {
      expect(onDeadline(state, undefined, AFTER)).toEqual([]);
    });
  });
});
