import { ACCOUNT_EVENT_TYPES } from '../../../domain/account/index.ts';
import { asJson, BALANCE_EFFECTS, isAccountEvent, type Projection, relevant } from './projection.ts';

/**
 * Balances: available, pending, currency, status and version (the stream revision) of every
 * account. A batch is folded per account in SQL (events above the row's version only) and written
 * with one INSERT for accounts opened in it and one UPDATE for the others.
 */
export const balancesProjection: Projection = {
  name: 'balances',
  eventTypes: new Set(ACCOUNT_EVENT_TYPES),
  lookupIndexes: [],
  async apply(tx, events) {
    const rows = relevant(balancesProjection, events)
      .filter(isAccountEvent)
      .map((event) => {
        const effect = BALANCE_EFFECTS[event.type];
        const amount = Number(event.data.amount ?? 0);
        const opened = event.type === 'AccountOpened';
        return {
          account_id: event.data.accountId,
          revision: event.revision,
          owner_id: opened ? event.data.ownerId : null,
          currency: opened ? event.data.currency : null,
          closes: event.type === 'AccountClosed',
          d_available: effect ? effect.available * amount : 0,
          d_pending: effect ? effect.pending * amount : 0,
          occurred_at: event.metadata.occurredAt,
        };
      });
    if (rows.length === 0) return;
    await tx`
      WITH input AS (
        SELECT * FROM json_to_recordset(${asJson(rows)}::text::json) AS i(
          account_id uuid, revision bigint, owner_id text, currency text, closes boolean,
          d_available bigint, d_pending bigint, occurred_at timestamptz)
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
