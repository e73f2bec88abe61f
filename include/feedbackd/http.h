/* The HTTP layer: server, router, replies.
 *
 * Handlers see one struct http_request per request, called once the whole
 * body has arrived and the route's scope has been checked. A handler either
 * sets a reply (http_reply_json / http_reply_problem) and returns, or
 * suspends the request (http_suspend) and has it resumed from another thread
 * once its work is done; the server then calls the resume function, which
 * sets the reply. Nothing here blocks an HTTP thread. */
#ifndef FEEDBACKD_HTTP_H
#define FEEDBACKD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "feedbackd/auth.h"
#include "feedbackd/config.h"
#include "feedbackd/model.h"

#define HTTP_MAX_PARAMS 2
#define HTTP_MAX_HEADERS 6

struct http_request;
typedef void (*http_handler)(struct http_request *req);

enum http_body {
	HTTP_BODY_NONE = 0,   /* GET-like: a body is ignored */
	HTTP_BODY_SINGLE = 1, /* JSON body up to max_body */
	HTTP_BODY_BATCH = 2,  /* JSON body up to max_batch_body */
};

struct http_route {
	const char *method;   /* "GET", "POST", ... (HEAD is served by GET routes) */
	const char *pattern;  /* "/v1/responses/{id}": {name} matches one non-empty segment */
	http_handler handler;
	unsigned scope;       /* enum auth_scope required; AUTH_SCOPE_NONE: served without auth */
	enum http_body body;
};

struct http_request {
	void *app;                 /* the server's app pointer (struct api_env) */
	const struct fbd_config *cfg;
	const struct http_route *route;
	const char *method;
	const char *path;          /* without the query string */
	const char *params[HTTP_MAX_PARAMS]; /* {name} captures, in pattern order, owned by the request */
	char *body;                /* NUL-terminated, owned by the request; NULL when empty */
	size_t body_len;
	unsigned scopes;           /* granted by the API key */
	uint8_t key_digest[AUTH_DIGEST_LEN]; /* the API key's digest (zero when auth is off) */
	char request_id[37];
	int64_t received_at;       /* unix seconds when the request began */

	/* reply, set by the handler; owned by the request until sent */
	int status;
	char *reply_body;
	size_t reply_len;
	bool reply_is_problem;
	const char *header_names[HTTP_MAX_HEADERS];
	char *header_values[HTTP_MAX_HEADERS];
	size_t n_headers;

	/* async */
	void *async;                                 /* handler state, freed by async_free */
	void (*async_free)(void *async);
	http_handler resume;                         /* called after http_resume() */

	struct MHD_Connection *conn; /* private to the server */
	struct http_request_private *priv;
};

/* The value of a request header (case-insensitive name) or NULL. */
const char *http_header(struct http_request *req, const char *name);

/* Query arguments: calls fn for each "key=value" (decoded) in order; fn
 * returns 0 to go on. Returns the first non-zero value fn returned. */
int http_query_each(struct http_request *req, int (*fn)(void *ctx, const char *key,
							 const char *value),
		    void *ctx);

/* Replies. Each replaces a previous reply. */
/* Takes ownership of body (freed here). */
void http_reply_json(struct http_request *req, int status, cJSON *body);
/* problem+json: type derived from status; v may be NULL; detail may be NULL. */
void http_reply_problem(struct http_request *req, int status, const char *detail,
			const struct validation *v);
/* problem+json with extra members merged in (takes ownership of extra, may be NULL). */
void http_reply_problem_ex(struct http_request *req, int status, const char *detail,
			   const struct validation *v, cJSON *extra);
/* A problem details object (as the body of http_reply_problem), for replies
 * that embed one, such as batch results. Caller owns it; NULL without memory. */
cJSON *http_problem_json(int status, const char *detail, const struct validation *v);
/* Raw body with a content type (copied). */
void http_reply_raw(struct http_request *req, int status, const char *content_type,
		    const char *body, size_t len);
/* Add a reply header (value copied). At most HTTP_MAX_HEADERS. */
void http_add_header(struct http_request *req, const char *name, const char *value);

/* Suspend until http_resume(); resume is called on an HTTP thread afterwards. */
void http_suspend(struct http_request *req, http_handler resume);
/* Thread-safe; call exactly once per http_suspend(). */
void http_resume(struct http_request *req);

/* Router */
enum route_result {
	ROUTE_FOUND = 0,
	ROUTE_NOT_FOUND = 1,
	ROUTE_METHOD_NOT_ALLOWED = 2,
};

/* Match method + path against routes. On ROUTE_FOUND *out is the route and
 * params[] point into path_buf (a copy of path the caller provides, modified
 * in place). On ROUTE_METHOD_NOT_ALLOWED allow receives "GET, POST". */
enum route_result router_match(const struct http_route *routes, size_t n, const char *method,
			       char *path_buf, const struct http_route **out,
			       const char *params[HTTP_MAX_PARAMS], char *allow, size_t allow_len);

/* Server */
struct http_server;

struct http_server_options {
	const struct fbd_config *cfg;
	const struct http_route *routes;
	size_t n_routes;
	void *app;
	/* called after every request with its route pattern (or "unmatched"),
	 * status and duration; may be NULL */
	void (*observe)(void *app, const char *route, int status, double seconds);
	/* called on the HTTP thread after each handler and resume function
	 * returns (the app ends its use of per-thread resources); may be NULL */
	void (*after_handler)(void *app);
};

/* Bind and start serving. *out owned by the caller: http_server_stop(). */
int http_server_start(struct http_server **out, const struct http_server_options *opt);

/* The bound port (useful with port 0). */
int http_server_port(const struct http_server *srv);

/* Stop accepting new connections; in-flight requests go on, and a request
 * that begins from now on is answered 503 with "Connection: close". */
void http_server_quiesce(struct http_server *srv);

/* Requests started and not yet completed. */
size_t http_server_active(const struct http_server *srv);

/* Of those, the ones whose body has fully arrived (being handled, waiting
 * for a commit, or being answered). */
size_t http_server_handling(const struct http_server *srv);

/* Stop and free; all suspended requests must have been resumed. NULL accepted. */
void http_server_stop(struct http_server *srv);

#endif
