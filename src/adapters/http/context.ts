import type { BankingService } from '../../application/banking-service.ts';
import type { IntegrationRelay } from '../../application/integration-relay.ts';
import type { ProcessorStatus } from '../../application/partitioned-processor.ts';
import type { EventStore } from '../../application/ports/event-store.ts';
import type { IdempotencyStore } from '../../application/ports/idempotency-store.ts';
import type { ReadModel } from '../../application/ports/read-model.ts';
import type { SagaStore } from '../../application/ports/saga-store.ts';
import type { Logger } from '../logging.ts';
import type { Metrics } from './metrics.ts';

export type Role = 'customer' | 'operator';

/** The authenticated caller: the JWT's `sub` and `role` (SPEC §9). */
export type Principal = { sub: string; role: Role };

/** A request's Idempotency-Key as claimed: the key and its generation (see migration 0008). */
export type ClaimedKey = { key: string; generation: string };

/** What the HTTP adapter needs; built once in the composition root (src/main.ts). */
export type HttpDeps = {
  banking: BankingService;
  readModel: ReadModel;
  store: EventStore;
  idempotency: IdempotencyStore;
  logger: Logger;
  metrics: Metrics;
  jwtSecret: string;
  rateLimitPerMinute: number;
  /** How long a query waits for the read model to reach `minPosition` (or the log head). */
  readWaitMs?: number;
  /** The integration relay, when BROKER_URL is set: readiness and metrics report it. */
  relay?: Pick<IntegrationRelay, 'status' | 'checkpoint'>;
  /** /health/ready answers 503 while a projection trails the log head by more events than this. */
  maxReadyLag?: number;
  /** Parked saga events: /health/ready says degraded while any waits, /metrics counts them (absent: not checked). */
  sagaStore?: Pick<SagaStore, 'countParked'>;
  /** This instance's share of the partitioned processors: /metrics reports it. */
  processors?: () => ProcessorStatus[];
  /** A server span per request (OpenTelemetry), when the process traces. */
  tracing?: boolean;
};

export type AppEnv = {
  Variables: {
    requestId: string;
    principal: Principal;
    logger: Logger;
    correlationId?: string;
    idempotencyKey?: ClaimedKey;
  };
};
