"""Crash safety: SIGKILL under concurrent load, restart, nothing acknowledged is lost.

Several rounds: start the server on the same database, let threads submit
(single surveys and NPS ratings with and without client ids, keyed requests,
batches), kill the process with SIGKILL at a random moment, and retry what
was not acknowledged but is safe to retry (client id or Idempotency-Key).
At the end every submission that got a 2xx must be stored exactly once,
every submission that did not must be stored at most once, the customers'
counters must match their rows, every customer must still be marked for
rescoring (or have a profile newer than its last submission), and SQLite's
integrity check must pass after a clean stop.
"""

import http.client
import json
import os
import random
import sqlite3
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ROUNDS = 5
WORKERS = 6
CUSTOMERS = [f"crash-{i}" for i in range(12)]


class Ledger:
    """What the clients know: acknowledged tokens and what to retry."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}      # comment token -> stored id
        self.unacked = set()  # tokens sent without an acknowledgement
        self.retry = []      # (path, raw body, headers, tokens) safe to resend
        self.errors = []     # replies other than 2xx and 503

    def ack(self, tokens_ids):
        with self.lock:
            for token, sid in tokens_ids:
                self.acked[token] = sid
                self.unacked.discard(token)


def make_request(rng):
    """One random request: (path, raw body, headers, tokens, retryable)."""
    kind = rng.choice(["survey", "survey_id", "nps_key", "batch_key", "batch"])
    customer = rng.choice(CUSTOMERS)
    token = "t-" + uuid.uuid4().hex

    def one(t, with_id=False, nps=False):
        doc = {"customer_id": rng.choice(CUSTOMERS), "comment": t}
        doc.update({"score": rng.randint(0, 10)} if nps else {"csat": rng.randint(1, 5)})
        if with_id:
            doc["id"] = str(uuid.uuid4())
        return doc

    headers = {}
    if kind in ("survey", "survey_id"):
        doc = one(token, with_id=kind == "survey_id")
        doc["customer_id"] = customer
        return "/v1/surveys", json.dumps(doc).encode(), headers, [token], kind == "survey_id"
    if kind == "nps_key":
        headers["Idempotency-Key"] = "k-" + token
        return "/v1/nps", json.dumps(one(token, nps=True)).encode(), headers, [token], True
    tokens = [f"{token}-{i}" for i in range(rng.randint(2, 8))]
    items = []
    for i, t in enumerate(tokens):
        doc = one(t, with_id=kind == "batch" and i % 2 == 0, nps=i % 3 == 0)
        doc["type"] = "nps" if i % 3 == 0 else "survey"
        items.append(doc)
    if kind == "batch_key":
        headers["Idempotency-Key"] = "k-" + token
    return "/v1/batch", json.dumps({"items": items}).encode(), headers, tokens, kind == "batch_key"


def send(port, path, raw, headers, timeout=5.0):
    r = harness.request(port, "POST", path, raw, headers, key="ingest", timeout=timeout)
    return r.status, r.raw


def acknowledged(path, status, body, tokens):
    """(token, id) pairs a 2xx reply acknowledges."""
    doc = json.loads(body)
    if path != "/v1/batch":
        return [(tokens[0], doc["id"])] if status in (200, 201) else []
    return [(tokens[r["index"]], r["id"]) for r in doc["results"] if r["status"] in (200, 201)]


def worker(port, ledger, stop, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        path, raw, headers, tokens, retryable = make_request(rng)
        with ledger.lock:
            ledger.unacked.update(tokens)
        try:
            status, body = send(port, path, raw, headers)
        except (OSError, http.client.HTTPException):
            if retryable:
                with ledger.lock:
                    ledger.retry.append((path, raw, headers, tokens))
            if stop.is_set():
                return
            continue
        if 200 <= status < 300:
            ledger.ack(acknowledged(path, status, body, tokens))
        elif status == 503 and retryable:
            with ledger.lock:
                ledger.retry.append((path, raw, headers, tokens))
        elif status != 503:
            with ledger.lock:
                ledger.errors.append((status, body))


class CrashTest(unittest.TestCase):
    def setUp(self):
        self.srv = harness.Server(env={"FEEDBACKD_THREADS": "2"})
        self.addCleanup(self.srv.close)
        self.db = self.srv.db_path
        self.retried = 0

    def retry_pending(self, ledger):
        """Resend what is safe to resend; each must now be acknowledged."""
        with ledger.lock:
            pending, ledger.retry = ledger.retry, []
        self.retried += len(pending)
        for path, raw, headers, tokens in pending:
            status, body = send(self.srv.port, path, raw, headers)
            self.assertIn(status, (200, 201), body)
            acks = acknowledged(path, status, body, tokens)
            if path != "/v1/batch":
                self.assertEqual(len(acks), 1)
            ledger.ack(acks)

    def test_sigkill_under_load_loses_nothing_acknowledged(self):
        ledger = Ledger()
        rng = random.Random(os.environ.get("CRASH_SEED", time.time_ns()))
        for round_ in range(ROUNDS):
            self.srv.start()
            self.retry_pending(ledger)
            stop = threading.Event()
            threads = [threading.Thread(target=worker,
                                        args=(self.srv.port, ledger, stop, rng.random()))
                       for _ in range(WORKERS)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.3, 1.2))
            self.srv.kill()
            stop.set()
            for t in threads:
                t.join(10)
        self.srv.start()
        self.retry_pending(ledger)
        acked_before = len(ledger.acked)
        self.assertGreater(acked_before, 100, "the load did not get going")
        self.assertEqual(ledger.errors, [])
        print(f"\n{ROUNDS} kills: {len(ledger.acked)} submissions acknowledged,"
              f" {self.retried} requests retried after a kill,"
              f" {len(ledger.unacked)} never acknowledged", file=sys.stderr)
        self.check_stored(ledger)
        self.assertEqual(self.srv.stop(), 0)
        self.check_database(ledger)

    def check_stored(self, ledger):
        by_token = {}
        for customer in CUSTOMERS:
            cursor = None
            while True:
                path = f"/v1/responses?customer_id={customer}&limit=500"
                if cursor:
                    path += "&cursor=" + cursor
                status, _, doc = self.srv.request("GET", path, key="read")
                self.assertEqual(status, 200)
                for row in doc["data"]:
                    by_token.setdefault(row["comment"], []).append(row["id"])
                cursor = doc["next_cursor"]
                if not cursor:
                    break
        for token, sid in ledger.acked.items():
            self.assertEqual(by_token.get(token), [sid], f"acknowledged {token} stored wrong")
        for token in ledger.unacked:
            self.assertLessEqual(len(by_token.get(token, [])), 1, token)
        unknown = set(by_token) - set(ledger.acked) - ledger.unacked
        self.assertEqual(unknown, set())
        # spot-check reads by id
        for token, sid in random.sample(sorted(ledger.acked.items()), 25):
            status, _, row = self.srv.request("GET", "/v1/responses/" + sid, key="read")
            self.assertEqual((status, row["comment"]), (200, token))

    def check_database(self, ledger):
        con = sqlite3.connect(self.db)
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            self.assertEqual(con.execute("PRAGMA foreign_key_check").fetchall(), [])
            # counters kept by the writer match the rows, customer by customer
            mismatch = con.execute(
                "SELECT c.customer_id FROM customers c LEFT JOIN"
                " (SELECT customer_id, sum(type = 0) s, sum(type = 1) n FROM submissions"
                "  GROUP BY customer_id) x USING (customer_id)"
                " WHERE c.surveys != coalesce(x.s, 0) OR c.nps_ratings != coalesce(x.n, 0)"
            ).fetchall()
            self.assertEqual(mismatch, [])
            # every customer with submissions still awaits rescoring (one of
            # them lies after the worker's cursor), or has a profile computed
            # after its newest submission (once a worker runs)
            unmarked = con.execute(
                "SELECT s.customer_id FROM submissions s JOIN customers c USING (customer_id)"
                " GROUP BY s.customer_id"
                " HAVING max(s.seq) <= (SELECT seq FROM scoring_cursor)"
                "  AND (max(c.computed_at) IS NULL OR max(c.computed_at) < max(s.received_at))"
            ).fetchall()
            self.assertEqual(unmarked, [])
            n_rows = con.execute("SELECT count(*) FROM submissions").fetchone()[0]
            self.assertGreaterEqual(n_rows, len(ledger.acked))
            self.assertLessEqual(n_rows, len(ledger.acked) + len(ledger.unacked))
        finally:
            con.close()


if __name__ == "__main__":
    harness.main()
