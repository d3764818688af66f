import type { TransferStatus } from '../schema/read-models.ts';
import { type ByEventType, byTypeTable, type Projection } from './projection.ts';

/** Timeline steps, from the transfer's own stream and from the account legs of its saga. */
const STEPS: Readonly<Record<string, string>> = {
  TransferRequested: 'REQUESTED',
  TransferCreditHeld: 'CREDIT_HELD',
  TransferCreditRefused: 'CREDIT_REFUSED',
  TransferDebited: 'DEBITED',
  TransferDebitRejected: 'DEBIT_REJECTED',
  TransferDebitVoided: 'DEBIT_VOIDED',
  TransferCreditReleased: 'CREDIT_RELEASED',
  TransferCompleted: 'COMPLETED',
  TransferCancelled: 'CANCELLED',
  TransferCreditCancelled: 'CREDIT_CANCELLED',
  TransferDebitRefunded: 'DEBIT_REFUNDED',
} satisfies ByEventType<string>;

const STATUS: Readonly<Record<string, TransferStatus>> = {
  TransferCompleted: 'COMPLETED',
  TransferCancelled: 'CANCELLED',
} satisfies ByEventType<TransferStatus>;

const ROWS = byTypeTable(
  Object.fromEntries(
    Object.entries(STEPS).map(([type, step]) => [type, { step, status: STATUS[type] ?? null }]),
  ),
);

/**
 * Transfers: status, reason and the timeline of every step. A batch is grouped per transfer; one
 * statement inserts the transfers requested in it and appends the steps of the others. Steps at
 * or below a row's last position are dropped, so a batch applied twice changes nothing.
 */
export const transfersProjection: Projection = {
  name: 'transfers',
  eventTypes: Object.keys(STEPS),
  lookupIndexes: [],
  async apply(tx, source) {
    await tx`
      WITH steps AS (
        SELECT (e.data ->> 'transferId')::uuid AS transfer_id, e.global_position AS position, e.type,
               k.step, k.status, e.metadata ->> 'occurredAt' AS at, e.data
        FROM (${source(tx, transfersProjection.eventTypes)}) e
        JOIN jsonb_to_recordset(${ROWS}::text::jsonb) AS k(type text, step text, status text) ON k.type = e.type
        WHERE e.data ? 'transferId'
      ), input AS (
        -- A transfer ends once (COMPLETED or CANCELLED) and is requested once, so those columns
        -- need no ordering; the steps and the time of the last one do.
        SELECT transfer_id, min(position) AS first_position, max(position) AS last_position,
               jsonb_agg(jsonb_build_object('step', step, 'at', at, 'position', position) ORDER BY position) AS steps,
               max(status) AS status,
               max(position) FILTER (WHERE status IS NOT NULL) AS status_position,
               max(data ->> 'reason') FILTER (WHERE type = 'TransferCancelled') AS reason,
               (array_agg(at ORDER BY position DESC))[1]::timestamptz AS updated_at,
               min(position) FILTER (WHERE type = 'TransferRequested') AS requested_position,
               (array_agg(data) FILTER (WHERE type = 'TransferRequested'))[1] AS requested,
               max(at) FILTER (WHERE type = 'TransferRequested')::timestamptz AS created_at
        FROM steps GROUP BY transfer_id
      ), requested AS (
        INSERT INTO transfers (transfer_id, requested_position, last_position, from_account_id, to_account_id,
                               amount, currency, status, reason, reference, timeline, created_at, updated_at)
        SELECT transfer_id, requested_position, last_position, (requested ->> 'fromAccountId')::uuid,
               (requested ->> 'toAccountId')::uuid, (requested ->> 'amount')::bigint, requested ->> 'currency',
               coalesce(status, 'PENDING'), reason, requested ->> 'reference', steps, created_at, updated_at
        FROM input WHERE requested_position IS NOT NULL
        ON CONFLICT (transfer_id) DO NOTHING
      )
      UPDATE transfers t
      SET timeline = t.timeline || CASE
            WHEN c.first_position > t.last_position THEN c.steps
            ELSE (SELECT jsonb_agg(s) FROM jsonb_array_elements(c.steps) s
                  WHERE (s->>'position')::bigint > t.last_position)
          END,
          status = CASE WHEN c.status_position > t.last_position THEN c.status ELSE t.status END,
          reason = CASE WHEN c.status_position > t.last_position THEN c.reason ELSE t.reason END,
          last_position = c.last_position,
          updated_at = c.updated_at
      FROM input c
      WHERE t.transfer_id = c.transfer_id AND t.last_position < c.last_position`;
  },
};
