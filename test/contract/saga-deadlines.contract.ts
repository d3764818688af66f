import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SagaStore } from '../../src/application/ports/saga-store.ts';

/** The deadline half of the SagaStore port, for every adapter. */
export function sagaDeadlinesContract(name: string, makeStore: () => Promise<SagaStore>) {
  describe(`saga deadlines (${name})`, () => {
    const at = (second: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, second));
    // The port promises which deadlines a claim takes (the oldest due), not their order.
    const claimed = async (claim: Promise<string[]>) => (await claim).sort();
    const sorted = (ids: (string | undefined)[]) => [...ids].sort();

    it('keeps one deadline per transfer, claims due ones oldest first under a lease, and forgets cancelled ones', async () => {
      const store = await makeStore();
      const ids = Array.from({ length: 6 }, () => randomUUID());
      // Scheduled and cancelled at once, so adapters that gather calls serve them together.
      await Promise.all(ids.map((id, i) => store.schedule(id, at(10 + i))));
      await store.schedule(ids[0] as string, at(1));
      expect(await store.claimDue(at(9), 10, 1_000)).toEqual([]);

      expect(await claimed(store.claimDue(at(12), 2, 1_000))).toEqual(sorted(ids.slice(0, 2)));
      expect(await store.claimDue(at(12), 10, 1_000)).toEqual(ids.slice(2, 3));

      await Promise.all(ids.slice(1, 4).map((id) => store.cancel(id)));
      // ids[0]'s claim lapsed at 13 s (never cancelled: its claimer died); 1-3 are gone.
      expect(await claimed(store.claimDue(at(20), 10, 1_000))).toEqual(sorted([ids[0], ids[4], ids[5]]));
    });
  });
}
