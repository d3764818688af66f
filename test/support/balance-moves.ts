/**
 * The events that change an account's balance, written out here, apart from the projection code
 * and the deciders, so that the checks built on it test them rather than repeat them.
 */
export const BALANCE_MOVES: ReadonlySet<string> = new Set([
  'CashDeposited',
  'CashWithdrawn',
  'TransferCreditHeld',
  'TransferCreditReleased',
  'TransferCreditCancelled',
  'TransferDebited',
  'TransferDebitRefunded',
]);
