import { and, desc, inArray, isNotNull } from 'drizzle-orm';
import type { RecordedEvent } from '../../../application/ports/event-store.ts';
import { type HistoryKind, type HistoryRow, history } from '../schema/read-models.ts';
import { balanceEffect, isAccountEvent, type Projection } from './projection.ts';

const KINDS: Record<string, HistoryKind> = {
  CashDeposited: 'CASH_DEPOSITED',
  CashWithdrawn: 'CASH_WITHDRAWN',
  TransferCreditHeld: 'TRANSFER_CREDIT_HELD',
  TransferCreditReleased: 'TRANSFER_CREDIT_RELEASED',
  TransferCreditCancelled: 'TRANSFER_CREDIT_CANCELLED',
  TransferDebited: 'TRANSFER_DEBITED',
  TransferDebitRefunded: 'TRANSFER_DEBIT_REFUNDED',
};

const counterpartyOf = (event: RecordedEvent): string | null => {
  const other = event.data.fromAccountId ?? event.data.toAccountId;
  return typeof other === 'string' ? other : null;
};

/** History: one row per balance-changing event, with the balance after it, the transfer and counterparty. */
export const historyProjection: Projection = {
  name: 'history',
  async apply(tx, events) {
    const moving = events.filter((event) => isAccountEvent(event) && KINDS[event.type]);
    if (moving.length === 0) return;
    const accountIds = [...new Set(moving.map((event) => String(event.data.accountId)))];
    const transferIds = [
      ...new Set(moving.flatMap((event) => (event.data.transferId ? [String(event.data.transferId)] : []))),
    ];

    const latest = new Map<string, { available: number; pending: number }>();
    const lastRows = await tx
      .selectDistinctOn([history.accountId], {
        accountId: history.accountId,
        available: history.availableAfter,
        pending: history.pendingAfter,
      })
      .from(history)
      .where(inArray(history.accountId, accountIds))
      .orderBy(history.accountId, desc(history.position));
    for (const row of lastRows) latest.set(row.accountId, { available: row.available, pending: row.pending });

    // Releases, cancellations and refunds name no counterparty: it is on the transfer's first row here.
    const counterparties = new Map<string, string>();
    if (transferIds.length > 0) {
      const known = await tx
        .select({
          accountId: history.accountId,
          transferId: history.transferId,
          counterparty: history.counterpartyAccountId,
        })
        .from(history)
        .where(and(inArray(history.transferId, transferIds), isNotNull(history.counterpartyAccountId)));
      for (const row of known) counterparties.set(`${row.accountId}|${row.transferId}`, row.counterparty!);
    }

    const rows: HistoryRow[] = [];
    for (const event of moving) {
      const accountId = String(event.data.accountId);
      const transferId = event.data.transferId ? String(event.data.transferId) : null;
      const effect = balanceEffect(event)!;
      const before = latest.get(accountId) ?? { available: 0, pending: 0 };
      const after = {
        available: before.available + effect.available,
        pending: before.pending + effect.pending,
      };
      latest.set(accountId, after);
      const key = `${accountId}|${transferId}`;
      const counterparty = counterpartyOf(event) ?? counterparties.get(key) ?? null;
      if (counterparty) counterparties.set(key, counterparty);
      rows.push({
        position: event.position,
        accountId,
        kind: KINDS[event.type]!,
        amount: Number(event.data.amount),
        availableAfter: after.available,
        pendingAfter: after.pending,
        transferId,
        counterpartyAccountId: counterparty,
        reference: typeof event.data.reference === 'string' ? event.data.reference : null,
        occurredAt: event.metadata.occurredAt,
      });
    }
    await tx.insert(history).values(rows).onConflictDoNothing();
  },
};
