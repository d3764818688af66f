import type { PartitionClaim, PartitionLeases } from '../../application/ports/partition-leases.ts';

type Row = { owner: string | null; leaseUntil: number; fence: number; position: number };

/**
 * Partition leases in process memory, with the PostgreSQL adapter's rules (unit tests: several
 * processors in one process). `now` is the clock leases are measured by; tests move it by hand.
 */
export function createInMemoryPartitionLeases(now: () => number = Date.now): PartitionLeases {
  const members = new Map<string, number>();
  const processors = new Map<string, Row[]>();

  const rowsOf = (processor: string, partitions: number) => {
    const rows = processors.get(processor) ?? [];
    while (rows.length < partitions) rows.push({ owner: null, leaseUntil: 0, fence: 0, position: 0 });
    processors.set(processor, rows);
    return rows;
  };
  const claimsOf = (rows: Row[], owner: string): PartitionClaim[] =>
    rows.flatMap((row, partition) =>
      row.owner === owner ? [{ partition, fence: row.fence, position: row.position }] : [],
    );

  return {
    async acquire(processor, partitions, owner, leaseMs) {
      const at = now();
      members.set(owner, at + leaseMs);
      const live = [...members.values()].filter((until) => until > at).length;
      const share = Math.ceil(partitions / Math.max(1, live));
      const rows = rowsOf(processor, partitions);
      let held = 0;
      for (const row of rows) {
        if (row.owner !== owner) continue;
        if (row.leaseUntil > at && held < share) {
          row.leaseUntil = at + leaseMs;
          held++;
        } else Object.assign(row, { owner: null, leaseUntil: 0 });
      }
      for (const row of rows) {
        if (held >= share) break;
        if (row.owner !== null && row.leaseUntil > at) continue;
        Object.assign(row, { owner, leaseUntil: at + leaseMs, fence: row.fence + 1 });
        held++;
      }
      return claimsOf(rows, owner);
    },

    async commit(processor, owner, claims) {
      const rows = processors.get(processor) ?? [];
      const at = now();
      return claims.flatMap(({ partition, fence, position }) => {
        const row = rows[partition];
        if (!row || row.owner !== owner || row.fence !== fence || row.leaseUntil <= at) return [];
        row.position = Math.max(row.position, position);
        return [partition];
      });
    },

    async release(owner) {
      members.delete(owner);
      for (const rows of processors.values())
        for (const row of rows) if (row.owner === owner) Object.assign(row, { owner: null, leaseUntil: 0 });
    },
  };
}
