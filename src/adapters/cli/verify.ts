import { loadConfig } from '../../config.ts';
import { type VerifyReport, verifyStore } from '../postgres/verify.ts';
import { CliFailure, runWithDatabase } from './database.ts';
import { print } from './output.ts';
import { progressBar } from './progress.ts';

/** Notes are not failures: a few are enough for a person. */
const NOTES_SHOWN = 5;

function describe(report: VerifyReport): string {
  const lines = [
    `verified ${report.events} events up to position ${report.position}: ${report.accounts} accounts, ${report.transfers} transfers, ` +
      `in ${(report.durationMs / 1000).toFixed(1)} s (${report.eventsPerSecond} events/s)`,
    `  money: accounts hold ${report.held}, cash deposited minus withdrawn ${report.cash}`,
  ];
  if (report.skippedNewerRows > 0)
    lines.push(
      `  ${report.skippedNewerRows} read-model row(s) changed after position ${report.position}: not compared`,
    );
  for (const note of report.notes.slice(0, NOTES_SHOWN))
    lines.push(`  note: ${note.subject}: ${note.detail}`);
  if (report.noteCount > NOTES_SHOWN)
    lines.push(`  ... ${report.noteCount - NOTES_SHOWN} more note(s) (--json lists up to 50)`);
  if (report.total === 0) {
    lines.push('  no discrepancy');
    return lines.join('\n');
  }
  lines.push(`  ${report.total} discrepanc${report.total === 1 ? 'y' : 'ies'}:`);
  for (const d of report.discrepancies)
    lines.push(`  ${d.check}: ${d.subject}: ${d.detail}${d.position ? ` (position ${d.position})` : ''}`);
  const kept = report.discrepancies.length;
  if (report.total > kept) lines.push(`  ... ${report.total - kept} more`);
  return lines.join('\n');
}

/**
 * `esbank verify`: reconciles the whole store (invariants, and read models against the folded log);
 * the report goes to stdout, and any discrepancy makes it exit 1 naming the first one on stderr.
 */
export async function verifyCommand(options: { json?: boolean; batchSize?: number; waitMs?: number }) {
  await runWithDatabase(loadConfig(), async ({ sql, store }) => {
    const bar = progressBar('verify');
    let report: VerifyReport;
    try {
      report = await verifyStore({
        sql,
        store,
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
        ...(options.waitMs !== undefined ? { waitMs: options.waitMs } : {}),
        onProgress: bar.update,
      });
    } finally {
      bar.stop();
    }
    print(options, report, () => describe(report));
    const [first] = report.discrepancies;
    if (first) {
      const checks = Object.entries(report.counts)
        .map(([check, count]) => `${check} ×${count}`)
        .join(', ');
      throw new CliFailure(
        `verify found ${report.total} discrepanc${report.total === 1 ? 'y' : 'ies'} (${checks}); first: ${first.check}: ${first.subject}: ${first.detail}`,
      );
    }
  });
}
