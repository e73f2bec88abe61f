/* The scoring worker: keeps every customer's stored profile current.
 *
 * One thread with its own write connection. It rescores the customers of
 * the submissions stored after its cursor (table scoring_cursor) and the
 * customers whose next_rescore_at has come (time alone moved their window),
 * and stores the profiles in `customers`. Queries only read
 * those columns. See src/score/worker.c for the design. */
#ifndef FEEDBACKD_WORKER_H
#define FEEDBACKD_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feedbackd/score.h"
#include "feedbackd/store.h"
#include "feedbackd/writer.h"

struct worker;

struct worker_options {
	struct score_params params; /* copied */
	struct writer *writer;      /* borrowed: runs every write; stopped before the worker */
	int batch;                  /* customers read and scored per batch, 1..4096 (0: 1024) */
	int idle_ms;                /* longest sleep without a wake-up (0: 1000) */
};

/* Open the worker's (read-only) connection, have opt->writer expire the
 * stored profiles if the scoring params changed, and start the thread;
 * submissions left pending by a previous run are taken up at once. *out is
 * set before the thread starts and owned by the caller: worker_stop().
 * Returns 0, FBD_ENOMEM, FBD_ESHUTDOWN or a storage error. */
int worker_start(struct worker **out, struct store *st, const struct worker_options *opt);

/* Wake the worker: something was committed. Thread-safe, never blocks for
 * long (takes the worker's mutex only to set a flag). */
void worker_notify(struct worker *w);

/* Adapter for writer_options.on_commit: arg is the struct worker. */
void worker_on_commit(void *arg, size_t stored);

/* True while the thread runs and its last pass did not fail. */
bool worker_alive(struct worker *w);

/* The pending work is in the database: store_stats() reads it. */
struct worker_stats {
	uint64_t profiles_scored; /* since start */
	uint64_t passes_failed;   /* since start */
};

/* Current figures, thread-safe. */
void worker_stats(struct worker *w, struct worker_stats *out);

/* Stop the thread, close the connection, free w; call it after
 * writer_stop(), which lets the batch in progress store what it handed over
 * and refuses the rest. Submissions not yet reflected stay pending for the
 * next start. NULL is accepted. */
void worker_stop(struct worker *w);

#endif
