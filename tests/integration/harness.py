"""Black-box test harness for feedbackd.

Starts the real binary on 127.0.0.1 with port 0 and a fresh temporary
directory (working directory and database), learns the port from the
"listening on HOST:PORT" log line, and speaks HTTP to it: http.client with a
fresh connection per request for ordinary calls, and a raw socket for
hand-crafted requests (chunked bodies, lying Content-Length, Expect).

The server's stderr goes to a file in the temporary directory, never a pipe:
a busy test cannot stall the server's logging. Every way a server ends
(stop, kill, close, an exit before listening, run) fails the test on a
sanitizer report (ASan/UBSan/LSan) in stderr, and stop/kill/close also on an
exit code other than the signal's clean one (0 after SIGTERM or SIGINT).

Meson runs each test script as `python3 test_x.py <path to feedbackd>`;
main() takes the binary path off argv and hands the rest to unittest.
Only the Python standard library is used.
"""

import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid
from collections import namedtuple

HOST = "127.0.0.1"
KEYS = {
    "ingest": "test_ingest_key",
    "read": "test_read_key",
    "admin": "test_admin_key",
}
API_KEYS = ",".join(f"{scope}:{key}" for scope, key in KEYS.items())

START_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0
REQUEST_TIMEOUT = 10.0
LISTENING = re.compile(r"listening on [^ ]*:(\d+)")
# What ASan, LSan and UBSan print; looked for in stderr lines that are not
# the server's own JSON log lines (those may quote client data).
SANITIZER = re.compile(r"Sanitizer|runtime error:")
# Exit code stop() expects after a signal, unless told otherwise.
CLEAN_EXIT = {signal.SIGTERM: 0, signal.SIGINT: 0, signal.SIGKILL: -signal.SIGKILL}
# How many stderr lines a failure message quotes at most (the end).
STDERR_TAIL = 200

# Default for request(key=...): the ingest key for POST, the read key for
# everything else -- the least privilege that should work.
AUTO = "auto"

# Path of the feedbackd binary, set by main() from argv[1].
BINARY = None


class HarnessError(AssertionError):
    """The harness could not do its job; reported as a test failure."""


class ServerExited(HarnessError):
    """The server exited before it said it was listening."""

    def __init__(self, returncode, stderr):
        super().__init__(f"feedbackd exited with code {returncode} before listening; "
                         f"stderr:\n{stderr}")
        self.returncode = returncode
        self.stderr = stderr


class Headers(dict):
    """Response headers: lowercase names (repeated headers joined with ", "),
    looked up in any case."""

    def __getitem__(self, name):
        return super().__getitem__(name.lower())

    def __contains__(self, name):
        return super().__contains__(name.lower())

    def get(self, name, default=None):
        return super().get(name.lower(), default)


class Response(namedtuple("Response", "status headers body")):
    """status: int; headers: Headers; body: parsed JSON for a JSON media type,
    else raw bytes. raw (not part of the tuple): the body bytes as received."""

    def __new__(cls, status, headers, body, raw=b""):
        self = super().__new__(cls, status, headers, body)
        self.raw = raw
        return self


def sanitizer_lines(lines):
    """Those stderr lines that belong to a sanitizer report."""
    found = []
    for text in lines:
        try:
            is_log = isinstance(json.loads(text), dict)
        except ValueError:
            is_log = False
        if not is_log and SANITIZER.search(text):
            found.append(text)
    return found


def tail(lines):
    lines = list(lines)
    if len(lines) <= STDERR_TAIL:
        return "\n".join(lines)
    return "\n".join([f"[{len(lines) - STDERR_TAIL} earlier lines left out]",
                      *lines[-STDERR_TAIL:]])


# ---------------------------------------------------------------- time

def utcnow():
    """Now in UTC, to whole seconds (the service's resolution)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(t):
    """RFC 3339 in UTC with a Z, as the service writes it."""
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text):
    """Parse the service's output format "YYYY-MM-DDTHH:MM:SSZ" (strictly)."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


# ---------------------------------------------------------------- HTTP helpers

def media_type(content_type):
    """'application/json; charset=utf-8' -> 'application/json'."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def authorization(method, key):
    """The Authorization header value for a key name, or None for no header.

    key is 'ingest', 'read', 'admin', AUTO, None, or any other string, which
    is sent verbatim as the whole header value (e.g. 'Basic xyz')."""
    if key is None:
        return None
    if key == AUTO:
        key = "ingest" if method.upper() == "POST" else "read"
    if key in KEYS:
        return "Bearer " + KEYS[key]
    return key


def encode_body(body):
    """dict/list -> compact JSON (UTF-8, not ASCII-escaped); str -> UTF-8; bytes as is."""
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def request_headers(method, body, headers, key):
    """Authorization and a default Content-Type, then the caller's headers.

    A caller header whose value is None removes a default (e.g.
    {'Content-Type': None} sends a body without a Content-Type)."""
    result = {}
    auth = authorization(method, key)
    if auth is not None:
        result["Authorization"] = auth
    if body is not None:
        result["Content-Type"] = "application/json"
    for name, value in (headers or {}).items():
        for existing in [n for n in result if n.lower() == name.lower()]:
            del result[existing]
        if value is not None:
            result[name] = value
    return result


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def decode_body(headers, raw):
    """Parse a JSON body strictly (no NaN/Infinity); other bodies stay bytes."""
    mtype = media_type(headers.get("content-type"))
    if not raw or not (mtype == "application/json" or mtype.endswith("+json")):
        return raw
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except ValueError as exc:
        raise HarnessError(f"{mtype} body is not valid JSON ({exc}): {raw[:300]!r}") from None


def lower_headers(pairs):
    headers = Headers()
    for name, value in pairs:
        name = name.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def build_request(method, path, body=b"", headers=(), key=AUTO):
    """Bytes of one HTTP/1.1 request, exactly as given: no Content-Length or
    Content-Type is added. headers is a sequence of (name, value) pairs."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}"]
    auth = authorization(method, key)
    if auth is not None:
        lines.append(f"Authorization: {auth}")
    lines += [f"{name}: {value}" for name, value in headers]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + encode_body(body or b"")


def chunked(data, size):
    """data in chunked transfer coding with chunks of at most size bytes,
    including the terminating zero-length chunk."""
    out = bytearray()
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return bytes(out) + b"0\r\n\r\n"


class RawConnection:
    """A plain TCP connection that sends bytes as given and parses responses."""

    def __init__(self, port, timeout=REQUEST_TIMEOUT):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        # byte-by-byte writers (slowloris tests) must reach the server as sent
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False

    def send(self, data):
        """Send all of data. False if the server already closed or reset the
        connection (it may have answered early, e.g. 413)."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def sendall(self, data):
        """Send all of data; raises OSError once the server cut the connection."""
        self.sock.sendall(data)

    def is_closed(self, wait=0.0):
        """True when the server has closed the connection (EOF or reset),
        waiting up to wait seconds. A byte that arrives instead is kept for
        read_response."""
        if self.eof:
            return True
        timeout = self.sock.gettimeout()
        self.sock.settimeout(wait if wait > 0 else 0.0)
        try:
            data = self.sock.recv(1)
        except (socket.timeout, BlockingIOError):
            return False
        except OSError:
            return True
        finally:
            self.sock.settimeout(timeout)
        if not data:
            self.eof = True
            return True
        self.buf += data
        return False

    def shutdown_write(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        self.sock.close()

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            raise HarnessError(f"timed out waiting for the server; got so far: {self.buf[:300]!r}")
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _take_until(self, marker):
        while marker not in self.buf:
            if not self._fill():
                return None
        head, self.buf = self.buf.split(marker, 1)
        return head

    def _take(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise HarnessError(f"connection closed after {len(self.buf)} of {n} body bytes")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _take_chunked(self):
        body = b""
        while True:
            size_line = self._take_until(b"\r\n")
            if size_line is None:
                raise HarnessError("connection closed inside a chunked body")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self._take_until(b"\r\n") not in (b"", None):
                    pass  # trailer fields
                return body
            body += self._take(size)
            self._take(2)

    def read_response(self, timeout=None):
        """The next response (a 100 Continue counts as one), or None if the
        server closed the connection without sending a byte. timeout: a new
        socket timeout for this and later reads."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        head = self._take_until(b"\r\n\r\n")
        if head is None:
            if self.buf:
                raise HarnessError(f"incomplete response head: {self.buf[:300]!r}")
            return None
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise HarnessError(f"bad status line: {status_line!r}")
        status = int(parts[1])
        headers = lower_headers(tuple(h.strip() for h in line.split(":", 1))
                                for line in header_lines if ":" in line)
        if 100 <= status < 200 or status in (204, 304):
            raw = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            raw = self._take_chunked()
        elif "content-length" in headers:
            raw = self._take(int(headers["content-length"]))
        else:
            while self._fill():
                pass
            raw, self.buf = self.buf, b""
        return Response(status, headers, decode_body(headers, raw), raw)


def request(port, method, path, body=None, headers=None, key=AUTO, timeout=REQUEST_TIMEOUT,
            params=None):
    """One request to 127.0.0.1:port on a fresh connection -> Response; the
    arguments as for Server.request."""
    data = encode_body(body)
    if params:
        path += ("&" if "?" in path else "?") + urllib.parse.urlencode(params)
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=request_headers(method, data, headers, key))
        return read_response(conn.getresponse())
    finally:
        conn.close()


# ---------------------------------------------------------------- the server

def base_env(tmpdir):
    """The process environment without any outer FEEDBACKD_* variable, plus
    the test defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACKD_")}
    env.update({
        "FEEDBACKD_HOST": HOST,
        "FEEDBACKD_PORT": "0",
        "FEEDBACKD_DB": os.path.join(tmpdir, "data", "feedback.db"),
        "FEEDBACKD_API_KEYS": API_KEYS,
        "FEEDBACKD_LOG_LEVEL": "info",
    })
    return env


class Server:
    """One feedbackd process on a temporary directory that outlives restarts.

    env: extra environment (values made str); a value of None removes the
    variable. Both env and args may be changed between runs (self.extra_env,
    self.args), e.g. to restart on the same database with another setting.
    args: command-line arguments for the binary.
    wrapper: a command prefix, e.g. ["setpriv", "--reuid=65534", ...]."""

    def __init__(self, env=None, args=(), binary=None, wrapper=()):
        self.binary = binary or BINARY
        if not self.binary:
            raise HarnessError("feedbackd binary not set: run the script with its path as argv[1]")
        self.tmpdir = tempfile.mkdtemp(prefix="feedbackd-it-")
        self.extra_env = dict(env or {})
        self.args = list(args)
        self.wrapper = list(wrapper)
        self.proc = None
        self.port = None
        self.stderr_path = os.path.join(self.tmpdir, "stderr.log")
        self._lines = []          # (raw text, parsed dict or None)
        self._offset = 0          # how far stderr.log has been read
        self._lock = threading.Lock()

    # -- lifecycle

    def environment(self):
        env = base_env(self.tmpdir)
        for name, value in self.extra_env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = str(value)
        return env

    @property
    def db_path(self):
        return self.environment()["FEEDBACKD_DB"]

    def write_file(self, relpath, text):
        """Create a file in the temporary directory; returns its absolute path."""
        path = os.path.join(self.tmpdir, relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        """Start and wait for the listening line. Raises ServerExited if the
        process exits first, HarnessError if it says nothing within 10 s or
        exits with a sanitizer report."""
        if self.proc is not None:
            raise HarnessError("server already started")
        with self._lock:
            self._lines = []
            self._offset = 0
        self.port = None
        with open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(
                [*self.wrapper, self.binary, *self.args], cwd=self.tmpdir,
                env=self.environment(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=stderr)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            self._read_stderr()
            if self.port is not None:
                return self
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                self._check_exit(rc, None, "an exit before listening")
                raise ServerExited(rc, self.stderr_text)
            if time.monotonic() > deadline:
                self._kill()
                raise HarnessError(f"no 'listening on' log line within {START_TIMEOUT:.0f} s; "
                                   f"stderr:\n{tail(self.log_lines)}")
            time.sleep(0.02)

    def stop(self, sig=signal.SIGTERM, expect=AUTO):
        """Send sig, wait for the exit code (negative: killed by a signal)
        and return it. Fails on a sanitizer report in stderr, and on an exit
        code other than expect (by default the clean one for sig: 0 after
        SIGTERM or SIGINT, -9 after SIGKILL; None: any). Fails, after
        killing it, if the process is still running after 15 s."""
        if self.proc is None:
            raise HarnessError("server not running")
        if expect == AUTO:
            expect = CLEAN_EXIT.get(sig)
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._kill()
            raise HarnessError(f"still running {STOP_TIMEOUT:.0f} s after "
                               f"{signal.Signals(sig).name}; killed. stderr:\n"
                               f"{tail(self.log_lines)}")
        self.proc = None
        self._check_exit(rc, expect, signal.Signals(sig).name)
        return rc

    def kill(self):
        """SIGKILL (a crash) and reap; fails only on a sanitizer report
        printed before it."""
        return self.stop(signal.SIGKILL)

    def restart(self):
        """Stop (SIGTERM, must exit 0) and start again on the same database."""
        if self.proc is not None:
            self.stop()
        return self.start()

    def run(self, args=None, timeout=START_TIMEOUT):
        """Run the binary to completion (for commands and config errors) with
        this server's environment and directory: CompletedProcess with text
        stdout/stderr. Fails if it is still running after timeout, or on a
        sanitizer report."""
        cmd = [*self.wrapper, self.binary, *(self.args if args is None else args)]
        try:
            result = subprocess.run(cmd, cwd=self.tmpdir, env=self.environment(),
                                    stdin=subprocess.DEVNULL, capture_output=True,
                                    timeout=timeout, text=True, errors="replace")
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode("utf-8", "replace") if exc.stderr else ""
            raise HarnessError(f"{cmd} still running after {timeout:.0f} s (killed); "
                               f"stderr:\n{stderr}") from None
        if sanitizer_lines(result.stderr.splitlines()):
            raise HarnessError(f"sanitizer report from {cmd}; stderr:\n{result.stderr}")
        return result

    def close(self):
        """Stop the process if it runs and remove the temporary directory.
        Fails as stop() does, after removing the directory."""
        try:
            if self.proc is not None:
                self.stop()
        finally:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def _kill(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def _check_exit(self, rc, expect, after):
        lines = self.log_lines
        if sanitizer_lines(lines):
            raise HarnessError(f"sanitizer report in stderr (exit code {rc} after {after}):\n"
                               f"{tail(lines)}")
        if expect is not None and rc != expect:
            raise HarnessError(f"exit code {rc} after {after}, expected {expect}; stderr:\n"
                               f"{tail(lines)}")

    # -- logs

    def _read_stderr(self):
        """Take the complete lines the process has written since the last call."""
        with self._lock:
            try:
                with open(self.stderr_path, "rb") as f:
                    f.seek(self._offset)
                    data = f.read()
            except FileNotFoundError:
                return
            end = data.rfind(b"\n") + 1
            if self.proc is None:
                end = len(data)  # the process is gone: a last unterminated line is complete
            self._offset += end
            for raw in data[:end].splitlines():
                text = raw.decode("utf-8", "replace").rstrip("\r")
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = None
                if not isinstance(parsed, dict):
                    parsed = None
                self._lines.append((text, parsed))
                if parsed is not None and self.port is None:
                    match = LISTENING.search(str(parsed.get("msg", "")))
                    if match:
                        self.port = int(match.group(1))

    @property
    def log_lines(self):
        """Raw stderr lines of the current (or last) run."""
        self._read_stderr()
        with self._lock:
            return [text for text, _ in self._lines]

    @property
    def logs(self):
        """Parsed stderr lines; None for a line that is not a JSON object."""
        self._read_stderr()
        with self._lock:
            return [parsed for _, parsed in self._lines]

    @property
    def stderr_text(self):
        return "\n".join(self.log_lines)

    def wait_for_log(self, predicate, timeout=3.0):
        """The first parsed log line satisfying predicate, waiting up to timeout; None if none."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.logs:
                if line is not None and predicate(line):
                    return line
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)

    def expect_log(self, pattern, timeout=5.0):
        """The first raw stderr line matching the regular expression pattern,
        waiting up to timeout; fails if there is none by then."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_lines:
                if rx.search(line):
                    return line
            if time.monotonic() > deadline:
                raise HarnessError(f"no log line matching {pattern!r} within {timeout} s:\n"
                                   f"{tail(self.log_lines)}")
            time.sleep(0.05)

    # -- HTTP

    def _require_port(self):
        if self.port is None:
            raise HarnessError("server not started")
        return self.port

    def request(self, method, path, body=None, headers=None, key=AUTO, timeout=REQUEST_TIMEOUT,
                params=None):
        """One request on a fresh connection -> Response(status, headers, body).

        body: dict/list (sent as JSON), str or bytes (sent raw), or None; a
        body gets Content-Type: application/json unless headers override it.
        key: 'ingest', 'read', 'admin', AUTO, None (no Authorization) or a raw
        Authorization header value. params: query parameters to URL-encode
        and append to path."""
        return request(self._require_port(), method, path, body, headers, key, timeout, params)

    def connect(self, timeout=REQUEST_TIMEOUT):
        """A kept-alive http.client connection (caller closes it)."""
        return http.client.HTTPConnection(HOST, self._require_port(), timeout=timeout)

    def raw_connection(self, timeout=REQUEST_TIMEOUT):
        return RawConnection(self._require_port(), timeout)

    def raw(self, data, timeout=REQUEST_TIMEOUT, half_close=False):
        """Send hand-made request bytes on a new connection (then shut down
        the writing side if half_close) and read one response (None if the
        server closed without answering)."""
        conn = self.raw_connection(timeout)
        try:
            conn.send(data)
            if half_close:
                conn.shutdown_write()
            return conn.read_response()
        finally:
            conn.close()


class ServerTestCase(unittest.TestCase):
    """A fresh server per test as self.srv, started with server_env added;
    stopped after the test, which fails on an unclean exit (see Server.stop)."""

    server_env = {}

    def setUp(self):
        self.srv = Server(env=self.server_env)
        self.addCleanup(self.srv.close)
        self.srv.start()


def read_response(resp):
    headers = lower_headers(resp.getheaders())
    raw = resp.read()
    return Response(resp.status, headers, decode_body(headers, raw), raw)


# ---------------------------------------------------------------- misc

def parallel(fn, items, workers=8):
    """[fn(item) for item in items], run on a few threads; re-raises the
    first exception."""
    items = list(items)
    results = [None] * len(items)
    errors = []
    lock = threading.Lock()
    pending = iter(enumerate(items))

    def worker():
        while True:
            with lock:
                if errors:
                    return
                try:
                    i, item = next(pending)
                except StopIteration:
                    return
            try:
                results[i] = fn(item)
            except BaseException as exc:  # noqa: BLE001 -- re-raised below
                with lock:
                    errors.append(exc)
                return

    threads = [threading.Thread(target=worker) for _ in range(min(workers, len(items)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def survey(customer="c-1", **fields):
    """A valid survey for customer (csat 4) with fields added or replaced."""
    doc = {"customer_id": customer, "csat": 4}
    doc.update(fields)
    return doc


def new_id():
    return str(uuid.uuid4())


def count_responses(srv, customer):
    """The ids of every stored submission of a customer, following the cursor."""
    ids = []
    cursor = None
    while True:
        path = f"/v1/responses?customer_id={customer}&limit=500"
        if cursor:
            path += "&cursor=" + cursor
        resp = srv.request("GET", path, key="read")
        assert resp.status == 200, resp
        ids.extend(r["id"] for r in resp.body["data"])
        cursor = resp.body["next_cursor"]
        if not cursor:
            return ids


def free_port():
    """A TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def main():
    """Entry point of a test script: argv[1] is the feedbackd binary."""
    global BINARY
    if len(sys.argv) < 2 or not os.path.isfile(sys.argv[1]):
        sys.stderr.write(f"usage: {sys.argv[0]} PATH_TO_FEEDBACKD [unittest options]\n")
        sys.exit(2)
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(module="__main__", argv=sys.argv)
