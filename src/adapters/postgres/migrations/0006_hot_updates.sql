-- Room on every page for the next version of a row, so an update that changes no indexed column
-- stays on its page and touches no index (a HOT update). A transfer's row is updated at each saga
-- step, and only one of those changes an indexed column (its status); the others went through all
-- five indexes. Pages written from now on keep the room; a replay rebuilds the tables with it.
ALTER TABLE transfers SET (fillfactor = 70);
ALTER TABLE balances SET (fillfactor = 70);
ALTER TABLE idempotency_keys SET (fillfactor = 80);
