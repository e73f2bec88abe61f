#!/usr/bin/env bash
# Prove the Docker image: build it from the Dockerfile, run it with a
# published loopback port and a volume, wait for its health check, submit a
# survey, restart the container and find the survey again, check the process
# is not root, and stop it cleanly (exit code 0).
#
# There is no Docker engine on the CI machines: podman builds and runs the
# same Dockerfile (see docs/operations.md, "Proving the image"). Nothing
# global is touched: podman reads this script's own containers.conf and
# storage.conf. Kept between runs under $FEEDBACKD_CI_CACHE (default
# /var/cache/feedbackd-ci): the debootstrapped base image tarball and the
# image store, so later runs reuse the base image and the build's apt layers.
#
# Usage: tests/docker/check.sh          (as root; installs what is missing)
set -euo pipefail

cd "$(dirname "$0")/../.."
CACHE=${FEEDBACKD_CI_CACHE:-/var/cache/feedbackd-ci}
BASE_TAG=docker.io/library/debian:bookworm-slim
BASE_TAR=$CACHE/debian-bookworm-slim.tar
RUN_ID=$$-$(date +%s)
# One tag per run: two CI runs on one machine share the store, not the image.
IMAGE=localhost/feedbackd:ci-check-$RUN_ID
NAME=feedbackd-check-$RUN_ID
VOLUME=feedbackd-check-$RUN_ID
INGEST_KEY=ik_check_$RUN_ID
READ_KEY=rk_check_$RUN_ID
T0=$(date +%s)

# podman 4.3 without systemd reports on every start and stop that it cannot
# set up the health check timer; the checks are run by hand here, so that
# line is noise. Everything else podman says goes through.
podman() {
	command podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2)
}

say() { echo "check.sh [$(($(date +%s) - T0))s]: $*" >&2; }
fail() {
	say "FAIL: $*"
	exit 1
}

if [ "$(id -u)" -ne 0 ]; then
	fail "run as root (podman runs rootful here; debootstrap needs root)"
fi

# ---- tools -------------------------------------------------------------
install_missing() {
	local missing=()
	for p in podman runc debootstrap curl python3 iptables; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
install_missing

# ---- podman configuration of our own -----------------------------------
mkdir -p "$CACHE/storage" "$CACHE/run"
CONF_DIR=$(mktemp -d /tmp/feedbackd-check.XXXXXX)
cat >"$CONF_DIR/containers.conf" <<EOF
[containers]
# root cannot raise its open-file limit above 20000 on these machines
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
# hybrid cgroups: crun refuses to start, runc works; no systemd
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF
cat >"$CONF_DIR/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$CACHE/storage"
runroot = "$CACHE/run"
EOF
export CONTAINERS_CONF=$CONF_DIR/containers.conf
export CONTAINERS_STORAGE_CONF=$CONF_DIR/storage.conf

cleanup() {
	local rc=$?
	podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
	podman volume rm -f "$VOLUME" >/dev/null 2>&1 || true
	podman untag "$IMAGE" >/dev/null 2>&1 || true
	rm -rf "$CONF_DIR"
	exit $rc
}
trap cleanup EXIT

# ---- base image without a registry --------------------------------------
# The mirror the host already uses (first URIs line of its deb822 sources).
host_mirror() {
	local m
	m=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -v security | head -n1 | awk '{print $1}')
	echo "${m:-http://deb.debian.org/debian}"
}

# debootstrap --variant=minbase, trimmed like the official slim image.
make_base_tarball() {
	local rootfs
	rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
	say "debootstrap bookworm from $(host_mirror) (once per machine; about a minute)"
	debootstrap --variant=minbase bookworm "$rootfs" "$(host_mirror)" >"$CONF_DIR/debootstrap.log" 2>&1 ||
		{
			tail -n 20 "$CONF_DIR/debootstrap.log" >&2
			rm -rf "$rootfs"
			fail "debootstrap failed"
		}
	rm -f "$rootfs/etc/apt/sources.list"
	if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
		cp /etc/apt/sources.list.d/*.sources "$rootfs/etc/apt/sources.list.d/"
	else
		cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $(host_mirror)
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	fi
	cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
	cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
	echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
	find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
	rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
		"$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/* \
		"$rootfs"/tmp/* "$rootfs"/debootstrap
	tar -C "$rootfs" --numeric-owner -cf "$BASE_TAR.tmp" .
	mv "$BASE_TAR.tmp" "$BASE_TAR"
	rm -rf "$rootfs"
}

ensure_base_image() {
	podman image exists "$BASE_TAG" && return 0
	# One debootstrap per machine even when two CI runs start together.
	exec 9>"$CACHE/base.lock"
	flock 9
	[ -s "$BASE_TAR" ] || make_base_tarball
	podman image exists "$BASE_TAG" ||
		podman import --change 'CMD ["bash"]' "$BASE_TAR" "$BASE_TAG" >/dev/null
	flock -u 9
}
ensure_base_image
say "base image $BASE_TAG ready"

# ---- build ----------------------------------------------------------------
podman build --pull=never --format docker -t "$IMAGE" -f Dockerfile . >"$CONF_DIR/build.log" 2>&1 ||
	{
		tail -n 40 "$CONF_DIR/build.log" >&2
		fail "podman build failed"
	}
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "built $IMAGE: $((size / 1000000)) MB"
# The runtime stage holds the slim base, five libraries and the binary: a
# builder layer (compiler, -dev packages) leaking in would be hundreds of MB.
[ "$size" -lt 150000000 ] || fail "the image is $((size / 1000000)) MB; keep the runtime stage small"
# Earlier runs' images are left untagged. Drop those older than a day: the
# store stays small, and the builder stage's package layer (also untagged)
# is reused by the runs of the same day.
podman image prune -f --filter until=24h >/dev/null 2>&1 || true

health=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE")
case "$health" in
*--healthcheck*) ;;
*) fail "the image has no HEALTHCHECK (built without --format docker?): $health" ;;
esac

# ---- run ------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
podman volume create "$VOLUME" >/dev/null

start_container() {
	podman run -d --name "$NAME" -p "127.0.0.1:$PORT:8080" -v "$VOLUME:/data" \
		-e "FEEDBACKD_API_KEYS=ingest:$INGEST_KEY,read:$READ_KEY" "$IMAGE" >/dev/null
}

# Health checks are not scheduled without systemd: run them by hand.
wait_healthy() {
	for _ in $(seq 1 60); do
		if podman healthcheck run "$NAME" >/dev/null 2>&1; then
			local status
			status=$(podman inspect --format '{{.State.Health.Status}}' "$NAME" 2>/dev/null ||
				podman inspect --format '{{.State.Healthcheck.Status}}' "$NAME")
			[ "$status" = healthy ] && return 0
		fi
		sleep 0.5
	done
	podman logs "$NAME" >&2 || true
	fail "the container did not become healthy"
}

# curl wrapper: prints the status code, body into $CONF_DIR/body.
http() {
	curl -sS -o "$CONF_DIR/body" -w '%{http_code}' --max-time 10 "$@"
}

start_container
wait_healthy
say "container healthy on $BASE"

code=$(http -X POST "$BASE/v1/surveys" -H "Authorization: Bearer $INGEST_KEY" \
	-H 'Content-Type: application/json' \
	-d '{"customer_id":"c-docker","channel":"chat","expectation":"exceeded","csat":5,"nps":9}')
[ "$code" = 201 ] || fail "POST /v1/surveys answered $code: $(cat "$CONF_DIR/body")"
ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$CONF_DIR/body")
say "stored survey $ID"

for path in /metrics /openapi.json /readyz; do
	code=$(http "$BASE$path")
	[ "$code" = 200 ] || fail "GET $path answered $code"
done

# The process must not run as root: read the real uid of PID 1.
uid=$(podman exec "$NAME" sh -c 'awk "/^Uid:/ {print \$2}" /proc/1/status')
if [ -z "$uid" ] || [ "$uid" = 0 ]; then fail "the server runs as uid '$uid'"; fi
[ "$uid" = 10001 ] || fail "the server runs as uid $uid, the documented uid is 10001"
user=$(podman top "$NAME" user | tail -n +2 | head -n1 | tr -d ' ')
[ "$user" != root ] || fail "podman top reports user root"
say "server runs as uid $uid ($user)"

# Restart (SIGTERM, then start again on the same volume): the survey is kept.
podman restart -t 20 "$NAME" >/dev/null
wait_healthy
code=$(http "$BASE/v1/responses/$ID" -H "Authorization: Bearer $READ_KEY")
[ "$code" = 200 ] || fail "after restart GET /v1/responses/$ID answered $code"
grep -q '"c-docker"' "$CONF_DIR/body" || fail "after restart the survey reads $(cat "$CONF_DIR/body")"
say "survey found again after a restart"

# docker stop sends STOPSIGNAL (SIGTERM); a clean drain exits 0.
podman stop -t 20 "$NAME" >/dev/null
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
[ "$exit_code" = 0 ] || {
	podman logs "$NAME" >&2 || true
	fail "podman stop: exit code $exit_code"
}
# Read the logs whole: 'podman logs | grep -q' fails under pipefail when
# grep exits early. conmon may write the last line a moment after the stop.
logs=
for _ in $(seq 1 20); do
	logs=$(podman logs "$NAME" 2>&1)
	case "$logs" in *'"stopped cleanly"'*) break ;; esac
	sleep 0.25
done
case "$logs" in
*'"stopped cleanly"'*) ;;
*)
	echo "$logs" | tail -n 5 >&2
	fail "no 'stopped cleanly' in the logs"
	;;
esac
say "stopped cleanly with exit code 0"
say "PASS"
