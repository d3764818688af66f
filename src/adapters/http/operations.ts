import { swaggerUI } from '@hono/swagger-ui';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { RelayStatus } from '../../application/integration-relay.ts';
import { type ProcessorStatus, STALLED_AFTER_MS } from '../../application/partitioned-processor.ts';
import type { AppEnv, HttpDeps } from './context.ts';
import { problemResponse } from './problem.ts';

const READY_TIMEOUT_MS = 2_000;
/** A projection further behind the log than this makes the instance unready (its reads would wait). */
const MAX_READY_LAG = 10_000;

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

/** What this instance holds of each partitioned processor, and what it handled. */
const processorGauges = (statuses: ProcessorStatus[]) => [
  {
    name: 'esbank_processor_partitions_held',
    help: 'Partitions of each processor this instance holds a lease on',
    values: statuses.map((s) => ({ labels: { processor: s.processor }, value: s.held.length })),
  },
  {
    name: 'esbank_processor_events_handled_total',
    help: 'Events this instance handled for each processor since it started',
    type: 'counter' as const,
    values: statuses.map((s) => ({ labels: { processor: s.processor }, value: s.handled })),
  },
  {
    name: 'esbank_processor_oldest_in_hand_seconds',
    help: 'How long the oldest event this instance holds for each processor has waited to be handled',
    values: statuses.map((s) => ({ labels: { processor: s.processor }, value: s.oldestInHandMs / 1000 })),
  },
];

/** Health, metrics and the API's description: what operators and their tools read. */
export function operationsRoutes(app: OpenAPIHono<AppEnv>, deps: HttpDeps) {
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
      if (relay && relay.state !== 'connected' && relay.state !== 'standby') {
        return notReady(
          `The integration relay cannot publish to ${relay.target}: ${relay.error ?? relay.state}`,
          {
            relay,
          },
        );
      }
      const ready = { headPosition: head, projections, ...(relay ? { relay } : {}) };
      // Parked events, or a processor step that does not settle, need an operator; the instance
      // still serves: 200, degraded.
      const stalled = (deps.processors?.() ?? [])
        .filter((p) => p.oldestInHandMs >= STALLED_AFTER_MS)
        .map((p) => ({ processor: p.processor, oldestInHandMs: p.oldestInHandMs }));
      if (parked > 0 || stalled.length > 0)
        return c.json({
          status: 'degraded',
          ...ready,
          ...(parked > 0 ? { parkedEvents: parked } : {}),
          ...(stalled.length > 0 ? { stalledProcessors: stalled } : {}),
        });
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
    if (deps.processors) gauges.push(...processorGauges(deps.processors()));
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
