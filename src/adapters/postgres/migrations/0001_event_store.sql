-- The event log. Global positions are drawn together with the writer's transaction id under a
-- brief advisory lock (see esbank_append), so position order equals transaction-id order and a
-- reader that stops below pg_snapshot_xmin() never skips an event that commits late.
CREATE SEQUENCE esbank_global_position AS bigint;

CREATE TABLE events (
  global_position bigint PRIMARY KEY,
  transaction_id xid8 NOT NULL,
  stream_name text NOT NULL,
  revision bigint NOT NULL,
  event_id uuid NOT NULL UNIQUE,
  type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_stream_revision UNIQUE (stream_name, revision)
);

CREATE TABLE snapshots (
  stream_name text PRIMARY KEY,
  revision bigint NOT NULL,
  schema_version integer NOT NULL,
  state jsonb NOT NULL,
  taken_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subscription_checkpoints (
  name text PRIMARY KEY,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- p_expected: NULL = any, -1 = the stream must not exist, n = revision of the stream's last event.
-- One round trip per append; raises EB409 on a wrong expected revision. It does not NOTIFY: a
-- notifying transaction holds a database-wide lock through its commit flush, which would serialize
-- every append's commit; the adapter announces appends after commit instead.
CREATE FUNCTION esbank_append(p_stream text, p_expected bigint, p_events jsonb)
RETURNS TABLE (next_revision bigint, last_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_current bigint;
  v_count integer := jsonb_array_length(p_events);
  v_xid xid8;
  v_positions bigint[];
BEGIN
  -- Readers rely on this transaction's id being drawn under the lock below, with its positions.
  -- A transaction that already has one (it wrote earlier, say a previous append) could make a
  -- higher position visible before a lower one, so it is refused.
  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RAISE EXCEPTION 'esbank_append must be the first write of its transaction' USING ERRCODE = 'EB400';
  END IF;
  SELECT coalesce(max(e.revision), -1) INTO v_current FROM events e WHERE e.stream_name = p_stream;
  IF p_expected IS NOT NULL AND p_expected <> v_current THEN
    RAISE EXCEPTION 'stream % is at revision %, expected %', p_stream, v_current, p_expected
      USING ERRCODE = 'EB409', DETAIL = v_current::text;
  END IF;
  -- Held for microseconds; commit (and its fsync) happens after release, so concurrent appends
  -- still share group commits. Only a cancel (statement_timeout, pg_cancel_backend) can interrupt
  -- the block, and it releases the session lock before passing the cancel on.
  BEGIN
    PERFORM pg_advisory_lock(7406315002);
    v_xid := pg_current_xact_id();
    SELECT array_agg(nextval('esbank_global_position') ORDER BY g) INTO v_positions
    FROM generate_series(1, v_count) g;
    PERFORM pg_advisory_unlock(7406315002);
  EXCEPTION WHEN query_canceled THEN
    PERFORM pg_advisory_unlock(7406315002);
    RAISE;
  END;

  INSERT INTO events (global_position, transaction_id, stream_name, revision, event_id, type, data, metadata)
  SELECT v_positions[e.ord], v_xid, p_stream, v_current + e.ord, (e.value ->> 'id')::uuid,
         e.value ->> 'type', e.value -> 'data', e.value -> 'metadata'
  FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, ord);

  RETURN QUERY SELECT v_current + v_count, v_positions[v_count];
END
$$;
