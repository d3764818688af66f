import { ACCOUNT_EVENT_TYPES } from '../../../domain/account/index.ts';
import { BALANCE_EFFECTS, byTypeTable, type Projection } from './projection.ts';

const EFFECTS = byTypeTable(BALANCE_EFFECTS);

/**
 * Balances: available, pending, currency, status and version (the stream revision) of every
 * account. A batch is folded per account (events above the row's version only) and written with
 * one INSERT for accounts opened in it and one UPDATE for the others.
 */
export const balancesProjection: Projection = {
  name: 'balances',
  eventTypes: ACCOUNT_EVENT_TYPES,
  lookupIndexes: [],
  async apply(tx, source) {
    await tx`
      WITH input AS (
        SELECT (e.data ->> 'accountId')::uuid AS account_id, e.revision,
               CASE WHEN e.type = 'AccountOpened' THEN e.data ->> 'ownerId' END AS owner_id,
               CASE WHEN e.type = 'AccountOpened' THEN e.data ->> 'currency' END AS currency,
               e.type = 'AccountClosed' AS closes,
               coalesce(fx.available * (e.data ->> 'amount')::bigint, 0) AS d_available,
               coalesce(fx.pending * (e.data ->> 'amount')::bigint, 0) AS d_pending,
               (e.metadata ->> 'occurredAt')::timestamptz AS occurred_at
        FROM (${source(tx, balancesProjection.eventTypes)}) e
        LEFT JOIN jsonb_to_recordset(${EFFECTS}::text::jsonb) AS fx(type text, available bigint, pending bigint)
          ON fx.type = e.type
        WHERE starts_with(e.stream_name, 'account-')
      ), fresh AS (
        SELECT i.* FROM input i LEFT JOIN balances b ON b.account_id = i.account_id
        WHERE b.account_id IS NULL OR i.revision > b.version
      ), changes AS (
        SELECT account_id, max(owner_id) AS owner_id, max(currency) AS currency, bool_or(closes) AS closes,
               sum(d_available)::bigint AS d_available, sum(d_pending)::bigint AS d_pending,
               max(revision) AS version, (array_agg(occurred_at ORDER BY revision DESC))[1] AS updated_at
        FROM fresh GROUP BY account_id
      ), opened AS (
        INSERT INTO balances (account_id, owner_id, currency, status, available, pending, version, updated_at)
        SELECT account_id, owner_id, currency, CASE WHEN closes THEN 'CLOSED' ELSE 'OPEN' END,
               d_available, d_pending, version, updated_at
        FROM changes WHERE owner_id IS NOT NULL
      )
      UPDATE balances b
      SET available = b.available + c.d_available,
          pending = b.pending + c.d_pending,
          status = CASE WHEN c.closes THEN 'CLOSED' ELSE b.status END,
          version = c.version,
          updated_at = c.updated_at
      FROM changes c
      WHERE c.owner_id IS NULL AND b.account_id = c.account_id`;
  },
};
