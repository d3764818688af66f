import type { Message } from '../decider.ts';

export type OpenAccount = Message<'OpenAccount', { accountId: string; ownerId: string; currency: string }>;
/** `operationId` (optional): the same operation sent again is applied once (see CASH_OPERATION_WINDOW). */
export type DepositCash = Message<
  'DepositCash',
  { accountId: string; amount: number; reference?: string; operationId?: string }
>;
export type WithdrawCash = Message<
  'WithdrawCash',
  { accountId: string; amount: number; reference?: string; operationId?: string }
>;
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
export type RefundTransferDebit = Message<'RefundTransferDebit', { accountId: string; transferId: string }>;
export type CloseAccount = Message<'CloseAccount', { accountId: string }>;

export type AccountCommand =
  | OpenAccount
  | DepositCash
  | WithdrawCash
  | HoldTransferCredit
  | ReleaseTransferCredit
  | CancelTransferCredit
  | DebitForTransfer
  | RefundTransferDebit
  | CloseAccount;
