import type { Message } from '../decider.ts';
import type { CancellationReason, CompensationStep, TransferDetails } from './events.ts';

export type RequestTransfer = Message<'RequestTransfer', TransferDetails>;
export type RecordCreditHeld = Message<'RecordCreditHeld', { transferId: string }>;
export type RecordDebit = Message<'RecordDebit', { transferId: string }>;
export type CompleteTransfer = Message<'CompleteTransfer', { transferId: string }>;
export type CancelTransfer = Message<'CancelTransfer', { transferId: string; reason: CancellationReason }>;
/** Fired by the deadline job; `now` is the job's clock, so the decider stays pure. */
export type ExpireTransfer = Message<'ExpireTransfer', { transferId: string; now: string }>;
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
  | ExpireTransfer
  | RecordCompensation;
