import { type Logger, pino } from 'pino';

export type { Logger };

/** JSON lines on stdout; callers add `correlationId` (the transfer id) and `requestId` fields. */
export const createLogger = (level: string, bindings: Record<string, unknown> = {}): Logger =>
  pino({ level, base: { service: 'esbank', ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
