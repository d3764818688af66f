import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { expect } from 'vitest';
import { mintToken } from '../../src/adapters/http/auth.ts';
import { createLogger } from '../../src/adapters/logging.ts';
import { loadConfig } from '../../src/config.ts';
import { type RunningService, startService } from '../../src/main.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

/** A response as tests see it: the JSON body, typed loosely because each test asserts its fields. */
// biome-ignore lint/suspicious/noExplicitAny: tests assert on response fields one by one
export type ApiResponse = { status: number; body: any; headers: Headers };

export type TestService = RunningService & {
  db: TestDatabase;
  token(sub: string, role?: 'customer' | 'operator'): Promise<string>;
  /** fetch against the service with JSON in and out and an optional bearer token. */
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string },
  ): Promise<ApiResponse>;
  /** Events written on behalf of requests (the saga's own steps, which run in the background, excluded). */
  eventCount(): Promise<number>;
  close(): Promise<void>;
};

/**
 * The whole service on a fresh database and a free port, as `esbank serve` runs it. `inProcess`:
 * requests go to the app in process (`app.fetch`, no socket), for tests of what the app answers;
 * end-to-end tests go over the socket. `spanExporter` collects the service's traces.
 */
export async function startTestService(
  env: Record<string, string> = {},
  { inProcess = false, ...options }: { inProcess?: boolean; spanExporter?: SpanExporter } = {},
): Promise<TestService> {
  const db = await createTestDatabase({ migrate: false });
  const config = loadConfig({
    DATABASE_URL: db.url,
    PORT: '0',
    LOG_LEVEL: 'silent',
    AUTH_JWT_SECRET: TEST_SECRET,
    TRANSFER_DEADLINE_MS: '30000',
    ...env,
  });
  const service = await startService(config, { logger: createLogger('silent'), ...options });
  const call: TestService['call'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.raw;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const init = { method, headers, ...(body === undefined ? {} : { body }) };
    const response = inProcess
      ? await service.fetch(new Request(service.url + path, init))
      : await fetch(service.url + path, init);
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };
  return {
    ...service,
    db,
    call,
    token: (sub, role = 'customer') => mintToken({ sub, role }, TEST_SECRET),
    eventCount: async () => {
      const [row] = await db.sql<{ count: number }[]>`
        SELECT count(*)::int AS count FROM events WHERE metadata->>'principal' IS DISTINCT FROM 'saga:transfer'`;
      return row!.count;
    },
    close: async () => {
      await service.stop();
      await db.drop();
    },
  };
}

/** Polls (bounded) until a transfer is no longer PENDING. */
export async function waitForTransfer(
  service: TestService,
  token: string,
  transferId: string,
  timeoutMs = 15_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await service.call('GET', `/transfers/${transferId}`, { token });
    if (body?.status && body.status !== 'PENDING') return body;
    if (Date.now() > deadline) throw new Error(`transfer ${transferId} still ${body?.status}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Money is neither created nor destroyed: once the saga and the projections are at rest (bounded
 * wait), the balances read model holds exactly the cash deposited minus the cash withdrawn, and no
 * account is below zero.
 */
export async function expectMoneyConserved(service: TestService, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  const { sql } = service.db;
  for (;;) {
    const [row] = await sql<{ quiet: boolean }[]>`
      SELECT (SELECT count(*) FROM transfers WHERE status = 'PENDING') = 0
         AND (SELECT coalesce(sum(pending), 0) FROM balances) = 0
         AND (SELECT coalesce(max(global_position), 0) FROM events WHERE stream_name LIKE 'account-%')
             <= (SELECT position FROM projection_checkpoints WHERE name = 'balances')
         AND (SELECT coalesce(max(global_position), 0) FROM events WHERE stream_name LIKE 'transfer-%')
             <= (SELECT position FROM projection_checkpoints WHERE name = 'transfers') AS quiet`;
    if (row!.quiet) break;
    if (Date.now() > deadline) throw new Error('the saga and projections did not come to rest');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const [cash] = await sql<{ net: number }[]>`
    SELECT coalesce(sum(CASE type WHEN 'CashDeposited' THEN (data->>'amount')::bigint
                                  ELSE -(data->>'amount')::bigint END), 0)::bigint AS net
    FROM events WHERE type IN ('CashDeposited', 'CashWithdrawn')`;
  const [held] = await sql<{ available: number; pending: number; negative: number }[]>`
    SELECT coalesce(sum(available), 0)::bigint AS available, coalesce(sum(pending), 0)::bigint AS pending,
           count(*) FILTER (WHERE available < 0)::int AS negative
    FROM balances`;
  expect(held).toEqual({ available: cash!.net, pending: 0, negative: 0 });
}
