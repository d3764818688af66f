-- Read models (SPEC §5), rebuilt from the log by `esbank replay`. Each projection keeps its own
-- checkpoint, updated in the same transaction as its rows.
CREATE TABLE balances (
  account_id uuid PRIMARY KEY,
  owner_id text NOT NULL,
  currency text NOT NULL,
  status text NOT NULL,
  available bigint NOT NULL,
  pending bigint NOT NULL,
  version bigint NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX balances_owner ON balances (owner_id);

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
CREATE INDEX history_account_position ON history (account_id, position DESC);

CREATE TABLE transfers (
  transfer_id uuid PRIMARY KEY,
  requested_position bigint NOT NULL,
  from_account_id uuid NOT NULL,
  to_account_id uuid NOT NULL,
  amount bigint NOT NULL,
  currency text NOT NULL,
  status text NOT NULL,
  reason text,
  reference text,
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
