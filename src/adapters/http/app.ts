import { randomUUID } from 'node:crypto';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';
import { EventStoreUnavailableError } from '../../application/ports/event-store.ts';
import { DomainError } from '../../domain/errors.ts';
import { authenticate } from './auth.ts';
import type { AppEnv, HttpDeps } from './context.ts';
import { idempotency } from './idempotency.ts';
import { operationsRoutes } from './operations.ts';
import { DOMAIN_PROBLEMS, HttpProblem, type Problem, problemResponse, validationProblem } from './problem.ts';
import { rateLimit } from './rate-limit.ts';
import { accountRoutes } from './routes/accounts.ts';
import { transferRoutes } from './routes/transfers.ts';
import { traceRequests } from './tracing.ts';

const BODY_LIMIT_BYTES = 64 * 1024;
const PUBLIC_PATHS = new Set(['/health/live', '/health/ready', '/openapi.json', '/docs', '/metrics']);
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
    // Neither header (a body handed over in process, not through Node's parser): counted too.
    const length = c.req.header('content-length');
    if (c.req.header('transfer-encoding') === undefined && length !== undefined) {
      return Number(length) > BODY_LIMIT_BYTES ? tooLarge(c) : next();
    }
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
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
