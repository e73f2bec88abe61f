/* Start-up and shutdown order.
 *
 * Start: logging, database (migrations), writer, scoring worker (whose
 * writes the writer runs, and which the writer wakes after each commit),
 * HTTP. Stop: stop accepting, let in-flight requests finish (the writer
 * keeps committing and resuming them), stop HTTP, let the writer commit what
 * is queued, stop the worker (what it has not stored stays pending in the
 * database), close the database.
 * Signals are blocked in every thread and taken with sigwait() in the main
 * thread, so no handler runs in the middle of library code. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "feedbackd/api.h"
#include "feedbackd/app.h"
#include "feedbackd/error.h"
#include "feedbackd/inflight.h"
#include "feedbackd/log.h"
#include "feedbackd/upkeep.h"
#include "feedbackd/metrics.h"

#define DRAIN_TIMEOUT_S 20
#define UPLOAD_GRACE_S 1

/* Many concurrent connections need many descriptors: take the hard limit. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("could not raise the open-file limit: %s", strerror(errno));
	}
}

static int block_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	signal(SIGPIPE, SIG_IGN);
	return pthread_sigmask(SIG_BLOCK, set, NULL) == 0 ? 0 : FBD_EINVAL;
}

static void wait_for_stop_signal(const sigset_t *set)
{
	int sig = 0;
	while (sigwait(set, &sig) != 0)
		;
	log_info("received %s, draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Requests whose body has arrived are finished (their commit answered)
 * for up to DRAIN_TIMEOUT_S. Uploads still arriving get UPLOAD_GRACE_S to
 * complete: a client that went silent mid-body (or half-closed, which
 * libmicrohttpd 0.9.75 does not notice) must not hold the shutdown. */
static void drain(struct http_server *srv)
{
	struct timespec tick = {0, 10 * 1000 * 1000};
	http_server_quiesce(srv);
	for (int i = 0; i < DRAIN_TIMEOUT_S * 100; i++) {
		if (http_server_active(srv) == 0 ||
		    (http_server_handling(srv) == 0 && i >= UPLOAD_GRACE_S * 100))
			break;
		nanosleep(&tick, NULL);
	}
	if (http_server_handling(srv) > 0)
		log_warn("%zu requests still in flight after %d s; stopping anyway",
			 http_server_handling(srv), DRAIN_TIMEOUT_S);
	else if (http_server_active(srv) > 0)
		log_info("closing %zu connections whose request body did not arrive",
			 http_server_active(srv));
}

/* Writer thread, after each commit: count what it stored (lock-free) and
 * wake the scoring worker. Neither blocks. */
static void on_commit(void *arg, size_t stored)
{
	struct api_env *env = arg;
	metrics_add_stored(env->metrics, stored);
	worker_on_commit(env->worker, stored);
}

/* HTTP threads, after each handler: their reads keep a snapshot between
 * requests only while they are not in use (store.h). */
static void release_reader(void *app)
{
	struct api_env *env = app;
	store_reader_release(env->store);
}

/* HTTP threads, after each request. */
static void observe_request(void *app, const char *route, int status, double seconds)
{
	struct api_env *env = app;
	metrics_observe_request(env->metrics, route, status, seconds);
}

static int open_store(const struct fbd_config *cfg, struct store **st)
{
	struct store_options opt = {.path = cfg->db, .sync = cfg->sync, .cache_mb = cfg->cache_mb,
				    .max_pages = cfg->max_db_pages};
	int err = store_open(st, &opt);
	if (err == FBD_EVERSION) {
		log_error("database %s was written by a newer feedbackd (schema newer than version %d);"
			  " upgrade feedbackd or use another database",
			  cfg->db, store_latest_version());
		return 2;
	}
	if (err != 0) {
		log_error("cannot open database %s: %s", cfg->db, fbd_error_str(err));
		return 1;
	}
	log_info("database %s ready at schema version %d", cfg->db, store_schema_version(*st));
	return 0;
}

int app_run(const struct fbd_config *cfg)
{
	sigset_t stop_signals;
	struct api_env env = {.cfg = cfg};
	struct http_server *srv = NULL;
	struct upkeep *upkeep = NULL;
	int rc = 1;

	log_set_level(cfg->log_level);
	raise_fd_limit();
	if (block_stop_signals(&stop_signals) != 0)
		return 1;
	if (!cfg->auth)
		log_warn("auth is off: /v1 is served without API keys (development only)");
	if (metrics_new(&env.metrics, api_routes, api_routes_count) != 0) {
		log_error("out of memory");
		return 1;
	}
	if ((rc = open_store(cfg, &env.store)) != 0)
		goto out_metrics;
	rc = 1;
	struct writer_options wopt = {.capacity = (size_t)cfg->queue_capacity,
				      .on_commit = on_commit, .on_commit_arg = &env};
	int err = writer_start(&env.writer, env.store, &wopt);
	if (err != 0) {
		log_error("cannot start the writer: %s", fbd_error_str(err));
		goto out_store;
	}
	struct worker_options kopt = {.writer = env.writer};
	score_params_from_config(&kopt.params, cfg);
	if ((err = worker_start(&env.worker, env.store, &kopt)) != 0) {
		log_error("cannot start the scoring worker: %s", fbd_error_str(err));
		goto out_writer;
	}
	/* Keyed requests in flight never exceed the submissions queued. */
	if ((err = inflight_new(&env.inflight, (size_t)cfg->queue_capacity)) != 0 ||
	    (err = upkeep_start(&upkeep, env.writer)) != 0) {
		log_error("cannot start: %s", fbd_error_str(err));
		goto out_writer;
	}
	struct http_server_options hopt = {
		.cfg = cfg, .routes = api_routes, .n_routes = api_routes_count, .app = &env,
		.observe = observe_request,
		.after_handler = release_reader};
	if ((err = http_server_start(&srv, &hopt)) != 0) {
		log_error("cannot listen on %s:%d (is the port in use?)", cfg->host, cfg->port);
		goto out_writer;
	}
	log_info("listening on %s:%d", cfg->host, http_server_port(srv));

	wait_for_stop_signal(&stop_signals);
	atomic_store(&env.draining, true);
	drain(srv);
	http_server_stop(srv);
	rc = 0;
out_writer:
	upkeep_stop(upkeep);
	/* The writer first: it commits what is queued, the worker's last
	 * profiles included, and its on_commit may still wake the worker. */
	writer_stop(env.writer);
	inflight_free(env.inflight);
	worker_stop(env.worker);
out_store:
	store_close(env.store);
	if (rc == 0)
		log_info("stopped cleanly");
out_metrics:
	metrics_free(env.metrics);
	log_flush();
	return rc;
}

int app_healthcheck(const struct fbd_config *cfg)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
	const char *host = strcmp(cfg->host, "0.0.0.0") == 0 ? "127.0.0.1" : cfg->host;
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 1;
	struct timeval tv = {.tv_sec = 3};
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char buf[256];
	int ok = 1;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		const char *get = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
		ssize_t n = 0;
		if (write(fd, get, strlen(get)) == (ssize_t)strlen(get) &&
		    (n = read(fd, buf, sizeof(buf) - 1)) > 0) {
			buf[n] = '\0';
			ok = strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : 1;
		}
	}
	close(fd);
	return ok;
}
