#!/usr/bin/env python3
"""feedbackd benchmark: the service against its ceilings, in one run, one table.

Started by bench/run.sh (which installs wrk and builds). Runs on 127.0.0.1:
  - the ceiling server (bench/ceiling.c: libmicrohttpd alone, same thread pool),
  - feedbackd on an empty database, then on a copy of a database holding
    1 000 000 stored submissions over 100 000 customers (built once by
    bench/load_db through the real writer and cached under bench/out/),
  - bench/raw_insert (plain SQLite with the project's schema, pragmas and
    500-row transactions), the ceiling for batch ingest,
with load from wrk and the scripts in bench/wrk/. For each scenario it reads
utime+stime and VmHWM of the server process from /proc, and prints one table.
A benchmark is not a test: nothing here fails on a timing; it fails only when
something does not run.
"""
import argparse
import datetime
import hashlib
import http.client
import json
import os
import pathlib
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
WRK_DIR = ROOT / "bench" / "wrk"
KEYS = {"ingest": "bench_ingest_key", "read": "bench_read_key"}
CLK_TCK = os.sysconf("SC_CLK_TCK")
MISSING = "n/a (endpoint missing)"


class Profile:
    """Sizes of one run: the full benchmark or the CI smoke run."""

    def __init__(self, smoke):
        self.smoke = smoke
        self.seconds = 1 if smoke else 10
        self.conns = 4 if smoke else 64
        self.batch_conns = 2 if smoke else 8
        self.dash_conns = 4 if smoke else 16
        self.batch_items = 20 if smoke else 500
        self.rows = 2000 if smoke else 1_000_000
        self.customers = 200 if smoke else 100_000
        self.pool = 64 if smoke else 1024


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---- processes -------------------------------------------------------------

def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def proc_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def reset_hwm(pid):
    """Reset the peak RSS so each scenario reports its own (Linux >= 4.0)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def wait_for_line(path, pattern, proc, timeout=30):
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}; see {path}")
        with open(path, errors="replace") as f:
            for line in f:
                m = rx.search(line)
                if m:
                    return m
        time.sleep(0.05)
    raise RuntimeError(f"{proc.args[0]} did not start; see {path}")


class Server:
    """A server process started on a free port, its output in a log file."""

    def __init__(self, name, argv, env, logdir, pattern):
        self.name = name
        self.logpath = logdir / f"{name}.log"
        self.logfile = open(self.logpath, "w")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.logfile,
                                     stderr=subprocess.STDOUT, cwd=logdir)
        m = wait_for_line(self.logpath, pattern, self.proc)
        self.port = int(m.group(1))
        self.pid = self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logfile.close()
        if self.proc.returncode not in (0, -signal.SIGTERM):
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.logpath}")


def start_ceiling(build, threads, logdir):
    return Server("ceiling", [str(build / "bench" / "ceiling"), str(threads)], dict(os.environ),
                  logdir, r"listening on 127\.0\.0\.1:(\d+)")


def start_service(build, threads, db, logdir, name):
    env = dict(os.environ)
    env.update({
        "FEEDBACKD_HOST": "127.0.0.1", "FEEDBACKD_PORT": "0", "FEEDBACKD_DB": str(db),
        "FEEDBACKD_THREADS": str(threads),
        "FEEDBACKD_API_KEYS": f"ingest:{KEYS['ingest']},read:{KEYS['read']}",
        # Capacity, not the limiter's default of 1000/s per key, is measured;
        # the limiter's per-request bookkeeping still runs.
        "FEEDBACKD_RATE_LIMIT": "1000000", "FEEDBACKD_RATE_BURST": "10000000",
    })
    env.pop("FEEDBACKD_CONFIG", None)
    return Server(name, [str(build / "feedbackd")], env, logdir,
                  r'"msg":\s*"listening on [^ ]*:(\d+)"')


# ---- HTTP probes -------------------------------------------------------------

def probe(port, method, path, key=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


# ---- load ------------------------------------------------------------------

def run_wrk(port, script, conns, seconds, prof, key, pid=None):
    """One wrk run; returns its numbers with the server's CPU and peak RSS."""
    env = dict(os.environ)
    env.update({"BENCH_KEY": key or "", "BENCH_CUSTOMERS": str(prof.customers),
                "BENCH_BATCH_ITEMS": str(prof.batch_items), "BENCH_POOL": str(prof.pool)})
    hwm_reset = reset_hwm(pid) if pid else False
    cpu0 = proc_cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", str(WRK_DIR / script), f"http://127.0.0.1:{port}"],
                         env=env, capture_output=True, text=True, timeout=seconds + 60)
    cpu1 = proc_cpu_seconds(pid) if pid else 0.0
    line = next((l for l in out.stdout.splitlines() if l.startswith("BENCH_RESULT ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip()[:500]}")
    r = json.loads(line[len("BENCH_RESULT "):])
    r["seconds"] = r["duration_us"] / 1e6
    r["ok"] = r["requests"] - r["errors"]["status"]
    r["rps"] = r["ok"] / r["seconds"]
    r["cpu_s"] = cpu1 - cpu0
    r["hwm_kb"] = proc_hwm_kb(pid) if pid else 0
    r["hwm_scope"] = "scenario" if hwm_reset else "process"
    return r


def run_raw(build, workdir, prof, rows_only):
    db = workdir / ("raw-rows.db" if rows_only else "raw.db")
    for p in workdir.glob(db.name + "*"):
        p.unlink()
    argv = [str(build / "bench" / "raw_insert"), "--db", str(db), "--seconds", str(prof.seconds),
            "--batch", str(prof.batch_items), "--customers", str(prof.customers)]
    if rows_only:
        argv.append("--rows-only")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=prof.seconds + 120,
                         check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    for p in workdir.glob(db.name + "*"):
        p.unlink()
    return r


# ---- the loaded database -------------------------------------------------------

def queue_depth(port):
    """The service's rescoring backlog as /metrics reports it (submissions
    since migration 006, customers before), or None when it cannot be read.
    Asking the service keeps this independent of the schema."""
    try:
        status, data = probe(port, "GET", "/metrics")
    except OSError:
        return None
    if status != 200:
        return None
    m = re.search(rb"^feedbackd_rescore_queue_depth (\d+)", data, re.M)
    return int(m.group(1)) if m else None


def settle(build, threads, db, logdir):
    """Let the scoring worker (if the build has one) score every loaded
    submission, so the measured runs read computed profiles and do not compete
    with a backlog. Gives up once the rescoring queue stops shrinking."""
    srv = start_service(build, threads, db, logdir, "settle")
    try:
        last, still, deadline = queue_depth(srv.port), 0, time.monotonic() + 900
        while last and time.monotonic() < deadline and still < 20:
            time.sleep(0.5)
            now = queue_depth(srv.port)
            still = still + 1 if now is not None and now >= last else 0
            last = now if now is not None else last
        log(f"rescoring queue after settling: {last}")
    finally:
        srv.stop()
    con = sqlite3.connect(str(db))
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return last


def loaded_db(build, threads, prof, cache_dir, logdir):
    """A cached template database with prof.rows submissions; rebuilt when the
    schema, the writer or the loader change."""
    h = hashlib.sha256()
    for p in sorted((ROOT / "migrations").glob("*.sql")) + [
            ROOT / "src" / "store" / "writer.c", ROOT / "bench" / "load_db.c",
            ROOT / "bench" / "gen.h"]:
        h.update(p.read_bytes())
    h.update(f"{prof.rows}/{prof.customers}".encode())
    template = cache_dir / f"loaded-{prof.rows}-{h.hexdigest()[:12]}.db"
    if template.exists():
        # Checked every run (a second when there is nothing to do): a
        # template built while settling was broken (after migration 006,
        # until the third round of 2026-12-05) still holds a backlog.
        if settle(build, threads, template, logdir):
            log("warning: the loaded database still has a rescoring backlog")
        return template
    for old in cache_dir.glob(f"loaded-{prof.rows}-*"):
        old.unlink()
    tmp = cache_dir / "loading.db"
    for p in cache_dir.glob("loading.db*"):
        p.unlink()
    log(f"building a database with {prof.rows} submissions (cached for later runs)")
    t0 = time.monotonic()
    subprocess.run([str(build / "bench" / "load_db"), "--db", str(tmp), "--rows", str(prof.rows),
                    "--customers", str(prof.customers)], check=True, stdout=subprocess.DEVNULL)
    log(f"loaded in {time.monotonic() - t0:.1f} s; letting the worker score it")
    settle(build, threads, tmp, logdir)
    for p in cache_dir.glob("loading.db-*"):
        p.unlink()
    tmp.rename(template)
    sync_file(template)
    return template


def sync_file(path):
    """Flush path's pages to the disk now. Otherwise the kernel writes a
    copy just made (540 MB for the loaded database) back during the next
    scenarios, and the service's first checkpoint, whose fdatasync must
    flush them, holds up the WAL's syncs for hundreds of milliseconds."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fresh_copy(src, dst):
    for p in dst.parent.glob(dst.name + "*"):
        p.unlink()
    if src is not None:
        shutil.copyfile(src, dst)
        sync_file(dst)
    return dst


# ---- scenarios -----------------------------------------------------------------

def batch_probe_body(n):
    item = ('{"type":"survey","customer_id":"c-probe","channel":"chat",'
            '"expectation":"met","csat":4}')
    return '{"items":[' + ",".join([item] * n) + "]}"


def endpoint_missing(port, method, path, key, body=None):
    """True when the service answers 404. Otherwise the probe's answer is
    checked (wrk later sees only statuses): a failure is logged and the
    scenario still runs, since its error count will show it too."""
    status, data = probe(port, method, path, key, body)
    if status == 404:
        return True
    if status >= 300:
        log(f"warning: probe {method} {path} answered {status}: {data[:200]!r}")
    elif path == "/v1/batch":
        try:
            items = json.loads(data)["results"]
            bad = [r for r in items if r.get("status") not in (200, 201)]
        except (ValueError, KeyError, TypeError, AttributeError):
            bad = [data[:200]]
        if bad:
            log(f"warning: batch probe items not stored: {bad[:3]!r}")
    return False


def measure_service(srv, ceiling, prof, scenarios, res):
    """Run the scenarios for one service process (empty or loaded DB). The
    machine is shared and noisy, so each scenario is preceded by its ceiling
    run (POST or GET), and its ratio is taken against that neighbour."""
    for name, method, probe_path, script, conns, key, body in scenarios:
        if probe_path and endpoint_missing(srv.port, method, probe_path, key, body):
            res[name] = {"missing": True}
            log(f"{name}: endpoint missing")
            continue
        c = None
        if name != "batch":  # batch compares with raw_insert instead
            cscript, ckey = (("surveys.lua", KEYS["ingest"]) if method == "POST"
                             else ("customers.lua", KEYS["read"]))
            log(f"{name}: ceiling first ({method}, {prof.seconds} s, {conns} connections)")
            c = run_wrk(ceiling.port, cscript, conns, prof.seconds, prof, ckey, ceiling.pid)
            res.setdefault("ceiling_" + method.lower(), []).append(c)
        log(f"{name}: {prof.seconds} s, {conns} connections")
        r = run_wrk(srv.port, script, conns, prof.seconds, prof, key, srv.pid)
        if c is not None:
            r["ceiling_rps"] = c["rps"]
        res[name] = r


def run_all(prof, build, threads, workdir):
    logdir = workdir / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    res = {}

    log("raw SQLite inserts")
    res["raw"] = run_raw(build, workdir, prof, rows_only=False)
    res["raw_rows"] = run_raw(build, workdir, prof, rows_only=True)
    template = loaded_db(build, threads, prof, workdir / "cache", logdir)

    ceiling = start_ceiling(build, threads, logdir)
    try:
        empty_db = fresh_copy(None, workdir / "empty.db")
        srv = start_service(build, threads, empty_db, logdir, "service-empty")
        try:
            measure_service(srv, ceiling, prof, [
                ("surveys_empty", "POST", None, "surveys.lua", prof.conns, KEYS["ingest"], None),
                ("batch", "POST", "/v1/batch", "batch.lua", prof.batch_conns, KEYS["ingest"],
                 batch_probe_body(2)),
            ], res)
        finally:
            srv.stop()

        db = fresh_copy(template, workdir / "loaded.db")
        srv = start_service(build, threads, db, logdir, "service-loaded")
        try:
            measure_service(srv, ceiling, prof, [
                ("customers", "GET", "/v1/customers/c-0", "customers.lua", prof.conns,
                 KEYS["read"], None),
                ("dashboard", "GET", "/v1/dashboard/summary", "dashboard.lua", prof.dash_conns,
                 KEYS["read"], None),
                ("surveys_loaded", "POST", None, "surveys.lua", prof.conns, KEYS["ingest"], None),
            ], res)
        finally:
            srv.stop()
        if "ceiling_get" not in res:
            log("ceiling: GET (no GET scenario ran)")
            res["ceiling_get"] = [run_wrk(ceiling.port, "customers.lua", prof.conns,
                                          prof.seconds, prof, KEYS["read"], ceiling.pid)]
    finally:
        ceiling.stop()
    for p in workdir.glob("empty.db*"):
        p.unlink()
    for p in workdir.glob("loaded.db*"):
        p.unlink()
    return res


# ---- the table -------------------------------------------------------------------

def fmt_ms(us):
    return f"{us / 1000:.2f}"


def table(res, prof):
    rows = []
    head = ["scenario", "conns", "rate", "p50 ms", "p99 ms", "CPU µs/op", "peak RSS MB",
            "vs ceiling", "goal"]
    # ceiling runs precede each scenario; a ratio is against the run just before

    def http_row(label, key, conns, per=1, ceiling=None, goal="", unit="req/s"):
        r = res.get(key)
        if r is not None and not r.get("missing") and ceiling is None:
            ceiling = r.get("ceiling_rps")
        if r is None or r.get("missing"):
            rows.append([label, str(conns), MISSING, "", "", "", "", "", goal])
            return
        ops = r["ok"] * per
        rate = ops / r["seconds"]
        errs = r["requests"] - r["ok"] + sum(v for k, v in r["errors"].items() if k != "status")
        rate_s = f"{rate:,.0f} {unit}" + (f" ({errs} errors)" if errs else "")
        cpu = f"{r['cpu_s'] / ops * 1e6:.1f}" if ops else "-"
        rss = f"{r['hwm_kb'] / 1024:.1f}" if r["hwm_kb"] else "-"
        ratio = f"{rate / ceiling:.0%}" if ceiling else ""
        rows.append([label, str(conns), rate_s, fmt_ms(r["p50_us"]), fmt_ms(r["p99_us"]), cpu,
                     rss, ratio, goal])

    for method in ("post", "get"):
        for i, r in enumerate(res.get("ceiling_" + method, [])):
            res[f"ceiling_{method}_{i}"] = r
            http_row(f"ceiling {method.upper()} (MHD only), run {i + 1}", f"ceiling_{method}_{i}",
                     prof.conns)
    for key, label in (("raw", "raw SQLite insert, row+customer"),
                       ("raw_rows", "raw SQLite insert, row only")):
        r = res[key]
        rows.append([label, "-", f"{r['rows_per_s']:,.0f} rows/s", "", "",
                     f"{r['cpu_s'] / max(r['rows'], 1) * 1e6:.1f}", f"{r['max_rss_kb'] / 1024:.1f}",
                     "", ""])
    http_row("POST /v1/surveys, empty DB", "surveys_empty", prof.conns,
             goal=">= 40 %, p99 < 25 ms")
    http_row(f"POST /v1/surveys, {prof.rows:,} stored", "surveys_loaded", prof.conns,
             goal=">= 40 %, <= 30 % below empty")
    http_row(f"POST /v1/batch ({prof.batch_items} items)", "batch", prof.batch_conns,
             per=prof.batch_items, ceiling=res["raw"]["rows_per_s"], unit="subm/s",
             goal=">= 60 % of raw")
    http_row(f"GET /v1/customers/{{id}} ({prof.customers:,})", "customers", prof.conns,
             goal=">= 60 %")
    http_row("GET /v1/dashboard/summary", "dashboard", prof.dash_conns)

    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    se, sl = res.get("surveys_empty"), res.get("surveys_loaded")
    if se and sl and not se.get("missing") and not sl.get("missing"):
        lines.append(f"\nsingle-survey ingest with {prof.rows:,} stored vs empty: "
                     f"{sl['rps'] / se['rps'] - 1:+.0%}")
    peak = max((r.get("hwm_kb", 0) for k, r in res.items()
                if k.startswith(("surveys", "batch", "customers", "dashboard"))
                and not r.get("missing")), default=0)
    lines.append(f"peak RSS of the service under load: {peak / 1024:.1f} MB (goal <= 64 MB)")
    return "\n".join(lines)


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs, {model}, load average {os.getloadavg()[0]:.2f} at start"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=str(ROOT / "build-bench"),
                    help="meson build directory with feedbackd and bench/*")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny load for about a second per scenario (CI)")
    ap.add_argument("--seconds", type=int, help="override seconds per scenario")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"), help="work and result folder")
    args = ap.parse_args()
    prof = Profile(args.smoke)
    if args.seconds:
        prof.seconds = args.seconds
    build = pathlib.Path(args.build).resolve()
    workdir = pathlib.Path(args.out).resolve() / ("smoke" if args.smoke else "full")
    (workdir / "cache").mkdir(parents=True, exist_ok=True)
    threads = os.cpu_count() or 1

    started = datetime.datetime.now(datetime.timezone.utc)
    res = run_all(prof, build, threads, workdir)
    text = table(res, prof)
    header = (f"feedbackd benchmark, {started:%Y-%m-%d %H:%M} UTC, {machine()}, "
              f"{threads} HTTP threads, wrk -t2, {prof.seconds} s per scenario"
              + (" (smoke)" if prof.smoke else ""))
    print(header)
    print(text)
    with open(workdir / "results.json", "w") as f:
        json.dump({"started": started.isoformat(), "machine": machine(), "smoke": prof.smoke,
                   "results": res}, f, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        log(f"error: {e}")
        sys.exit(1)
