import type { RecordedEvent } from '../../../application/ports/event-store.ts';
import type { TimelineEntry, TransferStatus } from '../schema/read-models.ts';
import { asJson, type ByEventType, type Projection, relevant, text } from './projection.ts';

/** Timeline steps, from the transfer's own stream and from the account legs of its saga. */
const STEPS: Readonly<Record<string, string>> = {
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
} satisfies ByEventType<string>;

const STATUS: Readonly<Record<string, TransferStatus>> = {
  TransferCompleted: 'COMPLETED',
  TransferCancelled: 'CANCELLED',
} satisfies ByEventType<TransferStatus>;

/** What one batch does to one transfer. */
type Change = {
  transfer_id: string;
  first_position: number;
  last_position: number;
  steps: TimelineEntry[];
  status: TransferStatus | null;
  status_position: number | null;
  reason: string | null;
  updated_at: string;
  /** Set when TransferRequested is in the batch: the row is inserted. */
  requested_position?: number;
  from_account_id?: unknown;
  to_account_id?: unknown;
  amount?: unknown;
  currency?: unknown;
  reference?: string | null;
  created_at?: string;
};

const changesOf = (events: readonly RecordedEvent[]) => {
  const changes = new Map<string, Change>();
  for (const event of events) {
    const transferId = text(event.data.transferId);
    if (!transferId) continue;
    const at = event.metadata.occurredAt;
    let change = changes.get(transferId);
    if (!change) {
      change = {
        transfer_id: transferId,
        first_position: event.position,
        last_position: event.position,
        steps: [],
        status: null,
        status_position: null,
        reason: null,
        updated_at: at,
      };
      changes.set(transferId, change);
    }
    change.last_position = event.position;
    change.updated_at = at;
    change.steps.push({ step: STEPS[event.type]!, at, position: event.position });
    const status = STATUS[event.type];
    if (status) {
      change.status = status;
      change.status_position = event.position;
      if (event.type === 'TransferCancelled') change.reason = text(event.data.reason);
    }
    if (event.type === 'TransferRequested') {
      const { fromAccountId, toAccountId, amount, currency, reference } = event.data;
      Object.assign(change, {
        requested_position: event.position,
        from_account_id: fromAccountId,
        to_account_id: toAccountId,
        amount,
        currency,
        reference: text(reference),
        created_at: at,
      });
    }
  }
  return [...changes.values()];
};

/**
 * Transfers: status, reason and the timeline of every step. A batch is grouped per transfer here;
 * one statement inserts the transfers requested in it and appends the steps of the others. Steps
 * at or below a row's last position are dropped, so a batch applied twice changes nothing.
 */
export const transfersProjection: Projection = {
  name: 'transfers',
  eventTypes: new Set(Object.keys(STEPS)),
  lookupIndexes: [],
  async apply(tx, events) {
    const changes = changesOf(relevant(transfersProjection, events));
    if (changes.length === 0) return;
    await tx`
      WITH input AS (
        SELECT * FROM json_to_recordset(${asJson(changes)}::text::json) AS c(
          transfer_id uuid, first_position bigint, last_position bigint, steps jsonb, status text,
          status_position bigint, reason text, updated_at timestamptz, requested_position bigint,
          from_account_id uuid, to_account_id uuid, amount bigint, currency text, reference text,
          created_at timestamptz)
      ), requested AS (
        INSERT INTO transfers (transfer_id, requested_position, last_position, from_account_id, to_account_id,
                               amount, currency, status, reason, reference, timeline, created_at, updated_at)
        SELECT transfer_id, requested_position, last_position, from_account_id, to_account_id, amount,
               currency, coalesce(status, 'PENDING'), reason, reference, steps, created_at, updated_at
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
