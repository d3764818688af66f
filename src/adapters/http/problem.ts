import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { DomainErrorCode } from '../../domain/errors.ts';

export type FieldProblem = { path: string; message: string };

/** An RFC 9457 problem document. `type` is a stable slug, a relative URI reference. */
export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldProblem[];
  instance?: string;
  /** RFC 9457 §3.2 extension members (e.g. the projections of a 503 from /health/ready). */
  [extension: string]: unknown;
};

/** An HTTP-level refusal (auth, limits, idempotency) that the error mapper turns into a problem. */
export class HttpProblem extends Error {
  override readonly name = 'HttpProblem';

  constructor(
    readonly status: ContentfulStatusCode,
    readonly type: string,
    readonly title: string,
    detail: string,
    readonly extra: { errors?: FieldProblem[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
  }
}

export const DOMAIN_PROBLEMS: Record<
  DomainErrorCode,
  { status: ContentfulStatusCode; type: string; title: string }
> = {
  INVALID_AMOUNT: { status: 400, type: 'validation-error', title: 'Invalid amount' },
  INVALID_CURRENCY: { status: 400, type: 'validation-error', title: 'Invalid currency' },
  ACCOUNT_ALREADY_EXISTS: { status: 409, type: 'account-exists', title: 'Account already exists' },
  ACCOUNT_NOT_FOUND: { status: 404, type: 'not-found', title: 'Account not found' },
  ACCOUNT_CLOSED: { status: 409, type: 'account-closed', title: 'Account is closed' },
  ACCOUNT_NOT_EMPTY: { status: 409, type: 'account-not-closable', title: 'Account cannot be closed' },
  ACCOUNT_HAS_PENDING_TRANSFERS: {
    status: 409,
    type: 'account-not-closable',
    title: 'Account cannot be closed',
  },
  INSUFFICIENT_FUNDS: { status: 422, type: 'insufficient-funds', title: 'Insufficient funds' },
  BALANCE_LIMIT_EXCEEDED: { status: 422, type: 'balance-limit-exceeded', title: 'Balance limit exceeded' },
  CURRENCY_MISMATCH: { status: 422, type: 'currency-mismatch', title: 'Currency mismatch' },
  SAME_ACCOUNT: { status: 422, type: 'same-account', title: 'Same account' },
  TRANSFER_ALREADY_EXISTS: { status: 409, type: 'transfer-exists', title: 'Transfer already exists' },
  TRANSFER_NOT_FOUND: { status: 404, type: 'not-found', title: 'Transfer not found' },
  TRANSFER_NOT_PENDING: { status: 409, type: 'conflict', title: 'Transfer is not pending' },
  TRANSFER_PAST_PIVOT: { status: 409, type: 'conflict', title: 'Transfer is past its pivot' },
  TRANSFER_LEG_NOT_FOUND: { status: 409, type: 'conflict', title: 'No such transfer leg' },
  INVALID_TRANSITION: { status: 409, type: 'conflict', title: 'Invalid transition' },
  OPERATION_ID_REUSED: { status: 422, type: 'idempotency-key-reused', title: 'Idempotency-Key reused' },
};

/** Field problems from zod issues: one entry per offending path. */
export const validationProblem = (
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
  instance: string,
): Problem => ({
  type: 'validation-error',
  title: 'Invalid request',
  status: 400,
  detail: 'The request does not match the API: see errors',
  instance,
  errors: issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(body)',
    message: issue.message,
  })),
});

export const malformedJson = () =>
  new HttpProblem(400, 'malformed-request', 'Malformed request', 'The request body is not valid JSON');

export function problemResponse(
  c: Context,
  problem: Problem,
  headers: Record<string, string> = {},
): Response {
  return c.body(JSON.stringify(problem), problem.status as ContentfulStatusCode, {
    'content-type': 'application/problem+json',
    ...headers,
  });
}

export const notFound = (what: string, id: string) =>
  new HttpProblem(404, 'not-found', `${what} not found`, `No ${what.toLowerCase()} ${id}`);
