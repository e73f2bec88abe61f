"""Readers' snapshots kept between requests (store.h, store_reader).

An HTTP thread keeps its read snapshot from one request to the next while
nothing was committed since. Checked here over real HTTP: every read sees
every commit acknowledged before it, on every HTTP thread and while other
clients keep the threads' snapshots busy; and a write by another process,
which the service cannot see coming, shows within the snapshot age bound.
"""

import datetime
import os
import sqlite3
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ENV = {"FEEDBACKD_THREADS": "2", "FEEDBACKD_SYNC": "normal"}


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class SnapshotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(env=ENV)
        cls.addClassCleanup(cls.srv.close)
        cls.srv.start()

    def test_every_read_sees_the_commits_acknowledged_before_it(self):
        stop = threading.Event()
        errors = []

        def keep_readers_busy():
            # profile reads on both HTTP threads, so their snapshots are
            # kept and must be renewed after each commit
            while not stop.is_set():
                r = self.srv.request("GET", "/v1/customers/snap-other")
                if r.status not in (200, 404):
                    errors.append(r)

        readers = [threading.Thread(target=keep_readers_busy) for _ in range(3)]
        for t in readers:
            t.start()
        try:
            period = {"since": iso(time.time() - 60), "until": iso(time.time() + 3600)}
            for n in range(1, 81):
                r = self.srv.request("POST", "/v1/surveys",
                                     harness.survey("snap-a", segment="snap-seg"), key="ingest")
                self.assertEqual(r.status, 201, r)
                profile = self.srv.request("GET", "/v1/customers/snap-a")
                self.assertEqual(profile.status, 200, profile)
                self.assertEqual(profile.body["surveys"], n)
                listed = self.srv.request("GET", "/v1/responses",
                                          params={"customer_id": "snap-a", "limit": 500})
                self.assertEqual(len(listed.body["data"]), n)
                summary = self.srv.request("GET", "/v1/dashboard/summary",
                                           params=dict(period, segment="snap-seg"))
                self.assertEqual(summary.body["responses"], n)
        finally:
            stop.set()
            for t in readers:
                t.join()
        self.assertEqual(errors, [])

    def test_a_write_by_another_process_shows_within_the_age_bound(self):
        r = self.srv.request("POST", "/v1/surveys", harness.survey("snap-b", segment="s0"),
                             key="ingest")
        self.assertEqual(r.status, 201, r)
        for i in range(1, 6):
            for _ in range(4):  # both HTTP threads now hold a snapshot
                self.assertEqual(self.srv.request("GET", "/v1/customers/snap-b").status, 200)
            db = sqlite3.connect(self.srv.db_path, timeout=10)
            with db:
                db.execute("UPDATE customers SET segment = ? WHERE customer_id = 'snap-b'",
                           (f"s{i}",))
            db.close()
            t0 = time.monotonic()
            while self.srv.request("GET", "/v1/customers/snap-b").body["segment"] != f"s{i}":
                self.assertLess(time.monotonic() - t0, 2.0, "the update never showed")
                time.sleep(0.01)
            # 100 ms bound; the writer's health probe (a commit every second)
            # would show it too, but later
            self.assertLess(time.monotonic() - t0, 0.4)


if __name__ == "__main__":
    harness.main()
