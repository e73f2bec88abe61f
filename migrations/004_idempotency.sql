-- 004: idempotency keys and the writer's health probe.
-- Never edit a released migration: add a new one.

-- One row per (API key, Idempotency-Key) whose request succeeded. Written by
-- the writer in the same transaction as the submissions the request stored,
-- so a row never exists without them (nor they without it).
CREATE TABLE idempotency_keys (
    key_digest   BLOB NOT NULL,             -- SHA-256 of the API key (zeros when auth is off)
    idem_key     TEXT NOT NULL,             -- the Idempotency-Key header, 1..255 printable ASCII
    request_digest BLOB NOT NULL,           -- SHA-256 of method, path and body
    status       INTEGER NOT NULL,          -- the original reply's status
    location     TEXT,                      -- its Location header, if any
    reply        TEXT NOT NULL,             -- its body, byte for byte
    created_at   INTEGER NOT NULL,          -- unix seconds; purged 24 h later
    PRIMARY KEY (key_digest, idem_key)
) WITHOUT ROWID;

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- The writer's probe: a small write that needs free pages, committed when a
-- commit failed, so readiness recovers without traffic once space returns.
CREATE TABLE writer_probe (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    probed_at    INTEGER NOT NULL,
    pad          BLOB
);
