import type { AccountCommand, AccountEvent, TransferLeg } from '../domain/account/index.ts';
import { assertNever } from '../domain/decider.ts';
import type {
  CancellationReason,
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
  'TransferDebitVoided',
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

/** The deadline's bid for the pivot: the source account voids the debit unless it has recorded it. */
const voidDebit = ({ transferId, toAccountId, amount, fromAccountId }: TransferDetails): SagaCommand => ({
  aggregate: 'account',
  id: fromAccountId,
  command: {
    type: 'VoidTransferDebit',
    data: { accountId: fromAccountId, transferId, amount, toAccountId, reason: 'DEADLINE_EXPIRED' },
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

const overdue = (transfer: TransferState, now: Date) =>
  transfer.status !== 'None' &&
  beforePivot(transfer) &&
  // Written so that an unparseable time never counts as past the deadline.
  now.getTime() >= Date.parse(transfer.details.deadlineAt);

const cancel = (transferId: string, reason: CancellationReason): SagaReaction =>
  toTransfer(transferId, { type: 'CancelTransfer', data: { transferId, reason } });

/**
 * What the coordinator does when it sees `event`, given the transfer's current state (SPEC §3):
 * hold the credit on the destination (the semantic lock), then debit the source (the pivot), then
 * release the credit and complete. A refused hold or a rejected debit cancels the transfer and
 * compensates. An overdue transfer asks its source to void the debit instead of debiting it; the
 * source account's stream decides which came first, and the transfer follows it: cancelled once
 * the void is recorded, forward once the debit is. Pure: the same event, state and time always
 * give the same reaction, so redelivery is safe.
 */
export function react(event: SagaEvent, transfer: TransferState, now: Date): SagaReaction {
  if (transfer.status === 'None') return NOTHING;
  const { details } = transfer;
  const { transferId } = details;
  switch (event.type) {
    case 'TransferRequested':
      if (!beforePivot(transfer)) return NOTHING;
      return {
        commands:
          transfer.status === 'Requested'
            ? [overdue(transfer, now) ? voidDebit(details) : holdCredit(details)]
            : [],
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
    // An account decided against the transfer: a refused hold, a rejected or a voided debit.
    case 'TransferCreditRefused':
    case 'TransferDebitRejected':
    case 'TransferDebitVoided':
      return beforePivot(transfer) ? cancel(transferId, event.data.reason) : NOTHING;
    case 'TransferCreditRecorded':
      if (transfer.status !== 'CreditHeld') return NOTHING;
      return {
        commands: [overdue(transfer, now) ? voidDebit(details) : debitSource(details)],
        deadlines: [],
      };
    case 'TransferDebited':
      // The source recorded the debit before any void: the transfer goes forward, however late.
      if (transfer.status === 'CreditHeld')
        return toTransfer(transferId, { type: 'RecordDebit', data: { transferId } });
      // Only in histories written before debits could be voided: a debit that landed after its
      // transfer was cancelled is given back.
      if (transfer.status === 'Cancelled') {
        return {
          commands: [onAccount(details.fromAccountId, 'RefundTransferDebit', transferId)],
          deadlines: [],
        };
      }
      return NOTHING;
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

/**
 * A due deadline (the node-cron job), given the transfer and what its source account recorded for
 * it. Nothing is decided here: an overdue transfer before its pivot asks its source to void the
 * debit; once the source has decided, the transfer is told what it decided (voided: cancelled with
 * DEADLINE_EXPIRED; debited: the debit is recorded, and the transfer goes forward). The saga does
 * the same when it sees those events; the job does it too, so a transfer ends even if that
 * reaction never comes (an event parked, a stalled subscription).
 */
export function onDeadline(
  transfer: TransferState,
  sourceLeg: TransferLeg | undefined,
  now: Date,
): SagaCommand[] {
  if (transfer.status === 'None' || !overdue(transfer, now)) return [];
  const { transferId } = transfer.details;
  if (sourceLeg === undefined) return [voidDebit(transfer.details)];
  if (sourceLeg.side !== 'debit') return [];
  switch (sourceLeg.phase) {
    case 'voided':
      return cancel(transferId, 'DEADLINE_EXPIRED').commands;
    case 'debited':
      return transfer.status === 'CreditHeld'
        ? toTransfer(transferId, { type: 'RecordDebit', data: { transferId } }).commands
        : [];
    // A rejection carries its reason to the saga, which cancels with it; a refund is an old history's.
    case 'rejected':
    case 'refunded':
      return [];
    default:
      return assertNever(sourceLeg);
  }
}
