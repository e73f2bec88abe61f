-- 001: submissions, customers and the rescoring queue.
-- Times are unix seconds (UTC). Never edit a released migration: add a new one.

CREATE TABLE submissions (
    seq          INTEGER PRIMARY KEY,       -- insertion order
    id           TEXT NOT NULL UNIQUE,      -- UUID (service: version 7, time-ordered)
    type         INTEGER NOT NULL,          -- 0 survey, 1 nps
    customer_id  TEXT NOT NULL,
    contact_id   TEXT,
    channel      INTEGER NOT NULL,          -- enum channel
    agent_id     TEXT,
    segment      TEXT,                      -- carried, else the customer's at storage time
    submitted_at INTEGER NOT NULL,
    submitted_given INTEGER NOT NULL,       -- 1 when the client sent submitted_at
    received_at  INTEGER NOT NULL,
    expectation  INTEGER,                   -- 0 below, 1 met, 2 exceeded
    csat         INTEGER,
    effort       INTEGER,
    resolved     INTEGER,
    nps          INTEGER,                   -- survey nps, or the score of an nps rating
    comment      TEXT,
    tags         TEXT,                      -- JSON array
    metadata     TEXT,                      -- JSON object
    digest       BLOB NOT NULL              -- SHA-256 of the client-given fields
);

CREATE INDEX submissions_by_time ON submissions (submitted_at DESC, id DESC);
CREATE INDEX submissions_by_customer ON submissions (customer_id, submitted_at DESC, id DESC);

-- One row per customer: counts kept by the writer, profile by the worker.
CREATE TABLE customers (
    customer_id  TEXT PRIMARY KEY,
    segment      TEXT,
    surveys      INTEGER NOT NULL DEFAULT 0,
    nps_ratings  INTEGER NOT NULL DEFAULT 0,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    -- profile (SPEC 5), NULL until the worker's first pass
    level        INTEGER,                   -- NULL unrated, 0 below_expectations .. 4 loyal
    loyalty_score INTEGER,
    loyalty_delta_30d INTEGER,
    nps_category INTEGER,                   -- NULL, 0 detractor, 1 passive, 2 promoter
    latest_nps   INTEGER,
    share_met    REAL,
    share_exceeded REAL,
    share_delighted REAL,
    at_risk      INTEGER NOT NULL DEFAULT 0,
    risk_reasons INTEGER NOT NULL DEFAULT 0, -- bits: 1 detractor, 2 below_expectations, 4 declining
    computed_at  INTEGER,
    next_rescore_at INTEGER                 -- when time alone changes the profile next
) WITHOUT ROWID;

-- Customers whose profile must be recomputed; written in the same
-- transaction as the submission that made it stale. gen grows with every
-- mark, so the worker clears only the mark it has seen.
CREATE TABLE dirty_customers (
    customer_id  TEXT PRIMARY KEY,
    marked_at    INTEGER NOT NULL,          -- earliest unprocessed mark (lag)
    gen          INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
