import { inArray, sql } from 'drizzle-orm';
import { type BalanceRow, balances } from '../schema/read-models.ts';
import { balanceEffect, isAccountEvent, type Projection } from './projection.ts';

/** Balances: available, pending, currency, status and version of every account. */
export const balancesProjection: Projection = {
  name: 'balances',
  async apply(tx, events) {
    const accountEvents = events.filter(isAccountEvent);
    if (accountEvents.length === 0) return;
    const ids = [...new Set(accountEvents.map((event) => String(event.data.accountId)))];
    const rows = new Map<string, BalanceRow>(
      (await tx.select().from(balances).where(inArray(balances.accountId, ids))).map((row) => [
        row.accountId,
        row,
      ]),
    );
    const changed = new Set<string>();
    for (const event of accountEvents) {
      const accountId = String(event.data.accountId);
      const at = event.metadata.occurredAt;
      if (event.type === 'AccountOpened') {
        rows.set(accountId, {
          accountId,
          ownerId: String(event.data.ownerId),
          currency: String(event.data.currency),
          status: 'OPEN',
          available: 0,
          pending: 0,
          version: event.revision,
          updatedAt: at,
        });
        changed.add(accountId);
        continue;
      }
      const row = rows.get(accountId);
      if (!row) continue;
      const effect = balanceEffect(event);
      rows.set(accountId, {
        ...row,
        available: row.available + (effect?.available ?? 0),
        pending: row.pending + (effect?.pending ?? 0),
        status: event.type === 'AccountClosed' ? 'CLOSED' : row.status,
        version: event.revision,
        updatedAt: at,
      });
      changed.add(accountId);
    }
    if (changed.size === 0) return;
    await tx
      .insert(balances)
      .values([...changed].map((id) => rows.get(id)!))
      .onConflictDoUpdate({
        target: balances.accountId,
        set: {
          status: sql`excluded.status`,
          available: sql`excluded.available`,
          pending: sql`excluded.pending`,
          version: sql`excluded.version`,
          updatedAt: sql`excluded.updated_at`,
        },
      });
  },
};
