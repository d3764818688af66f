import { describe, expect, it } from 'vitest';
import { createBatcher } from '../../src/adapters/postgres/batcher.ts';

/** A flush whose calls are recorded and which returns only when told to. */
function controlledFlush() {
  const calls: number[][] = [];
  const pending: Array<() => void> = [];
  const flush = async (inputs: number[]) => {
    calls.push(inputs);
    await new Promise<void>((resolve) => pending.push(resolve));
    return inputs.map((n) => n * 10);
  };
  const releaseAll = () => {
    for (const release of pending.splice(0)) release();
  };
  return { calls, flush, releaseAll };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('createBatcher', () => {
  it('serves the calls of one turn in one flush, each with its own result', async () => {
    const { calls, flush, releaseAll } = controlledFlush();
    const batch = createBatcher({ flush });
    const results = Promise.all([1, 2, 3].map((n) => batch(n)));
    await turn();
    releaseAll();
    expect(await results).toEqual([10, 20, 30]);
    expect(calls).toEqual([[1, 2, 3]]);
  });

  it('gathers calls made while the flushes in flight are at the limit, and sends them together next', async () => {
    const { calls, flush, releaseAll } = controlledFlush();
    const batch = createBatcher({ flush, maxInFlight: 1 });
    const first = batch(1);
    await turn();
    const later = [2, 3, 4].map((n) => batch(n));
    await turn();
    expect(calls).toEqual([[1]]); // the limit is reached: they wait
    releaseAll();
    expect(await first).toBe(10);
    await turn();
    releaseAll();
    expect(await Promise.all(later)).toEqual([20, 30, 40]);
    expect(calls).toEqual([[1], [2, 3, 4]]);
  });

  it('splits a queue longer than maxBatch', async () => {
    const { calls, flush, releaseAll } = controlledFlush();
    const batch = createBatcher({ flush, maxBatch: 2, maxInFlight: 3 });
    const results = Promise.all([1, 2, 3, 4, 5].map((n) => batch(n)));
    await turn();
    releaseAll();
    expect(await results).toEqual([10, 20, 30, 40, 50]);
    expect(calls).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('serves a failed batch again one by one when told to, so only the bad input fails', async () => {
    const calls: number[][] = [];
    const batch = createBatcher<number, number>({
      flush: async (inputs) => {
        calls.push(inputs);
        if (inputs.includes(13)) throw new Error('unlucky');
        return inputs;
      },
      isolate: (error) => (error as Error).message === 'unlucky',
    });
    const results = await Promise.allSettled([12, 13, 14].map((n) => batch(n)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(calls).toEqual([[12, 13, 14], [12], [13], [14]]);
  });

  it('fails every input of the batch when the error is not one to isolate', async () => {
    let flushes = 0;
    const batch = createBatcher<number, number>({
      flush: async () => {
        flushes++;
        throw new Error('database down');
      },
      isolate: () => false,
    });
    const results = await Promise.allSettled([1, 2].map((n) => batch(n)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(flushes).toBe(1);
  });
});
