-- Read models (SPEC §5), fed from the log by one projection each and rebuilt by `esbank replay`.
-- Each projection keeps its own checkpoint, moved in the same transaction as its rows.
-- Names are unqualified on purpose: replay builds copies in a scratch schema through search_path.
CREATE TABLE balances (
  account_id uuid PRIMARY KEY,
  owner_id text NOT NULL,
  currency text NOT NULL,
  status text NOT NULL CHECK (status IN ('OPEN', 'CLOSED')),
  available bigint NOT NULL,
  pending bigint NOT NULL,
  -- The account stream's revision of the last event applied: events at or below it are skipped.
  version bigint NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX balances_owner ON balances (owner_id);

-- One row per balance-changing event; the position is the event's global position.
CREATE TABLE history (
  position bigint PRIMARY KEY,
  account_id uuid NOT NULL,
  kind text NOT NULL,
  amount bigint NOT NULL,
  available_after bigint NOT NULL,
  pending_after bigint NOT NULL,
  transfer_id uuid,
  counterparty_account_id uuid,
  reference text,
  occurred_at timestamptz NOT NULL
);
-- Newest-first keyset pages, and the running balance before a batch.
CREATE INDEX history_account_position ON history (account_id, position DESC);
-- A release, cancellation or refund finds its counterparty on the transfer's first row.
CREATE INDEX history_transfer ON history (transfer_id) WHERE transfer_id IS NOT NULL;

CREATE TABLE transfers (
  transfer_id uuid PRIMARY KEY,
  -- The position of TransferRequested: the keyset of listings (newest first).
  requested_position bigint NOT NULL,
  -- The position of the last event applied: events at or below it are skipped.
  last_position bigint NOT NULL,
  from_account_id uuid NOT NULL,
  to_account_id uuid NOT NULL,
  amount bigint NOT NULL,
  currency text NOT NULL,
  status text NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'CANCELLED')),
  reason text,
  reference text,
  -- [{step, at, position}] from the transfer's stream and its account legs, in log order.
  timeline jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX transfers_from ON transfers (from_account_id, requested_position DESC);
CREATE INDEX transfers_to ON transfers (to_account_id, requested_position DESC);
CREATE INDEX transfers_status ON transfers (status, requested_position DESC);
CREATE INDEX transfers_requested ON transfers (requested_position DESC);

CREATE TABLE projection_checkpoints (
  name text PRIMARY KEY,
  position bigint NOT NULL
);
INSERT INTO projection_checkpoints (name, position) VALUES ('balances', 0), ('history', 0), ('transfers', 0);
