import type { Message } from '../decider.ts';

export type CancellationReason =
  | 'INSUFFICIENT_FUNDS'
  | 'DEADLINE_EXPIRED'
  | 'ACCOUNT_CLOSED'
  | 'BALANCE_LIMIT';
/** `DEBIT_REFUNDED` appears only in histories written before debits could be voided. */
export type CompensationStep = 'CREDIT_CANCELLED' | 'DEBIT_REFUNDED';

export type TransferDetails = {
  transferId: string;
  fromAccountId: string;
  toAccountId: string;
  amount: number;
  currency: string;
  reference?: string;
  /** ISO-8601; the saga voids the debit and cancels the transfer if the pivot has not happened by then. */
  deadlineAt: string;
};

export type TransferRequested = Message<'TransferRequested', TransferDetails>;
/** The destination holds the credit as pending (the semantic lock is in place). */
export type TransferCreditRecorded = Message<'TransferCreditRecorded', { transferId: string }>;
/** The source was debited: the pivot. From here the saga only goes forward. */
export type TransferDebitRecorded = Message<'TransferDebitRecorded', { transferId: string }>;
export type TransferCompleted = Message<'TransferCompleted', { transferId: string }>;
export type TransferCancelled = Message<
  'TransferCancelled',
  { transferId: string; reason: CancellationReason }
>;
export type TransferCompensationRecorded = Message<
  'TransferCompensationRecorded',
  { transferId: string; step: CompensationStep }
>;

export type TransferEvent =
  | TransferRequested
  | TransferCreditRecorded
  | TransferDebitRecorded
  | TransferCompleted
  | TransferCancelled
  | TransferCompensationRecorded;

export const TRANSFER_EVENT_TYPES = [
  'TransferRequested',
  'TransferCreditRecorded',
  'TransferDebitRecorded',
  'TransferCompleted',
  'TransferCancelled',
  'TransferCompensationRecorded',
] as const satisfies readonly TransferEvent['type'][];
