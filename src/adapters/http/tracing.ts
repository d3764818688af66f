import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';

/**
 * A server span per request, active while it is handled, so the events a command appends carry
 * its trace (src/application/tracing.ts). Named by method and route template once routed.
 */
export function traceRequests(): MiddlewareHandler {
  const tracer = trace.getTracer('esbank');
  return async (c, next) => {
    const span = tracer.startSpan(`${c.req.method} ${c.req.path}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': c.req.method, 'url.path': c.req.path },
    });
    try {
      await context.with(trace.setSpan(context.active(), span), next);
      span.updateName(`${c.req.method} ${routePath(c)}`);
      span.setAttributes({ 'http.route': routePath(c), 'http.response.status_code': c.res.status });
      if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    } finally {
      span.end();
    }
  };
}
