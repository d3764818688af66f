import type { Message } from '../decider.ts';

export type OpenAccount = Message<'OpenAccount', { accountId: string; ownerId: string; currency: string }>;
/**
 * A cash movement. With an `operation` (its id, and the time it is booked at), the same operation
 * sent again is applied once for CASH_OPERATION_RETENTION_MS; its id with another amount is refused.
 */
export type CashCommandData = {
  accountId: string;
  amount: number;
  reference?: string;
  operation?: { id: string; at: string };
};
export type DepositCash = Message<'DepositCash', CashCommandData>;
export type WithdrawCash = Message<'WithdrawCash', CashCommandData>;
export type HoldTransferCredit = Message<
  'HoldTransferCredit',
  { accountId: string; transferId: string; amount: number; currency: string; fromAccountId: string }
>;
export type ReleaseTransferCredit = Message<
  'ReleaseTransferCredit',
  { accountId: string; transferId: string }
>;
export type CancelTransferCredit = Message<'CancelTransferCredit', { accountId: string; transferId: string }>;
export type DebitForTransfer = Message<
  'DebitForTransfer',
  { accountId: string; transferId: string; amount: number; currency: string; toAccountId: string }
>;
/**
 * The transfer's deadline passed before the pivot: the source account voids the transfer's debit,
 * unless it has already recorded it (then the transfer goes forward). Whichever the source's
 * stream records first wins.
 */
export type VoidTransferDebit = Message<
  'VoidTransferDebit',
  { accountId: string; transferId: string; amount: number; toAccountId: string; reason: 'DEADLINE_EXPIRED' }
>;
/** Only for histories written before debits could be voided: a debit that landed after its transfer was cancelled. */
export type RefundTransferDebit = Message<'RefundTransferDebit', { accountId: string; transferId: string }>;
/**
 * `settledDebits`: the transfers, among those that debited this account, found COMPLETED (the
 * application looks them up: the account alone does not know when its debit's transfer ended). A
 * leg still `debited` whose transfer is not listed refuses the close; absent, none is settled.
 */
export type CloseAccount = Message<'CloseAccount', { accountId: string; settledDebits?: readonly string[] }>;

export type AccountCommand =
  | OpenAccount
  | DepositCash
  | WithdrawCash
  | HoldTransferCredit
  | ReleaseTransferCredit
  | CancelTransferCredit
  | DebitForTransfer
  | VoidTransferDebit
  | RefundTransferDebit
  | CloseAccount;
