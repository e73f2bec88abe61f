"""Regressions found in the review of the merged tree, over real HTTP.

Each test names the SPEC rule it holds the service to."""

import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


class ReviewTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = h.Server()
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        try:
            code = cls.srv.stop()
            if code != 0:
                raise AssertionError(f"exit code {code}:\n{cls.srv.stderr_text}")
        finally:
            cls.srv.close()

    def post(self, path, body, **kw):
        r = self.srv.request("POST", path, body, **kw)
        self.assertEqual(r.status, 201, r.body)
        return r.body

    def test_default_period_includes_a_submission_of_this_second(self):
        # SPEC 4: the default period is [now - 30 days, now). Stored times are
        # whole seconds, so a submission made earlier in the current second
        # has submitted_at < now and belongs to it: a client that posts and
        # then reads the dashboard at once must see its submission.
        for attempt in range(5):
            self.post("/v1/surveys", {"customer_id": f"now-{attempt}", "channel": "social",
                                      "csat": 5})
            before = h.utcnow()
            summary = self.srv.request("GET", "/v1/dashboard/summary?channel=social")
            breakdown = self.srv.request("GET", "/v1/dashboard/breakdown?by=channel")
            trend = self.srv.request("GET", "/v1/dashboard/trend?metric=responses&channel=social")
            if h.utcnow() != before:
                continue  # the second turned between the reads: try again
            self.assertEqual(summary.status, 200, summary.body)
            self.assertEqual(summary.body["responses"], attempt + 1, summary.body)
            rows = {row["key"]: row["count"] for row in breakdown.body["data"]}
            self.assertEqual(rows.get("social"), attempt + 1, breakdown.body)
            self.assertEqual(sum(p["count"] for p in trend.body["points"]), attempt + 1,
                             trend.body)
            return
        self.fail("the second turned during every attempt")

    def test_unknown_query_parameters_everywhere(self):
        # SPEC 2: unknown query parameters are 422, on every endpoint.
        body = self.post("/v1/nps", {"customer_id": "q-1", "score": 9})
        cases = [
            ("GET", f"/v1/responses/{body['id']}?verbose=1", None),
            ("GET", "/v1/customers/q-1?fields=all", None),
            ("POST", "/v1/nps?dry_run=true", {"customer_id": "q-2", "score": 9}),
            ("POST", "/v1/surveys?dry_run=true", {"customer_id": "q-2", "csat": 4}),
            ("POST", "/v1/batch?dry_run=true",
             {"items": [{"type": "nps", "customer_id": "q-2", "score": 9}]}),
        ]
        for method, path, doc in cases:
            r = self.srv.request(method, path, doc)
            self.assertEqual(r.status, 422, f"{method} {path}: {r.body}")
            self.assertEqual(r.headers["content-type"], "application/problem+json")
            self.assertEqual(r.body["errors"][0]["message"], "unknown query parameter")
        # nothing was stored for the rejected POSTs
        r = self.srv.request("GET", "/v1/responses?customer_id=q-2")
        self.assertEqual(r.body["data"], [])

    def test_offset_with_unencoded_plus_in_query(self):
        # SPEC 2: inputs may carry an offset. A '+' left unencoded in a query
        # string arrives as a space (form encoding); read it back as '+'.
        sid = str(uuid.uuid4())
        self.post("/v1/nps", {"id": sid, "customer_id": "plus-1", "score": 9,
                              "submitted_at": "2026-01-10T12:00:00Z"})
        for since, until, n in (("2026-01-10T13:00:00+01:00", "2026-01-10T15:00:00+02:00", 1),
                                ("2026-01-10T13:00:01+01:00", "2026-01-10T15:00:00+02:00", 0)):
            r = self.srv.request(
                "GET", f"/v1/responses?customer_id=plus-1&since={since}&until={until}")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(len(r.body["data"]), n, (since, r.body))


if __name__ == "__main__":
    h.main()
