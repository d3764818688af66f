import type { SagaStore } from '../../application/ports/saga-store.ts';

/** Deadlines and parked events in process memory, for unit and property tests. */
export function createInMemorySagaStore(): SagaStore {
  const deadlines = new Map<string, { dueAt: Date; claimedUntil: Date | null }>();
  const parkedEvents = new Map<
    string,
    { eventId: string; type: string; correlationId: string; error: string }
  >();
  return {
    async schedule(transferId, dueAt) {
      if (!deadlines.has(transferId)) deadlines.set(transferId, { dueAt, claimedUntil: null });
    },
    async cancel(transferId) {
      deadlines.delete(transferId);
    },
    async claimDue(now, limit, leaseMs) {
      const due = [...deadlines.entries()]
        .filter(([, d]) => d.dueAt <= now && (d.claimedUntil === null || d.claimedUntil < now))
        .sort(([, a], [, b]) => a.dueAt.getTime() - b.dueAt.getTime())
        .slice(0, limit);
      for (const [, deadline] of due) deadline.claimedUntil = new Date(now.getTime() + leaseMs);
      return due.map(([transferId]) => transferId);
    },
    async park({ eventId, type, correlationId, error }) {
      parkedEvents.set(eventId, { eventId, type, correlationId, error });
    },
    async parked() {
      return [...parkedEvents.values()];
    },
  };
}
