import { DomainError } from './errors.ts';

/** Largest amount one command may carry: 10^15 minor units (SPEC §1). */
export const MAX_AMOUNT = 1_000_000_000_000_000;

/** Amounts are positive integers in minor units (cents). */
export const isValidAmount = (amount: unknown): amount is number =>
  typeof amount === 'number' && Number.isSafeInteger(amount) && amount > 0 && amount <= MAX_AMOUNT;

export const CURRENCY_PATTERN = /^[A-Z]{3}$/;

export const isValidCurrency = (currency: unknown): currency is string =>
  typeof currency === 'string' && CURRENCY_PATTERN.test(currency);

export function assertAmount(amount: number): void {
  if (!isValidAmount(amount)) {
    throw new DomainError(
      'INVALID_AMOUNT',
      `Amount must be an integer in minor units from 1 to ${MAX_AMOUNT}`,
    );
  }
}

export function assertCurrency(currency: string): void {
  if (!isValidCurrency(currency)) {
    throw new DomainError('INVALID_CURRENCY', 'Currency must be an ISO-4217 code such as EUR');
  }
}

/**
 * Balances stay exact: a sum past 2^53 - 1 would lose cents. Checked where money comes in (cash
 * deposits, held credits), never on a compensation, which only gives back what was there.
 */
export const isSafeSum = (...parts: number[]): boolean =>
  Number.isSafeInteger(parts.reduce((a, b) => a + b, 0));

export function assertSafeSum(...parts: number[]): void {
  if (!isSafeSum(...parts)) {
    throw new DomainError('BALANCE_LIMIT_EXCEEDED', 'The balance would exceed the largest exact amount');
  }
}
