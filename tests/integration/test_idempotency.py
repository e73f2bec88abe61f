"""Idempotency-Key and client ids over real HTTP (SPEC 3, Idempotency)."""

import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ingest_util as iu  # noqa: E402

BINARY = None


class IdempotencyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fbd-idem-")
        cls.db = os.path.join(cls.tmp, "data", "f.db")
        cls.srv = iu.Server(BINARY, cls.tmp, cls.db).start()

    @classmethod
    def tearDownClass(cls):
        try:
            code = cls.srv.stop()
            if code != 0:
                raise AssertionError(f"exit code {code}:\n{cls.srv.log_text()}")
        finally:
            cls.srv.kill()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def keyed(self, key, body, path="/v1/surveys", api="ingest"):
        return self.srv.post(path, body, key=api, headers={"Idempotency-Key": key})

    def test_replay_is_byte_identical_and_stores_once(self):
        body = iu.survey("idem-replay", comment="first")
        s1, h1, b1 = self.keyed("k-replay", body)
        self.assertEqual(s1, 201, b1)
        s2, h2, b2 = self.keyed("k-replay", body)
        self.assertEqual(s2, 201)
        self.assertEqual(b2, b1)
        self.assertEqual(h2["location"], h1["location"])
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        self.assertNotIn("idempotent-replayed", h1)
        self.assertEqual(len(iu.count_responses(self.srv, "idem-replay")), 1)

    def test_different_body_is_422_and_stores_nothing(self):
        s1, _, _ = self.keyed("k-diff", iu.survey("idem-diff", csat=5))
        self.assertEqual(s1, 201)
        s2, h2, b2 = self.keyed("k-diff", iu.survey("idem-diff", csat=1))
        self.assertEqual(s2, 422, b2)
        self.assertEqual(h2["content-type"], "application/problem+json")
        # same body, other endpoint: a different request too
        s3, _, _ = self.keyed("k-diff", {"customer_id": "idem-diff", "score": 5}, "/v1/nps")
        self.assertEqual(s3, 422)
        self.assertEqual(len(iu.count_responses(self.srv, "idem-diff")), 1)

    def test_keys_are_scoped_to_the_api_key(self):
        body = iu.survey("idem-scope")
        self.assertEqual(self.keyed("k-scope", body)[0], 201)
        # the admin key has its own key space: the same key stores anew
        self.assertEqual(self.keyed("k-scope", body, api="admin")[0], 201)
        self.assertEqual(len(iu.count_responses(self.srv, "idem-scope")), 2)

    def test_rejected_request_leaves_no_key(self):
        s1, _, _ = self.keyed("k-rejected", {"customer_id": "idem-rej", "csat": 9})
        self.assertEqual(s1, 422)
        s2, _, _ = self.keyed("k-rejected", iu.survey("idem-rej", csat=3))
        self.assertEqual(s2, 201)
        s3, _, _ = self.srv.post("/v1/surveys", raw=b"{not json", headers={"Idempotency-Key": "k-rej2"})
        self.assertEqual(s3, 400)
        self.assertEqual(self.keyed("k-rej2", iu.survey("idem-rej"))[0], 201)
        # a 409 (client id stored with another body) leaves no key either
        cid = iu.new_id()
        self.assertEqual(self.srv.post("/v1/surveys", iu.survey("idem-rej", id=cid))[0], 201)
        s4, _, _ = self.keyed("k-rej3", iu.survey("idem-rej", id=cid, csat=1))
        self.assertEqual(s4, 409)
        self.assertEqual(self.keyed("k-rej3", iu.survey("idem-rej", csat=1))[0], 201)
        self.assertEqual(len(iu.count_responses(self.srv, "idem-rej")), 4)

    def test_bad_key_format_is_400(self):
        for bad in ["", "x" * 256, "caf\u00e9".encode("utf-8").decode("latin-1"), "a\tb"]:
            s, _, b = self.keyed(bad, iu.survey("idem-bad"))
            self.assertEqual(s, 400, (bad, b))
        self.assertEqual(self.keyed("x" * 255, iu.survey("idem-bad"))[0], 201)
        self.assertEqual(len(iu.count_responses(self.srv, "idem-bad")), 1)

    def test_client_id_same_body_200_different_409(self):
        cid = iu.new_id()
        body = iu.survey("idem-cid", id=cid)
        s1, _, b1 = self.srv.post("/v1/surveys", body)
        self.assertEqual(s1, 201)
        s2, _, b2 = self.srv.post("/v1/surveys", body)
        self.assertEqual(s2, 200)
        self.assertEqual(json.loads(b2), json.loads(b1))
        s3, _, _ = self.srv.post("/v1/surveys", iu.survey("idem-cid", id=cid, csat=1))
        self.assertEqual(s3, 409)
        self.assertEqual(iu.count_responses(self.srv, "idem-cid"), [cid])

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
            body = iu.survey(customer)
            res = self.parallel(24, lambda i: self.keyed(f"k-conc-{round_}", body))
            statuses = sorted(r[0] for r in res)
            self.assertTrue(set(statuses) <= {201, 409}, statuses)
            created = [r for r in res if r[0] == 201]
            self.assertGreaterEqual(len(created), 1)
            # every 201 is the one original reply or its replay
            self.assertEqual(len({r[2] for r in created}), 1)
            self.assertEqual(len(iu.count_responses(self.srv, customer)), 1)

    def test_concurrent_same_client_id_stores_one_row(self):
        cid = iu.new_id()
        body = iu.survey("idem-conc-id", id=cid)
        res = self.parallel(32, lambda i: self.srv.post("/v1/surveys", body))
        statuses = sorted(r[0] for r in res)
        self.assertEqual(statuses.count(201), 1, statuses)
        self.assertEqual(statuses.count(200), 31, statuses)
        self.assertEqual(iu.count_responses(self.srv, "idem-conc-id"), [cid])

    def test_concurrent_same_client_id_different_bodies(self):
        cid = iu.new_id()
        res = self.parallel(16, lambda i: self.srv.post(
            "/v1/surveys", iu.survey("idem-conc-diff", id=cid, comment=f"variant {i % 2}")))
        statuses = [r[0] for r in res]
        self.assertEqual(statuses.count(201), 1, statuses)
        self.assertTrue(set(statuses) <= {200, 201, 409}, statuses)
        self.assertEqual(iu.count_responses(self.srv, "idem-conc-diff"), [cid])

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
        self.assertEqual(len(iu.count_responses(self.srv, "idem-prog")), 500 * (attempt + 1))


class AuthOffTest(unittest.TestCase):
    """With auth off every caller shares one key space."""

    def test_keys_shared_without_auth(self):
        tmp = tempfile.mkdtemp(prefix="fbd-idem-noauth-")
        srv = iu.Server(BINARY, tmp, os.path.join(tmp, "data", "f.db"),
                        env={"FEEDBACKD_AUTH": "off"})
        try:
            srv.start()
            body = iu.survey("noauth")
            s1, _, b1 = srv.post("/v1/surveys", body, key=None, headers={"Idempotency-Key": "x"})
            s2, h2, b2 = srv.post("/v1/surveys", body, key="read", headers={"Idempotency-Key": "x"})
            self.assertEqual((s1, s2, b2, h2.get("idempotent-replayed")), (201, 201, b1, "true"))
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.kill()
            shutil.rmtree(tmp, ignore_errors=True)


class PurgeTest(unittest.TestCase):
    """Keys older than 24 h are purged at start-up and then periodically."""

    def test_expired_keys_are_purged_and_no_longer_replayed(self):
        tmp = tempfile.mkdtemp(prefix="fbd-purge-")
        db = os.path.join(tmp, "data", "f.db")
        srv = iu.Server(BINARY, tmp, db)
        try:
            srv.start()
            self.assertEqual(srv.post("/v1/surveys", iu.survey("purge"),
                                      headers={"Idempotency-Key": "old"})[0], 201)
            self.assertEqual(srv.post("/v1/surveys", iu.survey("purge"),
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
            srv.wait_log(r"purged 1000 idempotency keys")
            # the purged key is free again; the kept one still replays
            self.assertEqual(srv.post("/v1/surveys", iu.survey("purge"),
                                      headers={"Idempotency-Key": "old"})[0], 201)
            s, h, _ = srv.post("/v1/surveys", iu.survey("purge"), headers={"Idempotency-Key": "new"})
            self.assertEqual((s, h.get("idempotent-replayed")), (201, "true"))
            self.assertEqual(len(iu.count_responses(srv, "purge")), 3)
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.kill()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    BINARY = os.path.abspath(sys.argv[1])
    unittest.main(argv=sys.argv[:1], verbosity=2)
