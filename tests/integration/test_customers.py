#!/usr/bin/env python3
"""Customer profiles over HTTP: the scoring worker and GET /v1/customers[/{id}].

Starts the real binary on 127.0.0.1 with a temporary database, POSTs crafted
histories (submitted_at in the past), polls until the worker has stored each
profile (bounded) and checks every field. Also: list filters, sorts and
cursors; profiles that change as time passes with no new submission; pending
rescoring that survives a restart.

Usage: test_customers.py PATH_TO_FEEDBACKD
"""
import os
import signal
import sqlite3
import sys
import time
import urllib.parse
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ENV = {"FEEDBACKD_SYNC": "normal"}
DAY = 86400
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)


def iso(t):
    return datetime.fromtimestamp(int(t), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Server(harness.Server):
    """harness.Server (with ENV and env added) plus the profile helpers."""

    def __init__(self, env=None):
        super().__init__(env=dict(ENV, **(env or {})))

    def post_survey(self, customer, ago, now, **fields):
        body = {"customer_id": customer, "submitted_at": iso(now - ago)}
        body.update(fields)
        status, _, doc = self.request("POST", "/v1/surveys", body, key="ingest")
        check(status == 201, "survey for %s stored (%s %s)" % (customer, status, doc))

    def post_nps(self, customer, ago, now, score, **fields):
        body = {"customer_id": customer, "score": score, "submitted_at": iso(now - ago)}
        body.update(fields)
        status, _, doc = self.request("POST", "/v1/nps", body, key="ingest")
        check(status == 201, "nps for %s stored (%s %s)" % (customer, status, doc))

    def profile(self, customer):
        path = "/v1/customers/" + urllib.parse.quote(customer, safe="")
        r = self.request("GET", path)
        return r.status, r.body

    def wait_profile(self, customer, surveys, nps_ratings, timeout=5.0, pred=None, want=None):
        """Poll until the profile is computed, counts every submission and
        shows the wanted values: the counts are the writer's and immediate,
        the profile may still be one worker pass behind them. The caller
        checks the values again, so a profile that never gets there fails
        with its last state."""
        deadline = time.time() + timeout
        doc = None
        while time.time() < deadline:
            status, doc = self.profile(customer)
            if (status == 200 and doc["computed_at"] is not None
                    and doc["surveys"] == surveys and doc["nps_ratings"] == nps_ratings
                    and (pred is None or pred(doc))
                    and all(doc.get(k) == v for k, v in (want or {}).items())):
                return doc
            time.sleep(0.05)
        check(False, "profile of %s computed in time (last: %s)" % (customer, doc))
        return doc


def settle(srv, customer, surveys, nps_ratings, want):
    doc = srv.wait_profile(customer, surveys, nps_ratings, want=want)
    expect_profile(doc, customer, want)
    return doc


def expect_profile(doc, customer, want):
    for key, value in want.items():
        check(doc.get(key) == value,
              "%s.%s == %r (got %r)" % (customer, key, value, doc.get(key)))


PROFILE_KEYS = ["customer_id", "segment", "level", "loyalty_score", "loyalty_delta_30d",
                "nps_category", "latest_nps", "surveys", "nps_ratings", "shares", "at_risk",
                "risk_reasons", "first_seen", "last_seen", "computed_at"]


def test_profiles(srv, now):
    # loyal: three exceeded with csat 5, one met, then a 10.
    # n = 4: met 1.0, exceeded 0.75, delighted 0.75; newest rating 10.
    # N = 1, E = (1 + 1 + 1 + 0.5) / 4 = 0.875, S = 1:
    # 100 * (0.5 + 0.2625 + 0.2) = 96.25 -> 96
    c = "c-loyal"
    for ago in (10, 9, 8):
        srv.post_survey(c, ago * DAY, now, expectation="exceeded", csat=5, segment="vip")
    srv.post_survey(c, 7 * DAY, now, expectation="met")
    srv.post_nps(c, 5 * DAY, now, 10)
    doc = settle(srv, c, 4, 1, {
        "customer_id": c, "segment": "vip", "level": {"code": 4, "name": "loyal"},
        "loyalty_score": 96, "loyalty_delta_30d": None, "nps_category": "promoter",
        "latest_nps": 10, "surveys": 4, "nps_ratings": 1,
        "shares": {"met": 1.0, "exceeded": 0.75, "delighted": 0.75},
        "at_risk": False, "risk_reasons": [],
        "first_seen": iso(now - 10 * DAY), "last_seen": iso(now - 5 * DAY)})
    check(list(doc.keys()) == PROFILE_KEYS, "profile keys in SPEC order: %s" % list(doc.keys()))

    # delighted: the same surveys without the rating. Loyalty: E, S only:
    # 100 * (0.3 * 0.875 + 0.2 * 1) / 0.5 = 92.5 -> 93
    c = "c-delighted"
    for ago in (10, 9, 8):
        srv.post_survey(c, ago * DAY, now, expectation="exceeded", csat=5)
    srv.post_survey(c, 7 * DAY, now, expectation="met")
    doc = settle(srv, c, 4, 0, {
        "segment": None, "level": {"code": 3, "name": "delighted"}, "loyalty_score": 93,
        "nps_category": None, "latest_nps": None,
        "shares": {"met": 1.0, "exceeded": 0.75, "delighted": 0.75}, "at_risk": False})

    # exceeded: exceeded 2 of 4 = 0.5 exactly, csat 4 everywhere: delighted 0.
    # E = (1 + 0.5 + 1 + 0.5) / 4 = 0.75, S = 0.75: 100 * 0.375 / 0.5 = 75
    c = "c-exceeded"
    for ago, exp in ((4, "met"), (3, "exceeded"), (2, "met"), (1, "exceeded")):
        srv.post_survey(c, ago * DAY, now, expectation=exp, csat=4)
    doc = settle(srv, c, 4, 0, {
        "level": {"code": 2, "name": "exceeded"}, "loyalty_score": 75,
        "shares": {"met": 1.0, "exceeded": 0.5, "delighted": 0.0}})

    # expected from CSAT only: csat 4 and 3 are met. E = 0.5,
    # S = (3 + 2) / 8 = 0.625: 100 * (0.15 + 0.125) / 0.5 = 55
    c = "c-expected"
    srv.post_survey(c, 2 * DAY, now, csat=4)
    srv.post_survey(c, 1 * DAY, now, csat=3)
    doc = settle(srv, c, 2, 0, {
        "level": {"code": 1, "name": "expected"}, "loyalty_score": 55,
        "shares": {"met": 1.0, "exceeded": 0.0, "delighted": 0.0}})

    # below: nine met, the newest below. met 0.9 >= 0.8 but the newest
    # failure drops the level. E = 4.5 / 10 = 0.45 -> 45
    c = "c-below"
    for ago in range(10, 1, -1):
        srv.post_survey(c, ago * DAY, now, expectation="met")
    srv.post_survey(c, 1 * DAY, now, expectation="below", comment="waited an hour")
    doc = settle(srv, c, 10, 0, {
        "level": {"code": 0, "name": "below_expectations"}, "loyalty_score": 45,
        "shares": {"met": 0.9, "exceeded": 0.0, "delighted": 0.0},
        "at_risk": True, "risk_reasons": ["below_expectations"]})

    # declining detractor, NPS only: 30 days ago only the 10 counted (100);
    # now 10 and 3: 65. delta -35. No outcome: unrated, shares null.
    c = "c-declining"
    srv.post_nps(c, 40 * DAY, now, 10)
    srv.post_nps(c, 2 * DAY, now, 3)
    doc = settle(srv, c, 0, 2, {
        "level": None, "loyalty_score": 65, "loyalty_delta_30d": -35,
        "nps_category": "detractor", "latest_nps": 3, "shares": None, "at_risk": True,
        "risk_reasons": ["detractor", "declining"]})

    # outside the window: counted in surveys and first/last seen, not scored
    c = "c-old"
    srv.post_survey(c, 400 * DAY, now, expectation="exceeded", csat=5, nps=10)
    doc = settle(srv, c, 1, 0, {
        "level": None, "loyalty_score": None, "loyalty_delta_30d": None,
        "nps_category": None, "latest_nps": None, "shares": None, "at_risk": False,
        "risk_reasons": [], "first_seen": iso(now - 400 * DAY),
        "last_seen": iso(now - 400 * DAY)})

    # a survey's nps is an NPS rating for the profile, but the customer's
    # counts keep it a survey
    c = "c-survey-nps"
    srv.post_survey(c, DAY, now, expectation="met", nps=7)
    doc = srv.wait_profile(c, 1, 0)
    # N = 0.7, E = 0.5: 100 * (0.35 + 0.15) / 0.8 = 62.5 -> 63
    expect_profile(doc, c, {"level": {"code": 1, "name": "expected"}, "loyalty_score": 63,
                            "nps_category": "passive", "latest_nps": 7})


def test_freshness(srv):
    """A committed submission shows in the profile within about a second."""
    c = "c-fresh"
    now = time.time()
    srv.post_survey(c, 60, now, expectation="met")
    srv.wait_profile(c, 1, 0)
    worst = 0.0
    for i in range(5):
        # alternate exceeded and met: the exceeded share moves every time
        exceeded = (i // 2) + 1 if i % 2 == 0 else (i + 1) // 2
        want = round(exceeded / (i + 2), 3)
        t0 = time.time()
        srv.post_survey(c, 30 - i, t0, expectation="exceeded" if i % 2 == 0 else "met")
        deadline = t0 + 3
        while time.time() < deadline:
            status, doc = srv.profile(c)
            if doc["shares"] and doc["shares"]["exceeded"] == want:
                break
            time.sleep(0.01)
        worst = max(worst, time.time() - t0)
    print("freshness: worst commit-to-profile %.3f s" % worst)
    check(worst < 1.5, "profiles reflect a commit within ~1 s (worst %.3f s)" % worst)


def test_time_passes(srv):
    """The only survey leaves the window a few seconds from now: the profile
    becomes unrated without any new submission."""
    c = "c-leaving"
    now = time.time()
    srv.post_survey(c, 365 * DAY - 4, now, expectation="met")
    doc = srv.wait_profile(c, 1, 0)
    check(doc["level"] == {"code": 1, "name": "expected"}, "c-leaving scored while inside")
    doc = srv.wait_profile(c, 1, 0, timeout=10, pred=lambda d: d["level"] is None)
    expect_profile(doc, c, {"level": None, "loyalty_score": None, "shares": None})


def test_errors(srv):
    status, doc = srv.profile("nobody")
    check(status == 404, "unknown customer is 404 (%s)" % status)
    check(doc and doc.get("status") == 404, "404 is a problem document")
    status, _, _ = srv.request("GET", "/v1/customers/c-loyal", key=None)
    check(status == 401, "no key is 401 (%s)" % status)
    status, _, _ = srv.request("GET", "/v1/customers/c-loyal", key="ingest")
    check(status == 403, "ingest key cannot read profiles (%s)" % status)
    status, _, _ = srv.request("GET", "/v1/customers/c-loyal", key="admin")
    check(status == 200, "admin key reads profiles (%s)" % status)
    for query, field in (("levle=loyal", "levle"), ("level=gold", "level"),
                         ("at_risk=yes", "at_risk"), ("nps_category=fan", "nps_category"),
                         ("sort=score", "sort"), ("limit=0", "limit"), ("limit=501", "limit"),
                         ("cursor=abc", "cursor"), ("level=loyal&level=expected", "level")):
        status, _, doc = srv.request("GET", "/v1/customers?" + query)
        fields = [e["field"] for e in (doc or {}).get("errors", [])]
        check(status == 422 and field in fields, "%s is 422 on %s (%s %s)" %
              (query, field, status, fields))


def list_all(srv, query, limit):
    ids, cursor, pages = [], None, 0
    while True:
        q = query + ("&" if query else "") + "limit=%d" % limit
        if cursor:
            q += "&cursor=" + cursor
        status, _, doc = srv.request("GET", "/v1/customers?" + q)
        check(status == 200, "list %s is 200 (%s %s)" % (q, status, doc))
        if status != 200:
            return ids
        check(len(doc["data"]) <= limit, "page within limit")
        ids += [d["customer_id"] for d in doc["data"]]
        cursor = doc["next_cursor"]
        pages += 1
        if cursor is None or pages > 50:
            return ids


def test_list(srv):
    status, _, doc = srv.request("GET", "/v1/customers")
    check(status == 200 and doc["next_cursor"] is None, "default list fits one page")
    everyone = [d["customer_id"] for d in doc["data"]]
    check(len(everyone) == 10, "10 customers listed (%d)" % len(everyone))
    # default sort: -last_seen, ties by customer_id descending
    seen = [(d["last_seen"], d["customer_id"]) for d in doc["data"]]
    check(seen == sorted(seen, reverse=True), "default order is -last_seen")

    def ids(query):
        return set(list_all(srv, query, 3))

    check(ids("level=loyal") == {"c-loyal"}, "level=loyal")
    check(ids("level=below_expectations") == {"c-below"}, "level=below_expectations")
    check(ids("level=expected") == {"c-expected", "c-survey-nps"},
          "level=expected: %s" % ids("level=expected"))
    check(ids("level=unrated") == {"c-declining", "c-old", "c-leaving"},
          "level=unrated: %s" % ids("level=unrated"))
    check(ids("at_risk=true") == {"c-below", "c-declining"}, "at_risk=true")
    check(ids("at_risk=false") == set(everyone) - {"c-below", "c-declining"}, "at_risk=false")
    check(ids("nps_category=detractor") == {"c-declining"}, "nps_category=detractor")
    check(ids("nps_category=promoter&segment=vip") == {"c-loyal"}, "promoter vip")
    check(ids("segment=vip&level=delighted") == set(), "filters combine")
    check(ids("level=exceeded") == {"c-exceeded", "c-fresh"}, "level=exceeded")

    # every sort, paged by 3 and by 500, gives every customer once, in order
    for sort in ("loyalty_score", "-loyalty_score", "last_seen", "-last_seen"):
        paged = list_all(srv, "sort=" + sort, 3)
        whole = list_all(srv, "sort=" + sort, 500)
        check(paged == whole and sorted(paged) == sorted(everyone),
              "sort=%s pages: %s" % (sort, paged))
    scores = []
    for cid in list_all(srv, "sort=-loyalty_score", 2):
        scores.append(srv.profile(cid)[1]["loyalty_score"])
    nonnull = [s for s in scores if s is not None]
    check(nonnull == sorted(nonnull, reverse=True), "-loyalty_score descending: %s" % scores)
    check(scores[len(nonnull):] == [None] * (len(scores) - len(nonnull)),
          "null scores last: %s" % scores)
    asc = [srv.profile(c)[1]["loyalty_score"] for c in list_all(srv, "sort=loyalty_score", 4)]
    check(asc[:len(nonnull)] == sorted(nonnull) and asc[len(nonnull):] == [None] *
          (len(asc) - len(nonnull)), "loyalty_score ascending, nulls last: %s" % asc)

    # a cursor belongs to its sort
    status, _, doc = srv.request("GET", "/v1/customers?sort=loyalty_score&limit=1")
    status, _, doc = srv.request("GET", "/v1/customers?sort=last_seen&cursor=" + doc["next_cursor"])
    check(status == 422, "a cursor of another sort is 422 (%s)" % status)


def test_restart_pending(srv):
    """Submissions pending at shutdown are scored after the restart."""
    rc = srv.stop()
    check(rc == 0, "SIGTERM exits 0 (%s)" % rc)
    db = sqlite3.connect(srv.db_path)
    # as if the worker had not reached these customers' submissions before
    # the stop: their profiles unset, the cursor back before them
    for cid in ("c-loyal", "c-below"):
        db.execute("UPDATE customers SET level = NULL, loyalty_score = NULL,"
                   " computed_at = NULL, share_met = NULL WHERE customer_id = ?", (cid,))
    db.execute("UPDATE scoring_cursor SET seq = (SELECT min(seq) - 1 FROM submissions"
               " WHERE customer_id IN ('c-loyal', 'c-below'))")
    db.commit()
    db.close()
    srv.start()
    doc = settle(srv, "c-loyal", 4, 1, {"level": {"code": 4, "name": "loyal"}, "loyalty_score": 96})
    doc = settle(srv, "c-below", 10, 0, {"level": {"code": 0, "name": "below_expectations"},
                                    "shares": {"met": 0.9, "exceeded": 0.0, "delighted": 0.0}})

    # a burst, then a hard kill: whatever was committed gets scored after
    # the restart, whether or not the worker had reached it
    now = time.time()
    for i in range(40):
        srv.post_survey("c-burst-%d" % (i % 8), 100 + i, now, expectation="exceeded", csat=5)
    srv.stop(signal.SIGKILL)
    srv.start()
    for i in range(8):
        doc = settle(srv, "c-burst-%d" % i, 5, 0, {"level": {"code": 3, "name": "delighted"},
                                               "loyalty_score": 100})
    status, _, doc = srv.request("GET", "/readyz", key=None)
    check(status == 200, "ready after restart (%s %s)" % (status, doc))


def test_upgrade_with_marks():
    """A database from before migration 006 with a pending dirty mark: the
    upgrade makes that customer due, and the worker scores it."""
    srv = Server()
    srv.start()
    try:
        now = time.time()
        for i in range(3):
            srv.post_survey("c-up", 100 + i, now, expectation="exceeded", csat=5)
        srv.wait_profile("c-up", 3, 0)
        srv.stop()
        db = sqlite3.connect(srv.db_path)
        with db:  # back to schema 5, as the worker had not reached c-up yet
            db.execute("DROP TABLE scoring_cursor")
            db.execute("CREATE TABLE dirty_customers (customer_id TEXT PRIMARY KEY,"
                       " marked_at INTEGER NOT NULL, gen INTEGER NOT NULL DEFAULT 0)"
                       " WITHOUT ROWID")
            db.execute("CREATE INDEX dirty_by_mark ON dirty_customers (marked_at)")
            db.execute("INSERT INTO dirty_customers (customer_id, marked_at) VALUES ('c-up', ?)",
                       (int(now),))
            db.execute("UPDATE customers SET level = NULL, loyalty_score = NULL,"
                       " computed_at = NULL, next_rescore_at = NULL WHERE customer_id = 'c-up'")
            # 007 and 008 run again after 006: 007 rebuilds customer_days as
            # it is, 008's index must go first
            db.execute("DROP INDEX idempotency_keys_by_location")
            db.execute("DELETE FROM schema_migrations WHERE version >= 6")
        db.close()
        srv.start()
        settle(srv, "c-up", 3, 0, {"level": {"code": 3, "name": "delighted"},
                                   "loyalty_score": 100})
        db = sqlite3.connect(srv.db_path)
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_schema")]
            check("dirty_customers" not in tables and "dirty_by_mark" not in tables,
                  "the marks table is gone (%s)" % tables)
            cursor, last = db.execute("SELECT (SELECT seq FROM scoring_cursor),"
                                      " (SELECT max(seq) FROM submissions)").fetchone()
            check(cursor == last, "the cursor starts at the newest submission (%s, %s)"
                  % (cursor, last))
        finally:
            db.close()
    finally:
        srv.close()


def test_max_items():
    """max_items = 2: each window keeps its two newest submissions. The
    customer has more submissions than the worker's one-range read takes
    (2 * max_items + 2), so its exact two-window read is exercised."""
    srv = Server({"FEEDBACKD_MAX_ITEMS": "2"})
    srv.start()
    try:
        now = time.time()
        c = "c-many"
        srv.post_survey(c, 40 * DAY, now, expectation="below")
        srv.post_nps(c, 36 * DAY, now, 10)
        srv.post_nps(c, 35 * DAY, now, 10)
        for ago in (6, 5, 4, 3):
            srv.post_survey(c, ago * DAY, now, expectation="below", csat=1)
        srv.post_survey(c, 2 * DAY, now, expectation="exceeded", csat=5)
        srv.post_survey(c, 1 * DAY, now, expectation="exceeded", csat=5)
        # now: the two exceeded/5 only: delighted (n = 2 < 3, and no
        # rating among them), E = S = 1 -> 100. 30 days ago: the two 10s
        # -> 100, the older failure is beyond max_items. delta 0.
        settle(srv, c, 7, 2, {
            "level": {"code": 3, "name": "delighted"}, "loyalty_score": 100,
            "loyalty_delta_30d": 0, "nps_category": None, "latest_nps": None,
            "shares": {"met": 1.0, "exceeded": 1.0, "delighted": 1.0},
            "at_risk": False, "risk_reasons": []})

        # a changed model key rescores stored profiles at the next start,
        # with no new feedback. max_items 3: now exceeded/5, exceeded/5,
        # below/1: met 2/3, level 0; E = S = 2/3 -> 66.67 -> 67. 30 days
        # ago: 10, 10 and the failure: (0.5 * 1 + 0.3 * 0) / 0.8 = 62.5
        # -> 63. delta 4.
        check(srv.stop() == 0, "clean stop")
        srv.extra_env["FEEDBACKD_MAX_ITEMS"] = "3"
        srv.start()
        settle(srv, c, 7, 2, {
            "level": {"code": 0, "name": "below_expectations"}, "loyalty_score": 67,
            "loyalty_delta_30d": 4, "latest_nps": None,
            "shares": {"met": 0.667, "exceeded": 0.667, "delighted": 0.667},
            "at_risk": False, "risk_reasons": []})
    finally:
        srv.close()


def main():
    harness.BINARY = os.path.abspath(sys.argv[1])
    srv = Server()
    srv.start()
    try:
        now = time.time()
        status, _, doc = srv.request("GET", "/readyz", key=None)
        check(status == 200, "ready with the worker running (%s %s)" % (status, doc))
        test_profiles(srv, now)
        test_freshness(srv)
        test_time_passes(srv)
        test_errors(srv)
        test_list(srv)
        test_restart_pending(srv)
    finally:
        srv.close()
    test_upgrade_with_marks()
    test_max_items()
    if FAILURES:
        print("%d failures" % len(FAILURES))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
