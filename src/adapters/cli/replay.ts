import { Presets, SingleBar } from 'cli-progress';
import { loadConfig } from '../../config.ts';
import type { ProjectionName } from '../postgres/projections/projection.ts';
import { type RebuildSummary, rebuildReadModels } from '../postgres/projections/rebuild.ts';
import type { Until } from './arguments.ts';
import { runWithDatabase } from './database.ts';
import { print } from './output.ts';

/** A progress bar on stderr when a person watches it; nothing when stderr is a pipe or a file. */
function progressBar() {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  // The bar moves by global position (what ETA needs); positions may have gaps, so events are counted apart.
  const bar = new SingleBar(
    {
      format:
        'replay [{bar}] {percentage}% | position {value}/{total} | {events} events | {speed} events/s | ETA {eta_formatted}',
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  const started = performance.now();
  bar.start(1, 0, { events: 0, speed: 0 });
  return {
    update(done: number, total: number, events: number) {
      const seconds = Math.max(0.001, (performance.now() - started) / 1000);
      bar.setTotal(Math.max(total, 1));
      bar.update(done, { events, speed: Math.round(events / seconds) });
    },
    stop: () => bar.stop(),
  };
}

const describe = (summary: RebuildSummary, until: Until | undefined) =>
  `rebuilt ${summary.projections.join(', ')} from ${summary.events} events up to position ${summary.position}` +
  (until ? ` (as of ${'time' in until ? until.time.toISOString() : `position ${until.position}`})` : '') +
  ` in ${(summary.durationMs / 1000).toFixed(1)} s (${summary.eventsPerSecond} events/s)`;

/**
 * `esbank replay`: rebuilds the read models from the log into fresh tables that are swapped in
 * at the end, so a running service never serves half a rebuild.
 */
export async function replayCommand(options: {
  projection?: ProjectionName;
  until?: Until;
  batchSize?: number;
  json?: boolean;
}): Promise<void> {
  await runWithDatabase(loadConfig(), async ({ sql, store }) => {
    const bar = progressBar();
    let summary: RebuildSummary;
    try {
      summary = await rebuildReadModels({
        sql,
        store,
        ...(options.projection ? { projections: [options.projection] } : {}),
        ...(options.until ? { until: options.until } : {}),
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
        onProgress: bar.update,
      });
    } finally {
      bar.stop();
    }
    print(options, summary, () => describe(summary, options.until));
  });
}
