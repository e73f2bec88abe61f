"""Idempotency-Key and client ids over real HTTP (SPEC 3, Idempotency)."""

import os
import sqlite3
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ENV = {"FEEDBACKD_THREADS": "2"}


class IdempotencyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(env=ENV)
        cls.addClassCleanup(cls.srv.close)
        cls.srv.start()

    def post(self, path, body, key="ingest", headers=None):
        """(status, headers, body bytes as received)."""
        r = self.srv.request("POST", path, body, headers, key)
        return r.status, r.headers, r.raw

    def keyed(self, key, body, path="/v1/surveys", api="ingest"):
        return self.post(path, body, key=api, headers={"Idempotency-Key": key})

    def test_replay_is_byte_identical_and_stores_once(self):
        body = harness.survey("idem-replay", comment="first")
        s1, h1, b1 = self.keyed("k-replay", body)
        self.assertEqual(s1, 201, b1)
        s2, h2, b2 = self.keyed("k-replay", body)
        self.assertEqual(s2, 201)
        self.assertEqual(b2, b1)
        self.assertEqual(h2["location"], h1["location"])
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        self.assertNotIn("idempotent-replayed", h1)
        self.assertEqual(len(harness.count_responses(self.srv, "idem-replay")), 1)

    def test_different_body_is_422_and_stores_nothing(self):
        s1, _, _ = self.keyed("k-diff", harness.survey("idem-diff", csat=5))
        self.assertEqual(s1, 201)
        s2, h2, b2 = self.keyed("k-diff", harness.survey("idem-diff", csat=1))
        self.assertEqual(s2, 422, b2)
        self.assertEqual(h2["content-type"], "application/problem+json")
        # same body, other endpoint: a different request too
        s3, _, _ = self.keyed("k-diff", {"customer_id": "idem-diff", "score": 5}, "/v1/nps")
        self.assertEqual(s3, 422)
        self.assertEqual(len(harness.count_responses(self.srv, "idem-diff")), 1)

    def test_keys_are_scoped_to_the_api_key(self):
        body = harness.survey("idem-scope")
        self.assertEqual(self.keyed("k-scope", body)[0], 201)
        # the admin key has its own key space: the same key stores anew
        self.assertEqual(self.keyed("k-scope", body, api="admin")[0], 201)
        self.assertEqual(len(harness.count_responses(self.srv, "idem-scope")), 2)

    def test_rejected_request_leaves_no_key(self):
        s1, _, _ = self.keyed("k-rejected", {"customer_id": "idem-rej", "csat": 9})
        self.assertEqual(s1, 422)
        s2, _, _ = self.keyed("k-rejected", harness.survey("idem-rej", csat=3))
        self.assertEqual(s2, 201)
        s3, _, _ = self.post("/v1/surveys", b"{not json", headers={"Idempotency-Key": "k-rej2"})
        self.assertEqual(s3, 400)
        self.assertEqual(self.keyed("k-rej2", harness.survey("idem-rej"))[0], 201)
        # a 409 (client id stored with another body) leaves no key either
        cid = harness.new_id()
        self.assertEqual(self.post("/v1/surveys", harness.survey("idem-rej", id=cid))[0], 201)
        s4, _, _ = self.keyed("k-rej3", harness.survey("idem-rej", id=cid, csat=1))
        self.assertEqual(s4, 409)
        self.assertEqual(self.keyed("k-rej3", harness.survey("idem-rej", csat=1))[0], 201)
        self.assertEqual(len(harness.count_responses(self.srv, "idem-rej")), 4)

    def test_bad_key_format_is_400(self):
        for bad in ["", "x" * 256, "caf\u00e9".encode("utf-8").decode("latin-1"), "a\tb"]:
            s, _, b = self.keyed(bad, harness.survey("idem-bad"))
            self.assertEqual(s, 400, (bad, b))
        self.assertEqual(self.keyed("x" * 255, harness.survey("idem-bad"))[0], 201)
        self.assertEqual(len(harness.count_responses(self.srv, "idem-bad")), 1)

    def test_client_id_same_body_200_different_409(self):
        cid = harness.new_id()
        body = harness.survey("idem-cid", id=cid)
        s1, h1, b1 = self.post("/v1/surveys", body)
        self.assertEqual(s1, 201)
        s2, h2, b2 = self.post("/v1/surveys", body)
        self.assertEqual(s2, 200)
        self.assertEqual(harness.decode_body(h2, b2), harness.decode_body(h1, b1))
        s3, _, _ = self.post("/v1/surveys", harness.survey("idem-cid", id=cid, csat=1))
        self.assertEqual(s3, 409)
        self.assertEqual(harness.count_responses(self.srv, "idem-cid"), [cid])

    def parallel(self, n, fn):
        results = [None] * n
        start = threading.Barrier(n)

        def run(i):
            start.wait()
            results[i] = fn(i)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def test_concurrent_same_key_stores_one_row(self):
        for round_ in range(3):
            customer = f"idem-conc-key-{round_}"
            body = harness.survey(customer)
            res = self.parallel(24, lambda i: self.keyed(f"k-conc-{round_}", body))
            statuses = sorted(r[0] for r in res)
            self.assertTrue(set(statuses) <= {201, 409}, statuses)
            created = [r for r in res if r[0] == 201]
            self.assertGreaterEqual(len(created), 1)
            # every 201 is the one original reply or its replay
            self.assertEqual(len({r[2] for r in created}), 1)
            self.assertEqual(len(harness.count_responses(self.srv, customer)), 1)

    def test_concurrent_same_client_id_stores_one_row(self):
        cid = harness.new_id()
        body = harness.survey("idem-conc-id", id=cid)
        res = self.parallel(32, lambda i: self.post("/v1/surveys", body))
        statuses = sorted(r[0] for r in res)
        self.assertEqual(statuses.count(201), 1, statuses)
        self.assertEqual(statuses.count(200), 31, statuses)
        self.assertEqual(harness.count_responses(self.srv, "idem-conc-id"), [cid])

    def test_concurrent_same_client_id_different_bodies(self):
        cid = harness.new_id()
        res = self.parallel(16, lambda i: self.post(
            "/v1/surveys", harness.survey("idem-conc-diff", id=cid, comment=f"variant {i % 2}")))
        statuses = [r[0] for r in res]
        self.assertEqual(statuses.count(201), 1, statuses)
        self.assertTrue(set(statuses) <= {200, 201, 409}, statuses)
        self.assertEqual(harness.count_responses(self.srv, "idem-conc-diff"), [cid])

    def test_in_progress_repeat_is_409(self):
        # A 500-item batch keeps the writer busy long enough for a repeat to
        # overlap; try a few times, since timing cannot be forced from outside.
        items = [{"type": "nps", "customer_id": "idem-prog", "score": 7}] * 500
        for attempt in range(10):
            key = f"k-progress-{attempt}"
            res = self.parallel(8, lambda i: self.keyed(key, {"items": items}, "/v1/batch"))
            statuses = [r[0] for r in res]
            self.assertTrue(set(statuses) <= {200, 409}, statuses)
            if 409 in statuses:
                conflict = next(r for r in res if r[0] == 409)
                self.assertEqual(conflict[1]["content-type"], "application/problem+json")
                break
        else:
            self.fail("no repeat ever overlapped the original")
        self.assertEqual(len(harness.count_responses(self.srv, "idem-prog")), 500 * (attempt + 1))


class AuthOffTest(unittest.TestCase):
    """With auth off every caller shares one key space."""

    def test_keys_shared_without_auth(self):
        srv = harness.Server(env=dict(ENV, FEEDBACKD_AUTH="off"))
        self.addCleanup(srv.close)
        srv.start()
        body = harness.survey("noauth")
        r1 = srv.request("POST", "/v1/surveys", body, {"Idempotency-Key": "x"}, key=None)
        r2 = srv.request("POST", "/v1/surveys", body, {"Idempotency-Key": "x"}, key="read")
        self.assertEqual((r1.status, r2.status, r2.raw, r2.headers.get("idempotent-replayed")),
                         (201, 201, r1.raw, "true"))
        self.assertEqual(srv.stop(), 0)


class PurgeTest(unittest.TestCase):
    """Keys older than 24 h are purged at start-up and then periodically."""

    def test_expired_keys_are_purged_and_no_longer_replayed(self):
        srv = harness.Server(env=ENV)
        self.addCleanup(srv.close)
        db = srv.db_path
        srv.start()
        self.assertEqual(srv.request("POST", "/v1/surveys", harness.survey("purge"),
                                     headers={"Idempotency-Key": "old"})[0], 201)
        self.assertEqual(srv.request("POST", "/v1/surveys", harness.survey("purge"),
                                     headers={"Idempotency-Key": "new"})[0], 201)
        self.assertEqual(srv.stop(), 0)
        con = sqlite3.connect(db)
        with con:
            con.execute("UPDATE idempotency_keys SET created_at = created_at - 86400 - 60"
                        " WHERE idem_key = 'old'")
            # a backlog larger than one purge pass
            con.executemany("INSERT INTO idempotency_keys VALUES (zeroblob(32), ?, zeroblob(32),"
                            " 201, NULL, '{}', 1000)", [(f"bulk-{i}",) for i in range(2500)])
        con.close()
        srv.start()
        end = time.monotonic() + 10
        while time.monotonic() < end:
            con = sqlite3.connect(db)
            left = [r[0] for r in con.execute("SELECT idem_key FROM idempotency_keys")]
            con.close()
            if left == ["new"]:
                break
            time.sleep(0.2)
        self.assertEqual(left, ["new"])
        srv.expect_log(r"purged 1000 idempotency keys")
        # the purged key is free again; the kept one still replays
        self.assertEqual(srv.request("POST", "/v1/surveys", harness.survey("purge"),
                                     headers={"Idempotency-Key": "old"})[0], 201)
        s, h, _ = srv.request("POST", "/v1/surveys", harness.survey("purge"),
                              headers={"Idempotency-Key": "new"})
        self.assertEqual((s, h.get("idempotent-replayed")), (201, "true"))
        self.assertEqual(len(harness.count_responses(srv, "purge")), 3)
        self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    harness.main()
