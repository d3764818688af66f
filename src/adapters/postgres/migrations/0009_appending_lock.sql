-- Readers of the log wait only for transactions that append (src/adapters/postgres/event-store/
-- read-log.ts), not for every transaction of the cluster: a transaction with an id that appends
-- nothing (in this database or any other) no longer holds delivery back.
-- An appender says what it is by holding a shared transaction-level advisory lock (7406315003)
-- until it ends, taken before its transaction id is drawn: so a transaction that has an id but
-- not this lock is no appender now and never will be (esbank_append_batch refuses a transaction
-- that already has an id). The body stays as 0005 wrote it, under a new name.
ALTER FUNCTION esbank_append_batch(jsonb) RENAME TO esbank_append_batch_unannounced;

CREATE FUNCTION esbank_append_batch(p_appends jsonb)
RETURNS TABLE (entry integer, next_revision bigint, last_position bigint, actual_revision bigint)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(7406315003);
  RETURN QUERY SELECT * FROM esbank_append_batch_unannounced(p_appends);
END
$$;
