import type { AccountCommand, AccountEvent } from '../domain/account/index.ts';
import { assertNever } from '../domain/decider.ts';
import type {
  TransferCommand,
  TransferDetails,
  TransferEvent,
  TransferState,
} from '../domain/transfer/index.ts';

/** A command for one aggregate instance. */
export type SagaCommand =
  | { aggregate: 'account'; id: string; command: AccountCommand }
  | { aggregate: 'transfer'; id: string; command: TransferCommand };

export type DeadlineInstruction =
  | { type: 'schedule'; transferId: string; dueAt: string }
  | { type: 'cancel'; transferId: string };

export type SagaReaction = { commands: SagaCommand[]; deadlines: DeadlineInstruction[] };

/** The events the TransferSagaCoordinator reacts to. */
export const SAGA_EVENT_TYPES = [
  'TransferRequested',
  'TransferCreditRecorded',
  'TransferDebitRecorded',
  'TransferCompleted',
  'TransferCancelled',
  'TransferCreditHeld',
  'TransferCreditRefused',
  'TransferCreditReleased',
  'TransferCreditCancelled',
  'TransferDebited',
  'TransferDebitRejected',
  'TransferDebitRefunded',
] as const;

export type SagaEvent = Extract<AccountEvent | TransferEvent, { type: (typeof SAGA_EVENT_TYPES)[number] }>;

const SAGA_TYPES: ReadonlySet<string> = new Set(SAGA_EVENT_TYPES);

export const isSagaEvent = (event: { type: string }): event is SagaEvent => SAGA_TYPES.has(event.type);

const NOTHING: SagaReaction = { commands: [], deadlines: [] };

const toTransfer = (transferId: string, command: TransferCommand): SagaReaction => ({
  commands: [{ aggregate: 'transfer', id: transferId, command }],
  deadlines: [],
});

const holdCredit = ({
  transferId,
  toAccountId,
  amount,
  currency,
  fromAccountId,
}: TransferDetails): SagaCommand => ({
  aggregate: 'account',
  id: toAccountId,
  command: {
    type: 'HoldTransferCredit',
    data: { accountId: toAccountId, transferId, amount, currency, fromAccountId },
  },
});

const debitSource = ({
  transferId,
  toAccountId,
  amount,
  currency,
  fromAccountId,
}: TransferDetails): SagaCommand => ({
  aggregate: 'account',
  id: fromAccountId,
  command: {
    type: 'DebitForTransfer',
    data: { accountId: fromAccountId, transferId, amount, currency, toAccountId },
  },
});

const onAccount = (
  accountId: string,
  command: AccountCommand['type'] &
    ('ReleaseTransferCredit' | 'CancelTransferCredit' | 'RefundTransferDebit'),
  transferId: string,
): SagaCommand => ({
  aggregate: 'account',
  id: accountId,
  command: { type: command, data: { accountId, transferId } },
});

const beforePivot = (transfer: TransferState) =>
  transfer.status === 'Requested' || transfer.status === 'CreditHeld';

/**
 * What the coordinator does when it sees `event`, given the transfer's current state (SPEC §3):
 * hold the credit on the destination (the semantic lock), then debit the source (the pivot), then
 * release the credit and complete; a rejected debit or an expired deadline cancels the transfer and
 * compensates. Pure: the same event, state and time always give the same reaction, so redelivery is safe.
 */
export function react(event: SagaEvent, transfer: TransferState, now: Date): SagaReaction {
  if (transfer.status === 'None') return NOTHING;
  const { details } = transfer;
  const { transferId } = details;
  // An overdue transfer never moves towards its pivot, even if the deadline job has not fired
  // yet (say, after a restart): it expires, and its TransferCancelled drives the compensation.
  if (beforePivot(transfer) && now.getTime() >= Date.parse(details.deadlineAt)) {
    return { commands: onDeadline(transferId, now), deadlines: [] };
  }
  switch (event.type) {
    case 'TransferRequested':
      if (!beforePivot(transfer)) return NOTHING;
      return {
        commands: transfer.status === 'Requested' ? [holdCredit(details)] : [],
        deadlines: [{ type: 'schedule', transferId, dueAt: details.deadlineAt }],
      };
    case 'TransferCreditHeld':
      if (transfer.status === 'Requested')
        return toTransfer(transferId, { type: 'RecordCreditHeld', data: { transferId } });
      // A hold that lands after the transfer was cancelled is withdrawn at once.
      if (transfer.status === 'Cancelled') {
        return {
          commands: [onAccount(details.toAccountId, 'CancelTransferCredit', transferId)],
          deadlines: [],
        };
      }
      return NOTHING;
    case 'TransferCreditRefused':
      return beforePivot(transfer)
        ? toTransfer(transferId, { type: 'CancelTransfer', data: { transferId, reason: event.data.reason } })
        : NOTHING;
    case 'TransferCreditRecorded':
      return transfer.status === 'CreditHeld' ? { commands: [debitSource(details)], deadlines: [] } : NOTHING;
    case 'TransferDebited':
      if (transfer.status === 'CreditHeld')
        return toTransfer(transferId, { type: 'RecordDebit', data: { transferId } });
      // The deadline race: the debit landed after the transfer was cancelled, so it is given back.
      if (transfer.status === 'Cancelled') {
        return {
          commands: [onAccount(details.fromAccountId, 'RefundTransferDebit', transferId)],
          deadlines: [],
        };
      }
      return NOTHING;
    case 'TransferDebitRejected':
      return beforePivot(transfer)
        ? toTransfer(transferId, { type: 'CancelTransfer', data: { transferId, reason: event.data.reason } })
        : NOTHING;
    case 'TransferDebitRecorded':
      return transfer.status === 'Debited'
        ? {
            commands: [onAccount(details.toAccountId, 'ReleaseTransferCredit', transferId)],
            deadlines: [{ type: 'cancel', transferId }],
          }
        : NOTHING;
    case 'TransferCreditReleased':
      return transfer.status === 'Debited'
        ? toTransfer(transferId, { type: 'CompleteTransfer', data: { transferId } })
        : NOTHING;
    case 'TransferCompleted':
      return { commands: [], deadlines: [{ type: 'cancel', transferId }] };
    case 'TransferCancelled':
      return {
        commands: [onAccount(details.toAccountId, 'CancelTransferCredit', transferId)],
        deadlines: [{ type: 'cancel', transferId }],
      };
    case 'TransferCreditCancelled':
      return transfer.status === 'Cancelled'
        ? toTransfer(transferId, {
            type: 'RecordCompensation',
            data: { transferId, step: 'CREDIT_CANCELLED' },
          })
        : NOTHING;
    case 'TransferDebitRefunded':
      return transfer.status === 'Cancelled'
        ? toTransfer(transferId, { type: 'RecordCompensation', data: { transferId, step: 'DEBIT_REFUNDED' } })
        : NOTHING;
    default:
      return assertNever(event);
  }
}

/** A due deadline: the transfer aggregate decides whether it is still before the pivot. */
export const onDeadline = (transferId: string, now: Date): SagaCommand[] => [
  {
    aggregate: 'transfer',
    id: transferId,
    command: { type: 'ExpireTransfer', data: { transferId, now: now.toISOString() } },
  },
];
