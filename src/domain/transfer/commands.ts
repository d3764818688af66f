import type { Message } from '../decider.ts';
import type { CancellationReason, CompensationStep, TransferDetails } from './events.ts';

export type RequestTransfer = Message<'RequestTransfer', TransferDetails>;
export type RecordCreditHeld = Message<'RecordCreditHeld', { transferId: string }>;
export type RecordDebit = Message<'RecordDebit', { transferId: string }>;
export type CompleteTransfer = Message<'CompleteTransfer', { transferId: string }>;
/**
 * Sent only once an account has decided (a hold refused, a debit rejected, a debit voided by the
 * deadline): the transfer never decides the pivot itself, its source account does.
 */
export type CancelTransfer = Message<'CancelTransfer', { transferId: string; reason: CancellationReason }>;
export type RecordCompensation = Message<
  'RecordCompensation',
  { transferId: string; step: CompensationStep }
>;

export type TransferCommand =
  | RequestTransfer
  | RecordCreditHeld
  | RecordDebit
  | CompleteTransfer
  | CancelTransfer
  | RecordCompensation;
