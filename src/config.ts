import { z } from 'zod';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z.object({
  DATABASE_URL: z.string().min(1).optional(),
  EVENT_STORE: z.enum(['postgres', 'eventstoredb', 'memory']).default('postgres'),
  EVENTSTORE_CONNECTION_STRING: z.string().min(1).optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  TRANSFER_DEADLINE_MS: positiveInt(30_000),
  SNAPSHOT_EVERY: positiveInt(100),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** node-cron expression for the deadline job (six fields: every second by default). */
  DEADLINE_CRON: z.string().default('* * * * * *'),
  /** HS256 secret; shorter than 32 bytes is accepted with a warning at start-up (RFC 7518 wants 256 bits). */
  AUTH_JWT_SECRET: z.string().min(1).optional(),
  RATE_LIMIT_PER_MINUTE: positiveInt(6000),
  /** Integration events (SPEC §10): unset, no relay runs. */
  BROKER_URL: z
    .string()
    .regex(/^amqps?:\/\//, 'must be an amqp:// or amqps:// URL')
    .optional(),
  BROKER_EXCHANGE: z.string().min(1).default('esbank.events'),
  /** Where the embedded PostgreSQL and generated secrets live. */
  ESBANK_HOME: z.string().default('.esbank'),
  /** OTLP/HTTP collector (e.g. http://127.0.0.1:4318): traces are exported there; unset, none are made. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
});

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads SPEC §8's settings from the environment; a bad value stops start-up with a clear message. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  if (parsed.data.EVENT_STORE === 'eventstoredb' && !parsed.data.EVENTSTORE_CONNECTION_STRING) {
    throw new ConfigError('EVENT_STORE=eventstoredb needs EVENTSTORE_CONNECTION_STRING');
  }
  return parsed.data;
}
