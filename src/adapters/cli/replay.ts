import { SingleBar } from 'cli-progress';
import { loadConfig } from '../../config.ts';
import type { ProjectionName } from '../postgres/projections/projection.ts';
import { rebuildReadModels } from '../postgres/projections/rebuild.ts';
import { runWithDatabase } from './database.ts';

export async function replayCommand(options: {
  projection?: ProjectionName;
  until?: { position: number } | { time: Date };
  batchSize: number;
  json?: boolean;
}): Promise<void> {
  await runWithDatabase(loadConfig(), async ({ sql, store }) => {
    const tty = process.stderr.isTTY && !options.json;
    const bar = tty
      ? new SingleBar({
          format: 'replay [{bar}] {percentage}% | {value}/{total} positions | {speed} events/s | ETA {eta}s',
          stream: process.stderr,
        })
      : null;
    const started = Date.now();
    let events = 0;
    bar?.start(1, 0, { speed: 0 });
    const summary = await rebuildReadModels({
      sql,
      store,
      ...(options.projection ? { projections: [options.projection] } : {}),
      ...(options.until ? { until: options.until } : {}),
      batchSize: options.batchSize,
      onProgress: (done, total) => {
        events = done;
        bar?.setTotal(Math.max(total, 1));
        bar?.update(done, { speed: Math.round(events / Math.max(0.001, (Date.now() - started) / 1000)) });
      },
    });
    bar?.stop();
    if (options.json) {
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    } else {
      process.stdout.write(
        `rebuilt ${summary.projections.join(', ')} from ${summary.events} events up to position ${summary.position} ` +
          `in ${(summary.durationMs / 1000).toFixed(1)} s (${summary.eventsPerSecond} events/s)\n`,
      );
    }
  });
}
