/**
 * Durable saga bookkeeping: transfer deadlines (an index of the deadlineAt carried by each
 * TransferRequested event) and the parking lot for events the coordinator cannot handle.
 */
export interface SagaStore {
  /** Idempotent: scheduling a transfer's deadline twice keeps one. */
  schedule(transferId: string, dueAt: Date): Promise<void>;
  /** Removes the deadline (the transfer ended or passed the pivot). */
  cancel(transferId: string): Promise<void>;
  /**
   * Claims up to `limit` due deadlines for `leaseMs`; a claim that is never cancelled (the
   * claimer crashed) comes back when its lease expires. Concurrent claimers get disjoint sets.
   */
  claimDue(now: Date, limit: number, leaseMs: number): Promise<string[]>;
  /** Records an event that failed deterministically, so it is looked at rather than retried forever. */
  park(entry: {
    eventId: string;
    position: number;
    type: string;
    correlationId: string;
    error: string;
  }): Promise<void>;
  parked(): Promise<Array<{ eventId: string; type: string; correlationId: string; error: string }>>;
}
