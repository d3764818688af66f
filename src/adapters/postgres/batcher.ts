/** Gathers concurrent calls into one flush: one round trip (and one commit) for many callers. */
export type Batcher<Input, Output> = (input: Input) => Promise<Output>;

export type BatcherOptions<Input, Output> = {
  /** Serves a batch in one go: one result per input, in order. A throw fails every input. */
  flush: (inputs: Input[]) => Promise<Output[]>;
  /** At most this many inputs in one flush. */
  maxBatch?: number;
  /** At most this many flushes at once; calls arriving meanwhile wait and leave together. */
  maxInFlight?: number;
  /**
   * Whether a failed batch of several is served again one input at a time, so a bad input fails
   * only its own caller (e.g. not for a connection error, which would fail each alone as well).
   */
  isolate?: (error: unknown) => boolean;
};

type Waiting<Input, Output> = {
  input: Input;
  resolve: (output: Output) => void;
  reject: (error: unknown) => void;
};

/**
 * Group commit for statements. Calls made while fewer than `maxInFlight` flushes are running
 * leave after the current turn of the event loop (so the calls of one turn share a flush);
 * calls made while the limit is reached leave together as soon as a flush returns. Under light
 * load a call waits for nothing; under heavy load batches grow and round trips do not.
 */
export function createBatcher<Input, Output>(options: BatcherOptions<Input, Output>): Batcher<Input, Output> {
  const { flush, maxBatch = 256, maxInFlight = 2, isolate } = options;
  let queue: Waiting<Input, Output>[] = [];
  let inFlight = 0;
  let scheduled = false;

  async function serve(batch: Waiting<Input, Output>[]): Promise<void> {
    try {
      const outputs = await flush(batch.map((waiting) => waiting.input));
      for (const [i, waiting] of batch.entries()) waiting.resolve(outputs[i] as Output);
    } catch (error) {
      if (batch.length > 1 && isolate?.(error)) {
        await Promise.all(batch.map((waiting) => serve([waiting])));
        return;
      }
      for (const waiting of batch) waiting.reject(error);
    }
  }

  function pump() {
    scheduled = false;
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
      queue = queue.length <= maxBatch ? [] : queue.slice(maxBatch);
      inFlight++;
      void serve(batch).finally(() => {
        inFlight--;
        pump();
      });
    }
  }

  return (input) =>
    new Promise<Output>((resolve, reject) => {
      queue.push({ input, resolve, reject });
      if (!scheduled && inFlight < maxInFlight) {
        scheduled = true;
        setImmediate(pump);
      }
    });
}
