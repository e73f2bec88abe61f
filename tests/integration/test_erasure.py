"""Erasure of a customer over real HTTP: DELETE /v1/customers/{customer_id}.

Checks that everything stored about the customer is gone (rows, profile,
customer-days, stored idempotent replies), that every dashboard figure
afterwards equals what a second server that never saw the customer answers,
that only the admin scope may erase, and that the customer can start anew.
"""

import datetime
import os
import random
import sqlite3
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ENV = {"FEEDBACKD_THREADS": "2", "FEEDBACKD_SYNC": "normal"}
DAY = 86400
NOW = int(time.time())
BASE = NOW - NOW % DAY - 12 * DAY  # a UTC midnight twelve days ago


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def path_of(customer):
    return "/v1/customers/" + urllib.parse.quote(customer, safe="")


def erase(srv, customer, key="admin"):
    return srv.request("DELETE", path_of(customer), key=key)


def rescore_queue_depth(srv):
    """The gauge's value from /metrics, or None when it is missing."""
    text = srv.request("GET", "/metrics", key=None).raw.decode()
    for line in text.splitlines():
        if line.startswith("feedbackd_rescore_queue_depth "):
            return float(line.split()[1])
    return None


def history(seed, customers, n):
    """n submissions spread over ten days, channels, agents and segments."""
    rnd = random.Random(seed)
    subs = []
    for i in range(n):
        s = {"customer_id": rnd.choice(customers), "channel": rnd.choice(["chat", "email"]),
             "submitted_at": iso(BASE + rnd.randrange(10 * DAY)), "nps": rnd.randrange(11),
             "csat": rnd.randrange(1, 6), "id": harness.new_id()}
        if rnd.random() < 0.6:
            s["agent_id"] = rnd.choice(["ann", "bob"])
        if rnd.random() < 0.4:
            s["segment"] = rnd.choice(["gold", "tin"])
        subs.append(s)
    return subs


def dashboards(srv):
    """Every dashboard answer over a few periods and filters."""
    out = []
    periods = [(BASE, BASE + 10 * DAY), (BASE + DAY // 2, BASE + 7 * DAY + 3600),
               (BASE + 3 * DAY, BASE + 4 * DAY)]
    filters = [{}, {"channel": "chat"}, {"agent_id": "ann"}, {"segment": "gold"},
               {"channel": "email", "agent_id": "bob", "segment": "tin"}]
    for since, until in periods:
        period = {"since": iso(since), "until": iso(until)}
        for f in filters:
            r = srv.request("GET", "/v1/dashboard/summary", key="read", params=dict(period, **f))
            assert r.status == 200, r
            # levels come from the profiles, which the worker may not have
            # stored yet: compared separately once settled
            out.append({k: v for k, v in r.body.items() if k not in ("levels",
                                                                       "at_risk_customers")})
            r = srv.request("GET", "/v1/dashboard/trend", key="read",
                            params=dict(period, metric="nps", **f))
            assert r.status == 200, r
            out.append(r.body)
        for by in ("channel", "agent", "segment"):
            r = srv.request("GET", "/v1/dashboard/breakdown", key="read",
                            params=dict(period, by=by))
            assert r.status == 200, r
            out.append(r.body)
    return out


class ErasureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(env=ENV)
        cls.addClassCleanup(cls.srv.close)
        cls.srv.start()

    def store(self, srv, subs):
        for s in subs:
            r = srv.request("POST", "/v1/surveys", s, key="ingest")
            self.assertEqual(r.status, 201, r)

    def wait_profile(self, customer, surveys, srv=None):
        deadline = time.time() + 5
        while time.time() < deadline:
            r = (srv or self.srv).request("GET", path_of(customer), key="read")
            if r.status == 200 and r.body["computed_at"] and r.body["surveys"] == surveys:
                return r.body
            time.sleep(0.05)
        self.fail(f"profile of {customer} not computed in time")

    def rows(self, sql, *args):
        db = sqlite3.connect(self.srv.db_path)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def test_erasure_removes_the_customer_and_keeps_dashboards_exact(self):
        gone, kept = ["er-x", "er-y"], ["er-a", "er-b", "er-c"]
        subs = history(11, gone + kept, 120)
        self.store(self.srv, subs)
        keyed = {"customer_id": "er-x", "csat": 2, "submitted_at": iso(BASE + 5 * DAY)}
        r = self.srv.request("POST", "/v1/surveys", keyed, key="ingest",
                             headers={"Idempotency-Key": "er-keyed"})
        self.assertEqual(r.status, 201, r)
        keyed_id = r.body["id"]
        n_x = sum(s["customer_id"] == "er-x" for s in subs) + 1
        self.wait_profile("er-x", n_x)
        # the readers' caches of distinct-customer counts must notice the removals
        before = dashboards(self.srv)

        r = erase(self.srv, "er-x")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"customer_id": "er-x", "erased_submissions": n_x})
        r = erase(self.srv, "er-y")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["erased_submissions"],
                         sum(s["customer_id"] == "er-y" for s in subs))

        self.assertEqual(self.srv.request("GET", path_of("er-x"), key="read").status, 404)
        self.assertEqual(harness.count_responses(self.srv, "er-x"), [])
        self.assertEqual(self.srv.request("GET", "/v1/responses/" + keyed_id).status, 404)
        for table in ("submissions", "customers", "customer_days"):
            self.assertEqual(self.rows(f"SELECT count(*) FROM {table} WHERE customer_id IN"
                                       " ('er-x', 'er-y')"), [(0,)], table)
        self.assertEqual(self.rows("SELECT count(*) FROM idempotency_keys WHERE location = ?",
                                   "/v1/responses/" + keyed_id), [(0,)])
        listed = self.srv.request("GET", "/v1/customers", key="read", params={"limit": 500})
        self.assertNotIn("er-x", [c["customer_id"] for c in listed.body["data"]])

        # Every figure equals that of a server that only ever saw the rest.
        with harness.Server(env=ENV) as other:
            self.store(other, [s for s in subs if s["customer_id"] in kept])
            after = dashboards(self.srv)
            self.assertEqual(after, dashboards(other))
        self.assertNotEqual(before, after)

    def test_only_the_admin_scope_erases(self):
        self.store(self.srv, [harness.survey("er-scope")])
        for key, status in (("read", 403), ("ingest", 403), (None, 401), ("Bearer nope", 401)):
            r = erase(self.srv, "er-scope", key=key)
            self.assertEqual(r.status, status, (key, r))
            self.assertEqual(r.headers["content-type"], "application/problem+json")
        self.assertEqual(len(harness.count_responses(self.srv, "er-scope")), 1)

    def test_unknown_customer_is_404_and_a_second_erasure_too(self):
        self.assertEqual(erase(self.srv, "er-never").status, 404)
        self.assertEqual(erase(self.srv, "x" * 129).status, 404)
        self.store(self.srv, [harness.survey("er-twice")])
        self.assertEqual(erase(self.srv, "er-twice").status, 200)
        r = erase(self.srv, "er-twice")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.headers["content-type"], "application/problem+json")

    def test_query_parameters_are_refused(self):
        self.store(self.srv, [harness.survey("er-query")])
        r = self.srv.request("DELETE", path_of("er-query") + "?force=1", key="admin")
        self.assertEqual(r.status, 422, r)
        self.assertEqual(len(harness.count_responses(self.srv, "er-query")), 1)

    def test_the_customer_starts_anew_after_erasure(self):
        first = harness.survey("er-anew", segment="gold", id=harness.new_id())
        headers = {"Idempotency-Key": "er-anew-key"}
        r = self.srv.request("POST", "/v1/surveys", first, key="ingest", headers=headers)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(erase(self.srv, "er-anew").status, 200)
        # the same client id and the same key store again: nothing remembers them
        r = self.srv.request("POST", "/v1/surveys", first, key="ingest", headers=headers)
        self.assertEqual(r.status, 201, r)
        self.assertNotIn("idempotent-replayed", r.headers)
        profile = self.wait_profile("er-anew", 1)
        self.assertEqual((profile["surveys"], profile["segment"]), (1, "gold"))

    def test_the_query_form_reaches_an_id_with_a_slash(self):
        self.store(self.srv, [harness.survey("er/slash"), harness.survey("er/slash")])
        self.assertEqual(self.srv.request("DELETE", "/v1/customers/er%2Fslash",
                                          key="admin").status, 404)
        for params in ({}, {"customer_id": ""}, {"customer_id": "x" * 129},
                       {"customer_id": "er/slash", "force": "1"}):
            r = self.srv.request("DELETE", "/v1/customers", key="admin", params=params)
            self.assertEqual(r.status, 422, (params, r))
            self.assertEqual(r.headers["content-type"], "application/problem+json")
        self.assertEqual(len(harness.count_responses(self.srv, "er%2Fslash")), 2)
        self.assertEqual(self.srv.request("DELETE", "/v1/customers", key="read",
                                          params={"customer_id": "er/slash"}).status, 403)
        r = self.srv.request("DELETE", "/v1/customers", key="admin",
                             params={"customer_id": "er/slash"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"customer_id": "er/slash", "erased_submissions": 2})
        self.assertEqual(harness.count_responses(self.srv, "er%2Fslash"), [])
        r = self.srv.request("DELETE", "/v1/customers", key="admin",
                             params={"customer_id": "er/slash"})
        self.assertEqual(r.status, 404, r)

    def test_erasure_amid_submissions_loses_none_of_theirs(self):
        """The erasure commits in a group with other clients' submissions."""
        self.store(self.srv, [harness.survey("er-busy", csat=i % 5 + 1) for i in range(30)])
        errors = []

        def post(n):
            for i in range(40):
                r = self.srv.request("POST", "/v1/surveys", harness.survey(f"er-busy-{n}"),
                                     key="ingest")
                if r.status != 201:
                    errors.append(r)

        threads = [threading.Thread(target=post, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        r = erase(self.srv, "er-busy")
        for t in threads:
            t.join()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["erased_submissions"], 30)
        self.assertEqual(errors, [])
        self.assertEqual(harness.count_responses(self.srv, "er-busy"), [])
        for n in range(4):
            self.assertEqual(len(harness.count_responses(self.srv, f"er-busy-{n}")), 40)

    def test_no_copy_is_left_in_the_database_file(self):
        """secure_delete: the erased bytes are zeros in the file, not free space."""
        rnd = random.Random(5)
        with harness.Server(env=ENV) as srv:
            for b in range(4):
                items = [{"type": "survey", "customer_id": f"er-keep-{rnd.randrange(50)}",
                          "csat": 4, "comment": "fine " * rnd.randrange(30)} for _ in range(100)]
                r = srv.request("POST", "/v1/batch", {"items": items}, key="ingest")
                self.assertEqual(r.status, 200, r)
                for i in range(3):
                    r = srv.request("POST", "/v1/surveys",
                                    {"customer_id": "er-forgotten-7f3a", "csat": 2,
                                     "comment": "er-secret-7f3a"}, key="ingest",
                                    headers={"Idempotency-Key": f"er-secret-{b}-{i}"})
                    self.assertEqual(r.status, 201, r)
            self.assertEqual(erase(srv, "er-forgotten-7f3a").status, 200)
            self.assertEqual(srv.stop(), 0)
            data = b""
            for suffix in ("", "-wal"):
                if os.path.exists(srv.db_path + suffix):
                    with open(srv.db_path + suffix, "rb") as f:
                        data += f.read()
            self.assertIn(b"er-keep-", data)
            self.assertNotIn(b"er-forgotten-7f3a", data)
            self.assertNotIn(b"er-secret-7f3a", data)

    def test_submissions_after_erasing_the_newest_are_scored(self):
        """Erasing the newest submissions must not let the next ones reuse
        their place in the scoring worker's order (seq), which the worker
        has already passed: they would never be scored."""
        with harness.Server(env=ENV) as srv:
            for name in ("er-top-old", "er-top-new"):
                r = srv.request("POST", "/v1/surveys", harness.survey(name), key="ingest")
                self.assertEqual(r.status, 201, r)
            self.wait_profile("er-top-new", 1, srv)
            self.assertEqual(erase(srv, "er-top-new").status, 200)
            r = srv.request("POST", "/v1/surveys", harness.survey("er-top-next"), key="ingest")
            self.assertEqual(r.status, 201, r)
            self.wait_profile("er-top-next", 1, srv)
            self.assertEqual(erase(srv, "er-top-next").status, 200)
            # the cursor is now past every seq present: nothing is pending
            self.assertEqual(rescore_queue_depth(srv), 0)
            self.assertEqual(srv.stop(), 0)
            srv.start()
            r = srv.request("POST", "/v1/surveys", harness.survey("er-top-restart"),
                            key="ingest")
            self.assertEqual(r.status, 201, r)
            self.wait_profile("er-top-restart", 1, srv)
            self.assertEqual(rescore_queue_depth(srv), 0)

    def test_options_lists_delete(self):
        r = self.srv.request("OPTIONS", path_of("er-opt"), key=None)
        self.assertEqual(r.status, 204)
        self.assertEqual(r.headers["allow"], "GET, HEAD, DELETE, OPTIONS")


if __name__ == "__main__":
    harness.main()
