import { z } from '@hono/zod-openapi';
import { CURRENCY_PATTERN, MAX_AMOUNT } from '../../domain/money.ts';

/** Ids are UUIDs (SPEC §1), in lower case: stream names and keys must not depend on how a client spells one. */
export const Id = z.guid().toLowerCase().openapi({ example: '3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f' });
/** Positive integer minor units, at most 10^15 (SPEC §1). JSON numbers only. */
export const Amount = z.int().min(1).max(MAX_AMOUNT).openapi({ example: 2500 });
export const Currency = z
  .string()
  .regex(CURRENCY_PATTERN, 'an ISO-4217 code such as EUR')
  .openapi({ example: 'EUR' });
/** Text PostgreSQL and JSON can hold as sent: no NUL character, no lone UTF-16 surrogate (SPEC §6). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
export const isStorableText = (text: string): boolean =>
  !text.includes('\u0000') && !LONE_SURROGATE.test(text);

const Text = (max: number) =>
  z.string().min(1).max(max).refine(isStorableText, 'text without NUL characters or lone surrogates');
const Reference = Text(140);

export const OpenAccountBody = z
  .strictObject({
    currency: Currency,
    ownerId: Text(200).optional(),
    accountId: Id.optional(),
  })
  .openapi('OpenAccount');
export const CashBody = z
  .strictObject({ amount: Amount, reference: Reference.optional() })
  .openapi('CashMovement');
export const TransferBody = z
  .strictObject({
    fromAccountId: Id,
    toAccountId: Id,
    amount: Amount,
    reference: Reference.optional(),
    transferId: Id.optional(),
  })
  .openapi('RequestTransfer');
/** Closing takes no input; a body, when sent, must be an empty JSON object. */
export const CloseBody = z.strictObject({}).openapi('CloseAccount');

export const AccountIdParam = z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' } }) });
const Position = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const MinPosition = Position.optional().openapi({
  description:
    "Answer once the read model has applied the event at this global position (a command's `position`), waiting at most 3 s. " +
    "Default: the newest event of what is read, so a client reads its own writes: the account's own stream for its balance and history, the whole log for transfers.",
});
export const MinPositionQuery = z.strictObject({ minPosition: MinPosition });
const Limit = z.coerce.number().int().min(1).max(100).default(20);
const Cursor = z.string().min(1).max(64);
export const HistoryQuery = z.strictObject({
  limit: Limit,
  cursor: Cursor.optional(),
  minPosition: MinPosition,
});
export const TransferStatus = z.enum(['PENDING', 'COMPLETED', 'CANCELLED']);
export const TransfersQuery = z.strictObject({
  accountId: Id.optional(),
  status: TransferStatus.optional(),
  limit: Limit,
  cursor: Cursor.optional(),
  minPosition: Position.optional(),
});

export const Account = z
  .object({
    accountId: Id,
    currency: Currency,
    ownerId: z.string(),
    status: z.enum(['OPEN', 'CLOSED']),
    available: z.number().int(),
    pending: z.number().int(),
    version: z.number().int(),
    position: z.number().int().optional(),
  })
  .openapi('Account');

export const CashResult = z
  .object({
    accountId: Id,
    amount: Amount,
    available: z.number().int(),
    pending: z.number().int(),
    version: z.number().int(),
    position: z.number().int(),
  })
  .openapi('CashResult');

export const HistoryItem = z.object({
  position: z.number().int(),
  kind: z.string(),
  amount: z.number().int(),
  availableAfter: z.number().int(),
  pendingAfter: z.number().int(),
  transferId: Id.nullable(),
  counterpartyAccountId: Id.nullable(),
  reference: z.string().nullable(),
  occurredAt: z.string(),
});
export const HistoryPage = z
  .object({ items: z.array(HistoryItem), nextCursor: z.string().nullable() })
  .openapi('History');

export const Transfer = z
  .object({
    transferId: Id,
    fromAccountId: Id,
    toAccountId: Id,
    amount: Amount,
    currency: Currency,
    status: TransferStatus,
    reason: z.enum(['INSUFFICIENT_FUNDS', 'DEADLINE_EXPIRED', 'ACCOUNT_CLOSED', 'BALANCE_LIMIT']).optional(),
    reference: z.string().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
    timeline: z.array(z.object({ step: z.string(), at: z.string(), position: z.number().int() })),
  })
  .openapi('Transfer');
export const TransferAccepted = z
  .object({ transferId: Id, status: z.literal('PENDING'), position: z.number().int() })
  .openapi('TransferAccepted');
export const TransferPage = z
  .object({ items: z.array(Transfer), nextCursor: z.string().nullable() })
  .openapi('Transfers');

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');
