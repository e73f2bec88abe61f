/* The libmicrohttpd server: request lifecycle, body caps, auth, CORS.
 *
 * MHD calls the access handler several times per request. The first call
 * (no context yet) creates the context and settles everything the headers
 * decide: route, auth, content type, a Content-Length over the cap. Upload
 * calls append the body to a buffer capped by the route's limit (chunked
 * bodies are counted as they come). The last call, with no upload data, runs
 * the handler, or sends the error decided earlier.
 *
 * Replies are queued on a later call than the first whenever possible:
 * libmicrohttpd 0.9.75 closes a keep-alive connection after a reply queued on
 * the first call. The exception is a Content-Length over the cap (413), where
 * closing is what we want (the socket lingers, see linger.h, so the client
 * reads the 413 instead of a reset). A reply cannot be queued in the middle
 * of an upload at all (see request_upload).
 *
 * A handler that waits for the writer suspends the connection; the writer's
 * callback resumes it, and the next call runs the handler's resume function.
 * Suspended connections never time out in MHD, so shutdown waits until all of
 * them are resumed (the writer drains its queue) before stopping the daemon. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "feedbackd/conntrack.h"
#include "feedbackd/error.h"
#include "feedbackd/http.h"
#include "feedbackd/log.h"
#include "http/acceptor.h"
#include "http/linger.h"
#include "feedbackd/ratelimit.h"
#include "feedbackd/uuid7.h"

#define PATH_MAX_LEN 2048
#define LISTEN_BACKLOG 1024

enum request_state {
	REQ_READING = 0,   /* headers accepted, body (if any) arriving */
	REQ_REJECTED,      /* error reply decided; remaining body is discarded */
	REQ_SUSPENDED,     /* handler waits for another thread */
	REQ_RESUMED,       /* http_resume() ran; resume() runs next call */
};

struct http_server {
	struct MHD_Daemon *daemon;
	struct acceptor *acceptor; /* NULL once it stopped (http_server_quiesce) */
	struct http_server_options opt;
	int port;
	atomic_size_t active;   /* requests begun and not completed */
	atomic_size_t handling; /* of those, the ones whose body is complete */
	atomic_bool draining;   /* set by http_server_quiesce() */
	struct linger_set *linger;
	struct conntrack *conntrack; /* request deadlines (slow clients) */
	struct ratelimit *ratelimit; /* NULL when rate_limit = 0 */
};

struct http_request_private {
	struct http_server *srv;
	char *path_buf;      /* the path, split in place by the router */
	size_t body_cap;     /* allocated */
	size_t body_limit;   /* 0: body not expected, discarded */
	size_t discarded;
	bool cut_short;      /* answered before the body was sent: linger on close */
	bool handling;       /* counted in srv->handling */
	_Atomic int state;
	struct timespec start;
};

static double seconds_since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

const char *http_header(struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct query_iter {
	int (*fn)(void *ctx, const char *key, const char *value);
	void *ctx;
	int result;
};

static enum MHD_Result query_visit(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct query_iter *it = cls;
	it->result = it->fn(it->ctx, key, value ? value : "");
	return it->result == 0 ? MHD_YES : MHD_NO;
}

int http_query_each(struct http_request *req,
		    int (*fn)(void *ctx, const char *key, const char *value), void *ctx)
{
	struct query_iter it = {fn, ctx, 0};
	(void)MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_visit, &it);
	return it.result;
}

void http_suspend(struct http_request *req, http_handler resume)
{
	req->resume = resume;
	atomic_store(&req->priv->state, REQ_SUSPENDED);
	MHD_suspend_connection(req->conn);
}

void http_resume(struct http_request *req)
{
	atomic_store(&req->priv->state, REQ_RESUMED);
	MHD_resume_connection(req->conn);
}

/* CORS (Fetch standard): the Access-Control-Allow-Origin value, or NULL.
 * With "*" every reply says "*", Origin or not, so a cached reply fetched
 * without Origin still works for a browser. With a list, the request's own
 * origin is echoed when listed (browsers compare it byte for byte). */
static const char *cors_origin(struct http_request *req)
{
	const struct fbd_config *cfg = req->cfg;
	if (cfg->cors_any)
		return "*";
	const char *origin = http_header(req, "Origin");
	if (origin == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->n_cors_origins; i++)
		if (strcasecmp(cfg->cors_origins[i], origin) == 0)
			return origin;
	return NULL;
}

static bool add_header(struct MHD_Response *r, const char *name, const char *value)
{
	return MHD_add_response_header(r, name, value) == MHD_YES;
}

static bool add_cors_headers(struct http_request *req, struct MHD_Response *r)
{
	/* With a list of origins every reply depends on Origin, including the
	 * ones that carry no CORS headers: Vary tells caches so on all of them. */
	if (!req->cfg->cors_any && req->cfg->n_cors_origins > 0 && !add_header(r, "Vary", "Origin"))
		return false;
	const char *origin = cors_origin(req);
	if (origin == NULL)
		return true;
	return add_header(r, "Access-Control-Allow-Origin", origin) &&
	       add_header(r, "Access-Control-Expose-Headers",
			  "Location, Retry-After, X-Request-Id, Allow, WWW-Authenticate,"
			  " Idempotent-Replayed");
}

static bool has_custom_header(struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->header_names[i], name) == 0)
			return true;
	return false;
}

static enum MHD_Result queue_reply(struct http_request *req)
{
	if (req->status == 0)
		http_reply_problem(req, 500, "the request was not handled", NULL);
	struct MHD_Response *r = MHD_create_response_from_buffer(
		req->reply_len, req->reply_body ? req->reply_body : (void *)"",
		req->reply_body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	req->reply_body = NULL; /* owned by the response now */
	bool ok = add_header(r, "X-Request-Id", req->request_id);
	/* every 429 and 503 tells the client when to come back (SPEC 2), even
	 * one built in a hurry, e.g. when memory ran out */
	if (ok && (req->status == 429 || req->status == 503) &&
	    !has_custom_header(req, "Retry-After"))
		ok = add_header(r, "Retry-After", "1");
	if (ok && req->reply_len > 0 && !has_custom_header(req, "Content-Type"))
		ok = add_header(r, "Content-Type", req->reply_is_problem ? "application/problem+json"
									 : "application/json");
	for (size_t i = 0; ok && i < req->n_headers; i++)
		ok = add_header(r, req->header_names[i], req->header_values[i]);
	if (ok)
		ok = add_cors_headers(req, r);
	enum MHD_Result ret = ok ? MHD_queue_response(req->conn, (unsigned)req->status, r) : MHD_NO;
	MHD_destroy_response(r);
	return ret;
}

static void reject(struct http_request *req, int status, const char *detail)
{
	http_reply_problem(req, status, detail, NULL);
	atomic_store(&req->priv->state, REQ_REJECTED);
}

static void request_free(struct http_request *req)
{
	if (req == NULL)
		return;
	if (req->async_free)
		req->async_free(req->async);
	free(req->body);
	free(req->reply_body);
	free(req->priv->path_buf);
	for (size_t i = 0; i < req->n_headers; i++)
		free(req->header_values[i]);
	free(req->priv);
	free(req);
}

static struct http_request *request_new(struct http_server *srv, struct MHD_Connection *conn,
					const char *url, const char *method)
{
	struct http_request *req = calloc(1, sizeof(*req));
	struct http_request_private *priv = calloc(1, sizeof(*priv));
	if (req == NULL || priv == NULL) {
		free(req);
		free(priv);
		return NULL;
	}
	req->priv = priv;
	priv->srv = srv;
	clock_gettime(CLOCK_MONOTONIC, &priv->start);
	/* not time(): glibc serves it from the coarse clock, which can still
	 * show the previous second */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	req->received_at = (int64_t)now.tv_sec;
	req->app = srv->opt.app;
	req->cfg = srv->opt.cfg;
	req->conn = conn;
	req->method = method;
	req->path = url;
	/* libuuid's random ids cost four syscalls each; see uuid7.c */
	uuid7_generate(req->request_id);
	return req;
}

static bool authorize(struct http_request *req)
{
	const struct http_route *route = req->route;
	if (route->scope == AUTH_SCOPE_NONE)
		return true;
	if (!req->cfg->auth) {
		req->scopes = AUTH_SCOPE_INGEST | AUTH_SCOPE_READ | AUTH_SCOPE_ADMIN;
		return true;
	}
	size_t len = 0;
	const char *key = auth_bearer_token(http_header(req, "Authorization"), &len);
	if (key)
		req->scopes = auth_lookup(&req->cfg->keys, key, len, req->key_digest);
	if (req->scopes == AUTH_SCOPE_NONE) {
		http_add_header(req, "WWW-Authenticate", "Bearer");
		reject(req, 401, "send an API key as 'Authorization: Bearer <key>'");
		return false;
	}
	if (!auth_allows(req->scopes, (enum auth_scope)route->scope)) {
		reject(req, 403, "this API key does not have the scope this endpoint requires");
		return false;
	}
	return true;
}

/* application/json, optionally with parameters; a charset must be UTF-8. */
static bool is_json_content_type(const char *ct)
{
	if (ct == NULL)
		return false;
	size_t n = strcspn(ct, "; \t");
	if (n != strlen("application/json") || strncasecmp(ct, "application/json", n) != 0)
		return false;
	const char *charset = strcasestr(ct + n, "charset=");
	if (charset == NULL)
		return true;
	charset += strlen("charset=");
	if (*charset == '"')
		charset++;
	return strncasecmp(charset, "utf-8", 5) == 0 && strchr("\"; \t", charset[5]) != NULL;
}

/* Headers decide the body limit, content type and a Content-Length that is
 * already too large. Returns false when the reply must go out right now. */
static bool check_body_headers(struct http_request *req)
{
	const struct http_route *route = req->route;
	if (route->body == HTTP_BODY_NONE)
		return true;
	req->priv->body_limit = route->body == HTTP_BODY_BATCH ? req->cfg->max_batch_body
							       : req->cfg->max_body;
	if (!is_json_content_type(http_header(req, "Content-Type"))) {
		reject(req, 415, "request bodies must be sent as Content-Type: application/json");
		return true;
	}
	const char *cl = http_header(req, "Content-Length");
	if (cl) {
		char *end = NULL;
		unsigned long long n = strtoull(cl, &end, 10);
		if (end != cl && *end == '\0' && n > req->priv->body_limit) {
			reject(req, 413, "the request body exceeds the size limit");
			req->priv->cut_short = true;
			return false;
		}
	}
	return true;
}

static void handle_options(struct http_request *req, enum route_result found, const char *allow)
{
	if (found == ROUTE_NOT_FOUND) {
		reject(req, 404, "no such endpoint");
		return;
	}
	char methods[128];
	snprintf(methods, sizeof(methods), "%s%s%s", allow, allow[0] ? ", " : "", "OPTIONS");
	req->status = 204; /* no body, so no Content-Type */
	http_add_header(req, "Allow", methods);
	if (cors_origin(req)) {
		http_add_header(req, "Access-Control-Allow-Methods", methods);
		http_add_header(req, "Access-Control-Allow-Headers",
				"Authorization, Content-Type, Idempotency-Key");
		http_add_header(req, "Access-Control-Max-Age", "600");
	}
	atomic_store(&req->priv->state, REQ_REJECTED); /* nothing more to do */
}

/* First call: route and headers. Returns false when the reply must be queued now. */
static bool request_begin(struct http_request *req)
{
	struct http_server *srv = req->priv->srv;
	char allow[96];
	/* A request that begins while the server drains (its connection was
	 * accepted before the quiesce, or kept alive) must not reach a handler:
	 * one that suspended after the drain saw no request active would still
	 * be suspended when the daemon stops, which libmicrohttpd aborts on.
	 * It was counted in srv->active before this check, so the drain either
	 * waits for it or it sees the flag. */
	if (atomic_load(&srv->draining)) {
		http_add_header(req, "Connection", "close");
		reject(req, 503, "the server is shutting down");
		return true;
	}
	if (strlen(req->path) >= PATH_MAX_LEN) {
		reject(req, 404, "no such endpoint");
		return true;
	}
	/* On the heap, not in this struct: an allocation of 1 KiB or more makes
	 * glibc consolidate its fast bins, which cost 2 % of a profile read. */
	req->priv->path_buf = strdup(req->path);
	if (req->priv->path_buf == NULL) {
		reject(req, 503, "the server is out of memory");
		return true;
	}
	/* No route has method OPTIONS, so matching with it lists every method
	 * the path supports in allow. */
	enum route_result found =
		router_match(srv->opt.routes, srv->opt.n_routes, req->method, req->priv->path_buf,
			     &req->route, req->params, allow, sizeof(allow));
	if (strcmp(req->method, "OPTIONS") == 0) {
		handle_options(req, found, allow);
		return true;
	}
	if (found == ROUTE_NOT_FOUND) {
		reject(req, 404, "no such endpoint");
		return true;
	}
	if (found == ROUTE_METHOD_NOT_ALLOWED) {
		http_add_header(req, "Allow", allow);
		reject(req, 405, "this endpoint does not support this method");
		return true;
	}
	if (!authorize(req))
		return true;
	if (!ratelimit_admit(srv->ratelimit, req)) {
		atomic_store(&req->priv->state, REQ_REJECTED);
		return true;
	}
	return check_body_headers(req);
}

static bool body_append(struct http_request *req, const char *data, size_t len)
{
	struct http_request_private *priv = req->priv;
	if (req->body_len + len > priv->body_limit)
		return false;
	if (req->body_len + len + 1 > priv->body_cap) {
		size_t cap = priv->body_cap ? priv->body_cap : 4096;
		while (cap < req->body_len + len + 1)
			cap *= 2;
		if (cap > priv->body_limit + 1)
			cap = priv->body_limit + 1;
		char *grown = realloc(req->body, cap);
		if (grown == NULL)
			return false;
		req->body = grown;
		priv->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, len);
	req->body_len += len;
	req->body[req->body_len] = '\0';
	return true;
}

/* An upload call. Returns false when the connection must be closed.
 *
 * libmicrohttpd 0.9.75 cannot queue a reply in the middle of an upload
 * (MHD_queue_response refuses it and the connection is closed without an
 * answer), so a body that turns out too large or too late is read on and
 * dropped, and the 413/408 goes out once it ends. Dropping is capped: past
 * max_batch_body bytes nothing can be answered and the connection is closed;
 * a body that stops arriving is cut by the request deadline (conntrack). */
static bool request_upload(struct http_request *req, const char *data, size_t len)
{
	struct http_request_private *priv = req->priv;
	if (atomic_load(&priv->state) != REQ_REJECTED &&
	    seconds_since(&priv->start) > (double)req->cfg->request_timeout_s)
		reject(req, 408, "the request body did not arrive in time");
	if (atomic_load(&priv->state) == REQ_REJECTED || priv->body_limit == 0) {
		priv->discarded += len;
		return priv->discarded <= req->cfg->max_batch_body;
	}
	if (!body_append(req, data, len)) {
		reject(req, 413, "the request body exceeds the size limit");
		priv->discarded += len;
	}
	return true;
}

static void after_handler(struct http_server *srv)
{
	if (srv->opt.after_handler)
		srv->opt.after_handler(srv->opt.app);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;
	if (req == NULL) {
		req = request_new(srv, conn, url, method);
		if (req == NULL)
			return MHD_NO;
		*con_cls = req;
		atomic_fetch_add(&srv->active, 1);
		conntrack_enter(srv->conntrack, conn, CONNTRACK_BODY);
		return request_begin(req) ? MHD_YES : queue_reply(req);
	}
	if (*upload_data_size > 0) {
		bool go_on = request_upload(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return go_on ? MHD_YES : MHD_NO;
	}
	conntrack_enter(srv->conntrack, conn, CONNTRACK_HANDLING);
	switch (atomic_load(&req->priv->state)) {
	case REQ_READING:
		req->priv->handling = true;
		atomic_fetch_add(&srv->handling, 1);
		req->route->handler(req);
		after_handler(srv);
		/* A suspended handler replies from its resume function, on the
		 * call that follows the resumption, even if that came already. */
		if (atomic_load(&req->priv->state) != REQ_READING)
			return MHD_YES;
		return queue_reply(req);
	case REQ_RESUMED:
		req->resume(req);
		after_handler(srv);
		return queue_reply(req);
	case REQ_SUSPENDED:
		return MHD_YES;
	default:
		return queue_reply(req);
	}
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;
	if (req == NULL)
		return;
	*con_cls = NULL;
	if (req->priv->cut_short && srv->linger) {
		const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (info)
			linger_add(srv->linger, info->connect_fd);
	}
	double secs = seconds_since(&req->priv->start);
	const char *route = req->route ? req->route->pattern : "unmatched";
	int status = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? req->status : 499;
	log_request(req->request_id, req->method, route, status, secs * 1000.0);
	if (srv->opt.observe)
		srv->opt.observe(srv->opt.app, route, status, secs);
	bool counted = req->priv->handling;
	request_free(req);
	if (counted)
		atomic_fetch_sub(&srv->handling, 1);
	atomic_fetch_sub(&srv->active, 1);
	conntrack_enter(srv->conntrack, conn, CONNTRACK_IDLE);
}

static int bind_address(const char *host, int port, struct sockaddr_storage *ss, bool *v6)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*v6 = false;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*v6 = true;
		return 0;
	}
	return FBD_EINVAL;
}

/* The per-key rate limiter (API keys are few; with auth off, one bucket per
 * recent client address) and the request-deadline reaper. */
static int http_server_limits_new(struct http_server *srv, const struct fbd_config *cfg)
{
	int err = conntrack_new(&srv->conntrack, (size_t)cfg->max_connections,
				cfg->request_timeout_s, cfg->idle_timeout_s);
	if (err != 0 || cfg->rate_limit == 0)
		return err;
	size_t slots = cfg->auth ? 4 * AUTH_MAX_KEYS : 4096;
	err = ratelimit_new(&srv->ratelimit, cfg->rate_limit, cfg->rate_burst, slots);
	if (err != 0)
		conntrack_free(srv->conntrack);
	return err;
}

int http_server_start(struct http_server **out, const struct http_server_options *opt)
{
	const struct fbd_config *cfg = opt->cfg;
	struct sockaddr_storage addr;
	bool v6 = false;
	*out = NULL;
	if (bind_address(cfg->host, cfg->port, &addr, &v6) != 0)
		return FBD_EINVAL;
	struct http_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return FBD_ENOMEM;
	srv->opt = *opt;
	atomic_init(&srv->active, 0);
	atomic_init(&srv->handling, 0);
	atomic_init(&srv->draining, false);
	int err = linger_start(&srv->linger);
	if (err == 0)
		err = http_server_limits_new(srv, cfg);
	if (err != 0) {
		linger_stop(srv->linger);
		free(srv);
		return err;
	}
	/* no listening socket of its own: acceptor.h tells why */
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
	struct MHD_OptionItem ops[] = {
		{MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL},
		{MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, NULL},
		{MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_per_ip, NULL},
		{MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s, NULL},
		{MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv},
		{MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)conntrack_notify, srv->conntrack},
		{MHD_OPTION_END, 0, NULL},
	};
	/* the logger goes first so that errors about later options reach it */
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
				       MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL, MHD_OPTION_ARRAY,
				       ops, MHD_OPTION_END);
	if (srv->daemon != NULL &&
	    acceptor_start(&srv->acceptor, srv->daemon, (const struct sockaddr *)&addr,
			   v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
			   LISTEN_BACKLOG) != 0) {
		MHD_stop_daemon(srv->daemon);
		srv->daemon = NULL;
	}
	if (srv->daemon == NULL) {
		linger_stop(srv->linger);
		conntrack_free(srv->conntrack);
		ratelimit_free(srv->ratelimit);
		free(srv);
		return FBD_EIO;
	}
	srv->port = acceptor_port(srv->acceptor);
	*out = srv;
	return 0;
}

int http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void http_server_quiesce(struct http_server *srv)
{
	atomic_store(&srv->draining, true);
	acceptor_stop(srv->acceptor);
	srv->acceptor = NULL;
}

size_t http_server_active(const struct http_server *srv)
{
	return atomic_load(&srv->active);
}

size_t http_server_handling(const struct http_server *srv)
{
	return atomic_load(&srv->handling);
}

void http_server_stop(struct http_server *srv)
{
	if (srv == NULL)
		return;
	acceptor_stop(srv->acceptor); /* before the daemon it hands connections to */
	MHD_stop_daemon(srv->daemon);
	linger_stop(srv->linger);
	conntrack_free(srv->conntrack);
	ratelimit_free(srv->ratelimit);
	free(srv);
}
