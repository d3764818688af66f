import { loadConfig } from '../../config.ts';
import type { ProjectionName } from '../postgres/projections/projection.ts';
import { type RebuildSummary, rebuildReadModels } from '../postgres/projections/rebuild.ts';
import type { Until } from './arguments.ts';
import { runWithDatabase } from './database.ts';
import { print } from './output.ts';
import { progressBar } from './progress.ts';

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
    const bar = progressBar('replay');
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
