/** An event the saga could not handle, kept for an operator (SPEC §7: `esbank parked`). */
export type ParkedEvent = {
  eventId: string;
  /** Its global position: where to read it again. */
  position: number;
  type: string;
  /** The transfer id. */
  correlationId: string;
  error: string;
  parkedAt: string;
  /** How an operator resolved it; null while it waits. */
  resolution: { action: 'retried' | 'discarded'; by: string; at: string } | null;
};

/** One operator action on a parked event, as the audit trail keeps it. */
export type ParkedEventAction = {
  action: 'retried' | 'retry-failed' | 'discarded';
  /** Who did it. */
  actor: string;
  /** Why (a discard's reason) or what went wrong (a failed retry's error). */
  detail: string | null;
  at: string;
};

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
  /** Parked events in log order: those waiting for an operator, or all of them with `includeResolved`. */
  parked(options?: { includeResolved?: boolean }): Promise<ParkedEvent[]>;
  /** One parked event with its audit trail, oldest action first; null if it was never parked. */
  parkedEvent(eventId: string): Promise<(ParkedEvent & { actions: ParkedEventAction[] }) | null>;
  /** How many parked events wait for an operator. */
  countParked(): Promise<number>;
  /**
   * Adds an action to the audit trail; `retried` and `discarded` also resolve the event, once:
   * false (and nothing written) when it is not parked or already resolved.
   */
  recordParkedAction(eventId: string, action: Omit<ParkedEventAction, 'at'> & { at: Date }): Promise<boolean>;
}
