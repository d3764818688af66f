import { inArray, sql } from 'drizzle-orm';
import type { RecordedEvent } from '../../../application/ports/event-store.ts';
import { type TransferRow, transfers } from '../schema/read-models.ts';
import type { Projection } from './projection.ts';

/** Timeline steps, from both the transfer's own stream and the account legs of the saga. */
const STEPS: Record<string, string> = {
  TransferRequested: 'REQUESTED',
  TransferCreditHeld: 'CREDIT_HELD',
  TransferCreditRefused: 'CREDIT_REFUSED',
  TransferDebited: 'DEBITED',
  TransferDebitRejected: 'DEBIT_REJECTED',
  TransferCreditReleased: 'CREDIT_RELEASED',
  TransferCompleted: 'COMPLETED',
  TransferCancelled: 'CANCELLED',
  TransferCreditCancelled: 'CREDIT_CANCELLED',
  TransferDebitRefunded: 'DEBIT_REFUNDED',
};

const requested = (event: RecordedEvent): TransferRow => ({
  transferId: String(event.data.transferId),
  requestedPosition: event.position,
  fromAccountId: String(event.data.fromAccountId),
  toAccountId: String(event.data.toAccountId),
  amount: Number(event.data.amount),
  currency: String(event.data.currency),
  status: 'PENDING',
  reason: null,
  reference: typeof event.data.reference === 'string' ? event.data.reference : null,
  timeline: [],
  createdAt: event.metadata.occurredAt,
  updatedAt: event.metadata.occurredAt,
});

/** Transfers: status, reason and the timeline of every step. */
export const transfersProjection: Projection = {
  name: 'transfers',
  async apply(tx, events) {
    const relevant = events.filter((event) => STEPS[event.type] && event.data.transferId);
    if (relevant.length === 0) return;
    const ids = [...new Set(relevant.map((event) => String(event.data.transferId)))];
    const rows = new Map<string, TransferRow>(
      (await tx.select().from(transfers).where(inArray(transfers.transferId, ids))).map((row) => [
        row.transferId,
        row,
      ]),
    );
    const changed = new Set<string>();
    for (const event of relevant) {
      const id = String(event.data.transferId);
      const row = event.type === 'TransferRequested' ? (rows.get(id) ?? requested(event)) : rows.get(id);
      if (!row) continue;
      const at = event.metadata.occurredAt;
      rows.set(id, {
        ...row,
        status:
          event.type === 'TransferCompleted'
            ? 'COMPLETED'
            : event.type === 'TransferCancelled'
              ? 'CANCELLED'
              : row.status,
        reason: event.type === 'TransferCancelled' ? String(event.data.reason) : row.reason,
        timeline: [...row.timeline, { step: STEPS[event.type]!, at, position: event.position }],
        updatedAt: at,
      });
      changed.add(id);
    }
    if (changed.size === 0) return;
    await tx
      .insert(transfers)
      .values([...changed].map((id) => rows.get(id)!))
      .onConflictDoUpdate({
        target: transfers.transferId,
        set: {
          status: sql`excluded.status`,
          reason: sql`excluded.reason`,
          timeline: sql`excluded.timeline`,
          updatedAt: sql`excluded.updated_at`,
        },
      });
  },
};
