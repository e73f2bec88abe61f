/* Prometheus metrics: lock-free counters and their text exposition.
 *
 * Request threads count into fixed arrays of atomics (no lock, no
 * allocation on the request path); GET /metrics renders them, together with
 * gauges the caller samples at scrape time (queue depths, database size,
 * process figures), in the text exposition format 0.0.4. The set of series is
 * bounded by the route table: a request whose route is unknown counts under
 * "unmatched", a status outside 100..599 under 599. */
#ifndef FEEDBACKD_METRICS_H
#define FEEDBACKD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "feedbackd/http.h"

/* Upper bounds (seconds) of the latency histogram's buckets, +Inf implied. */
#define METRICS_N_BUCKETS 12

struct metrics;

/* Counters for the routes of routes[0..n) (their patterns are the label
 * values; routes sharing a pattern share a series). routes must outlive *out.
 * *out is owned by the caller: metrics_free(). */
int metrics_new(struct metrics **out, const struct http_route *routes, size_t n);
void metrics_free(struct metrics *m); /* NULL accepted */

/* Count one answered request; route is a pattern of the table or anything
 * else ("unmatched"). Thread-safe, lock-free. */
void metrics_observe_request(struct metrics *m, const char *route, int status, double seconds);

/* Count submissions committed to the database. Thread-safe, lock-free. */
void metrics_add_stored(struct metrics *m, uint64_t n);

/* Gauges sampled by the caller at scrape time. A negative value is "not
 * known" and its series is left out. */
struct metrics_gauges {
	double writer_queue_depth; /* submissions waiting for a commit */
	double writer_queue_capacity;
	double rescore_queue_depth; /* customers marked dirty */
	double rescore_lag_seconds; /* age of the oldest dirty mark, 0 when none */
	double database_bytes;      /* main file + WAL */
	double process_resident_bytes;
	double process_cpu_seconds;
	double process_open_fds;
	double process_max_fds;
	double process_start_time; /* unix seconds */
};

/* Fill the process_* fields from /proc/self and getrusage (others unset).
 * Fields that cannot be read are set to -1. */
void metrics_sample_process(struct metrics_gauges *g);

/* Render everything. *out is NUL-terminated, owned by the caller (free());
 * returns 0 or FBD_ENOMEM. */
int metrics_render(const struct metrics *m, const struct metrics_gauges *g, char **out,
                   size_t *len);

#endif
