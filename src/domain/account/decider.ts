import { assertNever, type Decider } from '../decider.ts';
import { DomainError } from '../errors.ts';
import { assertAmount, assertCurrency, assertSafeSum } from '../money.ts';
import type { AccountCommand } from './commands.ts';
import type { AccountEvent } from './events.ts';
import {
  type AccountState,
  CASH_OPERATION_WINDOW,
  initialAccountState,
  type OpenedAccount,
  type TransferLeg,
} from './state.ts';

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
  const leg = account.legs[transferId];
  if (leg?.side !== side) {
    throw new DomainError('TRANSFER_LEG_NOT_FOUND', `No ${side} for transfer ${transferId} on this account`);
  }
  return leg as Extract<TransferLeg, { side: Side }>;
};

/** A cash operation this account has already applied (it may have been closed since). */
const alreadyApplied = (state: AccountState, operationId: string | undefined): boolean =>
  operationId !== undefined &&
  state.status !== 'Unopened' &&
  state.recentCashOperations.includes(operationId);

const remembered = (account: OpenedAccount, operationId: string | undefined) =>
  operationId === undefined
    ? account.recentCashOperations
    : [...account.recentCashOperations, operationId].slice(-CASH_OPERATION_WINDOW);

export function decideAccount(command: AccountCommand, state: AccountState): AccountEvent[] {
  const { accountId } = command.data;
  switch (command.type) {
    case 'OpenAccount': {
      if (state.status !== 'Unopened') throw new DomainError('ACCOUNT_ALREADY_EXISTS', 'The account exists');
      assertCurrency(command.data.currency);
      return [{ type: 'AccountOpened', data: command.data }];
    }
    case 'DepositCash': {
      if (alreadyApplied(state, command.data.operationId)) return [];
      const account = requireOpen(state);
      assertAmount(command.data.amount);
      assertSafeSum(account.available, account.pending, command.data.amount);
      return [{ type: 'CashDeposited', data: command.data }];
    }
    case 'WithdrawCash': {
      if (alreadyApplied(state, command.data.operationId)) return [];
      const account = requireOpen(state);
      assertAmount(command.data.amount);
      if (command.data.amount > account.available) {
        throw new DomainError('INSUFFICIENT_FUNDS', 'The available balance does not cover the withdrawal');
      }
      return [{ type: 'CashWithdrawn', data: command.data }];
    }
    case 'HoldTransferCredit': {
      const { transferId, amount, currency, fromAccountId } = command.data;
      const account = requireOpened(state);
      if (account.legs[transferId]) return [];
      assertAmount(amount);
      requireCurrency(account, currency);
      if (account.status === 'Closed') {
        return [
          {
            type: 'TransferCreditRefused',
            data: { accountId, transferId, amount, fromAccountId, reason: 'ACCOUNT_CLOSED' },
          },
        ];
      }
      assertSafeSum(account.available, account.pending, amount);
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
      const leg = requireOpened(state).legs[transferId];
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
      if (account.legs[transferId]) return [];
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
    case 'RefundTransferDebit': {
      const { transferId } = command.data;
      const account = requireOpened(state);
      const leg = requireLeg(account, transferId, 'debit');
      if (leg.phase !== 'debited') return [];
      assertSafeSum(account.available, account.pending, leg.amount);
      // A refund lands even on a closed account: money is never destroyed.
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
      return [{ type: 'AccountClosed', data: { accountId } }];
    }
    default:
      return assertNever(command);
  }
}

const withLeg = (account: OpenedAccount, transferId: string, leg: TransferLeg) => ({
  ...account,
  legs: { ...account.legs, [transferId]: leg },
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
      legs: {},
      recentCashOperations: [],
    };
  }
  if (state.status === 'Unopened') return state;
  const account = state;
  switch (event.type) {
    case 'CashDeposited':
      return {
        ...account,
        available: account.available + event.data.amount,
        recentCashOperations: remembered(account, event.data.operationId),
      };
    case 'CashWithdrawn':
      return {
        ...account,
        available: account.available - event.data.amount,
        recentCashOperations: remembered(account, event.data.operationId),
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
  // 2: recentCashOperations. Older snapshots are ignored and the state is folded from events.
  snapshotSchemaVersion: 2,
};

export const accountStreamName = (accountId: string): string => `account-${accountId}`;
