-- An operator resolves a parked event (esbank parked retry|discard); the row is kept, with who
-- resolved it, how and when, and every attempt is written to an append-only audit trail.
ALTER TABLE saga_parked_events
  ADD COLUMN resolution text CHECK (resolution IN ('retried', 'discarded')),
  ADD COLUMN resolved_by text,
  ADD COLUMN resolved_at timestamptz;
CREATE INDEX saga_parked_events_open ON saga_parked_events (position) WHERE resolution IS NULL;

CREATE TABLE saga_parked_event_actions (
  id bigserial PRIMARY KEY,
  event_id uuid NOT NULL REFERENCES saga_parked_events (event_id),
  action text NOT NULL CHECK (action IN ('retried', 'retry-failed', 'discarded')),
  actor text NOT NULL,
  detail text,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX saga_parked_event_actions_event ON saga_parked_event_actions (event_id, id);
