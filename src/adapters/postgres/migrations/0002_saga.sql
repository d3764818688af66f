-- Deadlines of transfers that have not passed the pivot; claimed by the node-cron job with
-- FOR UPDATE SKIP LOCKED and a lease, so several instances never fire one twice at once.
CREATE TABLE transfer_deadlines (
  transfer_id uuid PRIMARY KEY,
  due_at timestamptz NOT NULL,
  claimed_until timestamptz
);
CREATE INDEX transfer_deadlines_due ON transfer_deadlines (due_at);

-- Events the saga could not handle after retries (poison): kept for an operator, not looped.
CREATE TABLE saga_parked_events (
  event_id uuid PRIMARY KEY,
  position bigint NOT NULL,
  type text NOT NULL,
  correlation_id text NOT NULL,
  error text NOT NULL,
  parked_at timestamptz NOT NULL DEFAULT now()
);
