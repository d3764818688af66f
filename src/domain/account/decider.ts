import { Map as ImmutableMap } from 'immutable';
import { assertNever, type Decider } from '../decider.ts';
import { DomainError } from '../errors.ts';
import { assertAmount, assertCurrency, assertSafeSum, isSafeSum } from '../money.ts';
import type { AccountCommand, CashCommandData } from './commands.ts';
import type { AccountEvent, CashDeposited } from './events.ts';
import {
  type AccountState,
  CASH_OPERATION_RETENTION_MS,
  type CashOperation,
  initialAccountState,
  type OpenedAccount,
  type TransferLeg,
} from './state.ts';

type CashMovementData = CashDeposited['data'];

const requireOpened = (state: AccountState): OpenedAccount => {
  if (state.status === 'Unopened') throw new DomainError('ACCOUNT_NOT_FOUND', 'The account does not exist');
  return state;
};

const requireOpen = (state: AccountState): Extract<AccountState, { status: 'Open' }> => {
  const account = requireOpened(state);
  if (account.status === 'Closed') throw new DomainError('ACCOUNT_CLOSED', 'The account is closed');
  return account;
};

const requireCurrency = (account: OpenedAccount, currency: string): void => {
  if (account.currency !== currency) {
    throw new DomainError('CURRENCY_MISMATCH', `The account holds ${account.currency}, not ${currency}`);
  }
};

const requireLeg = <Side extends TransferLeg['side']>(
  account: OpenedAccount,
  transferId: string,
  side: Side,
): Extract<TransferLeg, { side: Side }> => {
  const leg = account.legs.get(transferId);
  if (leg?.side !== side) {
    throw new DomainError('TRANSFER_LEG_NOT_FOUND', `No ${side} for transfer ${transferId} on this account`);
  }
  return leg as Extract<TransferLeg, { side: Side }>;
};

/**
 * The transfers whose debit this account recorded and has not given back (legs still `debited`):
 * the ones a close must see COMPLETED first. A completed transfer's leg stays `debited` forever.
 */
export const debitedLegs = (account: OpenedAccount): string[] => [
  ...account.legs.filter((leg) => leg.side === 'debit' && leg.phase === 'debited').keys(),
];

const unsettledDebits = (account: OpenedAccount, settled: readonly string[]): string[] => {
  const known = new Set(settled);
  return debitedLegs(account).filter((transferId) => !known.has(transferId));
};

/**
 * A cash operation this account has already booked (it may have been closed since): true for the
 * same operation sent again, a refusal for its id sent with another amount.
 */
const alreadyBooked = (state: AccountState, kind: CashOperation['kind'], data: CashCommandData): boolean => {
  if (data.operation === undefined || state.status === 'Unopened') return false;
  const operationId = data.operation.id;
  const booked = state.cashOperations[operationId];
  if (booked === undefined) return false;
  if (booked.kind !== kind || booked.amount !== data.amount) {
    throw new DomainError(
      'OPERATION_ID_REUSED',
      `Operation ${operationId} was a ${booked.kind} of ${booked.amount}; it cannot be repeated with other content`,
    );
  }
  return true;
};

const cashEvent = <Type extends 'CashDeposited' | 'CashWithdrawn'>(type: Type, data: CashCommandData) => {
  const { operation, ...movement } = data;
  if (operation === undefined) return { type, data: movement };
  return { type, data: { ...movement, operationId: operation.id, bookedAt: operation.at } };
};

/** The operation remembered, and those older than the retention forgotten (pure: times come from events). */
const remembered = (account: OpenedAccount, kind: CashOperation['kind'], data: CashMovementData) => {
  const { operationId, bookedAt } = data;
  if (operationId === undefined || bookedAt === undefined) return account.cashOperations;
  const horizon = Date.parse(bookedAt) - CASH_OPERATION_RETENTION_MS;
  const kept = Object.entries(account.cashOperations).filter(([, op]) => Date.parse(op.bookedAt) >= horizon);
  return Object.fromEntries([...kept, [operationId, { kind, amount: data.amount, bookedAt }]]);
};

export function decideAccount(command: AccountCommand, state: AccountState): AccountEvent[] {
  const { accountId } = command.data;
  switch (command.type) {
    case 'OpenAccount': {
      if (state.status !== 'Unopened') throw new DomainError('ACCOUNT_ALREADY_EXISTS', 'The account exists');
      assertCurrency(command.data.currency);
      return [{ type: 'AccountOpened', data: command.data }];
    }
    case 'DepositCash': {
      if (alreadyBooked(state, 'deposit', command.data)) return [];
      const account = requireOpen(state);
      assertAmount(command.data.amount);
      assertSafeSum(account.available, account.pending, command.data.amount);
      return [cashEvent('CashDeposited', command.data)];
    }
    case 'WithdrawCash': {
      if (alreadyBooked(state, 'withdrawal', command.data)) return [];
      const account = requireOpen(state);
      assertAmount(command.data.amount);
      if (command.data.amount > account.available) {
        throw new DomainError('INSUFFICIENT_FUNDS', 'The available balance does not cover the withdrawal');
      }
      return [cashEvent('CashWithdrawn', command.data)];
    }
    case 'HoldTransferCredit': {
      const { transferId, amount, currency, fromAccountId } = command.data;
      const account = requireOpened(state);
      if (account.legs.has(transferId)) return [];
      assertAmount(amount);
      requireCurrency(account, currency);
      // Refusals are events: the saga cancels the transfer at once, with this reason.
      const reason =
        account.status === 'Closed'
          ? 'ACCOUNT_CLOSED'
          : isSafeSum(account.available, account.pending, amount)
            ? null
            : 'BALANCE_LIMIT';
      if (reason) {
        return [
          { type: 'TransferCreditRefused', data: { accountId, transferId, amount, fromAccountId, reason } },
        ];
      }
      return [{ type: 'TransferCreditHeld', data: { accountId, transferId, amount, fromAccountId } }];
    }
    case 'ReleaseTransferCredit': {
      const { transferId } = command.data;
      const leg = requireLeg(requireOpened(state), transferId, 'credit');
      if (leg.phase === 'released') return [];
      if (leg.phase !== 'held') {
        throw new DomainError('INVALID_TRANSITION', `The credit for transfer ${transferId} is ${leg.phase}`);
      }
      return [{ type: 'TransferCreditReleased', data: { accountId, transferId, amount: leg.amount } }];
    }
    case 'CancelTransferCredit': {
      const { transferId } = command.data;
      const leg = requireOpened(state).legs.get(transferId);
      // Nothing held yet: the saga cancels a hold that lands later, when it sees it.
      if (leg === undefined || leg.phase === 'cancelled' || leg.phase === 'refused') return [];
      if (leg.side !== 'credit' || leg.phase !== 'held') {
        throw new DomainError('INVALID_TRANSITION', `The credit for transfer ${transferId} is ${leg.phase}`);
      }
      return [{ type: 'TransferCreditCancelled', data: { accountId, transferId, amount: leg.amount } }];
    }
    case 'DebitForTransfer': {
      const { transferId, amount, currency, toAccountId } = command.data;
      const account = requireOpened(state);
      // Recorded already, rejected, or voided by the deadline: either way nothing more to do here.
      if (account.legs.has(transferId)) return [];
      assertAmount(amount);
      requireCurrency(account, currency);
      const reason =
        account.status === 'Closed'
          ? 'ACCOUNT_CLOSED'
          : amount > account.available
            ? 'INSUFFICIENT_FUNDS'
            : null;
      if (reason) {
        return [
          { type: 'TransferDebitRejected', data: { accountId, transferId, amount, toAccountId, reason } },
        ];
      }
      return [{ type: 'TransferDebited', data: { accountId, transferId, amount, toAccountId } }];
    }
    case 'VoidTransferDebit': {
      const { transferId, amount, toAccountId, reason } = command.data;
      const account = requireOpened(state);
      // The debit (or its rejection) was recorded first: the pivot is decided, the void does nothing.
      if (account.legs.has(transferId)) return [];
      return [{ type: 'TransferDebitVoided', data: { accountId, transferId, amount, toAccountId, reason } }];
    }
    case 'RefundTransferDebit': {
      const { transferId } = command.data;
      const leg = requireLeg(requireOpened(state), transferId, 'debit');
      if (leg.phase !== 'debited') return [];
      // A compensation is never refused: no balance limit here, and it lands even on a closed account
      // (only one an older version closed: a close now waits for each debit's transfer to complete).
      return [{ type: 'TransferDebitRefunded', data: { accountId, transferId, amount: leg.amount } }];
    }
    case 'CloseAccount': {
      const account = requireOpen(state);
      if (account.pending > 0) {
        throw new DomainError(
          'ACCOUNT_HAS_PENDING_TRANSFERS',
          'A transfer still holds a credit on the account',
        );
      }
      if (account.available !== 0) {
        throw new DomainError('ACCOUNT_NOT_EMPTY', 'Only an account with a zero balance can be closed');
      }
      // A debit whose transfer has not completed may still come back (an old history's refund):
      // the account stays open until each of its debits is settled (SPEC §2).
      const unsettled = unsettledDebits(account, command.data.settledDebits ?? []);
      if (unsettled.length > 0) {
        throw new DomainError(
          'ACCOUNT_HAS_PENDING_TRANSFERS',
          `A transfer that debited the account has not completed: ${unsettled.slice(0, 5).join(', ')}${
            unsettled.length > 5 ? ` and ${unsettled.length - 5} more` : ''
          }`,
        );
      }
      return [{ type: 'AccountClosed', data: { accountId } }];
    }
    default:
      return assertNever(command);
  }
}

const withLeg = (account: OpenedAccount, transferId: string, leg: TransferLeg) => ({
  ...account,
  legs: account.legs.set(transferId, leg),
});

export function evolveAccount(state: AccountState, event: AccountEvent): AccountState {
  if (event.type === 'AccountOpened') {
    const { accountId, ownerId, currency } = event.data;
    return {
      status: 'Open',
      accountId,
      ownerId,
      currency,
      available: 0,
      pending: 0,
      legs: ImmutableMap<string, TransferLeg>(),
      cashOperations: {},
    };
  }
  if (state.status === 'Unopened') return state;
  const account = state;
  switch (event.type) {
    case 'CashDeposited':
      return {
        ...account,
        available: account.available + event.data.amount,
        cashOperations: remembered(account, 'deposit', event.data),
      };
    case 'CashWithdrawn':
      return {
        ...account,
        available: account.available - event.data.amount,
        cashOperations: remembered(account, 'withdrawal', event.data),
      };
    case 'TransferCreditHeld': {
      const { transferId, amount } = event.data;
      const held = withLeg(account, transferId, { side: 'credit', amount, phase: 'held' });
      return { ...held, pending: account.pending + amount };
    }
    case 'TransferCreditRefused': {
      const { transferId, amount } = event.data;
      return withLeg(account, transferId, { side: 'credit', amount, phase: 'refused' });
    }
    case 'TransferCreditReleased': {
      const { transferId, amount } = event.data;
      const released = withLeg(account, transferId, { side: 'credit', amount, phase: 'released' });
      return { ...released, pending: account.pending - amount, available: account.available + amount };
    }
    case 'TransferCreditCancelled': {
      const { transferId, amount } = event.data;
      const cancelled = withLeg(account, transferId, { side: 'credit', amount, phase: 'cancelled' });
      return { ...cancelled, pending: account.pending - amount };
    }
    case 'TransferDebited': {
      const { transferId, amount } = event.data;
      const debited = withLeg(account, transferId, { side: 'debit', amount, phase: 'debited' });
      return { ...debited, available: account.available - amount };
    }
    case 'TransferDebitRejected': {
      const { transferId, amount } = event.data;
      return withLeg(account, transferId, { side: 'debit', amount, phase: 'rejected' });
    }
    case 'TransferDebitVoided': {
      const { transferId, amount } = event.data;
      return withLeg(account, transferId, { side: 'debit', amount, phase: 'voided' });
    }
    case 'TransferDebitRefunded': {
      const { transferId, amount } = event.data;
      const refunded = withLeg(account, transferId, { side: 'debit', amount, phase: 'refunded' });
      return { ...refunded, available: account.available + amount };
    }
    case 'AccountClosed':
      return { ...account, status: 'Closed' };
    default:
      return assertNever(event);
  }
}

export const accountDecider: Decider<AccountCommand, AccountEvent, AccountState> = {
  decide: decideAccount,
  evolve: evolveAccount,
  initialState: initialAccountState,
  // 3: cashOperations by id and time, voided debit legs. Older snapshots are ignored and the state
  // is folded from events.
  snapshotSchemaVersion: 3,
  // The legs as a plain object keyed by transfer id: the shape snapshots have always had.
  snapshot: {
    write: (state) => (state.status === 'Unopened' ? state : { ...state, legs: state.legs.toObject() }),
    read: (stored) => {
      const state = stored as AccountState | (OpenedAccount & { legs: Record<string, TransferLeg> });
      return state.status === 'Open' || state.status === 'Closed'
        ? { ...state, legs: ImmutableMap(state.legs) }
        : (state as AccountState);
    },
  },
};

export const accountStreamName = (accountId: string): string => `account-${accountId}`;
