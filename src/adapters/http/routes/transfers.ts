import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { mayAccess } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { idFromKey } from '../idempotency.ts';
import { notFound } from '../problem.ts';
import {
  AccountIdParam,
  MinPositionQuery,
  Transfer,
  TransferAccepted,
  TransferBody,
  TransferPage,
  TransfersQuery,
} from '../schemas.ts';
import {
  catchUp,
  cursorFrom,
  json,
  jsonBody,
  PostHeaders,
  problems,
  requireAccess,
  security,
} from './shared.ts';

const MAX_WAIT_SECONDS = 30;

/** `Prefer: wait=N` (RFC 7240): seconds to wait for the saga to end, capped. */
const preferredWait = (header: string | undefined): number | null => {
  const match = /(?:^|[,;\s])wait\s*=\s*(\d+)/i.exec(header ?? '');
  return match ? Math.min(MAX_WAIT_SECONDS, Number(match[1])) : null;
};

/** A customer sees a transfer touching one of its accounts; anything else is 404. */
async function visibleTransfer(c: Context<AppEnv>, deps: HttpDeps, transferId: string) {
  const transfer = await deps.readModel.getTransfer(transferId);
  const principal = c.get('principal');
  if (!transfer) throw notFound('Transfer', transferId);
  const owners = await Promise.all(
    [transfer.fromAccountId, transfer.toAccountId].map((id) => deps.readModel.ownerOfAccount(id)),
  );
  if (!owners.some((owner) => mayAccess(principal, owner))) throw notFound('Transfer', transferId);
  return transfer;
}

export function transferRoutes(app: OpenAPIHono<AppEnv>, deps: HttpDeps) {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/transfers',
      tags: ['transfers'],
      security,
      request: {
        ...jsonBody(TransferBody),
        headers: PostHeaders.extend({
          prefer: z
            .string()
            .optional()
            .openapi({
              description: `wait=N: answer with the final state if the saga ends within N s (≤ ${MAX_WAIT_SECONDS})`,
              example: 'wait=5',
            }),
        }),
      },
      responses: {
        202: json(TransferAccepted, 'Accepted: the saga moves the money'),
        200: json(Transfer, 'Ended within the Prefer: wait time'),
        ...problems(400, 401, 404, 409, 413, 415, 422, 429),
      },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const principal = c.get('principal');
      const key = c.get('idempotencyKey');
      const transferId = input.transferId ?? (key ? idFromKey(principal.sub, key, 'transfer') : undefined);
      const result = await deps.banking.requestTransfer(
        {
          ...(transferId ? { transferId } : {}),
          fromAccountId: input.fromAccountId,
          toAccountId: input.toAccountId,
          amount: input.amount,
          ...(input.reference ? { reference: input.reference } : {}),
        },
        { requestId: c.get('requestId'), principal: principal.sub },
        {
          repeatable: input.transferId === undefined && key !== undefined,
          // Customers move money only from their own accounts.
          authorize: (from) => requireAccess(c, input.fromAccountId, from),
        },
      );
      const id = result.transferId;
      c.set('correlationId', id);
      // A repeated request changed nothing: its position is the log's newest, a safe minPosition.
      const position = result.position ?? (await deps.store.lastPosition());
      c.header('Location', `/transfers/${id}`);

      const wait = preferredWait(c.req.header('prefer'));
      if (wait !== null) {
        const ended = await deps.readModel.waitForTransferEnd(id, wait * 1000);
        c.header('Preference-Applied', `wait=${wait}`);
        if (ended) return c.json(ended as z.infer<typeof Transfer>, 200);
      }
      return c.json({ transferId: id, status: 'PENDING' as const, position }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/transfers/{id}',
      tags: ['transfers'],
      security,
      request: { params: AccountIdParam, query: MinPositionQuery },
      responses: { 200: json(Transfer, 'The transfer and its timeline'), ...problems(400, 401, 404, 429) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      c.set('correlationId', id);
      await catchUp(deps, 'transfers', c.req.valid('query').minPosition);
      return c.json((await visibleTransfer(c, deps, id)) as z.infer<typeof Transfer>, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/transfers',
      tags: ['transfers'],
      security,
      request: { query: TransfersQuery },
      responses: { 200: json(TransferPage, 'Transfers, newest first'), ...problems(400, 401, 404, 429) },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const principal = c.get('principal');
      const cursor = cursorFrom(query.cursor);
      await catchUp(deps, 'transfers', query.minPosition);
      if (query.accountId && !mayAccess(principal, await deps.readModel.ownerOfAccount(query.accountId)))
        throw notFound('Account', query.accountId);
      const page = await deps.readModel.listTransfers({
        limit: query.limit,
        ...(query.accountId ? { accountId: query.accountId } : {}),
        ...(query.status ? { status: query.status } : {}),
        ...(cursor === undefined ? {} : { cursor }),
        ...(principal.role === 'operator' ? {} : { visibleToOwner: principal.sub }),
      });
      return c.json(page as z.infer<typeof TransferPage>, 200);
    },
  );
}
