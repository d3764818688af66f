import { assertNever, type Decider } from '../decider.ts';
import { DomainError } from '../errors.ts';
import { assertCurrency } from '../money.ts';
import type { TransferCommand } from './commands.ts';
import type { TransferEvent } from './events.ts';
import { assertTransferRoute } from './request.ts';
import { type ExistingTransfer, initialTransferState, type TransferState } from './state.ts';

const requireExisting = (state: TransferState): ExistingTransfer => {
  if (state.status === 'None') throw new DomainError('TRANSFER_NOT_FOUND', 'The transfer does not exist');
  return state;
};

const notPending = (state: ExistingTransfer): DomainError =>
  new DomainError('TRANSFER_NOT_PENDING', `The transfer is ${state.status}`);

export function decideTransfer(command: TransferCommand, state: TransferState): TransferEvent[] {
  const { transferId } = command.data;
  switch (command.type) {
    case 'RequestTransfer': {
      if (state.status !== 'None') throw new DomainError('TRANSFER_ALREADY_EXISTS', 'The transfer exists');
      assertTransferRoute(command.data);
      assertCurrency(command.data.currency);
      return [{ type: 'TransferRequested', data: command.data }];
    }
    case 'RecordCreditHeld': {
      const transfer = requireExisting(state);
      if (transfer.status === 'Requested') return [{ type: 'TransferCreditRecorded', data: { transferId } }];
      if (transfer.status === 'Cancelled') throw notPending(transfer);
      return [];
    }
    case 'RecordDebit': {
      const transfer = requireExisting(state);
      if (transfer.status === 'CreditHeld') return [{ type: 'TransferDebitRecorded', data: { transferId } }];
      if (transfer.status === 'Debited' || transfer.status === 'Completed') return [];
      if (transfer.status === 'Cancelled') throw notPending(transfer);
      throw new DomainError('INVALID_TRANSITION', 'The source is debited only once the credit is held');
    }
    case 'CompleteTransfer': {
      const transfer = requireExisting(state);
      if (transfer.status === 'Debited') return [{ type: 'TransferCompleted', data: { transferId } }];
      if (transfer.status === 'Completed') return [];
      throw new DomainError('INVALID_TRANSITION', `A ${transfer.status} transfer cannot complete`);
    }
    case 'CancelTransfer': {
      const transfer = requireExisting(state);
      if (transfer.status === 'Requested' || transfer.status === 'CreditHeld') {
        return [{ type: 'TransferCancelled', data: { transferId, reason: command.data.reason } }];
      }
      if (transfer.status === 'Cancelled') return [];
      throw new DomainError('TRANSFER_PAST_PIVOT', 'The source is debited; the transfer only goes forward');
    }
    case 'RecordCompensation': {
      const transfer = requireExisting(state);
      if (transfer.status !== 'Cancelled') {
        throw new DomainError('INVALID_TRANSITION', 'Only a cancelled transfer is compensated');
      }
      if (transfer.compensations.includes(command.data.step)) return [];
      return [{ type: 'TransferCompensationRecorded', data: { transferId, step: command.data.step } }];
    }
    default:
      return assertNever(command);
  }
}

export function evolveTransfer(state: TransferState, event: TransferEvent): TransferState {
  if (event.type === 'TransferRequested') return { status: 'Requested', details: event.data };
  if (state.status === 'None') return state;
  const { details } = state;
  switch (event.type) {
    case 'TransferCreditRecorded':
      return { status: 'CreditHeld', details };
    case 'TransferDebitRecorded':
      return { status: 'Debited', details };
    case 'TransferCompleted':
      return { status: 'Completed', details };
    case 'TransferCancelled':
      return { status: 'Cancelled', details, reason: event.data.reason, compensations: [] };
    case 'TransferCompensationRecorded':
      return state.status === 'Cancelled'
        ? { ...state, compensations: [...state.compensations, event.data.step] }
        : state;
    default:
      return assertNever(event);
  }
}

export const transferDecider: Decider<TransferCommand, TransferEvent, TransferState> = {
  decide: decideTransfer,
  evolve: evolveTransfer,
  initialState: initialTransferState,
  snapshotSchemaVersion: 1,
};

export const transferStreamName = (transferId: string): string => `transfer-${transferId}`;
