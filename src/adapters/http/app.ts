import { randomUUID } from 'node:crypto';
import { swaggerUI } from '@hono/swagger-ui';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';
import type { RelayStatus } from '../../application/integration-relay.ts';
import { EventStoreUnavailableError } from '../../application/ports/event-store.ts';
import { DomainError } from '../../domain/errors.ts';
import { authenticate } from './auth.ts';
import type { AppEnv, HttpDeps } from './context.ts';
import { idempotency } from './idempotency.ts';
import { DOMAIN_PROBLEMS, HttpProblem, type Problem, problemResponse, validationProblem } from './problem.ts';
import { rateLimit } from './rate-limit.ts';
import { accountRoutes } from './routes/accounts.ts';
import { transferRoutes } from './routes/transfers.ts';
import { traceRequests } from './tracing.ts';

const BODY_LIMIT_BYTES = 64 * 1024;
const PUBLIC_PATHS = new Set(['/health/live', '/health/ready', '/openapi.json', '/docs', '/metrics']);
const READY_TIMEOUT_MS = 2_000;
/** A projection further behind the log than this makes the instance unready (its reads would wait). */
const MAX_READY_LAG = 10_000;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

/** Every failure leaves as application/problem+json, from this one mapper. */
function toProblem(
  error: unknown,
  c: Context<AppEnv>,
): { problem: Problem; headers?: Record<string, string> } {
  const instance = c.req.path;
  if (error instanceof HttpProblem) {
    return {
      problem: {
        type: error.type,
        title: error.title,
        status: error.status,
        detail: error.message,
        instance,
        ...(error.extra.errors ? { errors: error.extra.errors } : {}),
      },
      ...(error.extra.headers ? { headers: error.extra.headers } : {}),
    };
  }
  if (error instanceof DomainError) {
    const { status, type, title } = DOMAIN_PROBLEMS[error.code];
    return { problem: { type, title, status, detail: error.message, instance } };
  }
  if (error instanceof EventStoreUnavailableError) {
    return {
      problem: {
        type: 'service-unavailable',
        title: 'Service unavailable',
        status: 503,
        detail: 'The database is unreachable; retry later',
        instance,
      },
      headers: { 'Retry-After': '1' },
    };
  }
  if (error instanceof HTTPException && error.status < 500) {
    // Hono's own refusals: the JSON validator (400) and the media-type gate (415).
    const [type, title] =
      error.status === 415
        ? ['unsupported-media-type', 'Unsupported media type']
        : ['malformed-request', 'Malformed request'];
    return {
      problem: {
        type,
        title,
        status: error.status,
        detail: error.message || 'The request body is not valid JSON',
        instance,
      },
    };
  }
  c.get('logger')?.error({ err: error }, 'unhandled error');
  return {
    problem: {
      type: 'internal-error',
      title: 'Internal error',
      status: 500,
      detail: 'Something went wrong on our side',
      instance,
    },
  };
}

/** The methods the app's routes answer on `path` (empty: no such path). */
function allowedMethods(app: OpenAPIHono<AppEnv>, path: string): string[] {
  const methods = app.routes
    .filter((route) => route.method !== 'ALL')
    .filter((route) => {
      const pattern = route.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:\w+/g, '[^/]+');
      return new RegExp(`^${pattern}$`).test(path);
    })
    .map((route) => route.method);
  return [...new Set(methods)];
}

/** The REST API of SPEC §6 with the security of SPEC §9. */
export function createHttpApp(deps: HttpDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      return problemResponse(c, validationProblem(result.error.issues, c.req.path));
    },
  });

  app.onError((error, c) => {
    const { problem, headers } = toProblem(error, c);
    return problemResponse(c, problem, headers);
  });
  app.notFound((c) => {
    const allow = allowedMethods(app, c.req.path);
    if (allow.length > 0) {
      return problemResponse(
        c,
        {
          type: 'method-not-allowed',
          title: 'Method not allowed',
          status: 405,
          detail: `${c.req.path} answers ${allow.join(', ')}`,
          instance: c.req.path,
        },
        { Allow: allow.join(', ') },
      );
    }
    return problemResponse(c, {
      type: 'not-found',
      title: 'Not found',
      status: 404,
      detail: `No route ${c.req.method} ${c.req.path}`,
      instance: c.req.path,
    });
  });

  if (deps.tracing) app.use('*', traceRequests());
  app.use('*', async (c, next) => {
    const started = performance.now();
    const requestId = /^[\w.:-]{1,128}$/.test(c.req.header('x-request-id') ?? '')
      ? c.req.header('x-request-id')!
      : randomUUID();
    const logger = deps.logger.child({ requestId });
    c.set('requestId', requestId);
    c.set('logger', logger);
    await next();
    c.header('X-Request-Id', requestId);
    const seconds = (performance.now() - started) / 1000;
    deps.metrics.observeRequest(c.req.method, routePath(c), c.res.status, seconds);
    logger.info(
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        durationMs: Math.round(seconds * 1000),
        principal: c.get('principal')?.sub,
        correlationId: c.get('correlationId'),
      },
      'request',
    );
  });

  const auth = authenticate(deps.jwtSecret);
  const limit = rateLimit(deps.rateLimitPerMinute);
  app.use('*', async (c, next) => {
    if (PUBLIC_PATHS.has(c.req.path)) return next();
    await auth(c, async () => {
      await limit(c, next);
    });
  });
  const tooLarge = (c: Context<AppEnv>) =>
    problemResponse(c, {
      type: 'payload-too-large',
      title: 'Payload too large',
      status: 413,
      detail: `Bodies are limited to ${BODY_LIMIT_BYTES} bytes`,
      instance: c.req.path,
    });
  const limitStream = bodyLimit({ maxSize: BODY_LIMIT_BYTES, onError: tooLarge });
  app.use('*', async (c, next) => {
    // A declared length is what Node's parser lets through, so it alone decides (as bodyLimit
    // would, but without turning the request into a web stream); a chunked body is counted.
    const length = c.req.header('content-length');
    if (c.req.header('transfer-encoding') === undefined) {
      if (length === undefined) return next();
      return Number(length) > BODY_LIMIT_BYTES ? tooLarge(c) : next();
    }
    return limitStream(c, next);
  });
  app.use('*', async (c, next) => {
    if (c.req.method !== 'POST') return next();
    // A body must be JSON; a POST without one (and without a type) gets the validator's 400.
    const type = c.req.header('content-type');
    const hasBody =
      c.req.header('transfer-encoding') !== undefined || Number(c.req.header('content-length') ?? 0) > 0;
    if (type === undefined ? hasBody : !JSON_TYPE.test(type)) {
      throw new HttpProblem(
        415,
        'unsupported-media-type',
        'Unsupported media type',
        'Send JSON with Content-Type: application/json',
      );
    }
    return next();
  });
  app.use('*', idempotency(deps.idempotency));

  accountRoutes(app, deps);
  transferRoutes(app, deps);
  operationsRoutes(app, deps);
  return app;
}

const relayReport = (status: RelayStatus, head: number, position: number) => ({
  ...status,
  position,
  lag: Math.max(0, head - position),
});

/** The relay's counters (since this process started) and whether it is connected. */
const relayCounters = (status: RelayStatus) => [
  {
    name: 'esbank_relay_published_total',
    help: 'Integration events handed to the broker',
    type: 'counter' as const,
    values: [{ labels: {}, value: status.published }],
  },
  {
    name: 'esbank_relay_confirmed_total',
    help: 'Integration events the broker confirmed',
    type: 'counter' as const,
    values: [{ labels: {}, value: status.confirmed }],
  },
  {
    name: 'esbank_relay_connected',
    help: '1 while the integration relay has a broker session',
    values: [{ labels: {}, value: status.state === 'connected' ? 1 : 0 }],
  },
];

function operationsRoutes(app: OpenAPIHono<AppEnv>, deps: HttpDeps) {
  const countParked = () => deps.sagaStore?.countParked() ?? Promise.resolve(0);
  app.get('/health/live', (c) => c.json({ status: 'ok' }));

  /** Ready = the store and the read model answer, and every projection is within `maxReadyLag` of the head. */
  app.get('/health/ready', async (c) => {
    let timer: NodeJS.Timeout | undefined;
    const notReady = (detail: string, extra: Record<string, unknown> = {}) =>
      problemResponse(
        c,
        {
          type: 'service-unavailable',
          title: 'Not ready',
          status: 503,
          detail,
          instance: c.req.path,
          ...extra,
        },
        { 'Retry-After': '1' },
      );
    try {
      const [head, checkpoints, relayPosition, parked] = await Promise.race([
        Promise.all([
          deps.store.headPosition(),
          deps.readModel.checkpoints(),
          deps.relay?.checkpoint(),
          countParked(),
        ]),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('the readiness check timed out')), READY_TIMEOUT_MS);
        }),
      ]);
      const projections = Object.fromEntries(
        Object.entries(checkpoints).map(([name, position]) => [
          name,
          { position, lag: Math.max(0, head - position) },
        ]),
      );
      const maxLag = deps.maxReadyLag ?? MAX_READY_LAG;
      const behind = Object.entries(projections).filter(([, { lag }]) => lag > maxLag);
      if (behind.length > 0) {
        return notReady(
          `Projections more than ${maxLag} events behind: ${behind.map(([n]) => n).join(', ')}`,
          {
            headPosition: head,
            projections,
          },
        );
      }
      const relay = deps.relay && relayReport(deps.relay.status(), head, relayPosition ?? 0);
      if (relay && relay.state !== 'connected') {
        return notReady(
          `The integration relay cannot publish to ${relay.target}: ${relay.error ?? relay.state}`,
          {
            relay,
          },
        );
      }
      const ready = { headPosition: head, projections, ...(relay ? { relay } : {}) };
      // Parked events need an operator (esbank parked), but the instance serves well: 200, degraded.
      if (parked > 0) return c.json({ status: 'degraded', ...ready, parkedEvents: parked });
      return c.json({ status: 'ready', ...ready });
    } catch (error) {
      c.get('logger')?.warn({ err: error }, 'not ready');
      return notReady('The database is unreachable or too slow to answer');
    } finally {
      clearTimeout(timer);
    }
  });

  app.get('/metrics', async (c) => {
    const gauges = [];
    if (deps.relay) gauges.push(...relayCounters(deps.relay.status()));
    try {
      const [head, checkpoints, byStatus, parked] = await Promise.all([
        deps.store.headPosition(),
        deps.readModel.checkpoints(),
        deps.readModel.transferCounts(),
        countParked(),
      ]);
      gauges.push({
        name: 'esbank_saga_parked_events',
        help: 'Events the saga parked that wait for an operator (esbank parked)',
        values: [{ labels: {}, value: parked }],
      });
      gauges.push({
        name: 'esbank_transfers',
        help: 'Transfers by status (read model)',
        values: byStatus.map((row) => ({ labels: { status: row.status }, value: row.count })),
      });
      if (deps.relay) {
        gauges.push({
          name: 'esbank_relay_lag_events',
          help: 'Log positions between the head and the integration relay checkpoint',
          values: [{ labels: {}, value: Math.max(0, head - (await deps.relay.checkpoint())) }],
        });
      }
      gauges.push({
        name: 'esbank_projection_lag_events',
        help: 'Events between the log head and each projection',
        values: Object.entries(checkpoints).map(([name, position]) => ({
          labels: { projection: name },
          value: Math.max(0, head - position),
        })),
      });
    } catch {
      // The database is down: the request metrics are still worth serving.
    }
    return c.body(deps.metrics.render(gauges), 200, {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
    });
  });

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
  });
  app.doc('/openapi.json', {
    openapi: '3.0.3',
    info: {
      title: 'esbank',
      version: '0.1.0',
      description: 'Event-sourced money transfers (SPEC §6). Errors are application/problem+json.',
    },
  });
  app.get('/docs', swaggerUI({ url: '/openapi.json' }));
}
