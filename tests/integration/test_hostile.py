"""Hostile input over real HTTP (raw sockets).

Starts the real binary with short timeouts (request 2 s, idle 10 s) and
throws at it what a public-facing API receives: truncated, oversized and
lying bodies, chunked floods, deep nesting, bad UTF-8, NUL bytes, odd
numbers, duplicate and case-variant keys, trailing garbage, SQL
metacharacters, huge headers, hundreds of idle connections and slowloris
writers. Each must get the right 4xx (or a closed connection where no answer
is possible), nothing rejected may be stored (the list endpoint is checked
at the end), and a good client, running in the background the whole time,
must be served promptly throughout. A second instance checks the per-key
rate limit.

Run by meson as `python3 test_hostile.py <path to feedbackd>`; standard
library only.
"""

import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import KEYS  # noqa: E402

# The idle timeout is set well above the request timeout so that every cut
# seen here is the request deadline's doing, not MHD's inactivity timer.
IDLE_TIMEOUT = 10
REQUEST_TIMEOUT = 2
MAX_BODY = 4096
INGEST_AUTH = b"Authorization: Bearer " + KEYS["ingest"].encode() + b"\r\n"

GOOD_SURVEY = b'{"customer_id":"good","channel":"web","csat":4}'


def raw(srv, data, timeout=5.0, half_close=False):
    """Send data on a fresh connection and read one response (None when the
    server closed without answering)."""
    return srv.raw(data, timeout, half_close)


def post_bytes(path, body, key="ingest", ctype="application/json", extra=b""):
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
            KEYS[key].encode() + b"\r\nContent-Type: " + ctype.encode() + b"\r\nContent-Length: " +
            str(len(body)).encode() + b"\r\n" + extra + b"Connection: close\r\n\r\n" + body)


def get_bytes(path, key="read"):
    return (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
            KEYS[key].encode() + b"\r\nConnection: close\r\n\r\n")


class GoodClient(threading.Thread):
    """Submits and reads in a loop; records every failure and the slowest call."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv = srv
        self.stop = threading.Event()
        self.stored = 0
        self.calls = 0
        self.failures = []
        self.slowest = 0.0

    def run(self):
        while not self.stop.is_set():
            for req, want in ((post_bytes("/v1/surveys", GOOD_SURVEY), 201),
                              (get_bytes("/v1/responses?limit=1"), 200)):
                t0 = time.monotonic()
                try:
                    r = raw(self.srv, req, timeout=5)
                except (OSError, harness.HarnessError) as e:
                    r = None
                    self.failures.append(repr(e))
                took = time.monotonic() - t0
                self.slowest = max(self.slowest, took)
                self.calls += 1
                if r is None or r[0] != want:
                    self.failures.append((want, r and r[0]))
                elif want == 201:
                    self.stored += 1
            self.stop.wait(0.05)


class HostileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(env=dict(FEEDBACKD_IDLE_TIMEOUT=IDLE_TIMEOUT,
                                          FEEDBACKD_REQUEST_TIMEOUT=REQUEST_TIMEOUT,
                                          FEEDBACKD_MAX_BODY=MAX_BODY))
        cls.addClassCleanup(cls.srv.close)
        cls.srv.start()
        cls.expected_stored = 0
        cls.good = GoodClient(cls.srv)
        cls.good.start()

    @classmethod
    def tearDownClass(cls):
        cls.good.stop.set()
        cls.good.join(10)

    def post(self, body, path="/v1/surveys", **kw):
        return raw(self.srv, post_bytes(path, body, **kw))

    def assert_status(self, r, *statuses):
        self.assertIsNotNone(r, "connection closed without a response")
        self.assertIn(r[0], statuses, r)
        if r[0] >= 400:
            self.assertEqual(r[1].get("content-type"), "application/problem+json", r)
            self.assertEqual(r.body["status"], r[0])

    def assert_4xx_or_closed(self, r):
        if r is not None:
            self.assertTrue(400 <= r[0] < 500, r)

    # ------------------------------------------------------------ bodies

    def test_truncated_body_then_close(self):
        body = GOOD_SURVEY
        req = post_bytes("/v1/surveys", body).replace(
            b"Content-Length: %d" % len(body), b"Content-Length: %d" % (len(body) + 50))
        self.assert_4xx_or_closed(raw(self.srv, req, half_close=True))

    def test_truncated_body_kept_open_is_cut(self):
        body = GOOD_SURVEY
        req = post_bytes("/v1/surveys", body).replace(
            b"Content-Length: %d" % len(body), b"Content-Length: %d" % (len(body) + 50))
        t0 = time.monotonic()
        r = raw(self.srv, req, timeout=REQUEST_TIMEOUT + 5)
        self.assert_4xx_or_closed(r)
        self.assertLess(time.monotonic() - t0, REQUEST_TIMEOUT + 3)

    def test_oversized_content_length_is_413_before_the_body(self):
        head = (b"POST /v1/surveys HTTP/1.1\r\nHost: t\r\n" + INGEST_AUTH +
                b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n")
        self.assert_status(raw(self.srv, head), 413)

    def test_oversized_body_sent_whole(self):
        body = b'{"customer_id":"c","csat":3,"comment":"' + b"x" * (MAX_BODY * 2) + b'"}'
        self.assert_4xx_or_closed(self.post(body))

    def test_lying_content_length_shorter(self):
        body = GOOD_SURVEY
        req = post_bytes("/v1/surveys", body).replace(
            b"Content-Length: %d" % len(body), b"Content-Length: 5")
        self.assert_status(raw(self.srv, req), 400)

    def test_bad_content_length_values(self):
        for cl in (b"abc", b"-1", b"1, 2", b"99999999999999999999999"):
            with self.subTest(cl=cl):
                req = post_bytes("/v1/surveys", GOOD_SURVEY).replace(
                    b"Content-Length: %d" % len(GOOD_SURVEY), b"Content-Length: " + cl)
                self.assert_4xx_or_closed(raw(self.srv, req))

    CHUNKED_HEAD = (b"POST /v1/surveys HTTP/1.1\r\nHost: t\r\n" + INGEST_AUTH +
                    b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")

    def test_chunked_body_over_the_limit_is_413(self):
        chunks = b"".join(b"%x\r\n%s\r\n" % (1024, b" " * 1024) for _ in range(8))
        r = raw(self.srv, self.CHUNKED_HEAD + chunks + b"0\r\n\r\n")
        self.assert_status(r, 413)

    def test_endless_chunked_body_is_cut(self):
        # Past what the server is willing to read and drop (max_batch_body,
        # here 16 x 4 KiB) it closes at once, long before the body deadline.
        s = self.srv.raw_connection(5.0)
        chunk = b"%x\r\n%s\r\n" % (16384, b" " * 16384)
        try:
            s.sendall(self.CHUNKED_HEAD)
            t0 = time.monotonic()
            try:
                for _ in range(16):
                    s.sendall(chunk)
            except OSError:
                pass
            self.assertTrue(s.is_closed(1.5))
            self.assertLess(time.monotonic() - t0, REQUEST_TIMEOUT)
        finally:
            s.close()

    def test_deep_nesting(self):
        self.assert_status(self.post(b"[" * 2000 + b"]" * 2000), 400)
        nested = b'{"customer_id":"c","csat":3,"metadata":' + b'{"a":' * 40 + b'"x"' + \
            b"}" * 40 + b"}"
        self.assert_status(self.post(nested), 400)

    def test_invalid_utf8(self):
        for bad in (b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xc0\xaf"):
            with self.subTest(bad=bad):
                r = self.post(b'{"customer_id":"a' + bad + b'","csat":3}')
                self.assert_status(r, 400)

    def test_nul_bytes(self):
        self.assert_status(self.post(b'{"customer_id":"a\x00b","csat":3}'), 400)
        self.assert_status(self.post(b'{"customer_id":"a\\u0000b","csat":3}'), 422)
        self.assert_status(self.post(b'{"customer_id":"c","csat":3}\x00'), 400)

    def test_numbers(self):
        # out of a double's range: malformed (400) or invalid (422), never stored
        for n in (b"1e999", b"-1e999", b"99999999999999999999999999"):
            with self.subTest(n=n):
                self.assert_status(self.post(b'{"customer_id":"c","csat":' + n + b"}"), 400, 422)
        for n in (b"4.5", b"3.0000001", b"1e2", b"-0.5", b"true", b'"4"'):
            with self.subTest(n=n):
                self.assert_status(self.post(b'{"customer_id":"c","csat":' + n + b"}"), 422)
        for n in (b"01", b"1.", b".5", b"+1", b"NaN", b"Infinity", b"0x10"):
            with self.subTest(n=n):
                self.assert_status(self.post(b'{"customer_id":"c","csat":' + n + b"}"), 400)

    def test_duplicate_and_case_variant_keys(self):
        self.assert_status(self.post(b'{"customer_id":"a","customer_id":"b","csat":3}'), 400)
        self.assert_status(self.post(b'{"customer_id":"a","csat":3,"csat":4}'), 400)
        r = self.post(b'{"customer_id":"a","CSAT":3}')
        self.assert_status(r, 422)
        self.assertIn("CSAT", [e["field"] for e in r.body["errors"]])
        self.assert_status(self.post(b'{"Customer_Id":"a","csat":3}'), 422)

    def test_trailing_garbage(self):
        for tail in (b" x", b"{}", b"]", b'{"a":1}', b"\xff"):
            with self.subTest(tail=tail):
                self.assert_status(self.post(b'{"customer_id":"c","csat":3}' + tail), 400)

    def test_wrong_content_type(self):
        self.assert_status(self.post(GOOD_SURVEY, ctype="text/plain"), 415)
        self.assert_status(self.post(GOOD_SURVEY, ctype="application/json; charset=latin1"), 415)

    def test_sql_metacharacters_are_stored_byte_exact(self):
        cid = "x'); DROP TABLE submissions;--"
        comment = "\" OR 1=1 -- ; DELETE FROM customers; /* % _ \\ ` \u00e9 \U0001f600"
        body = json.dumps({"customer_id": cid, "comment": comment, "csat": 2,
                           "tags": ["' OR ''='"], "metadata": {"k'\"": "v;--"}}).encode()
        r = self.post(body)
        self.assert_status(r, 201)
        HostileTest.expected_stored += 1
        rid = r.body["id"]
        got = raw(self.srv, get_bytes("/v1/responses/" + rid))
        self.assert_status(got, 200)
        rec = got.body
        self.assertEqual(rec["customer_id"], cid)
        self.assertEqual(rec["comment"], comment)
        self.assertEqual(rec["tags"], ["' OR ''='"])
        self.assertEqual(rec["metadata"], {"k'\"": "v;--"})
        # and a filter with the same characters finds exactly it
        q = "/v1/responses?customer_id=x%27%29%3B%20DROP%20TABLE%20submissions%3B--"
        got = raw(self.srv, get_bytes(q))
        self.assert_status(got, 200)
        self.assertEqual([d["id"] for d in got.body["data"]], [rid])

    def test_headers_too_large(self):
        big = b"X-Filler: " + b"a" * 100000 + b"\r\n"
        req = post_bytes("/v1/surveys", GOOD_SURVEY, extra=big)
        self.assert_4xx_or_closed(raw(self.srv, req))
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(5000))
        self.assert_4xx_or_closed(raw(self.srv, post_bytes("/v1/surveys", GOOD_SURVEY,
                                                            extra=many)))
        long_path = b"GET /v1/responses?" + b"a" * 100000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"
        self.assert_4xx_or_closed(raw(self.srv, long_path))

    def test_garbage_request_lines(self):
        for junk in (b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n",
                     b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):
            with self.subTest(junk=junk):
                self.assert_4xx_or_closed(raw(self.srv, junk, timeout=REQUEST_TIMEOUT + 3))
        # an HTTP version MHD does not speak is answered 505, and nothing else
        r = raw(self.srv, b"POST /v1/surveys HTTP/9.9\r\nHost: t\r\n\r\n")
        self.assertTrue(r is None or r[0] in (400, 505), r)

    # ------------------------------------------------------- connections

    def test_hundreds_of_idle_connections(self):
        idle = [self.srv.raw_connection(5.0) for _ in range(300)]
        try:
            time.sleep(0.5)
            # served while they sit there
            self.assert_status(raw(self.srv, get_bytes("/v1/responses?limit=1")), 200)
            self.assert_status(self.post(GOOD_SURVEY), 201)
            HostileTest.expected_stored += 1
            # and cut once they missed the deadline for a request
            time.sleep(REQUEST_TIMEOUT + 1.5)
            closed = sum(s.is_closed(0.2 if i == 0 else 0) for i, s in enumerate(idle))
            self.assertEqual(closed, len(idle))
        finally:
            for s in idle:
                s.close()

    def test_slowloris_headers_are_cut_despite_trickling_bytes(self):
        head = (b"POST /v1/surveys HTTP/1.1\r\nHost: t\r\n" + INGEST_AUTH +
                b"Content-Type: application/json\r\nX-Slow: ")
        slow = [self.srv.raw_connection(5.0) for _ in range(50)]
        try:
            for s in slow:
                s.sendall(head)
            t0 = time.monotonic()
            alive = list(slow)
            # a byte every 0.5 s would keep MHD's inactivity timer from
            # ever firing, however short it were
            while alive and time.monotonic() - t0 < REQUEST_TIMEOUT + 5:
                still = []
                for s in alive:
                    try:
                        s.sendall(b"a")
                        if not s.is_closed():
                            still.append(s)
                    except OSError:
                        pass
                alive = still
                if time.monotonic() - t0 < REQUEST_TIMEOUT - 0.5:
                    self.assert_status(raw(self.srv, get_bytes("/v1/responses?limit=1")), 200)
                time.sleep(0.5)
            took = time.monotonic() - t0
            self.assertEqual(alive, [])
            self.assertLess(took, REQUEST_TIMEOUT + 1.5)
        finally:
            for s in slow:
                s.close()

    SLOW_BODY = b'{"customer_id":"slow","csat":3}'
    SLOW_HEAD = (b"POST /v1/surveys HTTP/1.1\r\nHost: t\r\n" + INGEST_AUTH +
                 b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(SLOW_BODY))

    def test_body_completed_too_late_is_408(self):
        s = self.srv.raw_connection(5.0)
        try:
            s.sendall(self.SLOW_HEAD + self.SLOW_BODY[:10])
            time.sleep(REQUEST_TIMEOUT + 0.3)
            s.sendall(self.SLOW_BODY[10:])
            self.assert_status(s.read_response(5), 408)
        finally:
            s.close()

    def test_slowloris_body_is_cut(self):
        s = self.srv.raw_connection(5.0)
        try:
            s.sendall(self.SLOW_HEAD)
            t0 = time.monotonic()
            closed = False
            for b in self.SLOW_BODY[:-1]:
                try:
                    s.sendall(bytes([b]))
                except OSError:
                    closed = True
                    break
                if s.is_closed(0.5):
                    closed = True
                    break
            self.assertTrue(closed)
            # the body deadline is the request timeout plus a second
            self.assertLess(time.monotonic() - t0, REQUEST_TIMEOUT + 2)
        finally:
            s.close()

    def test_thousand_concurrent_connections_are_served(self):
        socks = []
        try:
            for _ in range(1000):
                socks.append(self.srv.raw_connection(10))
            req = (b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            for s in socks:
                s.sendall(req)
            ok = sum(1 for s in socks if (s.read_response(10) or (0,))[0] == 200)
            self.assertEqual(ok, 1000)
        finally:
            for s in socks:
                s.close()

    # --------------------------------------------------------- afterwards

    def test_zz_nothing_rejected_was_stored_and_good_client_was_served(self):
        self.good.stop.set()
        self.good.join(10)
        print("good client: %d calls, %d stored, slowest %.3f s" %
              (self.good.calls, self.good.stored, self.good.slowest), file=sys.stderr)
        self.assertEqual(self.good.failures, [])
        self.assertGreater(self.good.calls, 20)
        self.assertLess(self.good.slowest, 1.0)
        total, cursor = 0, None
        customers = set()
        while True:
            path = "/v1/responses?limit=500" + ("&cursor=" + cursor if cursor else "")
            r = raw(self.srv, get_bytes(path))
            self.assert_status(r, 200)
            page = r.body
            total += len(page["data"])
            customers.update(d["customer_id"] for d in page["data"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(total, self.good.stored + HostileTest.expected_stored)
        self.assertEqual(customers, {"good", "x'); DROP TABLE submissions;--"})


class KeepAliveSlowlorisTest(harness.ServerTestCase):
    """After a reply, a kept-alive connection has idle_timeout + request_timeout
    to deliver the next request's headers, however it trickles them."""

    server_env = dict(FEEDBACKD_IDLE_TIMEOUT=1, FEEDBACKD_REQUEST_TIMEOUT=2)

    def test_second_request_trickled_is_cut(self):
        s = self.srv.raw_connection(5.0)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            r = s.read_response()
            self.assertEqual(r[0], 200, r)
            self.assertNotEqual(r[1].get("connection"), "close")
            t0 = time.monotonic()
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            closed = False
            while not closed and time.monotonic() - t0 < 8:
                try:
                    s.sendall(b"a")
                except OSError:
                    closed = True
                closed = closed or s.is_closed(0.4)
            took = time.monotonic() - t0
            self.assertTrue(closed)
            # idle 1 s + request 2 s, plus the reaper's tick and our polling
            self.assertGreater(took, 2.5)
            self.assertLess(took, 4.5)
        finally:
            s.close()


class RateLimitTest(harness.ServerTestCase):
    server_env = dict(FEEDBACKD_RATE_LIMIT=1, FEEDBACKD_RATE_BURST=3)

    def test_burst_then_429_with_retry_after_per_key(self):
        for _ in range(3):
            r = raw(self.srv, post_bytes("/v1/surveys", GOOD_SURVEY))
            self.assertEqual(r[0], 201, r)
        r = raw(self.srv, post_bytes("/v1/surveys", b'{"customer_id":"limited","csat":3}'))
        self.assertEqual(r[0], 429, r)
        self.assertEqual(r[1]["content-type"], "application/problem+json")
        self.assertEqual(r.body["status"], 429)
        self.assertRegex(r[1]["retry-after"], r"^[1-9][0-9]*$")
        self.assertLessEqual(int(r[1]["retry-after"]), 1)
        # another key has its own bucket; health is never limited
        r = raw(self.srv, get_bytes("/v1/responses?limit=10", key="read"))
        self.assertEqual(r[0], 200, r)
        self.assertEqual(len(r.body["data"]), 3)
        for _ in range(10):
            self.assertEqual(raw(self.srv, b"GET /healthz HTTP/1.1\r\nHost: t\r\n"
                                       b"Connection: close\r\n\r\n")[0], 200)
        # a token comes back after a second
        time.sleep(1.1)
        self.assertEqual(raw(self.srv, post_bytes("/v1/surveys", GOOD_SURVEY))[0], 201)


if __name__ == "__main__":
    harness.main()
