-- Processors (the saga, each projection, the relay) split their work into partitions, claimed by
-- the running instances with leases (SPEC §3). No session state (advisory locks): it works behind
-- a connection pooler. Every claim bumps `fence`; a checkpoint write names the fence it holds, so
-- an owner that lost its lease (paused, partitioned away) writes nothing.
CREATE TABLE processor_members (
  owner text PRIMARY KEY,
  seen_until timestamptz NOT NULL
);

CREATE TABLE processor_partitions (
  processor text NOT NULL,
  partition int NOT NULL,
  owner text,
  lease_until timestamptz,
  fence bigint NOT NULL DEFAULT 0,
  position bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (processor, partition)
);

-- One call per instance and processor, every renew interval: heartbeat, renew what it holds, give
-- back what exceeds its fair share (the partitions over the live instances, rounded up), claim
-- free or expired partitions up to it. New partitions start where a processor's old single
-- checkpoint (subscription_checkpoints) was, so an upgrade does not replay the whole log.
CREATE FUNCTION esbank_claim_partitions(p_processor text, p_partitions int, p_owner text, p_lease_ms int)
RETURNS TABLE (claimed int, claim_fence bigint, claim_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
  lease interval := make_interval(secs => p_lease_ms / 1000.0);
  share int;
  held int;
BEGIN
  INSERT INTO processor_members AS m (owner, seen_until) VALUES (p_owner, now() + lease)
  ON CONFLICT (owner) DO UPDATE SET seen_until = excluded.seen_until;
  DELETE FROM processor_members m WHERE m.seen_until < now() - interval '1 hour';

  INSERT INTO processor_partitions AS p (processor, partition, position)
  SELECT p_processor, s.n,
         coalesce((SELECT c.position FROM subscription_checkpoints c WHERE c.name = p_processor), 0)
  FROM generate_series(0, p_partitions - 1) AS s(n)
  ON CONFLICT ON CONSTRAINT processor_partitions_pkey DO NOTHING;

  share := ceil(p_partitions::numeric / greatest(1, (SELECT count(*) FROM processor_members m WHERE m.seen_until > now())));

  UPDATE processor_partitions p SET lease_until = now() + lease
  WHERE p.processor = p_processor AND p.owner = p_owner AND p.lease_until > now();

  UPDATE processor_partitions p SET owner = NULL, lease_until = NULL
  WHERE p.processor = p_processor AND p.owner = p_owner
    AND (p.lease_until IS NULL OR p.lease_until <= now()
         OR p.partition IN (SELECT q.partition FROM processor_partitions q
                            WHERE q.processor = p_processor AND q.owner = p_owner
                            ORDER BY q.partition DESC
                            LIMIT greatest(0, (SELECT count(*) FROM processor_partitions r
                                               WHERE r.processor = p_processor AND r.owner = p_owner) - share)));

  SELECT count(*) INTO held FROM processor_partitions p WHERE p.processor = p_processor AND p.owner = p_owner;

  UPDATE processor_partitions p SET owner = p_owner, lease_until = now() + lease, fence = p.fence + 1
  WHERE p.processor = p_processor AND p.partition IN (
    SELECT q.partition FROM processor_partitions q
    WHERE q.processor = p_processor AND q.partition < p_partitions
      AND (q.owner IS NULL OR q.lease_until <= now())
    ORDER BY q.partition
    LIMIT greatest(0, share - held)
    FOR UPDATE SKIP LOCKED);

  RETURN QUERY SELECT p.partition, p.fence, p.position FROM processor_partitions p
    WHERE p.processor = p_processor AND p.owner = p_owner ORDER BY p.partition;
END $$;
