import type { Message } from '../decider.ts';

export type DebitRejectionReason = 'INSUFFICIENT_FUNDS' | 'ACCOUNT_CLOSED';

export type AccountOpened = Message<
  'AccountOpened',
  { accountId: string; ownerId: string; currency: string }
>;
/** `operationId` and `bookedAt` come together: the account remembers the operation (see CashOperation). */
type CashMovement = {
  accountId: string;
  amount: number;
  reference?: string;
  operationId?: string;
  bookedAt?: string;
};
export type CashDeposited = Message<'CashDeposited', CashMovement>;
export type CashWithdrawn = Message<'CashWithdrawn', CashMovement>;
/** Soft state: the credit is recorded but pending, locked to one transfer, never spendable. */
export type TransferCreditHeld = Message<
  'TransferCreditHeld',
  { accountId: string; transferId: string; amount: number; fromAccountId: string }
>;
export type CreditRefusalReason = 'ACCOUNT_CLOSED' | 'BALANCE_LIMIT';

/** The destination refused the hold: it was closed, or the credit would pass its balance limit. */
export type TransferCreditRefused = Message<
  'TransferCreditRefused',
  {
    accountId: string;
    transferId: string;
    amount: number;
    fromAccountId: string;
    reason: CreditRefusalReason;
  }
>;
export type TransferCreditReleased = Message<
  'TransferCreditReleased',
  { accountId: string; transferId: string; amount: number }
>;
/** Compensation: the held credit is withdrawn because the transfer was cancelled. */
export type TransferCreditCancelled = Message<
  'TransferCreditCancelled',
  { accountId: string; transferId: string; amount: number }
>;
export type TransferDebited = Message<
  'TransferDebited',
  { accountId: string; transferId: string; amount: number; toAccountId: string }
>;
export type TransferDebitRejected = Message<
  'TransferDebitRejected',
  { accountId: string; transferId: string; amount: number; toAccountId: string; reason: DebitRejectionReason }
>;
/**
 * The deadline won the race for the pivot: this transfer's debit can never land on the account
 * (a DebitForTransfer after it does nothing), so the transfer may be cancelled.
 */
export type TransferDebitVoided = Message<
  'TransferDebitVoided',
  { accountId: string; transferId: string; amount: number; toAccountId: string; reason: 'DEADLINE_EXPIRED' }
>;
/**
 * Compensation, only in histories written before TransferDebitVoided existed: a debit that landed
 * for an already cancelled transfer was given back. Such events still load and replay.
 */
export type TransferDebitRefunded = Message<
  'TransferDebitRefunded',
  { accountId: string; transferId: string; amount: number }
>;
export type AccountClosed = Message<'AccountClosed', { accountId: string }>;

export type AccountEvent =
  | AccountOpened
  | CashDeposited
  | CashWithdrawn
  | TransferCreditHeld
  | TransferCreditRefused
  | TransferCreditReleased
  | TransferCreditCancelled
  | TransferDebited
  | TransferDebitRejected
  | TransferDebitVoided
  | TransferDebitRefunded
  | AccountClosed;

export const ACCOUNT_EVENT_TYPES = [
  'AccountOpened',
  'CashDeposited',
  'CashWithdrawn',
  'TransferCreditHeld',
  'TransferCreditRefused',
  'TransferCreditReleased',
  'TransferCreditCancelled',
  'TransferDebited',
  'TransferDebitRejected',
  'TransferDebitVoided',
  'TransferDebitRefunded',
  'AccountClosed',
] as const satisfies readonly AccountEvent['type'][];
