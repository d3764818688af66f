import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ReadModelName } from '../../../application/ports/read-model.ts';
import { decodeCursor } from '../../../application/ports/read-model.ts';
import type { AccountState } from '../../../domain/account/index.ts';
import { mayAccess } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { HttpProblem, notFound } from '../problem.ts';
import { ProblemSchema } from '../schemas.ts';

/** OpenAPI pieces every route uses. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

export const problems = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      status,
      { content: { 'application/problem+json': { schema: ProblemSchema } }, description: 'Problem' },
    ]),
  );

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  body: { content: { 'application/json': { schema } }, required: true },
});

export const security = [{ bearer: [] }];

/** Documents the Idempotency-Key header of every POST (the idempotency middleware enforces it). */
export const PostHeaders = z.object({
  'idempotency-key': z.string().optional().openapi({
    description:
      'Replays the first answer for the same body within 24 h; another body → 422; first still running → 409',
    example: 'pay-rent-2030-01',
  }),
});

/** Refuses an account the caller may not act on: unknown or someone else's → 404 (existence is not leaked). */
export function requireAccess(c: Context<AppEnv>, accountId: string, state: AccountState): void {
  if (state.status === 'Unopened' || !mayAccess(c.get('principal'), state.ownerId)) {
    throw notFound('Account', accountId);
  }
}

/**
 * Refuses an account the caller may not act on (see requireAccess). Who owns an account and that
 * it exists never change once it is opened, so the state this process last knew answers it.
 */
export async function requireAccessTo(c: Context<AppEnv>, deps: HttpDeps, accountId: string) {
  const { state } = await deps.banking.lastKnownAccount(accountId);
  requireAccess(c, accountId, state);
}

/**
 * A query reads its read model once that has reached `minPosition`. The default is what a client
 * needs to read its own writes: the newest event of `stream` when the read model is built from
 * that stream alone (an account's balance or history), else the newest committed event of the log.
 * It waits only for the projection it reads.
 */
export async function catchUp(
  deps: HttpDeps,
  readModel: ReadModelName,
  minPosition: number | undefined,
  stream?: string,
) {
  await deps.readModel.waitForPosition(
    await targetOf(deps, minPosition, stream),
    deps.readWaitMs ?? 3_000,
    readModel,
  );
}

const targetOf = async (deps: HttpDeps, minPosition: number | undefined, stream?: string) =>
  minPosition ??
  (await (stream === undefined ? deps.store.lastPosition() : deps.store.streamPosition(stream)));

/**
 * catchUp for a read that reports how far its read model had got when it read (`position`, from
 * the same snapshot): the read goes at once, beside the look-up of the target, and only a read
 * found behind the target waits and reads again. One round trip when the projection keeps up.
 */
export async function readCaughtUp<Read extends { position: number }>(
  deps: HttpDeps,
  readModel: ReadModelName,
  minPosition: number | undefined,
  stream: string,
  read: () => Promise<Read>,
): Promise<Read> {
  const [target, first] = await Promise.all([targetOf(deps, minPosition, stream), read()]);
  if (first.position >= target) return first;
  await deps.readModel.waitForPosition(target, deps.readWaitMs ?? 3_000, readModel);
  return read();
}

/** The position inside a page cursor this API gave out; anything else is a 400. */
export function cursorFrom(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  const position = decodeCursor(cursor);
  if (position === null) {
    throw new HttpProblem(
      400,
      'validation-error',
      'Invalid cursor',
      'The cursor is not one this API gave out',
      {
        errors: [{ path: 'cursor', message: 'not a cursor from a previous page' }],
      },
    );
  }
  return position;
}
