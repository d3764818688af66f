/** Stable codes for every business rejection; the HTTP edge maps each to a problem type. */
export type DomainErrorCode =
  | 'INVALID_AMOUNT'
  | 'INVALID_CURRENCY'
  | 'ACCOUNT_ALREADY_EXISTS'
  | 'ACCOUNT_NOT_FOUND'
  | 'ACCOUNT_CLOSED'
  | 'ACCOUNT_NOT_EMPTY'
  | 'ACCOUNT_HAS_PENDING_TRANSFERS'
  | 'INSUFFICIENT_FUNDS'
  | 'BALANCE_LIMIT_EXCEEDED'
  | 'CURRENCY_MISMATCH'
  | 'SAME_ACCOUNT'
  | 'TRANSFER_ALREADY_EXISTS'
  | 'TRANSFER_NOT_FOUND'
  | 'TRANSFER_NOT_PENDING'
  | 'TRANSFER_PAST_PIVOT'
  | 'TRANSFER_LEG_NOT_FOUND'
  | 'OPERATION_ID_REUSED'
  | 'INVALID_TRANSITION';

export class DomainError extends Error {
  override readonly name = 'DomainError';

  constructor(
    readonly code: DomainErrorCode,
    message: string,
  ) {
    super(message);
  }
}
