"""POST /v1/batch over real HTTP (SPEC 3)."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def item(kind, customer, **fields):
    doc = {"type": kind, "customer_id": customer}
    doc.update({"csat": 4} if kind == "survey" else {"score": 8})
    doc.update(fields)
    return doc


class BatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(env={"FEEDBACKD_THREADS": "2", "FEEDBACKD_MAX_BODY": "16384"})
        cls.addClassCleanup(cls.srv.close)
        cls.srv.start()

    def post(self, path, body, key="ingest", headers=None):
        """(status, headers, body bytes as received)."""
        r = self.srv.request("POST", path, body, headers, key)
        return r.status, r.headers, r.raw

    def get_json(self, path):
        r = self.srv.request("GET", path, key="read")
        return r.status, r.body

    def batch(self, items, **kw):
        s, h, b = self.post("/v1/batch", {"items": items}, **kw)
        return s, h, (json.loads(b) if b else None)

    def test_mixed_items_results_in_order(self):
        items = [
            item("survey", "b-mixed", expectation="exceeded"),
            item("nps", "b-mixed", score=11),
            {"type": "poll", "customer_id": "b-mixed"},
            "not an object",
            item("nps", "b-mixed", comment="fine"),
            item("survey", "b-mixed", csat=None, nps=None, expectation=None),
        ]
        s, h, doc = self.batch(items)
        self.assertEqual(s, 200, doc)
        self.assertEqual(h["content-type"], "application/json")
        res = doc["results"]
        self.assertEqual([r["index"] for r in res], list(range(6)))
        self.assertEqual([r["status"] for r in res], [201, 422, 422, 422, 201, 422])
        self.assertEqual(res[1]["error"]["errors"][0]["field"], "score")
        self.assertEqual(res[1]["error"]["status"], 422)
        self.assertTrue(res[1]["error"]["type"].startswith("urn:feedbackd:problem:"))
        self.assertEqual(res[2]["error"]["errors"][0]["field"], "type")
        self.assertNotIn("id", res[1])
        stored = harness.count_responses(self.srv, "b-mixed")
        self.assertEqual(sorted(stored), sorted([res[0]["id"], res[4]["id"]]))
        st, one = self.get_json("/v1/responses/" + res[0]["id"])
        self.assertEqual((st, one["type"], one["expectation"]), (200, "survey", "exceeded"))
        st, one = self.get_json("/v1/responses/" + res[4]["id"])
        self.assertEqual((st, one["type"], one["score"], one["comment"]), (200, "nps", 8, "fine"))

    def test_item_count_limits(self):
        s, _, doc = self.batch([])
        self.assertEqual(s, 422)
        self.assertEqual(doc["errors"][0]["field"], "items")
        small = [{"type": "nps", "customer_id": "b-n", "score": 1}]
        s, _, doc = self.batch(small * 501)
        self.assertEqual(s, 422, doc)
        self.assertEqual(harness.count_responses(self.srv, "b-n"), [])
        s, _, doc = self.batch(small * 500)
        self.assertEqual(s, 200)
        self.assertEqual([r["status"] for r in doc["results"]], [201] * 500)
        self.assertEqual(len(harness.count_responses(self.srv, "b-n")), 500)

    def test_body_shape(self):
        for body in [[], {"item": []}, {"items": {}}, {"items": [item("nps", "b-shape")], "x": 1}]:
            s, _, b = self.post("/v1/batch", body)
            self.assertEqual(s, 422, (body, b))
        s, _, _ = self.post("/v1/batch", b'{"items": [}')
        self.assertEqual(s, 400)
        s, _, _ = self.post("/v1/batch", b'{"items": [], "items": []}')
        self.assertEqual(s, 400)
        self.assertEqual(harness.count_responses(self.srv, "b-shape"), [])

    def test_body_limit_is_16_times_max_body(self):
        # max_body is 16384 here, so the batch limit is 256 KiB
        pad = "x" * 3900
        items = [item("survey", "b-size", comment=pad) for _ in range(80)]
        raw = json.dumps({"items": items}).encode()
        self.assertGreater(len(raw), 16 * 16384)
        s, _, _ = self.post("/v1/batch", raw)
        self.assertEqual(s, 413)
        items = items[:60]
        raw = json.dumps({"items": items}).encode()
        self.assertLess(len(raw), 16 * 16384)
        self.assertGreater(len(raw), 16384)
        s, _, doc = self.post("/v1/batch", raw)
        self.assertEqual(s, 200, doc)
        self.assertEqual(len(harness.count_responses(self.srv, "b-size")), 60)

    def test_duplicate_client_ids_behave_like_sequential_requests(self):
        cid, other = harness.new_id(), harness.new_id()
        a = item("survey", "b-dup", id=cid)
        b = item("survey", "b-dup", id=cid, csat=1)
        c = item("nps", "b-dup", id=other)
        s, _, doc = self.batch([a, a, b, c, c])
        self.assertEqual(s, 200)
        res = doc["results"]
        self.assertEqual([r["status"] for r in res], [201, 200, 409, 201, 200])
        self.assertEqual([res[i]["id"] for i in (0, 1, 3, 4)], [cid, cid, other, other])
        self.assertEqual(res[2]["error"]["status"], 409)
        self.assertEqual(sorted(harness.count_responses(self.srv, "b-dup")), sorted([cid, other]))
        # and against rows stored earlier
        s, _, doc = self.batch([a, b])
        self.assertEqual([r["status"] for r in doc["results"]], [200, 409])

    def test_scope(self):
        s, _, _ = self.post("/v1/batch", {"items": [item("nps", "b-scope")]}, key="read")
        self.assertEqual(s, 403)
        s, _, _ = self.post("/v1/batch", {"items": [item("nps", "b-scope")]}, key=None)
        self.assertEqual(s, 401)
        self.assertEqual(self.post("/v1/batch", {"items": [item("nps", "b-scope")]},
                                       key="admin")[0], 200)
        self.assertEqual(len(harness.count_responses(self.srv, "b-scope")), 1)

    def test_idempotency_key_replays_the_whole_reply(self):
        items = [item("survey", "b-idem"), item("nps", "b-idem", score=99), item("nps", "b-idem")]
        hdr = {"Idempotency-Key": "batch-1"}
        s1, _, b1 = self.post("/v1/batch", {"items": items}, headers=hdr)
        s2, h2, b2 = self.post("/v1/batch", {"items": items}, headers=hdr)
        self.assertEqual((s1, s2), (200, 200))
        self.assertEqual(b2, b1)
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        self.assertEqual(len(harness.count_responses(self.srv, "b-idem")), 2)
        s3, _, _ = self.post("/v1/batch", {"items": items[:1]}, headers=hdr)
        self.assertEqual(s3, 422)
        # a batch that stored nothing leaves no key
        bad = {"items": [item("nps", "b-idem2", score=-1)]}
        self.assertEqual(self.post("/v1/batch", bad, headers={"Idempotency-Key": "b2"})[0], 200)
        good = {"items": [item("nps", "b-idem2")]}
        s, h, b = self.post("/v1/batch", good, headers={"Idempotency-Key": "b2"})
        self.assertEqual(s, 200)
        self.assertNotIn("idempotent-replayed", h)
        self.assertEqual(json.loads(b)["results"][0]["status"], 201)


if __name__ == "__main__":
    harness.main()
