import type { Map as ImmutableMap } from 'immutable';

/**
 * What one transfer did to this account. Kept per transfer id so that every saga step is
 * idempotent: an account never holds, debits, releases or voids twice for one transfer.
 * A debit leg is `voided` when the transfer's deadline won the race for the pivot: the source's
 * stream recorded the void first, so the debit can never land (SPEC §2). `refunded` exists only in
 * histories written before the void did.
 */
export type TransferLeg =
  | { side: 'credit'; amount: number; phase: 'held' | 'released' | 'cancelled' | 'refused' }
  | { side: 'debit'; amount: number; phase: 'debited' | 'rejected' | 'voided' | 'refunded' };

/** A cash operation sent with an operation id: what it was, and when it was booked. */
export type CashOperation = { kind: 'deposit' | 'withdrawal'; amount: number; bookedAt: string };

type AccountFacts = {
  accountId: string;
  ownerId: string;
  currency: string;
  /** Spendable balance, minor units; never negative. */
  available: number;
  /** Held transfer credits, minor units; never spendable. */
  pending: number;
  /**
   * One leg per transfer the account took part in, for as long as the account lives: a persistent
   * map, so that recording a leg costs the same on an account with 50,000 transfers behind it as
   * on a new one (a copied record grew quadratically: README, Benchmarks). Snapshots store it as
   * a plain object keyed by transfer id.
   */
  legs: ImmutableMap<string, TransferLeg>;
  /** Cash operations booked with an operation id in the last CASH_OPERATION_RETENTION_MS. */
  cashOperations: Readonly<Record<string, CashOperation>>;
};

/**
 * How long an account remembers a cash operation id: longer than an Idempotency-Key lives (24 h),
 * so a retry within the key's lifetime is applied once, whatever happened in between. An id is
 * derived from the key's generation (a key used again after it expired gets a new one), so an id
 * forgotten after this long can never come back.
 */
export const CASH_OPERATION_RETENTION_MS = 48 * 60 * 60 * 1000;

export type AccountState =
  | { status: 'Unopened' }
  | ({ status: 'Open' } & AccountFacts)
  | ({ status: 'Closed' } & AccountFacts);

export type OpenedAccount = Extract<AccountState, { status: 'Open' | 'Closed' }>;

export const initialAccountState = (): AccountState => ({ status: 'Unopened' });
