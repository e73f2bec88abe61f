# feedbackd container image.
#
# Two stages: the builder compiles with meson against Debian 12's -dev
# packages; the runtime stage holds only the shared libraries the binary links
# and the binary itself, and runs it as an unprivileged user with the
# database on the /data volume. Configure it with FEEDBACKD_* environment
# variables (docs/operations.md lists every key); at least FEEDBACKD_API_KEYS.

FROM debian:bookworm-slim AS builder
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev meson ninja-build pkg-config python3 \
      libmicrohttpd-dev libcjson-dev libsqlite3-dev uuid-dev nettle-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Only the daemon: the tests run in CI outside the image.
RUN meson setup /build --buildtype=release -Db_ndebug=true -Dtests=false \
 && ninja -C /build feedbackd \
 && strip /build/feedbackd \
 && /build/feedbackd --version

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libcjson1 libsqlite3-0 libuuid1 libnettle8 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin feedbackd \
 && mkdir -p /data \
 && chown feedbackd:feedbackd /data
COPY --from=builder /build/feedbackd /usr/local/bin/feedbackd

ENV FEEDBACKD_HOST=0.0.0.0 \
    FEEDBACKD_PORT=8080 \
    FEEDBACKD_DB=/data/feedback.db
# An empty working directory: no config/feedbackd.conf is picked up by
# accident; mount one and set FEEDBACKD_CONFIG to use a file.
WORKDIR /data
VOLUME /data
EXPOSE 8080
USER 10001:10001
# The binary probes GET /healthz on its own port: no curl in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/feedbackd", "--healthcheck"]
# SIGTERM: stop accepting, finish in-flight requests, commit, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/feedbackd"]
