#!/bin/sh
# Build the libFuzzer targets with clang (AddressSanitizer + UBSan) in their
# own build directory and run each for a bounded time.
#
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_BUILD     build directory (default build-fuzz)
#
# A crash leaves its input as build-fuzz/crash-<target>-* and fails the
# script. Make it a regression test: fix the bug, then copy the input into
# tests/fuzz/corpus/<target>/ (the meson suite "fuzz" replays the corpus in
# every build). New inputs that libFuzzer finds go to a scratch copy of the
# corpus, so the committed seed corpus stays small.
set -eu

cd "$(dirname "$0")/../.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
TARGETS="body query"

if ! command -v clang >/dev/null 2>&1 ||
   ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
	echo "fuzz: installing clang and libclang-rt-14-dev"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
fi

if [ ! -f "$FUZZ_BUILD/build.ninja" ]; then
	# fuzzer-no-link instruments the library for coverage; the targets
	# themselves link libFuzzer (tests/fuzz/meson.build).
	CC=clang meson setup "$FUZZ_BUILD" --buildtype=debug -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link
fi
ninja -C "$FUZZ_BUILD"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
for t in $TARGETS; do
	work="$FUZZ_BUILD/corpus-$t"
	mkdir -p "$work"
	echo "fuzz: $t for ${FUZZ_SECONDS}s"
	if ! "$FUZZ_BUILD/tests/fuzz/fuzz-$t" "$work" "tests/fuzz/corpus/$t" \
		-max_total_time="$FUZZ_SECONDS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 \
		-artifact_prefix="$FUZZ_BUILD/crash-$t-" 2>"$FUZZ_BUILD/fuzz-$t.log"; then
		echo "fuzz: $t FAILED; see $FUZZ_BUILD/fuzz-$t.log and $FUZZ_BUILD/crash-$t-*"
		tail -n 40 "$FUZZ_BUILD/fuzz-$t.log"
		status=1
	else
		grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$FUZZ_BUILD/fuzz-$t.log" |
			sed "s/^/fuzz: $t /"
	fi
done
exit $status
