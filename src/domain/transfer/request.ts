import type { AccountState } from '../account/state.ts';
import { DomainError } from '../errors.ts';
import { assertAmount } from '../money.ts';

type Route = { fromAccountId: string; toAccountId: string; amount: number };

/** What every transfer must be (SPEC §1, §6): a valid amount between two different accounts. */
export function assertTransferRoute({ fromAccountId, toAccountId, amount }: Route): void {
  assertAmount(amount);
  if (fromAccountId === toAccountId) {
    throw new DomainError('SAME_ACCOUNT', 'A transfer needs two different accounts');
  }
}

const requireOpen = (accountId: string, state: AccountState) => {
  if (state.status === 'Unopened')
    throw new DomainError('ACCOUNT_NOT_FOUND', `Account ${accountId} does not exist`);
  if (state.status === 'Closed') throw new DomainError('ACCOUNT_CLOSED', `Account ${accountId} is closed`);
  return state;
};

/**
 * The checks a transfer request passes before it is recorded: the route is valid and both accounts
 * are open and hold one currency, which the transfer takes. The saga checks the accounts again
 * where it counts (each hold and debit is decided by its account).
 */
export function currencyOfTransfer(route: Route, from: AccountState, to: AccountState): string {
  assertTransferRoute(route);
  const source = requireOpen(route.fromAccountId, from);
  const destination = requireOpen(route.toAccountId, to);
  if (source.currency !== destination.currency) {
    throw new DomainError(
      'CURRENCY_MISMATCH',
      `Cannot transfer ${source.currency} to an account in ${destination.currency}`,
    );
  }
  return source.currency;
}
