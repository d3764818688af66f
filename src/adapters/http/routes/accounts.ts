import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { type AccountState, accountStreamName } from '../../../domain/account/index.ts';
import { DomainError } from '../../../domain/errors.ts';
import { mayAccess } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { idFromKey } from '../idempotency.ts';
import { HttpProblem, malformedJson, notFound, validationProblem } from '../problem.ts';
import {
  Account,
  AccountIdParam,
  CashBody,
  CashResult,
  CloseBody,
  HistoryPage,
  HistoryQuery,
  MinPositionQuery,
  OpenAccountBody,
} from '../schemas.ts';
import {
  cursorFrom,
  json,
  jsonBody,
  PostHeaders,
  problems,
  readCaughtUp,
  requireAccessTo,
  security,
} from './shared.ts';

/** The account's version is the revision of its stream's last event (0-based). */
const versionOf = (revision: number | 'no_stream') => (revision === 'no_stream' ? 0 : revision);

const accountView = (
  state: Extract<AccountState, { status: 'Open' | 'Closed' }>,
  version: number,
  position?: number | null,
) => ({
  accountId: state.accountId,
  currency: state.currency,
  ownerId: state.ownerId,
  status: state.status === 'Open' ? ('OPEN' as const) : ('CLOSED' as const),
  available: state.available,
  pending: state.pending,
  version,
  ...(position == null ? {} : { position }),
});

/** A bodyless command still refuses a body that is not JSON or carries fields (so nothing is silently ignored). */
async function emptyBody(c: Context<AppEnv>) {
  const text = await c.req.text();
  if (text.trim() === '') return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformedJson();
  }
  const result = CloseBody.safeParse(parsed);
  if (!result.success) {
    const problem = validationProblem(result.error.issues, c.req.path);
    throw new HttpProblem(400, problem.type, problem.title, problem.detail, {
      ...(problem.errors ? { errors: problem.errors } : {}),
    });
  }
}

const requestOf = (c: Context<AppEnv>) => ({
  requestId: c.get('requestId'),
  principal: c.get('principal').sub,
});

export function accountRoutes(app: OpenAPIHono<AppEnv>, deps: HttpDeps) {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/accounts',
      tags: ['accounts'],
      security,
      request: { headers: PostHeaders, ...jsonBody(OpenAccountBody) },
      responses: {
        201: json(Account, 'The opened account'),
        ...problems(400, 401, 403, 409, 413, 415, 422, 429),
      },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const principal = c.get('principal');
      if (input.ownerId !== undefined && !mayAccess(principal, input.ownerId)) {
        throw new HttpProblem(403, 'forbidden', 'Forbidden', 'Customers open accounts for themselves only');
      }
      const key = c.get('idempotencyKey');
      const accountId = input.accountId ?? (key ? idFromKey(principal.sub, key, 'account') : undefined);
      const result = await deps.banking.openAccount(
        {
          ...(accountId ? { accountId } : {}),
          ownerId: input.ownerId ?? principal.sub,
          currency: input.currency,
        },
        requestOf(c),
        { repeatable: input.accountId === undefined && key !== undefined },
      );
      if (result.state.status === 'Unopened') throw new Error('open account produced no account');
      c.header('Location', `/accounts/${result.accountId}`);
      // A repeated opening (same key, same content) wrote nothing: report the account as it is now.
      const { revision } =
        result.position === null ? await deps.banking.loadAccount(result.accountId) : { revision: 0 };
      return c.json(
        accountView(result.state, versionOf(revision), result.position ?? (await deps.store.lastPosition())),
        201,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/accounts/{id}',
      tags: ['accounts'],
      security,
      request: { params: AccountIdParam, query: MinPositionQuery },
      responses: { 200: json(Account, 'The account balance'), ...problems(400, 401, 404, 429) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { account } = await readCaughtUp(
        deps,
        'balances',
        c.req.valid('query').minPosition,
        accountStreamName(id),
        () => deps.readModel.getAccount(id),
      );
      if (!account || !mayAccess(c.get('principal'), account.ownerId)) throw notFound('Account', id);
      return c.json(account, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/accounts/{id}/history',
      tags: ['accounts'],
      security,
      request: { params: AccountIdParam, query: HistoryQuery },
      responses: {
        200: json(HistoryPage, 'Balance-changing events, newest first'),
        ...problems(400, 401, 404, 429),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const query = c.req.valid('query');
      const cursor = cursorFrom(query.cursor);
      // The owner never changes once the account is opened: looked up beside the page.
      const [{ page }, owner] = await Promise.all([
        readCaughtUp(deps, 'history', query.minPosition, accountStreamName(id), () =>
          deps.readModel.getHistory(id, { limit: query.limit, ...(cursor === undefined ? {} : { cursor }) }),
        ),
        deps.readModel.ownerOfAccount(id),
      ]);
      if (!mayAccess(c.get('principal'), owner)) throw notFound('Account', id);
      return c.json(page, 200);
    },
  );

  const cashRoute = (kind: 'deposits' | 'withdrawals') =>
    createRoute({
      method: 'post',
      path: `/accounts/{id}/${kind}`,
      tags: ['cash'],
      security,
      request: { params: AccountIdParam, headers: PostHeaders, ...jsonBody(CashBody) },
      responses: {
        201: json(CashResult, kind === 'deposits' ? 'Cash deposited' : 'Cash withdrawn'),
        ...problems(400, 401, 403, 404, 409, 413, 415, 422, 429),
      },
    });

  for (const kind of ['deposits', 'withdrawals'] as const) {
    app.openapi(cashRoute(kind), async (c) => {
      const { id } = c.req.valid('param');
      const input = c.req.valid('json');
      // A role refusal, the same for every account (so it tells a customer nothing about any of them).
      if (c.get('principal').role !== 'operator') {
        throw new HttpProblem(
          403,
          'forbidden',
          'Forbidden',
          'Cash deposits and withdrawals are for operators',
        );
      }
      await requireAccessTo(c, deps, id);
      const key = c.get('idempotencyKey');
      const command = {
        accountId: id,
        amount: input.amount,
        ...(input.reference ? { reference: input.reference } : {}),
        // A retry whose first answer was lost (a crash, a 5xx) is recognised by the account itself.
        ...(key ? { operationId: idFromKey(c.get('principal').sub, key, 'cash') } : {}),
      };
      const result =
        kind === 'deposits'
          ? await deps.banking.depositCash(command, requestOf(c))
          : await deps.banking.withdrawCash(command, requestOf(c));
      if (result.state.status === 'Unopened') throw new DomainError('ACCOUNT_NOT_FOUND', id);
      const { available, pending } = result.state;
      return c.json(
        {
          accountId: id,
          amount: input.amount,
          available,
          pending,
          version: versionOf(result.revision),
          // Already applied (a retry): nothing new was written; the log's newest is a safe minPosition.
          position: result.position ?? (await deps.store.lastPosition()),
        },
        201,
      );
    });
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/accounts/{id}/close',
      tags: ['accounts'],
      security,
      description: 'Takes no body; one, when sent, must be the empty JSON object `{}`.',
      request: { params: AccountIdParam, headers: PostHeaders },
      responses: { 200: json(Account, 'The closed account'), ...problems(400, 401, 404, 409, 415, 429) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      await emptyBody(c);
      await requireAccessTo(c, deps, id);
      const result = await deps.banking.closeAccount({ accountId: id }, requestOf(c));
      if (result.state.status === 'Unopened') throw notFound('Account', id);
      return c.json(accountView(result.state, versionOf(result.revision), result.position), 200);
    },
  );
}
