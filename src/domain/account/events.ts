import type { Message } from '../decider.ts';

export type DebitRejectionReason = 'INSUFFICIENT_FUNDS' | 'ACCOUNT_CLOSED';

export type AccountOpened = Message<
  'AccountOpened',
  { accountId: string; ownerId: string; currency: string }
>;
export type CashDeposited = Message<
  'CashDeposited',
  { accountId: string; amount: number; reference?: string; operationId?: string }
>;
export type CashWithdrawn = Message<
  'CashWithdrawn',
  { accountId: string; amount: number; reference?: string; operationId?: string }
>;
/** Soft state: the credit is recorded but pending, locked to one transfer, never spendable. */
export type TransferCreditHeld = Message<
  'TransferCreditHeld',
  { accountId: string; transferId: string; amount: number; fromAccountId: string }
>;
/** The destination refused the hold (it was closed after the transfer was requested). */
export type TransferCreditRefused = Message<
  'TransferCreditRefused',
  { accountId: string; transferId: string; amount: number; fromAccountId: string; reason: 'ACCOUNT_CLOSED' }
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
/** Compensation: a debit that landed for an already cancelled transfer is given back. */
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
  'TransferDebitRefunded',
  'AccountClosed',
] as const satisfies readonly AccountEvent['type'][];
