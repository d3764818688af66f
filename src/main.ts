import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { hostname as hostName } from 'node:os';
import { serve } from '@hono/node-server';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createAmqpPublisher } from './adapters/amqp/publisher.ts';
import { startDeadlineJob } from './adapters/cron/deadline-job.ts';
import { createHttpApp } from './adapters/http/app.ts';
import { resolveJwtSecret } from './adapters/http/auth.ts';
import { createMetrics } from './adapters/http/metrics.ts';
import { createLogger, type Logger } from './adapters/logging.ts';
import { createPostgresIdempotencyStore } from './adapters/postgres/idempotency-store.ts';
import { createPostgresPartitionLeases } from './adapters/postgres/partition-leases.ts';
import { startProjections } from './adapters/postgres/projections/runner.ts';
import { createReadModel } from './adapters/postgres/read-model.ts';
import { createPostgresSagaStore } from './adapters/postgres/saga-store.ts';
import { startTracing } from './adapters/telemetry.ts';
import { createBankingService } from './application/banking-service.ts';
import { createIntegrationRelay } from './application/integration-relay.ts';
import { systemClock } from './application/ports/clock.ts';
import type { EventStore } from './application/ports/event-store.ts';
import { randomIds } from './application/ports/ids.ts';
import type { SagaStore } from './application/ports/saga-store.ts';
import { runWhileLeased } from './application/processor.ts';
import {
  createTransferSagaCoordinator,
  startTransferSagaProcessor,
} from './application/transfer-saga-coordinator.ts';
import type { Config } from './config.ts';
import { openInfrastructure } from './infrastructure.ts';

/** HS256 keys should carry 256 bits (RFC 7518 §3.2). */
const MIN_SECRET_BYTES = 32;
/** How long stop() lets in-flight requests finish before closing their connections. */
const DRAIN_MS = 10_000;
/** Idempotency keys live ≥ 24 h; expired ones are swept at start and then hourly. */
const SWEEP_EVERY_MS = 3_600_000;
/** How long the projections wait, at most, for the saga's steps in hand before they read (see startProjections). */
const PROJECTION_SETTLE_MAX_MS = 10;

export type RunningService = {
  url: string;
  port: number;
  /** The HTTP app itself: tests that need no socket call `fetch` on it in process. */
  fetch: (request: Request) => Response | Promise<Response>;
  stop(): Promise<void>;
};

/**
 * The aggregates and the transfer saga on a store, as the service runs them; `esbank parked retry`
 * runs a parked event through the same saga.
 */
export function createWriteSide(config: Config, store: EventStore, sagaStore: SagaStore, logger: Logger) {
  const banking = createBankingService({
    store,
    ids: randomIds,
    clock: systemClock,
    snapshotEvery: config.SNAPSHOT_EVERY,
    transferDeadlineMs: config.TRANSFER_DEADLINE_MS,
    onSnapshotError: (error) => logger.warn({ err: error }, 'snapshot not written'),
  });
  const coordinator = createTransferSagaCoordinator({
    sagaStore,
    accounts: banking.accounts,
    transfers: banking.transfers,
    clock: systemClock,
    logger: logger.child({ component: 'saga' }),
  });
  return { banking, coordinator };
}

/**
 * The composition root: API, the saga's partitioned processor, projection runners (one instance
 * each, by lease), the relay and the deadline job in one process (SPEC §8). Read models, deadlines and idempotency keys always live in PostgreSQL.
 */
export async function startService(
  config: Config,
  options: {
    logger?: Logger;
    host?: string;
    /** Spans go (also) to this exporter, one by one: tests trace into memory. */
    spanExporter?: SpanExporter;
  } = {},
): Promise<RunningService> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const endpoint = config.OTEL_EXPORTER_OTLP_ENDPOINT;
  // Unset, no SDK is loaded: the OpenTelemetry API calls in the code stay no-ops.
  const tracing =
    endpoint || options.spanExporter
      ? await startTracing({
          ...(endpoint ? { endpoint } : {}),
          ...(options.spanExporter ? { exporter: options.spanExporter } : {}),
        })
      : null;
  const infrastructure = await openInfrastructure(config, { pool: { max: 30 } }).catch(async (error) => {
    await tracing?.shutdown();
    throw error;
  });
  const { sql, store } = infrastructure;
  const sagaStore = createPostgresSagaStore(sql);
  const { banking, coordinator } = createWriteSide(config, store, sagaStore, logger);
  // Several instances share the work: each processor's partitions are leased among them (SPEC §3).
  const leases = createPostgresPartitionLeases(sql);
  const owner = `${hostName()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const saga = startTransferSagaProcessor(coordinator, {
    store,
    leases,
    owner,
    logger: logger.child({ component: 'saga' }),
  });
  const deadlineJob = startDeadlineJob({ coordinator, schedule: config.DEADLINE_CRON, logger });
  const projections = startProjections({
    store,
    sql,
    logger: logger.child({ component: 'projections' }),
    traced: tracing !== null,
    leased: { leases, owner },
    // A transfer's hops come in a burst: the saga's steps in hand first, then one batch for all
    // of them (no batch per hop competing with the hops for the cores), at most PROJECTION_SETTLE_MAX_MS late.
    settle: () => saga.quiet(PROJECTION_SETTLE_MAX_MS),
  });
  const readModel = createReadModel(sql, { store });
  const idempotencyKeys = createPostgresIdempotencyStore(sql);
  const relay = config.BROKER_URL
    ? createIntegrationRelay({
        store,
        publisher: createAmqpPublisher({ url: config.BROKER_URL, exchange: config.BROKER_EXCHANGE }),
        logger: logger.child({ component: 'relay' }),
      })
    : undefined;
  const relayLease =
    relay &&
    runWhileLeased({
      name: 'integration-relay',
      leases,
      owner,
      logger: logger.child({ component: 'relay' }),
      start: (_claim, fence) => {
        relay.start(fence);
        return { stop: () => relay.stop() };
      },
    });
  const sweepKeys = () => void idempotencyKeys.sweep().catch(() => {});
  sweepKeys();
  const sweep = setInterval(sweepKeys, SWEEP_EVERY_MS);
  sweep.unref();

  /** Background work, then the pools, then the embedded server: what stop() does after draining HTTP. */
  const stopBackground = async () => {
    clearInterval(sweep);
    await deadlineJob.stop();
    coordinator.stop();
    await saga.stop();
    await projections.stop();
    await relayLease?.stop();
    await readModel.close();
    await infrastructure.close();
    await tracing?.shutdown();
  };

  let server: ReturnType<typeof serve>;
  let app: ReturnType<typeof createHttpApp>;
  let hostname: string;
  try {
    const jwtSecret = await resolveJwtSecret(config);
    if (Buffer.byteLength(jwtSecret) < MIN_SECRET_BYTES) {
      logger.warn(
        {},
        `AUTH_JWT_SECRET is shorter than ${MIN_SECRET_BYTES} bytes: tokens are easier to forge`,
      );
    }
    app = createHttpApp({
      banking,
      readModel,
      store,
      idempotency: idempotencyKeys,
      logger,
      metrics: createMetrics(),
      jwtSecret,
      rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE,
      ...(relay ? { relay } : {}),
      sagaStore,
      processors: () => [saga.status()],
      tracing: tracing !== null,
    });
    hostname = options.host ?? process.env.HOST ?? '127.0.0.1';
    server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: config.PORT, hostname }, () => resolve(s));
      s.once('error', reject);
    });
  } catch (error) {
    // e.g. the port is taken: leave nothing running behind (the embedded server least of all).
    await stopBackground().catch((cleanup) => logger.error({ err: cleanup }, 'cleanup after a failed start'));
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const url = `http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`;
  logger.info(
    { url, eventStore: config.EVENT_STORE, embeddedDatabase: infrastructure.embedded },
    'esbank is serving',
  );

  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    fetch: (request) => app.fetch(request),
    stop() {
      stopping ??= (async () => {
        // Stop accepting, let in-flight requests finish (a long `Prefer: wait` at most DRAIN_MS),
        // then the background work, then the pools.
        const drained = new Promise<void>((resolve) => server.close(() => resolve()));
        const force = setTimeout(() => {
          if ('closeAllConnections' in server) server.closeAllConnections();
        }, DRAIN_MS);
        await drained;
        clearTimeout(force);
        await stopBackground();
        logger.info({}, 'esbank stopped');
      })();
      return stopping;
    },
  };
}
