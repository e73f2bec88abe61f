/* Figures about the database for monitoring (GET /metrics). */
#ifndef FEEDBACKD_STORE_STATS_H
#define FEEDBACKD_STORE_STATS_H

#include <stdint.h>

#include "feedbackd/store.h"

struct store_stats {
	int64_t dirty_customers; /* customers waiting to be rescored */
	int64_t oldest_dirty_at; /* unix seconds of the oldest mark; 0 when none */
	int64_t database_bytes;  /* page_count * page_size + size of the WAL file */
};

/* Read the figures on this thread's reader connection: two cheap queries
 * (the dirty table is small: one row per customer waiting) and a stat() of
 * the WAL file. Returns 0, or a project error code with *out zeroed. */
int store_stats(struct store *st, struct store_stats *out);

#endif
