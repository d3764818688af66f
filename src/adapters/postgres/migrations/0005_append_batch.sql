-- Appends to many streams in one transaction and one round trip: the adapter gathers concurrent
-- appends into one call (group commit). p_appends is a JSON array of
-- {"stream": name, "expected": n | -1 (no stream) | null (any), "events": [...]}.
-- Each entry succeeds or fails on its own expected revision (actual_revision is set on failure);
-- entries for one stream apply in array order. The streams are locked first (transaction-level
-- advisory locks, taken in one global order, so no deadlock), so concurrent appends to a stream
-- queue behind each other instead of failing on the unique index and taking the batch with them.
-- Positions and the transaction id are drawn as in the single-stream version (0001).
CREATE FUNCTION esbank_append_batch(p_appends jsonb)
RETURNS TABLE (entry integer, next_revision bigint, last_position bigint, actual_revision bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_current jsonb;
  v_item record;
  v_stream text;
  v_revision bigint;
  v_expected bigint;
  v_count integer;
  v_total integer := 0;
  v_entries integer[] := '{}';
  v_bases bigint[] := '{}';
  v_starts integer[] := '{}';
  v_counts integer[] := '{}';
  v_xid xid8;
  v_positions bigint[];
BEGIN
  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RAISE EXCEPTION 'esbank_append_batch must be the first write of its transaction' USING ERRCODE = 'EB400';
  END IF;

  PERFORM pg_advisory_xact_lock(7406, k.key)
  FROM (SELECT DISTINCT hashtext(a ->> 'stream') AS key FROM jsonb_array_elements(p_appends) a ORDER BY 1) k;

  SELECT jsonb_object_agg(s.name, coalesce(
           (SELECT e.revision FROM events e WHERE e.stream_name = s.name ORDER BY e.revision DESC LIMIT 1), -1))
  INTO v_current
  FROM (SELECT DISTINCT a ->> 'stream' AS name FROM jsonb_array_elements(p_appends) a) s;

  FOR v_item IN SELECT a.value, a.ordinality::integer AS i FROM jsonb_array_elements(p_appends) WITH ORDINALITY a LOOP
    v_stream := v_item.value ->> 'stream';
    v_revision := (v_current ->> v_stream)::bigint;
    v_expected := (v_item.value ->> 'expected')::bigint;
    IF v_expected IS NOT NULL AND v_expected <> v_revision THEN
      entry := v_item.i;
      next_revision := NULL;
      last_position := NULL;
      actual_revision := v_revision;
      RETURN NEXT;
      CONTINUE;
    END IF;
    v_count := jsonb_array_length(v_item.value -> 'events');
    v_entries := v_entries || v_item.i;
    v_bases := v_bases || v_revision;
    v_starts := v_starts || v_total;
    v_counts := v_counts || v_count;
    v_total := v_total + v_count;
    v_current := jsonb_set(v_current, ARRAY[v_stream], to_jsonb(v_revision + v_count));
  END LOOP;

  IF v_total = 0 THEN
    RETURN;
  END IF;

  BEGIN
    PERFORM pg_advisory_lock(7406315002);
    v_xid := pg_current_xact_id();
    SELECT array_agg(nextval('esbank_global_position') ORDER BY g) INTO v_positions
    FROM generate_series(1, v_total) g;
    PERFORM pg_advisory_unlock(7406315002);
  EXCEPTION WHEN query_canceled THEN
    PERFORM pg_advisory_unlock(7406315002);
    RAISE;
  END;

  INSERT INTO events (global_position, transaction_id, stream_name, revision, event_id, type, data, metadata)
  SELECT v_positions[a.start + e.ord], v_xid, p_appends -> (a.i - 1) ->> 'stream', a.base + e.ord,
         (e.value ->> 'id')::uuid, e.value ->> 'type', e.value -> 'data', e.value -> 'metadata'
  FROM unnest(v_entries, v_bases, v_starts) AS a(i, base, start)
  CROSS JOIN LATERAL jsonb_array_elements(p_appends -> (a.i - 1) -> 'events') WITH ORDINALITY AS e(value, ord);

  RETURN QUERY
  SELECT a.i, a.base + a.n, v_positions[a.start + a.n], NULL::bigint
  FROM unnest(v_entries, v_bases, v_starts, v_counts) AS a(i, base, start, n);
END
$$;

-- The single-stream append keeps its signature (and its EB409), as one entry of a batch.
CREATE OR REPLACE FUNCTION esbank_append(p_stream text, p_expected bigint, p_events jsonb)
RETURNS TABLE (next_revision bigint, last_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_result record;
BEGIN
  SELECT * INTO v_result
  FROM esbank_append_batch(jsonb_build_array(
    jsonb_build_object('stream', p_stream, 'expected', p_expected, 'events', p_events)));
  IF v_result.actual_revision IS NOT NULL THEN
    RAISE EXCEPTION 'stream % is at revision %, expected %', p_stream, v_result.actual_revision, p_expected
      USING ERRCODE = 'EB409', DETAIL = v_result.actual_revision::text;
  END IF;
  RETURN QUERY SELECT v_result.next_revision, v_result.last_position;
END
$$;
