#!/usr/bin/env bash
# One command for the benchmark (docs/performance.md):
#   bench/run.sh            full run, about 2 minutes (+2 minutes the first time,
#                           to build the 1 000 000-submission database)
#   bench/run.sh --smoke    a few seconds of tiny load: checks that it all runs
# Installs wrk if missing, builds a release build in build-bench/ (or in
# $BENCH_BUILD), then runs bench/bench.py with the remaining arguments.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    echo "bench: installing wrk" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null ||
        { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
          $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
fi

build="${BENCH_BUILD:-build-bench}"
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" feedbackd bench/ceiling bench/raw_insert bench/load_db >/dev/null
exec python3 bench/bench.py --build "$build" "$@"
