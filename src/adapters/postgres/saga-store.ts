import { and, asc, eq, isNull, lt, lte, or, sql as raw } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import type { SagaStore } from '../../application/ports/saga-store.ts';
import type { Sql } from './client.ts';
import { sagaParkedEvents, transferDeadlines } from './schema/saga.ts';

/** The saga's deadlines and parking lot in PostgreSQL (migrations/0002_saga.sql). */
export function createPostgresSagaStore(sql: Sql): SagaStore {
  const db = drizzle(sql);
  return {
    async schedule(transferId, dueAt) {
      await db.insert(transferDeadlines).values({ transferId, dueAt }).onConflictDoNothing();
    },
    async cancel(transferId) {
      await db.delete(transferDeadlines).where(eq(transferDeadlines.transferId, transferId));
    },
    async claimDue(now, limit, leaseMs) {
      const due = db
        .select({ transferId: transferDeadlines.transferId })
        .from(transferDeadlines)
        .where(
          and(
            lte(transferDeadlines.dueAt, now),
            or(isNull(transferDeadlines.claimedUntil), lt(transferDeadlines.claimedUntil, now)),
          ),
        )
        .orderBy(asc(transferDeadlines.dueAt))
        .limit(limit)
        .for('update', { skipLocked: true });
      const claimed = await db
        .update(transferDeadlines)
        .set({ claimedUntil: new Date(now.getTime() + leaseMs) })
        .where(raw`${transferDeadlines.transferId} IN ${due}`)
        .returning({ transferId: transferDeadlines.transferId });
      return claimed.map((row) => row.transferId);
    },
    async park(entry) {
      await db.insert(sagaParkedEvents).values(entry).onConflictDoNothing();
    },
    async parked() {
      return db
        .select({
          eventId: sagaParkedEvents.eventId,
          type: sagaParkedEvents.type,
          correlationId: sagaParkedEvents.correlationId,
          error: sagaParkedEvents.error,
        })
        .from(sagaParkedEvents);
    },
  };
}
