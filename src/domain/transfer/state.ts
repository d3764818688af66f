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

/** The status the API shows: every soft state before the end is PENDING. */
export type PublicTransferStatus = 'PENDING' | 'COMPLETED' | 'CANCELLED';

export const publicStatus = (state: ExistingTransfer): PublicTransferStatus =>
  state.status === 'Completed' ? 'COMPLETED' : state.status === 'Cancelled' ? 'CANCELLED' : 'PENDING';

export const initialTransferState = (): TransferState => ({ status: 'None' });
