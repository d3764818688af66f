import cron from 'node-cron';
import type { AppLogger } from '../../application/ports/logger.ts';
import type { TransferSagaCoordinator } from '../../application/transfer-saga-coordinator.ts';

const OVERLAP = 'task still running, new execution blocked by overlap prevention!';

/**
 * node-cron's own messages in the service's log. A tick skipped because the previous one is still
 * firing deadlines is how `noOverlap` is meant to work (a backlog of due deadlines takes more than
 * a second), so it is a debug line, not a warning every second for as long as the backlog lasts.
 */
const cronLogger = (logger: AppLogger) => ({
  debug: (message: string | Error) => logger.debug({ err: message }, 'node-cron'),
  info: (message: string) => logger.debug({}, `node-cron: ${message}`),
  warn: (message: string) =>
    message === OVERLAP
      ? logger.debug({}, 'deadline job tick skipped: the previous tick is still running')
      : logger.warn({}, `node-cron: ${message}`),
  error: (message: string | Error, err?: Error) => logger.error({ err: err ?? message }, 'node-cron'),
});

/**
 * Fires due transfer deadlines on a node-cron schedule (six fields; every second by default).
 * Ticks never overlap in one process; claims in the saga store keep instances apart.
 */
export function startDeadlineJob(options: {
  coordinator: Pick<TransferSagaCoordinator, 'fireDueDeadlines'>;
  schedule: string;
  logger: AppLogger;
}): { stop(): Promise<void> } {
  let inFlight: Promise<unknown> = Promise.resolve();
  const task = cron.schedule(
    options.schedule,
    async () => {
      inFlight = options.coordinator.fireDueDeadlines().catch((error: unknown) => {
        options.logger.warn({ err: error }, 'deadline job tick failed');
      });
      await inFlight;
    },
    { noOverlap: true, name: 'transfer-deadlines', logger: cronLogger(options.logger) },
  );
  return {
    async stop() {
      await task.stop();
      await task.destroy();
      await inFlight;
    },
  };
}
