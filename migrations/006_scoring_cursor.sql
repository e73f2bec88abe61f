-- 006: the submissions table itself is the rescoring queue.
--
-- Until now every stored submission also upserted its customer's row in
-- dirty_customers, a B-tree keyed by customer id: one more page written at
-- a random place per submission, and another when the worker deleted the
-- mark. Instead the worker keeps here the seq of the newest submission whose
-- customer it has rescored; every submission after it is pending. seq only
-- grows (one writer, rows are never deleted; an erasure that deletes the
-- newest row must keep its seq from being reused below this cursor), and a
-- submission commits with its row, so it can no more be stored without being
-- pending than before. The worker moves the cursor in the transaction that
-- stores the profiles (src/score/worker.c).
CREATE TABLE scoring_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO scoring_cursor (id, seq) SELECT 1, coalesce(max(seq), 0) FROM submissions;

-- Marks still pending at the upgrade: those customers become due now, and
-- the worker's time-based pass rescores them.
UPDATE customers SET next_rescore_at = 0
WHERE customer_id IN (SELECT customer_id FROM dirty_customers);
DROP TABLE dirty_customers;
