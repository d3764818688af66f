/**
 * What one transfer did to this account. Kept per transfer id so that every saga step is
 * idempotent: an account never holds, debits, releases or refunds twice for one transfer.
 */
export type TransferLeg =
  | { side: 'credit'; amount: number; phase: 'held' | 'released' | 'cancelled' | 'refused' }
  | { side: 'debit'; amount: number; phase: 'debited' | 'rejected' | 'refunded' };

type AccountFacts = {
  accountId: string;
  ownerId: string;
  currency: string;
  /** Spendable balance, minor units; never negative. */
  available: number;
  /** Held transfer credits, minor units; never spendable. */
  pending: number;
  legs: Readonly<Record<string, TransferLeg>>;
  /** The ids of the latest cash operations (at most CASH_OPERATION_WINDOW), oldest first. */
  recentCashOperations: readonly string[];
};

/**
 * How many recent cash operation ids an account remembers: a cash deposit or withdrawal sent
 * again (a client retrying after a crash lost its answer) is applied once, as long as fewer than
 * this many other cash operations reached the account in between. Bounded, so the state is too.
 */
export const CASH_OPERATION_WINDOW = 100;

export type AccountState =
  | { status: 'Unopened' }
  | ({ status: 'Open' } & AccountFacts)
  | ({ status: 'Closed' } & AccountFacts);

export type OpenedAccount = Extract<AccountState, { status: 'Open' | 'Closed' }>;

export const initialAccountState = (): AccountState => ({ status: 'Unopened' });
