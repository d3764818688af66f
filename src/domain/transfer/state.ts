import type { CancellationReason, CompensationStep, TransferDetails } from './events.ts';

/** Before the pivot (`Requested`, `CreditHeld`) a transfer may still be cancelled. */
export type TransferState =
  | { status: 'None' }
  | { status: 'Requested'; details: TransferDetails }
  | { status: 'CreditHeld'; details: TransferDetails }
  | { status: 'Debited'; details: TransferDetails }
  | { status: 'Completed'; details: TransferDetails }
  | {
      status: 'Cancelled';
      details: TransferDetails;
      reason: CancellationReason;
      compensations: readonly CompensationStep[];
    };

export type ExistingTransfer = Exclude<TransferState, { status: 'None' }>;

export const initialTransferState = (): TransferState => ({ status: 'None' });
