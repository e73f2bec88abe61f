# Quick start (see README.md):
#   make run    install what is missing, build, run on 127.0.0.1:8080 with ./data/feedback.db
#   make test   install what is missing, build (normal + ASan/UBSan), run every test, fuzz for a
#               bounded time, smoke-run the benchmark, prove the Docker image
#   make bench  benchmark against the ceiling (docs/performance.md)
.PHONY: all deps build run test test-normal test-asan test-fuzz test-docker test-bench-smoke clean bench

BUILD ?= build
ASAN_BUILD ?= build-asan
DEV_ENV = data/dev-keys.env

all: build

deps:
	@.ci/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=release

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(DEV_ENV):
	@mkdir -p data
	@echo "FEEDBACKD_API_KEYS=ingest:dev_ingest_$$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n'),read:dev_read_$$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n'),admin:dev_admin_$$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')" > $@

run: build $(DEV_ENV)
	@. ./$(DEV_ENV); ingest=$$(echo "$$FEEDBACKD_API_KEYS" | tr ',' '\n' | sed -n 's/^ingest://p'); \
	read=$$(echo "$$FEEDBACKD_API_KEYS" | tr ',' '\n' | sed -n 's/^read://p'); \
	echo "feedbackd on http://127.0.0.1:8080 (database ./data/feedback.db)"; \
	echo "development keys (kept in $(DEV_ENV)): $$FEEDBACKD_API_KEYS"; \
	echo "try:"; \
	echo "  curl -s -X POST http://127.0.0.1:8080/v1/surveys -H 'Authorization: Bearer $$ingest' -H 'Content-Type: application/json' -d '{\"customer_id\":\"c-42\",\"channel\":\"chat\",\"expectation\":\"exceeded\",\"csat\":5,\"nps\":9}'"; \
	echo "  curl -s http://127.0.0.1:8080/v1/responses -H 'Authorization: Bearer $$read'"; \
	FEEDBACKD_API_KEYS="$$FEEDBACKD_API_KEYS" FEEDBACKD_HOST=127.0.0.1 FEEDBACKD_DB=./data/feedback.db \
	exec ./$(BUILD)/feedbackd

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

test-normal: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	meson test -C $(BUILD) --print-errorlogs

test-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C $(ASAN_BUILD) --print-errorlogs

# Builds the Docker image with podman and proves it (see tests/docker/check.sh).
test-docker:
	tests/docker/check.sh

test:
	@status=0; $(MAKE) --no-print-directory test-normal || status=1; \
	$(MAKE) --no-print-directory test-asan || status=1; \
	$(MAKE) --no-print-directory test-bench-smoke || status=1; \
	$(MAKE) --no-print-directory test-fuzz || status=1; \
	$(MAKE) --no-print-directory test-docker || status=1; \
	python3 .ci/summarize.py $(BUILD)/meson-logs/testlog.json $(ASAN_BUILD)/meson-logs/testlog.json || status=1; \
	exit $$status

# libFuzzer targets, FUZZ_SECONDS (default 60) each; see tests/fuzz/run.sh
test-fuzz: deps
	tests/fuzz/run.sh

bench: deps
	bench/run.sh

# Not a timing test: a second of tiny load per scenario checks that the
# harness still builds, runs and prints its table.
test-bench-smoke: deps $(BUILD)/build.ninja
	BENCH_BUILD=$(BUILD) bench/run.sh --smoke

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
