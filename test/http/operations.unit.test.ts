import { describe, expect, it } from 'vitest';
import type { HttpDeps } from '../../src/adapters/http/context.ts';
import { EventStoreUnavailableError } from '../../src/application/ports/event-store.ts';
import { appWith as httpApp } from '../support/http-app.ts';

/** The operations routes in process (no socket, no database): readiness, metrics, problem shapes. */
function appWith(options: {
  head?: number;
  checkpoints?: Record<string, number>;
  down?: boolean;
  parked?: number;
  oldestInHandMs?: number;
}) {
  const unavailable = () => Promise.reject(new EventStoreUnavailableError('connection refused'));
  const store = {
    headPosition: options.down ? unavailable : async () => options.head ?? 0,
  } as unknown as HttpDeps['store'];
  const readModel = {
    checkpoints: options.down ? unavailable : async () => options.checkpoints ?? {},
    transferCounts: async () => [{ status: 'COMPLETED', count: 3 }],
  } as unknown as HttpDeps['readModel'];
  return httpApp({
    readModel,
    store,
    sagaStore: { countParked: options.down ? unavailable : async () => options.parked ?? 0 },
    processors: () => [
      {
        processor: 'transfer-saga',
        partitions: 16,
        held: [0, 1],
        handled: 7,
        oldestInHandMs: options.oldestInHandMs ?? 0,
      },
    ],
  });
}

describe('operations routes', () => {
  it('GET /health/live → 200 without a token', async () => {
    const response = await appWith({}).request('/health/live');
    expect([response.status, await response.json()]).toEqual([200, { status: 'ok' }]);
  });

  it('GET /health/ready → 200 with each projection and its lag', async () => {
    const response = await appWith({ head: 120, checkpoints: { balances: 120, history: 100 } }).request(
      '/health/ready',
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'ready',
      headPosition: 120,
      projections: { balances: { position: 120, lag: 0 }, history: { position: 100, lag: 20 } },
    });
  });

  it('GET /health/ready → 200 but degraded while parked events wait for an operator; /metrics counts them', async () => {
    const app = appWith({ head: 120, checkpoints: { balances: 120 }, parked: 2 });
    const response = await app.request('/health/ready');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'degraded',
      headPosition: 120,
      projections: { balances: { position: 120, lag: 0 } },
      parkedEvents: 2,
    });
    expect(await (await app.request('/metrics')).text()).toContain('esbank_saga_parked_events{} 2');
    expect(await (await appWith({ parked: 0 }).request('/metrics')).text()).toContain(
      'esbank_saga_parked_events{} 0',
    );
  });

  it('GET /health/ready → 200 but degraded while a processor step has not settled for 30 s; /metrics shows its age', async () => {
    const stalled = appWith({ head: 120, checkpoints: { balances: 120 }, oldestInHandMs: 31_000 });
    const response = await stalled.request('/health/ready');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'degraded',
      headPosition: 120,
      projections: { balances: { position: 120, lag: 0 } },
      stalledProcessors: [{ processor: 'transfer-saga', oldestInHandMs: 31_000 }],
    });
    expect(await (await stalled.request('/metrics')).text()).toContain(
      'esbank_processor_oldest_in_hand_seconds{processor="transfer-saga"} 31',
    );
    const busy = appWith({ head: 120, checkpoints: { balances: 120 }, oldestInHandMs: 900 });
    expect(await (await busy.request('/health/ready')).json()).toMatchObject({ status: 'ready' });
  });

  it('GET /health/ready → 503 problem when a projection trails by more than the limit', async () => {
    const response = await appWith({ head: 200, checkpoints: { balances: 200, transfers: 100 } }).request(
      '/health/ready',
    );
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({
      type: 'service-unavailable',
      status: 503,
      projections: { transfers: { lag: 100 } },
    });
  });

  it('GET /health/ready → 503 problem when the database is down; /metrics still answers', async () => {
    const app = appWith({ down: true });
    const ready = await app.request('/health/ready');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ type: 'service-unavailable', status: 503 });
    const metrics = await app.request('/metrics');
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('esbank_http_request_duration_seconds');
  });

  it('GET /metrics is Prometheus text: request histogram, transfers by status, projection lag', async () => {
    const app = appWith({ head: 10, checkpoints: { balances: 7 } });
    await app.request('/health/live');
    const response = await app.request('/metrics');
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toMatch(
      /esbank_http_request_duration_seconds_bucket\{method="GET",route="\/health\/live",status="200",le="\+Inf"\} 1/,
    );
    expect(text).toContain('esbank_transfers{status="COMPLETED"} 3');
    expect(text).toContain('esbank_projection_lag_events{projection="balances"} 3');
  });

  it('protected routes need a token before anything else: 401 problem with a challenge', async () => {
    const response = await appWith({}).request('/accounts', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="esbank"');
    expect(await response.json()).toMatchObject({ type: 'unauthorized', status: 401 });
  });

  it('OpenAPI is generated from the route schemas, with the bearer scheme', async () => {
    const document = (await (await appWith({}).request('/openapi.json')).json()) as {
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
      components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
    };
    expect(document.paths['/transfers']?.post?.requestBody).toBeDefined();
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining(['Account', 'RequestTransfer', 'Transfer', 'Problem']),
    );
    expect(document.components.securitySchemes.bearer).toMatchObject({ scheme: 'bearer' });
  });
});
