import { createHttpApp } from '../../src/adapters/http/app.ts';
import type { HttpDeps } from '../../src/adapters/http/context.ts';
import { createMetrics } from '../../src/adapters/http/metrics.ts';
import { createLogger } from '../../src/adapters/logging.ts';
import { createInMemoryIdempotencyStore } from '../../src/adapters/memory/idempotency-store.ts';

export const UNIT_SECRET = 'unit-secret-unit-secret-unit-secret-0123';

/**
 * The HTTP app in process with no database: the ports a test names (stubs with just the calls
 * its routes make), the rest inert (no banking, nothing parked, no processors).
 */
export const appWith = (deps: Pick<HttpDeps, 'store' | 'readModel'> & Partial<HttpDeps>) =>
  createHttpApp({
    banking: {} as HttpDeps['banking'],
    idempotency: createInMemoryIdempotencyStore(),
    logger: createLogger('silent'),
    metrics: createMetrics(),
    jwtSecret: UNIT_SECRET,
    rateLimitPerMinute: 100,
    maxReadyLag: 50,
    sagaStore: { countParked: async () => 0 },
    processors: () => [],
    ...deps,
  });
