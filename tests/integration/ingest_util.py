"""Small helpers shared by the ingest-safety integration tests.

Starts the real feedbackd binary on 127.0.0.1 (port 0) with a database in a
temporary folder, learns the port from the "listening on" log line, and
speaks HTTP with http.client (a fresh connection per request). Standard
library only.
"""

import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid

HOST = "127.0.0.1"
KEYS = {"ingest": "ik", "read": "rk", "admin": "ak"}
API_KEYS = "ingest:ik,read:rk,admin:ak"
LISTENING = re.compile(r"listening on [^ ]*:(\d+)")


class Server:
    """One feedbackd process. stderr lines are kept in self.lines."""

    def __init__(self, binary, workdir, db, env=None, preexec=None):
        self.binary = binary
        self.workdir = workdir
        self.db = db
        self.extra_env = env or {}
        self.preexec = preexec
        self.proc = None
        self.port = None
        self.lines = []
        self._lock = threading.Lock()

    def start(self, timeout=10.0):
        env = dict(os.environ)
        env.update({
            "FEEDBACKD_HOST": HOST, "FEEDBACKD_PORT": "0", "FEEDBACKD_DB": self.db,
            "FEEDBACKD_API_KEYS": API_KEYS, "FEEDBACKD_THREADS": "2",
        })
        env.update(self.extra_env)
        self.lines = []
        self.port = None
        self.proc = subprocess.Popen(self.preexec_argv() + [self.binary], cwd=self.workdir,
                                     env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        found = threading.Event()

        proc = self.proc

        def reader():
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                with self._lock:
                    self.lines.append(line)
                m = LISTENING.search(line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    found.set()
            proc.stderr.close()
            found.set()

        threading.Thread(target=reader, daemon=True).start()
        if not found.wait(timeout) or self.port is None:
            self.kill()
            raise AssertionError("feedbackd did not start:\n" + "\n".join(self.lines))
        return self

    def preexec_argv(self):
        return list(self.preexec or [])

    def log_text(self):
        with self._lock:
            return "\n".join(self.lines)

    def wait_log(self, pattern, timeout=5.0):
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                for line in self.lines:
                    if rx.search(line):
                        return line
            time.sleep(0.05)
        raise AssertionError(f"no log line matching {pattern!r}:\n{self.log_text()}")

    def stop(self, timeout=15.0):
        """SIGTERM and wait; returns the exit code. Sanitizer reports fail."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("feedbackd did not stop on SIGTERM:\n" + self.log_text())
        time.sleep(0.05)  # let the reader thread take the last lines
        self.check_sanitizers()
        return code

    def check_sanitizers(self):
        text = self.log_text()
        if "runtime error:" in text or "Sanitizer" in text:
            raise AssertionError("sanitizer report:\n" + text)

    def kill(self):
        """SIGKILL this process (by its own pid) and reap it."""
        if self.proc is None:
            return
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    def request(self, method, path, body=None, key="ingest", headers=None, raw=None,
                timeout=10.0):
        """Returns (status, headers dict with lowercase names, body bytes)."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            h = {}
            if key:
                h["Authorization"] = "Bearer " + KEYS[key]
            data = raw
            if body is not None:
                data = json.dumps(body).encode()
            if data is not None:
                h["Content-Type"] = "application/json"
            h.update(headers or {})
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def get_json(self, path, key="read"):
        status, _, data = self.request("GET", path, key=key)
        return status, (json.loads(data) if data else None)


def survey(customer="c-1", **fields):
    doc = {"customer_id": customer, "csat": 4}
    doc.update(fields)
    return doc


def new_id():
    return str(uuid.uuid4())


def count_responses(srv, customer):
    """Every stored submission of a customer, following the cursor."""
    ids = []
    cursor = None
    while True:
        path = f"/v1/responses?customer_id={customer}&limit=500"
        if cursor:
            path += "&cursor=" + cursor
        status, doc = srv.get_json(path)
        assert status == 200, (status, doc)
        ids.extend(r["id"] for r in doc["data"])
        cursor = doc["next_cursor"]
        if not cursor:
            return ids
