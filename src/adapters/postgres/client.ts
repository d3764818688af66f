import postgres from 'postgres';
import { EventStoreUnavailableError } from '../../application/ports/event-store.ts';

export type Sql = postgres.Sql;
export type TransactionSql = postgres.TransactionSql;

const INT8_OID = 20;

/**
 * A postgres.js pool. int8 columns (positions, revisions, amounts in minor units) come back
 * as JS numbers: every value we store stays below 2^53, which the domain enforces.
 */
export function createSql(url: string, options: { max?: number; applicationName?: string } = {}): Sql {
  return postgres(url, {
    max: options.max ?? 20,
    // Fail fast when the database is unreachable, so the API answers 503 rather than hanging.
    connect_timeout: 5,
    // postgres.js waits `backoff(n)` seconds before a closed connection reconnects, n counting the
    // failures of the whole pool: its default grows to 20 s, and a query handed to such a
    // connection waits that long (while the database is down and after it is back). Retry soon.
    backoff: (failures: number) => Math.min(0.25, 0.01 * 2 ** failures),
    onnotice: () => {},
    // JIT compiling costs milliseconds and pays off only for long analytical queries; ours are
    // short, and some look expensive to the planner (a JSON batch it sizes at 100 rows), which
    // had PostgreSQL spend 5 ms compiling a lookup that then ran in 0.1 ms.
    connection: { application_name: options.applicationName ?? 'esbank', jit: 'off' },
    types: {
      bigint: {
        to: INT8_OID,
        from: [INT8_OID],
        serialize: (value: number | bigint) => value.toString(),
        parse: (value: string) => Number(value),
      },
    },
  });
}

const CONNECTION_CODES = [
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'CONNECTION_ENDED',
  'CONNECTION_CLOSED',
];

/** The error's own code, a driver code (postgres.js) or a system one. */
const isConnectionCode = (code: unknown): boolean =>
  typeof code === 'string' &&
  (CONNECTION_CODES.includes(code) ||
    code.startsWith('CONNECT_') ||
    code.startsWith('08') ||
    ['57P01', '57P02', '57P03'].includes(code));

/**
 * Connection-level failures: the database is down or restarting, not a bad statement. Drizzle
 * wraps the driver's error (DrizzleQueryError, the driver's error as `cause`), so causes are
 * followed a few levels down.
 */
export function isConnectionError(error: unknown): boolean {
  for (let depth = 0; depth < 4 && error instanceof Error; depth++) {
    if (isConnectionCode((error as { code?: unknown }).code)) return true;
    error = error.cause;
  }
  return false;
}

/**
 * For createBatcher's `isolate`: a failed batch is served again one call at a time unless the
 * database itself is unreachable (which would fail each call alone just the same).
 */
export const failedByItsInput = (error: unknown): boolean => !isConnectionError(error);

/** Connection failures become the port's EventStoreUnavailableError (a 503); everything else passes unchanged. */
export const unavailableOr = (error: unknown): unknown =>
  isConnectionError(error)
    ? new EventStoreUnavailableError(`PostgreSQL is unreachable: ${(error as Error).message}`, {
        cause: error,
      })
    : error;

/**
 * The adapter with each of its methods' connection failures mapped by unavailableOr, so that no
 * caller outside this folder reads a PostgreSQL error code. For object literals of functions (what
 * every adapter here returns): methods are called without `this`.
 */
export function mappingOutages<Adapter extends object>(adapter: Adapter): Adapter {
  const mapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(adapter)) {
    mapped[name] =
      typeof value === 'function'
        ? async (...args: unknown[]) => {
            try {
              return await value(...args);
            } catch (error) {
              throw unavailableOr(error);
            }
          }
        : value;
  }
  return mapped as Adapter;
}
