"""Storage faults: a full disk and a read-only database.

Writes must answer 503 with Retry-After and a clear log line, reads keep
working, /readyz reports not ready while writes fail, nothing is corrupted,
and the service recovers by itself when space returns.

Disk full is produced two ways: always with max_db_pages (SQLite's
max_page_count, which fails exactly like a full disk), and, when this
process may mount file systems (root), with a real 2 MiB tmpfs. A read-only
database is produced by starting on a write-protected file (as root the
server then runs as nobody, since root ignores file modes). (Remounting a
file system read-only under a running server is not possible while it holds
files open for writing, so that case is not simulated.)
"""

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ENV = {"FEEDBACKD_THREADS": "2"}
PAD = "p" * 3000  # about one page per submission


def ready(srv):
    return srv.request("GET", "/readyz", key=None)[0]


def post(srv, path, body, headers=None):
    """(status, headers, body bytes as received) of a POST with the ingest key."""
    r = srv.request("POST", path, body, headers, key="ingest")
    return r.status, r.headers, r.raw


def wait_ready(srv, want, timeout=8.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ready(srv) == want:
            return
        time.sleep(0.1)
    raise AssertionError(f"/readyz never answered {want}:\n{srv.stderr_text}")


def fill(tc, srv, customer, limit=5000):
    """Submit until the first 503; returns the acknowledged ids."""
    ids = []
    for _ in range(limit):
        s, h, b = post(srv, "/v1/surveys", harness.survey(customer, comment=PAD))
        if s == 503:
            tc.assertEqual(h.get("retry-after"), "1")
            tc.assertEqual(h["content-type"], "application/problem+json")
            tc.assertNotIn(b"sqlite", b.lower())
            return ids
        tc.assertEqual(s, 201, b)
        ids.append(harness.decode_body(h, b)["id"])
    tc.fail("the database never filled up")


def check_while_failing(tc, srv, customer, ids):
    """Writes 503 (and leave nothing), reads 200, not ready."""
    wait_ready(srv, 503)
    # as large as the write that failed: smaller ones may still fit
    s, h, _ = post(srv, "/v1/nps", {"customer_id": customer, "score": 9, "comment": PAD},
                   headers={"Idempotency-Key": "during-fault"})
    tc.assertEqual((s, h.get("retry-after")), (503, "1"))
    s, h, _ = post(srv, "/v1/batch", {"items": [{"type": "nps", "customer_id": customer,
                                                 "score": 1, "comment": PAD}]})
    tc.assertEqual((s, h.get("retry-after")), (503, "1"))
    tc.assertEqual(sorted(harness.count_responses(srv, customer)), sorted(ids))
    for sid in ids[:3] + ids[-3:]:
        tc.assertEqual(srv.request("GET", "/v1/responses/" + sid, key="read")[0], 200)
    tc.assertEqual(srv.request("GET", "/healthz", key=None)[0], 200)


def check_recovered(tc, srv, customer, ids):
    wait_ready(srv, 200)
    srv.expect_log(r"database writes succeed again")
    s, h, b = post(srv, "/v1/nps", {"customer_id": customer, "score": 9, "comment": PAD},
                   headers={"Idempotency-Key": "during-fault"})
    tc.assertEqual(s, 201, b)
    tc.assertNotIn("idempotent-replayed", h)
    ids.append(harness.decode_body(h, b)["id"])
    tc.assertEqual(sorted(harness.count_responses(srv, customer)), sorted(ids))


def integrity(tc, db):
    con = sqlite3.connect(db)
    try:
        tc.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        return con.execute("SELECT count(*) FROM submissions").fetchone()[0]
    finally:
        con.close()


def can_mount():
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = tempfile.mkdtemp(prefix="fbd-mnt-")
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", probe], check=True)
        return ok
    finally:
        os.rmdir(probe)


class FaultTest(unittest.TestCase):
    """A server (not started) with self.tmp and self.db."""

    def setUp(self):
        self.srv = harness.Server(env=ENV)
        self.addCleanup(self.srv.close)
        self.tmp = self.srv.tmpdir
        self.db = self.srv.db_path


class DiskFullTest(FaultTest):

    def test_max_db_pages(self):
        # Create the schema, then put 400 KiB of ballast in the file, so
        # that deleting it later gives the full database room again.
        self.srv.start()
        self.assertEqual(self.srv.stop(), 0)
        con = sqlite3.connect(self.db)
        with con:
            con.execute("CREATE TABLE ballast (b BLOB)")
            con.executemany("INSERT INTO ballast VALUES (zeroblob(4000))", [()] * 100)
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        con.close()
        self.srv.extra_env["FEEDBACKD_MAX_DB_PAGES"] = str(pages + 60)
        self.srv.start()
        wait_ready(self.srv, 200)
        ids = fill(self, self.srv, "full")
        self.assertGreater(len(ids), 10)
        self.srv.expect_log(r'"level":"error".*database writes are failing: database or disk is full')
        check_while_failing(self, self.srv, "full", ids)
        # Space returns: nobody writes, yet the probe makes it ready again.
        con = sqlite3.connect(self.db, timeout=10)
        with con:
            con.execute("DELETE FROM ballast")
        con.close()
        check_recovered(self, self.srv, "full", ids)
        self.assertEqual(self.srv.stop(), 0)
        self.assertEqual(integrity(self, self.db), len(ids))

    @unittest.skipUnless(can_mount(), "needs root and tmpfs mounts")
    def test_real_full_file_system(self):
        mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], check=True)
        try:
            ballast = os.path.join(mnt, "ballast")
            with open(ballast, "wb") as f:
                f.write(b"\0" * 256 * 1024)
            db = os.path.join(mnt, "f.db")
            self.srv.extra_env["FEEDBACKD_DB"] = db
            self.srv.start()
            wait_ready(self.srv, 200)
            ids = fill(self, self.srv, "tmpfs")
            self.assertGreater(len(ids), 10)
            self.srv.expect_log(r'"level":"error".*database writes are failing')
            check_while_failing(self, self.srv, "tmpfs", ids)
            os.unlink(ballast)
            check_recovered(self, self.srv, "tmpfs", ids)
            self.assertEqual(self.srv.stop(), 0)
            self.assertEqual(integrity(self, db), len(ids))
        finally:
            if self.srv.running:
                self.srv.kill()
            subprocess.run(["umount", "-l", mnt])


class ReadOnlyTest(FaultTest):
    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o755)

    def seed(self, n):
        self.srv.start()
        ids = [self.srv.request("POST", "/v1/surveys", harness.survey("ro"), key="ingest").body["id"]
               for _ in range(n)]
        self.assertEqual(self.srv.stop(), 0)
        return ids

    def test_read_only_file(self):
        ids = self.seed(5)
        preexec = None
        if os.geteuid() == 0:
            # root writes through any file mode: serve as nobody instead
            if shutil.which("setpriv") is None:
                self.skipTest("running as root without setpriv")
            for d, _, files in os.walk(self.tmp):
                os.chown(d, 65534, 65534)
                for f in files:
                    os.chown(os.path.join(d, f), 65534, 65534)
            preexec = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        os.chmod(self.db, 0o444)
        self.srv.wrapper = preexec or []
        self.srv.start()
        self.srv.expect_log(r'"level":"error".*database writes are failing: .*readonly')
        check_while_failing(self, self.srv, "ro", ids)
        self.assertEqual(self.srv.stop(), 0)
        os.chmod(self.db, 0o644)
        self.assertEqual(integrity(self, self.db), 5)


if __name__ == "__main__":
    harness.main()
