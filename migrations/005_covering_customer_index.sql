-- 005: the scoring worker reads a customer's recent submissions through
-- submissions_by_customer (src/score/worker.c). With the columns it scores
-- in the index, a rescore is one range scan instead of one table lookup per
-- submission, which with 1 000 000 stored submissions made single-survey
-- ingest 17-20 % faster (docs/performance.md). The key is unchanged, so
-- every other reader of the index is served as before. Rebuilding it takes
-- about two seconds per million submissions, once, at the upgrade.
DROP INDEX submissions_by_customer;
CREATE INDEX submissions_by_customer ON submissions (customer_id, submitted_at DESC, id DESC,
    type, expectation, csat, nps);
