import { EventStoreUnavailableError, WrongExpectedRevisionError } from './ports/event-store.ts';

/**
 * How a loop tries again: at most `attempts` tries (Infinity: until it succeeds or is stopped),
 * `delayMs(n)` to wait after the n-th failure, and which failures are worth another try (any
 * other one propagates at once).
 */
export type RetryPolicy = {
  attempts: number;
  delayMs: (failures: number, error: unknown) => number;
  retryOn: (error: unknown) => boolean;
};

/** Exponential backoff from `initialMs`, doubled per failure up to `maxMs`; `jitter` spreads it over [0, delay]. */
export const backoff =
  ({ initialMs, maxMs, jitter = false }: { initialMs: number; maxMs: number; jitter?: boolean }) =>
  (failures: number): number => {
    const delay = Math.min(maxMs, initialMs * 2 ** (failures - 1));
    return jitter ? Math.random() * delay : delay;
  };

/** The store (or database) is down or restarting: the same call may succeed later. Adapters map their drivers' errors to it. */
export const isTransient = (error: unknown): boolean => error instanceof EventStoreUnavailableError;

/** Another writer appended first: reload and decide again. */
export const isConflict = (error: unknown): boolean => error instanceof WrongExpectedRevisionError;

/** Sleeps `ms`, or less when `signal` aborts first. */
export const pause = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Runs `work` until it succeeds, fails with an error the policy does not retry, or has been tried
 * `policy.attempts` times (then the last error propagates). `onRetry` hears each retried failure
 * (for a log line); an aborted `signal` ends the waiting and rethrows the last error.
 */
export async function retry<T>(
  work: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  options: { signal?: AbortSignal; onRetry?: (error: unknown, failures: number) => void } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      if (!policy.retryOn(error) || attempt >= policy.attempts || options.signal?.aborted) throw error;
      options.onRetry?.(error, attempt);
      await pause(policy.delayMs(attempt, error), options.signal);
      if (options.signal?.aborted) throw error;
    }
  }
}

/**
 * Keeps a long-lived loop (a subscription, a relay) going until `signal` aborts or `run` returns:
 * after a failure the policy says whether to go on and how long to wait first, counting failures
 * since the last time `run` reported progress (so a rare failure after hours waits the shortest).
 */
export async function keepRunning(
  run: (progress: () => void) => Promise<void>,
  policy: Omit<RetryPolicy, 'attempts'>,
  options: { signal: AbortSignal; onFailure?: (error: unknown, failures: number, retryInMs: number) => void },
): Promise<void> {
  let failures = 0;
  while (!options.signal.aborted) {
    try {
      await run(() => {
        failures = 0;
      });
      return;
    } catch (error) {
      if (options.signal.aborted) return;
      if (!policy.retryOn(error)) throw error;
      failures++;
      const retryInMs = policy.delayMs(failures, error);
      options.onFailure?.(error, failures, retryInMs);
      await pause(retryInMs, options.signal);
    }
  }
}
