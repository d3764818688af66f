import type { HistoryKind } from '../schema/read-models.ts';
import { BALANCE_EFFECTS, type ByEventType, byTypeTable, type Projection } from './projection.ts';

/** The history row each balance-changing event writes (esbank verify expects the same). */
export const HISTORY_KIND_BY_EVENT: Readonly<Record<string, HistoryKind>> = {
  CashDeposited: 'CASH_DEPOSITED',
  CashWithdrawn: 'CASH_WITHDRAWN',
  TransferCreditHeld: 'TRANSFER_CREDIT_HELD',
  TransferCreditReleased: 'TRANSFER_CREDIT_RELEASED',
  TransferCreditCancelled: 'TRANSFER_CREDIT_CANCELLED',
  TransferDebited: 'TRANSFER_DEBITED',
  TransferDebitRefunded: 'TRANSFER_DEBIT_REFUNDED',
} satisfies ByEventType<HistoryKind>;

const ROWS = byTypeTable(
  Object.fromEntries(
    Object.entries(HISTORY_KIND_BY_EVENT).map(([type, kind]) => [type, { kind, ...BALANCE_EFFECTS[type] }]),
  ),
);

/**
 * History: one row per balance-changing event, with the balance after it, the transfer and the
 * counterparty. A hold names the payer and a debit the payee; a release, cancellation or refund
 * names nobody, so it takes the counterparty of its transfer's earlier row on the same account
 * (from the batch, else from the table). The running balance continues from the account's newest
 * row; events at or below that row's position are skipped. One INSERT ... SELECT per batch.
 */
export const historyProjection: Projection = {
  name: 'history',
  eventTypes: Object.keys(HISTORY_KIND_BY_EVENT),
  lookupIndexes: ['history_account_position', 'history_transfer'],
  async apply(tx, source) {
    await tx`
      WITH moves AS (
        SELECT e.global_position AS position, (e.data ->> 'accountId')::uuid AS account_id, k.kind,
               (e.data ->> 'amount')::bigint AS amount, k.available, k.pending,
               (e.data ->> 'transferId')::uuid AS transfer_id,
               coalesce(e.data ->> 'fromAccountId', e.data ->> 'toAccountId') AS named,
               e.data ->> 'reference' AS reference, (e.metadata ->> 'occurredAt')::timestamptz AS occurred_at
        FROM (${source(tx, historyProjection.eventTypes)}) e
        JOIN jsonb_to_recordset(${ROWS}::text::jsonb) AS k(type text, kind text, available bigint, pending bigint)
          ON k.type = e.type
        WHERE starts_with(e.stream_name, 'account-')
      ), input AS (
        SELECT position, account_id, kind, amount, available * amount AS d_available,
               pending * amount AS d_pending, transfer_id, reference, occurred_at,
               -- The transfer's counterparty as named so far on this account in the batch.
               CASE WHEN transfer_id IS NULL THEN named::uuid
                    ELSE (max(named) OVER (PARTITION BY account_id, transfer_id ORDER BY position))::uuid
               END AS counterparty
        FROM moves
      )
      INSERT INTO history (position, account_id, kind, amount, available_after, pending_after,
                           transfer_id, counterparty_account_id, reference, occurred_at)
      SELECT i.position, i.account_id, i.kind, i.amount,
             coalesce(n.available_after, 0) + sum(i.d_available) OVER running,
             coalesce(n.pending_after, 0) + sum(i.d_pending) OVER running,
             i.transfer_id,
             CASE WHEN i.counterparty IS NULL AND i.transfer_id IS NOT NULL THEN (
               SELECT h.counterparty_account_id FROM history h
               WHERE h.transfer_id = i.transfer_id AND h.account_id = i.account_id
                 AND h.counterparty_account_id IS NOT NULL
               LIMIT 1
             ) ELSE i.counterparty END,
             i.reference, i.occurred_at
      FROM input i
      -- The account's newest row before this statement (a lookup per event: never a join of two
      -- intermediate results, whose sizes the planner cannot know).
      LEFT JOIN LATERAL (
        SELECT position, available_after, pending_after FROM history
        WHERE history.account_id = i.account_id ORDER BY position DESC LIMIT 1
      ) n ON true
      WHERE i.position > coalesce(n.position, 0)
      WINDOW running AS (PARTITION BY i.account_id ORDER BY i.position)`;
  },
};
