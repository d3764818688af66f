import { and, asc, count, eq, isNull, lt, lte, or, sql as raw } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import type { ParkedEvent, SagaStore } from '../../application/ports/saga-store.ts';
import { createBatcher } from './batcher.ts';
import { failedByItsInput, mappingOutages, type Sql } from './client.ts';
import {
  type ParkedEventRow,
  sagaParkedEventActions,
  sagaParkedEvents,
  transferDeadlines,
} from './schema/saga.ts';

/** PostgreSQL's timestamp text as ISO-8601. */
const iso = (time: string) => new Date(time).toISOString();

const toParked = ({ resolution, resolvedBy, resolvedAt, parkedAt, ...row }: ParkedEventRow): ParkedEvent => ({
  ...row,
  parkedAt: iso(parkedAt),
  resolution:
    resolution && resolvedBy && resolvedAt
      ? { action: resolution, by: resolvedBy, at: iso(resolvedAt) }
      : null,
});

/** The saga's deadlines and parking lot in PostgreSQL (migrations/0002_saga.sql). */
export function createPostgresSagaStore(sql: Sql): SagaStore {
  const db = drizzle(sql);
  // The coordinator works on many transfers at once: their deadline changes share statements.
  // Arrays, not a list of parameters: one statement text for any batch size, so each connection
  // prepares it once (a list makes a new statement, and a describe round trip, per size).
  const schedule = createBatcher<{ transferId: string; dueAt: Date }, void>({
    isolate: failedByItsInput,
    flush: async (deadlines) => {
      await sql`
        INSERT INTO transfer_deadlines (transfer_id, due_at)
        SELECT d.transfer_id::uuid, d.due_at::timestamptz
        FROM unnest(${deadlines.map((d) => d.transferId)}::text[],
                    ${deadlines.map((d) => d.dueAt.toISOString())}::text[]) AS d(transfer_id, due_at)
        ON CONFLICT DO NOTHING`;
      return deadlines.map(() => undefined);
    },
  });
  const cancel = createBatcher<string, void>({
    isolate: failedByItsInput,
    flush: async (transferIds) => {
      await sql`DELETE FROM transfer_deadlines WHERE transfer_id = ANY(${transferIds}::text[]::uuid[])`;
      return transferIds.map(() => undefined);
    },
  });
  // Connection failures reach callers as the port's unavailable error (a 503), never as a driver code.
  return mappingOutages({
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
    async parked({ includeResolved = false } = {}) {
      const rows = await db
        .select()
        .from(sagaParkedEvents)
        .where(includeResolved ? undefined : isNull(sagaParkedEvents.resolution))
        .orderBy(asc(sagaParkedEvents.position));
      return rows.map(toParked);
    },
    async parkedEvent(eventId) {
      const [row] = await db.select().from(sagaParkedEvents).where(eq(sagaParkedEvents.eventId, eventId));
      if (!row) return null;
      const actions = await db
        .select({
          action: sagaParkedEventActions.action,
          actor: sagaParkedEventActions.actor,
          detail: sagaParkedEventActions.detail,
          at: sagaParkedEventActions.at,
        })
        .from(sagaParkedEventActions)
        .where(eq(sagaParkedEventActions.eventId, eventId))
        .orderBy(asc(sagaParkedEventActions.id));
      return { ...toParked(row), actions: actions.map((a) => ({ ...a, at: iso(a.at) })) };
    },
    async countParked() {
      const [row] = await db
        .select({ parked: count() })
        .from(sagaParkedEvents)
        .where(isNull(sagaParkedEvents.resolution));
      return row?.parked ?? 0;
    },
    recordParkedAction: (eventId, { action, actor, detail, at }) =>
      db.transaction(async (tx) => {
        // The row is locked, so two operators cannot both resolve one event.
        const [row] = await tx
          .select({ resolution: sagaParkedEvents.resolution })
          .from(sagaParkedEvents)
          .where(eq(sagaParkedEvents.eventId, eventId))
          .for('update');
        if (!row || row.resolution !== null) return false;
        const when = at.toISOString();
        await tx.insert(sagaParkedEventActions).values({ eventId, action, actor, detail, at: when });
        if (action !== 'retry-failed') {
          await tx
            .update(sagaParkedEvents)
            .set({ resolution: action, resolvedBy: actor, resolvedAt: when })
            .where(eq(sagaParkedEvents.eventId, eventId));
        }
        return true;
      }),
  });
}
