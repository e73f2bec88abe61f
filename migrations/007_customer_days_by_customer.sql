-- 007: customer_days keyed by customer first, and only for views 0..3.
--
-- A submission that starts a new customer-day inserts one row per view and
-- looks up, for views 0..3, the customer's previous and next day in that
-- view (src/store/rollups.c). Keyed by view first, those rows and lookups
-- landed on up to five leaves at random places of a table with one row per
-- customer-day and view; keyed by customer first they share one. With
-- 1 000 000 stored submissions and submissions from customers not seen
-- that day, that made single-survey ingest about 40 % faster
-- (docs/performance.md).
--
-- The combined view's (4) rows were read only to count the distinct
-- customers of combined filters over whole days. That count now reads the
-- submissions of those days through submissions_for_dashboards, which holds
-- every column it needs (the partial days were already counted that way),
-- so view 4 rows are no longer kept. The counters in rollups are unchanged.
--
-- Copying takes about 7 s for 1 000 000 stored submissions (5 000 000
-- customer-days), once, at the upgrade; the old table's pages stay in the
-- file as free pages, reused as it grows (VACUUM INTO gives a compact copy,
-- see docs/operations.md).
CREATE TABLE customer_days_by_customer (
    kind        INTEGER NOT NULL,
    channel     INTEGER NOT NULL,
    agent_id    TEXT NOT NULL,
    segment     TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    day         INTEGER NOT NULL,
    PRIMARY KEY (customer_id, kind, channel, agent_id, segment, day)
) WITHOUT ROWID;

INSERT INTO customer_days_by_customer (kind, channel, agent_id, segment, customer_id, day)
SELECT kind, channel, agent_id, segment, customer_id, day FROM customer_days WHERE kind < 4
ORDER BY customer_id, kind, channel, agent_id, segment, day;

DROP TABLE customer_days;
ALTER TABLE customer_days_by_customer RENAME TO customer_days;
