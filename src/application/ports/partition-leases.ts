/** A partition an instance holds: its fence token (bumped by every claim) and its checkpoint. */
export type PartitionClaim = { partition: number; fence: number; position: number };

/**
 * Leases on the partitions of processors (the saga, each projection, the relay), shared by every
 * running instance (SPEC §3). A claim's `fence` names one tenure: a checkpoint written with an
 * older fence, or after the lease ran out, is refused, so a stale owner applies nothing.
 */
export interface PartitionLeases {
  /**
   * Heartbeats `owner`, renews its leases for `leaseMs`, gives back what exceeds its fair share
   * (the partitions over the live instances, rounded up) and claims free or expired partitions
   * up to it. Returns what `owner` holds now, in partition order.
   */
  acquire(processor: string, partitions: number, owner: string, leaseMs: number): Promise<PartitionClaim[]>;
  /**
   * Moves the checkpoints of partitions `owner` still holds under the given fences (only forward);
   * returns the partitions it wrote, so a missing one was lost.
   */
  commit(processor: string, owner: string, claims: readonly PartitionClaim[]): Promise<number[]>;
  /** Gives back everything `owner` holds (a clean stop), so others take over at once. */
  release(owner: string): Promise<void>;
}
