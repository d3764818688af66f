import { and, asc, inArray, isNull, lt, lte, or, sql as raw } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import type { SagaStore } from '../../application/ports/saga-store.ts';
import { createBatcher } from './batcher.ts';
import { failedByItsInput, type Sql } from './client.ts';
import { sagaParkedEvents, transferDeadlines } from './schema/saga.ts';

/** The saga's deadlines and parking lot in PostgreSQL (migrations/0002_saga.sql). */
export function createPostgresSagaStore(sql: Sql): SagaStore {
  const db = drizzle(sql);
  // The coordinator works on many transfers at once: their deadline changes share statements.
  const schedule = createBatcher<{ transferId: string; dueAt: Date }, void>({
    isolate: failedByItsInput,
    flush: async (deadlines) => {
      await db.insert(transferDeadlines).values(deadlines).onConflictDoNothing();
      return deadlines.map(() => undefined);
    },
  });
  const cancel = createBatcher<string, void>({
    isolate: failedByItsInput,
    flush: async (transferIds) => {
      await db.delete(transferDeadlines).where(inArray(transferDeadlines.transferId, transferIds));
      return transferIds.map(() => undefined);
    },
  });
  return {
    schedule: (transferId, dueAt) => schedule({ transferId, dueAt }),
    cancel: (transferId) => cancel(transferId),
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
