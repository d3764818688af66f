import type { HistoryKind } from '../schema/read-models.ts';
import {
  asJson,
  BALANCE_EFFECTS,
  type ByEventType,
  isAccountEvent,
  type Projection,
  relevant,
  text,
} from './projection.ts';

const KINDS: Readonly<Record<string, HistoryKind>> = {
  CashDeposited: 'CASH_DEPOSITED',
  CashWithdrawn: 'CASH_WITHDRAWN',
  TransferCreditHeld: 'TRANSFER_CREDIT_HELD',
  TransferCreditReleased: 'TRANSFER_CREDIT_RELEASED',
  TransferCreditCancelled: 'TRANSFER_CREDIT_CANCELLED',
  TransferDebited: 'TRANSFER_DEBITED',
  TransferDebitRefunded: 'TRANSFER_DEBIT_REFUNDED',
} satisfies ByEventType<HistoryKind>;

/**
 * History: one row per balance-changing event, with the balance after it, the transfer and the
 * counterparty. A hold names the payer and a debit the payee; a release, cancellation or refund
 * names nobody, so it takes the counterparty of its transfer's earlier row on the same account
 * (from the batch, else from the table). The running balance continues from the account's newest
 * row; events at or below that row's position are skipped. One INSERT ... SELECT per batch.
 */
export const historyProjection: Projection = {
  name: 'history',
  eventTypes: new Set(Object.keys(KINDS)),
  lookupIndexes: ['history_account_position', 'history_transfer'],
  async apply(tx, events) {
    const counterparties = new Map<string, string>();
    const rows = relevant(historyProjection, events)
      .filter(isAccountEvent)
      .map((event) => {
        const effect = BALANCE_EFFECTS[event.type]!;
        const amount = Number(event.data.amount);
        const accountId = String(event.data.accountId);
        const transferId = text(event.data.transferId);
        const key = `${accountId}|${transferId}`;
        const named = text(event.data.fromAccountId) ?? text(event.data.toAccountId);
        if (transferId && named) counterparties.set(key, named);
        return {
          position: event.position,
          account_id: accountId,
          kind: KINDS[event.type],
          amount,
          d_available: effect.available * amount,
          d_pending: effect.pending * amount,
          transfer_id: transferId,
          counterparty: named ?? (transferId ? counterparties.get(key) : undefined) ?? null,
          reference: text(event.data.reference),
          occurred_at: event.metadata.occurredAt,
        };
      });
    if (rows.length === 0) return;
    await tx`
      WITH input AS (
        SELECT * FROM json_to_recordset(${asJson(rows)}::text::json) AS i(
          position bigint, account_id uuid, kind text, amount bigint, d_available bigint, d_pending bigint,
          transfer_id uuid, counterparty uuid, reference text, occurred_at timestamptz)
      ), newest AS MATERIALIZED (
        SELECT a.account_id, coalesce(h.position, 0) AS position,
               coalesce(h.available_after, 0) AS available, coalesce(h.pending_after, 0) AS pending
        FROM (SELECT DISTINCT account_id FROM input) a
        LEFT JOIN LATERAL (
          SELECT position, available_after, pending_after FROM history
          WHERE history.account_id = a.account_id ORDER BY position DESC LIMIT 1
        ) h ON true
      )
      INSERT INTO history (position, account_id, kind, amount, available_after, pending_after,
                           transfer_id, counterparty_account_id, reference, occurred_at)
      SELECT i.position, i.account_id, i.kind, i.amount,
             n.available + sum(i.d_available) OVER running,
             n.pending + sum(i.d_pending) OVER running,
             i.transfer_id,
             CASE WHEN i.counterparty IS NULL AND i.transfer_id IS NOT NULL THEN (
               SELECT h.counterparty_account_id FROM history h
               WHERE h.transfer_id = i.transfer_id AND h.account_id = i.account_id
                 AND h.counterparty_account_id IS NOT NULL
               LIMIT 1
             ) ELSE i.counterparty END,
             i.reference, i.occurred_at
      FROM input i JOIN newest n ON n.account_id = i.account_id
      WHERE i.position > n.position
      WINDOW running AS (PARTITION BY i.account_id ORDER BY i.position)`;
  },
};
