#!/usr/bin/env python3
"""Operations surface of the real binary: GET /metrics, CORS, overload.

Usage: test_operations.py BUILD/feedbackd

- /metrics: every line is valid text exposition (format 0.0.4), the expected
  families are there, histograms are consistent, and counters move with the
  requests this test sends.
- CORS (SPEC 2, Fetch standard): an allowed origin is echoed, a disallowed one
  gets no CORS headers, `*` answers `*`, a preflight on every route of the
  router is answered without auth, a preflight on an unknown path is 404.
- Overload (SPEC 6): with queue_capacity = 16 and the database write-locked by
  another connection (a disk that stalls), concurrent submissions fill the
  writer queue; the excess is answered 503 with Retry-After, and once the disk
  "recovers" every 201 is stored and no 503 left a row behind.
- Thread names: the service's threads carry the names operations.md lists.
"""
import json
import math
import os
import re
import sqlite3
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ROUTES_C = Path(__file__).resolve().parents[2] / 'src' / 'api' / 'routes.c'
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f'FAIL: {what}', file=sys.stderr)
    return cond


def start_server(**env):
    """A started harness server with env added."""
    return harness.Server(env=env).start()


def call(srv, method, path, body=None, headers=None, key=None):
    """(status, headers, body bytes as received); no Authorization unless
    key names one."""
    r = srv.request(method, path, body, headers, key, timeout=30)
    return r.status, r.headers, r.raw


def router_routes():
    """(method, pattern) of every row of api_routes in src/api/routes.c."""
    text = ROUTES_C.read_text(encoding='utf-8')
    body = text[text.index('api_routes[]'):]
    body = body[:body.index('};')]
    return re.findall(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"', body)


def concrete(pattern):
    return re.sub(r'\{[^}]+\}', 'x-1', pattern)


def survey(customer='c-ops', **extra):
    return {'customer_id': customer, 'channel': 'chat', 'csat': 4, **extra}


# ---- /metrics ------------------------------------------------------------------

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:\\[\\"n]|[^"\\\n])*"'
SAMPLE = re.compile(rf'^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*,?)?\}})? (\S+)(?: (-?\d+))?$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\[\\"n]|[^"\\\n])*)"')
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}


def parse_value(text):
    if text in ('+Inf', 'Inf'):
        return math.inf
    if text == '-Inf':
        return -math.inf
    if text == 'NaN':
        return math.nan
    return float(text)  # raises ValueError on anything else


def parse_exposition(text):
    """{(name, frozenset(labels)): value} and {family: type}; records every
    syntax error as a failure."""
    samples, types, helps = {}, {}, set()
    check(text.endswith('\n'), 'exposition must end with a newline')
    for n, line in enumerate(text.split('\n')[:-1], 1):
        where = f'/metrics line {n}: {line!r}'
        if line.startswith('#'):
            parts = line.split(' ', 3)
            if len(parts) >= 3 and parts[1] == 'HELP':
                check(re.fullmatch(NAME, parts[2]) and parts[2] not in helps, f'{where}: bad or repeated HELP')
                helps.add(parts[2])
            elif len(parts) >= 3 and parts[1] == 'TYPE':
                check(len(parts) == 4 and parts[3] in TYPES and parts[2] not in types,
                      f'{where}: bad or repeated TYPE')
                check(not any(k[0].startswith(parts[2]) for k in samples),
                      f'{where}: TYPE after samples of its family')
                types[parts[2]] = parts[3] if len(parts) == 4 else None
            continue
        m = SAMPLE.match(line)
        if not check(m, f'{where}: not a valid sample line'):
            continue
        name, labels, value = m.group(1), m.group(2) or '', m.group(3)
        try:
            v = parse_value(value)
        except ValueError:
            check(False, f'{where}: bad value')
            continue
        pairs = LABEL_RE.findall(labels)
        check(len({k for k, _ in pairs}) == len(pairs), f'{where}: repeated label')
        family = re.sub(r'_(bucket|sum|count)$', '', name) if re.sub(
            r'_(bucket|sum|count)$', '', name) in types else name
        check(family in types, f'{where}: sample without a TYPE line')
        key = (name, frozenset(pairs))
        check(key not in samples, f'{where}: repeated series')
        samples[key] = v
    return samples, types


def metric(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def get_metrics(srv):
    status, headers, body = call(srv, 'GET', '/metrics')
    check(status == 200, f'GET /metrics -> {status}')
    ctype = headers.get('Content-Type', '')
    check(ctype.startswith('text/plain') and 'version=0.0.4' in ctype,
          f'/metrics content type {ctype!r}')
    return parse_exposition(body.decode('utf-8'))


def check_histograms(samples, types):
    for fam, typ in types.items():
        if typ != 'histogram':
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == fam + '_bucket':
                rest = frozenset(p for p in labels if p[0] != 'le')
                le = dict(labels)['le']
                series.setdefault(rest, []).append((parse_value(le), v))
        check(series, f'histogram {fam} has no buckets')
        for rest, buckets in series.items():
            buckets.sort()
            check(buckets[-1][0] == math.inf, f'{fam}{dict(rest)}: no +Inf bucket')
            counts = [c for _, c in buckets]
            check(counts == sorted(counts), f'{fam}{dict(rest)}: buckets not cumulative')
            count = samples.get((fam + '_count', rest))
            check(count == counts[-1], f'{fam}{dict(rest)}: _count {count} != +Inf {counts[-1]}')
            check((fam + '_sum', rest) in samples, f'{fam}{dict(rest)}: no _sum')


def test_metrics():
    srv = start_server()
    try:
        samples, types = get_metrics(srv)
        expected = {
            'feedbackd_http_requests_total': 'counter',
            'feedbackd_http_request_duration_seconds': 'histogram',
            'feedbackd_submissions_stored_total': 'counter',
            'feedbackd_writer_queue_depth': 'gauge',
            'feedbackd_rescore_queue_depth': 'gauge',
            'feedbackd_rescore_lag_seconds': 'gauge',
            'feedbackd_database_size_bytes': 'gauge',
            'process_resident_memory_bytes': 'gauge',
            'process_cpu_seconds_total': 'counter',
            'process_open_fds': 'gauge',
            'process_start_time_seconds': 'gauge',
        }
        for fam, typ in expected.items():
            check(types.get(fam) == typ, f'family {fam} missing or not a {typ} (got {types.get(fam)})')
        check_histograms(samples, types)
        start = metric(samples, 'process_start_time_seconds')
        check(time.time() - 120 < start <= time.time() + 1, f'process_start_time_seconds {start}')
        check(metric(samples, 'process_resident_memory_bytes') > 1e6, 'resident memory under 1 MB?')
        check(metric(samples, 'process_open_fds') >= 3, 'open fds')
        size0 = metric(samples, 'feedbackd_database_size_bytes')
        check(size0 >= 4096, f'database size {size0}')
        before = samples

        for i in range(3):
            status, _, body = call(srv, 'POST', '/v1/surveys', survey(f'c-m{i}'), key='ingest')
            check(status == 201, f'POST survey -> {status} {body[:200]}')
        status, _, _ = call(srv, 'POST', '/v1/surveys', {'customer_id': 'c-bad', 'csat': 9}, key='ingest')
        check(status == 422, f'invalid survey -> {status}')
        status, _, _ = call(srv, 'GET', '/no/such/path')
        check(status == 404, f'unknown path -> {status}')

        route = {'route': '/v1/surveys'}
        want = [
            (('feedbackd_http_requests_total', dict(route, status='201')), 3),
            (('feedbackd_http_requests_total', dict(route, status='422')), 1),
            (('feedbackd_http_requests_total', {'route': 'unmatched', 'status': '404'}), 1),
            (('feedbackd_http_requests_total', {'route': '/metrics', 'status': '200'}), 1),
            (('feedbackd_http_request_duration_seconds_count', route), 4),
            (('feedbackd_submissions_stored_total', {}), 3),
        ]
        # A request is counted when it completes, just after its reply left:
        # give the server a moment rather than race it.
        deadline = time.monotonic() + 5
        while True:
            after, types = get_metrics(srv)
            moved = [(k, metric(after, k[0], **k[1]) - metric(before, k[0], **k[1]), d) for k, d in want]
            if all(got == d for _, got, d in moved) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for (name, labels), got, d in moved:
            check(got == d, f'{name}{labels} moved by {got}, expected {d}')
        check_histograms(after, types)
        check(metric(after, 'feedbackd_database_size_bytes') >= size0, 'database size shrank')
        check(metric(after, 'feedbackd_rescore_lag_seconds') >= 0, 'negative lag')
        check(metric(after, 'feedbackd_writer_queue_depth') == 0, 'writer queue not empty when idle')
        # The scoring worker may already have cleared the marks: at most the
        # three customers just submitted are waiting.
        check(0 <= metric(after, 'feedbackd_rescore_queue_depth') <= 3, 'rescore queue depth')
        status, _, _ = call(srv, 'GET', '/metrics', key=None)
        check(status == 200, '/metrics needs no auth')
    finally:
        srv.close()


# ---- CORS ------------------------------------------------------------------------

ALLOWED = 'https://app.example.com'
OTHER_ALLOWED = 'http://localhost:5173'


def cors_headers(headers):
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith('access-control-')}


def test_cors_list():
    srv = start_server(FEEDBACKD_CORS_ORIGINS=f'{ALLOWED},{OTHER_ALLOWED}')
    try:
        for origin in (ALLOWED, OTHER_ALLOWED):
            status, h, _ = call(srv, 'GET', '/healthz', headers={'Origin': origin})
            check(status == 200 and h.get('Access-Control-Allow-Origin') == origin,
                  f'allowed origin {origin}: ACAO {h.get("Access-Control-Allow-Origin")!r}')
            check('origin' in h.get('Vary', '').lower(), f'allowed origin: Vary {h.get("Vary")!r}')
            exposed = h.get('Access-Control-Expose-Headers', '').lower()
            for name in ('location', 'retry-after', 'x-request-id'):
                check(name in exposed, f'{name} not exposed: {exposed!r}')

        # A browser app must be able to read the error too.
        status, h, _ = call(srv, 'GET', '/v1/responses', headers={'Origin': ALLOWED})
        check(status == 401 and h.get('Access-Control-Allow-Origin') == ALLOWED,
              f'401 to an allowed origin carries ACAO: {status} {h.get("Access-Control-Allow-Origin")!r}')
        status, h, _ = call(srv, 'POST', '/v1/surveys', survey(), key='ingest', headers={'Origin': ALLOWED})
        check(status == 201 and h.get('Access-Control-Allow-Origin') == ALLOWED, 'POST from an allowed origin')

        for origin in ('https://evil.example.com', 'https://app.example.com.evil.net', 'null'):
            status, h, _ = call(srv, 'GET', '/healthz', headers={'Origin': origin})
            check(status == 200 and not cors_headers(h),
                  f'disallowed origin {origin} got CORS headers {cors_headers(h)}')
            check('origin' in h.get('Vary', '').lower(), 'disallowed origin: reply still says Vary: Origin')
        status, h, _ = call(srv, 'GET', '/healthz')
        check(not cors_headers(h), 'no Origin: no CORS headers')

        routes = router_routes()
        check(len(routes) >= 8, f'parsed only {len(routes)} routes from {ROUTES_C}')
        for method, pattern in routes:
            path = concrete(pattern)
            status, h, body = call(srv, 'OPTIONS', path, headers={
                'Origin': ALLOWED, 'Access-Control-Request-Method': method,
                'Access-Control-Request-Headers': 'authorization, content-type, idempotency-key'})
            where = f'preflight {method} {pattern}'
            check(status in (200, 204), f'{where} -> {status}')
            check(status != 204 or ('Content-Type' not in h and not body),
                  f'{where}: a 204 carries no body and no Content-Type')
            check(h.get('Access-Control-Allow-Origin') == ALLOWED, f'{where}: ACAO')
            methods = [m.strip() for m in h.get('Access-Control-Allow-Methods', '').split(',')]
            check(method in methods, f'{where}: Access-Control-Allow-Methods {methods}')
            allow = [m.strip() for m in h.get('Allow', '').split(',')]
            check(method in allow, f'{where}: Allow {allow}')
            allowed_headers = h.get('Access-Control-Allow-Headers', '').lower()
            for name in ('authorization', 'content-type', 'idempotency-key'):
                check(name in allowed_headers, f'{where}: {name} not in Access-Control-Allow-Headers')
            check(h.get('Access-Control-Max-Age', '').isdigit(), f'{where}: Access-Control-Max-Age')
            # disallowed origin: answered, but nothing that lets a browser go on
            status, h, _ = call(srv, 'OPTIONS', path, headers={
                'Origin': 'https://evil.example.com', 'Access-Control-Request-Method': method})
            check(status in (200, 204) and not cors_headers(h),
                  f'{where} from a disallowed origin: {status} {cors_headers(h)}')

        status, h, body = call(srv, 'OPTIONS', '/v1/no-such-thing', headers={
            'Origin': ALLOWED, 'Access-Control-Request-Method': 'GET'})
        check(status == 404, f'preflight on an unknown path -> {status}')
        check(h.get('Content-Type', '').startswith('application/problem+json'), 'preflight 404 is problem+json')
    finally:
        srv.close()


def test_cors_any():
    srv = start_server(FEEDBACKD_CORS_ORIGINS='*')
    try:
        for origin in ('https://anything.example', 'http://localhost:3000'):
            status, h, _ = call(srv, 'GET', '/healthz', headers={'Origin': origin})
            check(h.get('Access-Control-Allow-Origin') == '*', f'"*": ACAO for {origin} is {h.get("Access-Control-Allow-Origin")!r}')
        status, h, _ = call(srv, 'GET', '/healthz')
        check(h.get('Access-Control-Allow-Origin') == '*', '"*": ACAO without Origin')
        status, h, _ = call(srv, 'OPTIONS', '/v1/surveys', headers={
            'Origin': 'https://anything.example', 'Access-Control-Request-Method': 'POST',
            'Access-Control-Request-Headers': 'authorization, content-type'})
        check(status in (200, 204) and h.get('Access-Control-Allow-Origin') == '*'
              and 'POST' in h.get('Access-Control-Allow-Methods', ''), f'"*": preflight {status} {cors_headers(h)}')
    finally:
        srv.close()


def test_cors_off():
    srv = start_server()
    try:
        status, h, _ = call(srv, 'OPTIONS', '/v1/surveys', headers={
            'Origin': ALLOWED, 'Access-Control-Request-Method': 'POST'})
        check(status in (200, 204) and not cors_headers(h), f'no cors_origins: preflight {status} {cors_headers(h)}')
        check('POST' in h.get('Allow', ''), 'OPTIONS still lists Allow')
    finally:
        srv.close()


# ---- overload --------------------------------------------------------------------

def test_overload():
    capacity = 16
    srv = start_server(FEEDBACKD_QUEUE_CAPACITY=str(capacity))
    lock = None
    try:
        status, _, _ = call(srv, 'POST', '/v1/surveys', survey('c-warm'), key='ingest')
        check(status == 201, 'warm-up submission')
        # Another connection takes the write lock: the writer's BEGIN IMMEDIATE
        # waits (busy_timeout 5 s), as it would on a disk that stalls.
        lock = sqlite3.connect(srv.db_path, timeout=5, isolation_level=None)
        lock.execute('BEGIN IMMEDIATE')

        n = 48
        ids = [str(uuid.uuid4()) for _ in range(n)]
        results = [None] * n

        def post(i):
            try:
                results[i] = call(srv, 'POST', '/v1/surveys', survey(f'c-o{i}', id=ids[i]), key='ingest')
            except OSError as e:
                results[i] = (f'error {e}', {}, b'')

        threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        # The overflow is answered at once; the accepted ones wait for the lock.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and sum(r is not None for r in results) < n - 2 * capacity:
            time.sleep(0.02)
        _, _, mbody = call(srv, 'GET', '/metrics')
        depth = re.search(r'^feedbackd_writer_queue_depth (\S+)$', mbody.decode(), re.M)
        check(depth and float(depth.group(1)) >= capacity - 1,
              f'writer queue depth while stalled: {depth.group(1) if depth else None}')
        lock.execute('COMMIT')
        lock.close()
        lock = None
        for t in threads:
            t.join(30)

        statuses = [r[0] for r in results]
        created = [i for i, r in enumerate(results) if r[0] == 201]
        refused = [i for i, r in enumerate(results) if r[0] == 503]
        print(f'overload: {len(created)} stored, {len(refused)} refused with 503 of {n}')
        check(len(created) + len(refused) == n, f'only 201 or 503 expected, got {sorted(set(map(str, statuses)))}')
        check(len(refused) >= 1, 'the queue never filled: no 503')
        check(len(created) >= capacity, f'fewer than {capacity} accepted')
        for i in refused:
            status, h, body = results[i]
            ra = h.get('Retry-After', '')
            check(ra.isdigit() and int(ra) >= 1, f'503 without a valid Retry-After: {ra!r}')
            check(h.get('Content-Type', '').startswith('application/problem+json'), '503 is problem+json')
        # Nothing 2xx is lost, nothing refused is stored.
        for i in created:
            status, _, body = call(srv, 'GET', f'/v1/responses/{ids[i]}', key='read')
            check(status == 200 and json.loads(body)['customer_id'] == f'c-o{i}', f'201 {ids[i]} not found: {status}')
        for i in refused:
            status, _, _ = call(srv, 'GET', f'/v1/responses/{ids[i]}', key='read')
            check(status == 404, f'503 {ids[i]} was stored anyway: {status}')
        # A refused client retries and succeeds now that the queue drained.
        if refused:
            i = refused[0]
            status, _, _ = call(srv, 'POST', '/v1/surveys', survey(f'c-o{i}', id=ids[i]), key='ingest')
            check(status == 201, f'retry after 503 -> {status}')
    finally:
        if lock is not None:
            lock.close()
        srv.close()


def test_thread_names():
    """Every thread says what it is (operations.md: top -H, perf)."""
    srv = start_server(FEEDBACKD_THREADS='2')
    try:
        tasks = Path(f'/proc/{srv.proc.pid}/task')
        names = sorted(Path(t, 'comm').read_text().strip() for t in tasks.iterdir())
        expected = {'fbd-writer', 'fbd-scoring', 'fbd-checkpoint', 'fbd-syncer', 'fbd-upkeep',
                    'fbd-reaper', 'fbd-linger', 'MHD-worker'}
        check(expected <= set(names), f'thread names {names}, expected {sorted(expected)}')
        check(names.count('MHD-worker') == 2, f'two HTTP threads, got {names}')
    finally:
        srv.close()


def main():
    for test in (test_metrics, test_cors_list, test_cors_any, test_cors_off, test_overload,
                 test_thread_names):
        before = len(FAILURES)
        test()
        if len(FAILURES) > before:
            print(f'{test.__name__}: {len(FAILURES) - before} check(s) FAILED', file=sys.stderr)
        else:
            print(f'{test.__name__}: ok')
    if FAILURES:
        print(f'{len(FAILURES)} check(s) failed', file=sys.stderr)
        sys.exit(1)
    print('all operations checks passed')


if __name__ == '__main__':
    harness.BINARY = os.path.abspath(sys.argv[1])
    main()
