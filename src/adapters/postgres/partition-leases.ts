import type { PartitionClaim, PartitionLeases } from '../../application/ports/partition-leases.ts';
import { mappingOutages, type Sql, type TransactionSql } from './client.ts';

/** Partition leases in PostgreSQL (migrations/0011_processor_leases.sql): rows and fence tokens, no session locks. */
export function createPostgresPartitionLeases(sql: Sql): PartitionLeases {
  return mappingOutages({
    acquire: async (processor, partitions, owner, leaseMs) =>
      sql<PartitionClaim[]>`
        SELECT claimed AS partition, claim_fence AS fence, claim_position AS position
        FROM esbank_claim_partitions(${processor}, ${partitions}, ${owner}, ${leaseMs})`,

    async commit(processor, owner, claims) {
      if (claims.length === 0) return [];
      // A checkpoint lost in a crash only means some events are handled again (at least once, and
      // every handler is idempotent): it need not wait for the WAL flush.
      const rows = await sql<{ partition: number }[]>`
        WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
        UPDATE processor_partitions p SET position = greatest(p.position, c.position)
        FROM relaxed, unnest(${claims.map((c) => c.partition)}::int[], ${claims.map((c) => c.fence)}::bigint[],
                    ${claims.map((c) => c.position)}::bigint[]) AS c(partition, fence, position)
        WHERE p.processor = ${processor} AND p.partition = c.partition AND p.owner = ${owner}
          AND p.fence = c.fence AND p.lease_until > now()
        RETURNING p.partition`;
      return rows.map((row) => row.partition);
    },

    async release(owner) {
      await sql.begin(async (tx) => {
        await tx`UPDATE processor_partitions SET owner = NULL, lease_until = NULL WHERE owner = ${owner}`;
        await tx`DELETE FROM processor_members WHERE owner = ${owner}`;
      });
    },
  });
}

/**
 * A condition for a statement inside the transaction that applies a batch: true while `owner`
 * still holds the (one) partition under `fence` and its lease has not run out.
 */
export const holdsLease = (
  tx: Sql | TransactionSql,
  { processor, owner, fence }: { processor: string; owner: string; fence: number },
) => tx`EXISTS (
  SELECT 1 FROM processor_partitions
  WHERE processor = ${processor} AND partition = 0 AND owner = ${owner} AND fence = ${fence} AND lease_until > now())`;
