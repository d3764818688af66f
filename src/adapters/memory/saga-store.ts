import type { ParkedEvent, ParkedEventAction, SagaStore } from '../../application/ports/saga-store.ts';

/** Deadlines and parked events in process memory, for unit and property tests. */
export function createInMemorySagaStore(): SagaStore {
  const deadlines = new Map<string, { dueAt: Date; claimedUntil: Date | null }>();
  const parkedEvents = new Map<string, ParkedEvent & { actions: ParkedEventAction[] }>();
  const inLogOrder = (events: Iterable<ParkedEvent>) => [...events].sort((a, b) => a.position - b.position);
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
    async park(entry) {
      if (parkedEvents.has(entry.eventId)) return;
      parkedEvents.set(entry.eventId, {
        ...entry,
        parkedAt: new Date().toISOString(),
        resolution: null,
        actions: [],
      });
    },
    async parked({ includeResolved = false } = {}) {
      return inLogOrder(
        [...parkedEvents.values()]
          .filter((event) => includeResolved || event.resolution === null)
          .map(({ actions: _, ...event }) => event),
      );
    },
    async parkedEvent(eventId) {
      const event = parkedEvents.get(eventId);
      return event ? { ...event, actions: [...event.actions] } : null;
    },
    async countParked() {
      return [...parkedEvents.values()].filter((event) => event.resolution === null).length;
    },
    async recordParkedAction(eventId, { action, actor, detail, at }) {
      const event = parkedEvents.get(eventId);
      if (!event || event.resolution !== null) return false;
      event.actions.push({ action, actor, detail, at: at.toISOString() });
      if (action !== 'retry-failed') event.resolution = { action, by: actor, at: at.toISOString() };
      return true;
    },
  };
}
