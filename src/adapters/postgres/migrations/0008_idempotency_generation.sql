-- A key's generation: drawn when the key is first claimed, and again only when it is claimed after
-- it expired. Ids derived from a key (accounts, transfers, cash operations) include it, so a key
-- used again after it expired names a new operation, and a retry within its lifetime (even after a
-- 5xx released it) names the same one.
-- A generation also keeps its lifetime: it expires 24 h after it was drawn (generation_at), however
-- often a claim is taken over meanwhile, so one operation id never outlives the accounts' memory of it.
ALTER TABLE idempotency_keys
  ADD COLUMN generation uuid NOT NULL DEFAULT gen_random_uuid(),
  ADD COLUMN generation_at timestamptz NOT NULL DEFAULT now();
