import cron from 'node-cron';
import type { AppLogger } from '../../application/ports/logger.ts';
import type { TransferSagaCoordinator } from '../../application/transfer-saga-coordinator.ts';

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
    { noOverlap: true, name: 'transfer-deadlines' },
  );
  return {
    async stop() {
      await task.stop();
      await task.destroy();
      await inFlight;
    },
  };
}
