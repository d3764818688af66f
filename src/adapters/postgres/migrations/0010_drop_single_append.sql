-- esbank_append (0001, rewritten as one entry of a batch in 0005) has had no caller since the
-- adapter appends through esbank_append_batch: one way in, one rule for positions and locks.
DROP FUNCTION IF EXISTS esbank_append(text, bigint, jsonb);
