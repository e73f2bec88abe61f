/* Figures about the database for monitoring (GET /metrics). */
#ifndef FEEDBACKD_STORE_STATS_H
#define FEEDBACKD_STORE_STATS_H

#include <stdint.h>

#include "feedbackd/store.h"

struct store_stats {
	int64_t pending_submissions; /* stored, not yet in their customer's profile */
	int64_t oldest_pending_at;   /* unix seconds its oldest was received; 0 when none */
	int64_t database_bytes;      /* page_count * page_size + size of the WAL file */
};

/* Read the figures on this thread's reader connection: two queries of a few
 * index seeks each, whatever the size of the database, and a stat() of the
 * WAL file. Returns 0, or a project error code with *out zeroed. */
int store_stats(struct store *st, struct store_stats *out);

#endif
