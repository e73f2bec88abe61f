/* The API: route table and the environment handlers run in. */
#ifndef FEEDBACKD_API_H
#define FEEDBACKD_API_H

#include <stdatomic.h>
#include <stddef.h>

#include "feedbackd/config.h"
#include "feedbackd/http.h"
#include "feedbackd/metrics.h"
#include "feedbackd/store.h"
#include "feedbackd/worker.h"
#include "feedbackd/writer.h"

/* Shared by all handlers; everything here is set before the server starts
 * and read-only afterwards (the pointed-to components are thread-safe). */
struct api_env {
	const struct fbd_config *cfg;
	struct store *store;
	struct writer *writer;
	struct inflight *inflight; /* keyed requests in progress (idempotency) */
	struct worker *worker; /* scoring worker (profiles) */
	atomic_bool draining; /* SIGTERM received: readyz answers 503 */
	struct metrics *metrics; /* counters for GET /metrics */
};

extern const struct http_route api_routes[];
extern const size_t api_routes_count;

#endif
