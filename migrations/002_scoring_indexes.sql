-- 002: indexes for the scoring worker and the customer list.

-- Time-based rescoring: the worker takes customers whose next_rescore_at has
-- come, at a cost that does not grow with the number of customers.
CREATE INDEX customers_by_rescore ON customers (next_rescore_at)
    WHERE next_rescore_at IS NOT NULL;

-- The worker takes the oldest marks first (fair under load), and the lag
-- metric reads the oldest mark.
CREATE INDEX dirty_by_mark ON dirty_customers (marked_at);

-- GET /v1/customers sorted by loyalty_score: ends in customer_id, the
-- cursor's tie-break. The worker writes loyalty_score only when it changes.
-- There is deliberately no index on last_seen: the writer sets last_seen on
-- every submission, and the index would cost every ingest; a last_seen page
-- is a top-N scan instead (about 20 ms at 100 000 customers).
CREATE INDEX customers_by_loyalty ON customers (loyalty_score, customer_id);

-- The scoring parameters the stored profiles were computed with. When the
-- configuration changes them, the worker rescores every profile at start.
CREATE TABLE scoring_params (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    params  TEXT NOT NULL
);
