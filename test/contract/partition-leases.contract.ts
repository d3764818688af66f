import { describe, expect, it } from 'vitest';
import type { PartitionLeases } from '../../src/application/ports/partition-leases.ts';

/** Leases to test, and how to let every lease run out (its holders died). */
export type PartitionLeasesFixture = { leases: PartitionLeases; leasesPass(): Promise<void> };

const LEASE_MS = 60_000;

/** The PartitionLeases port's contract, for every adapter (memory, PostgreSQL). */
export function partitionLeasesContract(name: string, fixture: () => Promise<PartitionLeasesFixture>) {
  describe(`PartitionLeases contract: ${name}`, () => {
    let n = 0;
    const processorName = () => `processor-${++n}`;
    const partitionsOf = (claims: { partition: number }[]) => claims.map((claim) => claim.partition);

    it('gives a lone instance every partition, each with a fence and a checkpoint at 0', async () => {
      const { leases } = await fixture();
      const claims = await leases.acquire(processorName(), 4, 'solo', LEASE_MS);
      expect(partitionsOf(claims)).toEqual([0, 1, 2, 3]);
      for (const claim of claims) expect(claim).toMatchObject({ fence: 1, position: 0 });
      await leases.release('solo');
    });

    it('shares the partitions fairly: an instance that joins gets its share once the holder gives it back', async () => {
      const { leases } = await fixture();
      const processor = processorName();
      expect(partitionsOf(await leases.acquire(processor, 6, 'a', LEASE_MS))).toHaveLength(6);
      const b = `b-${processor}`;
      const c = `c-${processor}`;
      expect(await leases.acquire(processor, 6, b, LEASE_MS)).toEqual([]); // all held, none expired
      await leases.acquire(processor, 6, c, LEASE_MS);
      const a = await leases.acquire(processor, 6, 'a', LEASE_MS); // three live: a keeps 2, gives 4 back
      const bHeld = await leases.acquire(processor, 6, b, LEASE_MS);
      const cHeld = await leases.acquire(processor, 6, c, LEASE_MS);
      expect([a, bHeld, cHeld].map((claims) => claims.length)).toEqual([2, 2, 2]);
      expect(new Set([a, bHeld, cHeld].flatMap(partitionsOf))).toEqual(new Set([0, 1, 2, 3, 4, 5]));
      for (const owner of ['a', b, c]) await leases.release(owner);
    });

    it('fences a checkpoint write: only the holder under its fence moves it, and only forward', async () => {
      const { leases } = await fixture();
      const processor = processorName();
      const [claim] = await leases.acquire(processor, 1, 'holder', LEASE_MS);
      expect(await leases.commit(processor, 'holder', [{ ...claim!, position: 10 }])).toEqual([0]);
      expect(await leases.commit(processor, 'holder', [{ ...claim!, position: 5 }])).toEqual([0]);
      expect(await leases.commit(processor, 'someone-else', [{ ...claim!, position: 20 }])).toEqual([]);
      expect(
        await leases.commit(processor, 'holder', [{ ...claim!, fence: claim!.fence - 1, position: 30 }]),
      ).toEqual([]);
      const [again] = await leases.acquire(processor, 1, 'holder', LEASE_MS);
      expect(again).toEqual({ partition: 0, fence: claim!.fence, position: 10 });
      await leases.release('holder');
    });

    it('lets another instance take over an expired lease with a new fence; the old holder writes nothing', async () => {
      const { leases, leasesPass } = await fixture();
      const processor = processorName();
      const [old] = await leases.acquire(processor, 1, 'dying', LEASE_MS);
      await leases.commit(processor, 'dying', [{ ...old!, position: 7 }]);
      await leasesPass();
      const [taken] = await leases.acquire(processor, 1, 'heir', LEASE_MS);
      expect(taken).toEqual({ partition: 0, fence: old!.fence + 1, position: 7 });
      expect(await leases.commit(processor, 'dying', [{ ...old!, position: 9 }])).toEqual([]);
      // The old holder comes back: it does not get the partition while the heir's lease runs.
      expect(await leases.acquire(processor, 1, 'dying', LEASE_MS)).toEqual([]);
      await leases.release('heir');
      await leases.release('dying');
    });

    it('release gives everything back at once, for another instance to claim', async () => {
      const { leases } = await fixture();
      const processor = processorName();
      await leases.acquire(processor, 3, 'leaving', LEASE_MS);
      await leases.release('leaving');
      const claims = await leases.acquire(processor, 3, 'staying', LEASE_MS);
      expect(partitionsOf(claims)).toEqual([0, 1, 2]);
      for (const claim of claims) expect(claim.fence).toBe(2);
      await leases.release('staying');
    });
  });
}
