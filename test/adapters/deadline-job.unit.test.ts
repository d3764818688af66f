import { describe, expect, it } from 'vitest';
import { startDeadlineJob } from '../../src/adapters/cron/deadline-job.ts';
import type { AppLogger } from '../../src/application/ports/logger.ts';

const recordingLogger = () => {
  const lines: { level: keyof AppLogger; message: string }[] = [];
  const at = (level: keyof AppLogger) => (_fields: Record<string, unknown>, message: string) =>
    lines.push({ level, message });
  const logger: AppLogger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
};

describe('the deadline job', () => {
  it('skips a tick while the previous one still runs, and says so at debug level only', async () => {
    const { logger, lines } = recordingLogger();
    let running = 0;
    let mostAtOnce = 0;
    let ticks = 0;
    const job = startDeadlineJob({
      schedule: '* * * * * *',
      logger,
      coordinator: {
        fireDueDeadlines: async () => {
          ticks++;
          running++;
          mostAtOnce = Math.max(mostAtOnce, running);
          // A backlog: the first tick outlasts the next two seconds' ticks.
          await new Promise((resolve) => setTimeout(resolve, ticks === 1 ? 2_300 : 10));
          running--;
          return 0;
        },
      },
    });
    try {
      await expect.poll(() => ticks, { timeout: 6_000, interval: 50 }).toBeGreaterThanOrEqual(2);
    } finally {
      await job.stop();
    }
    expect(mostAtOnce).toBe(1);
    const skipped = lines.filter((line) => line.message.includes('previous tick is still running'));
    expect(skipped.length).toBeGreaterThanOrEqual(1);
    expect(skipped.every((line) => line.level === 'debug')).toBe(true);
    expect(lines.filter((line) => line.level !== 'debug')).toEqual([]);
  });
});
