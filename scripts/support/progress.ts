import { SingleBar } from 'cli-progress';

/** A progress bar on a terminal; otherwise a line on stderr every tenth of the way (nothing with --json). */
export function progressReporter(label: string, total: number, quiet = false) {
  const started = performance.now();
  const rate = (done: number) => Math.round(done / Math.max(0.001, (performance.now() - started) / 1000));
  if (process.stderr.isTTY && !quiet) {
    const bar = new SingleBar({
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`,
      stream: process.stderr,
      etaBuffer: 50,
    });
    bar.start(total, 0, { rate: 0 });
    return {
      update: (done: number) => bar.update(Math.min(done, total), { rate: rate(done) }),
      stop: () => bar.stop(),
    };
  }
  let tenth = 0;
  return {
    update(done: number) {
      if (quiet || done < ((tenth + 1) * total) / 10) return;
      tenth = Math.floor((done * 10) / total);
      process.stderr.write(`${label}: ${done}/${total} (${rate(done)}/s)\n`);
    },
    stop() {},
  };
}
