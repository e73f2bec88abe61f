-- 003: dashboard aggregates, kept in the same transaction as the submissions
-- (src/store/rollups.c) and, for profile counts, by triggers on customers.
-- Days are UTC day numbers: floor(submitted_at / 86400).
--
-- A "view" is one way of filtering: kind 0 no filter, 1 by channel, 2 by
-- agent, 3 by segment, 4 by all three together (used for combined filters).
-- Dimensions a view does not key on hold channel -1 and '' ; an absent
-- agent or segment is '' too (the API rejects empty strings for both).

CREATE TABLE rollups (
    kind           INTEGER NOT NULL,
    channel        INTEGER NOT NULL,
    agent_id       TEXT NOT NULL,
    segment        TEXT NOT NULL,
    day            INTEGER NOT NULL,
    responses      INTEGER NOT NULL DEFAULT 0,
    nps_count      INTEGER NOT NULL DEFAULT 0,
    promoters      INTEGER NOT NULL DEFAULT 0,
    passives       INTEGER NOT NULL DEFAULT 0,
    detractors     INTEGER NOT NULL DEFAULT 0,
    csat_count     INTEGER NOT NULL DEFAULT 0,
    csat_positive  INTEGER NOT NULL DEFAULT 0,   -- csat 4 or 5
    csat_sum       INTEGER NOT NULL DEFAULT 0,
    effort_count   INTEGER NOT NULL DEFAULT 0,
    effort_sum     INTEGER NOT NULL DEFAULT 0,
    exp_below      INTEGER NOT NULL DEFAULT 0,
    exp_met        INTEGER NOT NULL DEFAULT 0,
    exp_exceeded   INTEGER NOT NULL DEFAULT 0,
    resolved_count INTEGER NOT NULL DEFAULT 0,
    resolved_yes   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, day, channel, agent_id, segment)
) WITHOUT ROWID;

-- Breakdowns read every key of one view for a range of days (the primary
-- key, without lookups); a filter reads one key's days through this index.
CREATE INDEX rollups_by_key ON rollups (kind, channel, agent_id, segment, day);

-- One row per (view key, customer, day) with a submission: distinct
-- customers. WITHOUT ROWID and keyed so that the previous and next day of a
-- customer in a view are one seek away.
CREATE TABLE customer_days (
    kind        INTEGER NOT NULL,
    channel     INTEGER NOT NULL,
    agent_id    TEXT NOT NULL,
    segment     TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    day         INTEGER NOT NULL,
    PRIMARY KEY (kind, channel, agent_id, segment, customer_id, day)
) WITHOUT ROWID;

-- For views 0..3: n = how many customer-days of `day` have their previous
-- day with a submission (same customer, same view key) at prev_day
-- (-9999999 when there is none). The customers of full days [a, b] are the
-- customer-days in [a, b] whose previous day is before a: a sum over at
-- most (b - a + 1) short index ranges, whatever the number of submissions.
CREATE TABLE customer_gaps (
    kind     INTEGER NOT NULL,
    channel  INTEGER NOT NULL,
    agent_id TEXT NOT NULL,
    segment  TEXT NOT NULL,
    day      INTEGER NOT NULL,
    prev_day INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (kind, channel, agent_id, segment, day, prev_day)
) WITHOUT ROWID;

-- The partial first and last days of a period are read from the submissions;
-- this index holds every column they need, so that read is one contiguous
-- range instead of a table lookup per submission.
CREATE INDEX submissions_for_dashboards ON submissions (submitted_at, channel, agent_id,
    segment, customer_id, nps, csat, effort, expectation, resolved);

-- removals counts submissions ever taken out of the rollups (erasure): a
-- reader that remembered a figure keyed by counts that only grow checks it.
CREATE TABLE dashboard_state (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    removals INTEGER NOT NULL
);
INSERT INTO dashboard_state (id, removals) VALUES (1, 0);

-- Customers by current segment, level (-1 unrated) and at_risk, kept by
-- triggers so the summary never counts the customers table.
CREATE TABLE profile_counts (
    segment TEXT NOT NULL,
    level   INTEGER NOT NULL,
    at_risk INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (segment, level, at_risk)
) WITHOUT ROWID;

CREATE TRIGGER customers_count_insert AFTER INSERT ON customers BEGIN
    INSERT INTO profile_counts (segment, level, at_risk, n)
    VALUES (coalesce(new.segment, ''), coalesce(new.level, -1), new.at_risk != 0, 1)
    ON CONFLICT (segment, level, at_risk) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER customers_count_delete AFTER DELETE ON customers BEGIN
    UPDATE profile_counts SET n = n - 1
    WHERE segment = coalesce(old.segment, '') AND level = coalesce(old.level, -1)
      AND at_risk = (old.at_risk != 0);
END;

CREATE TRIGGER customers_count_update AFTER UPDATE OF segment, level, at_risk ON customers
WHEN old.segment IS NOT new.segment OR old.level IS NOT new.level
  OR (old.at_risk != 0) IS NOT (new.at_risk != 0)
BEGIN
    UPDATE profile_counts SET n = n - 1
    WHERE segment = coalesce(old.segment, '') AND level = coalesce(old.level, -1)
      AND at_risk = (old.at_risk != 0);
    INSERT INTO profile_counts (segment, level, at_risk, n)
    VALUES (coalesce(new.segment, ''), coalesce(new.level, -1), new.at_risk != 0, 1)
    ON CONFLICT (segment, level, at_risk) DO UPDATE SET n = n + 1;
END;

-- Backfill from what is already stored, so upgrading keeps dashboards exact.
INSERT INTO profile_counts (segment, level, at_risk, n)
SELECT coalesce(segment, ''), coalesce(level, -1), at_risk != 0, count(*)
FROM customers GROUP BY 1, 2, 3;

CREATE TEMP TABLE rollup_keys AS
SELECT k.kind,
       CASE WHEN k.kind IN (1, 4) THEN s.channel ELSE -1 END AS channel,
       CASE WHEN k.kind IN (2, 4) THEN coalesce(s.agent_id, '') ELSE '' END AS agent_id,
       CASE WHEN k.kind IN (3, 4) THEN coalesce(s.segment, '') ELSE '' END AS segment,
       s.submitted_at / 86400 - (s.submitted_at % 86400 < 0) AS day,
       s.customer_id, s.nps, s.csat, s.effort, s.expectation, s.resolved
FROM submissions s,
     (SELECT 0 AS kind UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
      UNION ALL SELECT 4) k;

INSERT INTO rollups
SELECT kind, channel, agent_id, segment, day, count(*),
       count(nps), coalesce(sum(nps >= 9), 0), coalesce(sum(nps BETWEEN 7 AND 8), 0),
       coalesce(sum(nps <= 6), 0),
       count(csat), coalesce(sum(csat >= 4), 0), coalesce(sum(csat), 0),
       count(effort), coalesce(sum(effort), 0),
       coalesce(sum(expectation = 0), 0), coalesce(sum(expectation = 1), 0),
       coalesce(sum(expectation = 2), 0),
       count(resolved), coalesce(sum(resolved = 1), 0)
FROM rollup_keys GROUP BY kind, channel, agent_id, segment, day;

INSERT INTO customer_days
SELECT DISTINCT kind, channel, agent_id, segment, customer_id, day FROM rollup_keys;

INSERT INTO customer_gaps
SELECT kind, channel, agent_id, segment, day, prev_day, count(*)
FROM (SELECT kind, channel, agent_id, segment, day,
             coalesce(lag(day) OVER (PARTITION BY kind, channel, agent_id, segment, customer_id
                                     ORDER BY day), -9999999) AS prev_day
      FROM customer_days WHERE kind < 4)
GROUP BY kind, channel, agent_id, segment, day, prev_day;

DROP TABLE rollup_keys;
