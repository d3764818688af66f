import { Presets, SingleBar } from 'cli-progress';

/**
 * A progress bar on stderr when a person watches it; nothing when stderr is a pipe or a file.
 * The bar moves by global position (what ETA needs); positions may have gaps, so events are
 * counted apart.
 */
export function progressBar(label: string) {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | position {value}/{total} | {events} events | {speed} events/s | ETA {eta_formatted}`,
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
