/* Reading customer profiles: one by id, and filtered, sorted pages.
 *
 * The rows are written by the writer (counts, first/last seen, segment) and
 * by the scoring worker (the profile); this module only reads them, on the
 * calling thread's reader connection. */
#ifndef FEEDBACKD_CUSTOMERS_H
#define FEEDBACKD_CUSTOMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feedbackd/score.h"
#include "feedbackd/store.h"

/* One customer row. Absent integers are SCORE_NONE. Strings are owned by
 * the struct: customer_release(). */
struct customer {
	char *customer_id;
	char *segment; /* NULL when none */
	int64_t surveys;
	int64_t nps_ratings;
	int64_t first_seen;
	int64_t last_seen;
	bool computed;       /* the worker has scored it at least once */
	int64_t computed_at; /* when computed */
	int level;           /* enum score_level */
	int loyalty_score;
	bool has_delta;
	int loyalty_delta_30d;
	int nps_category; /* enum nps_category */
	int latest_nps;
	bool has_shares;
	double share_met, share_exceeded, share_delighted; /* already rounded to 0.001 */
	unsigned risk_reasons;                             /* enum score_risk bits */
};

void customer_release(struct customer *c);

/* FBD_ENOTFOUND if the customer never submitted. out is filled (release it
 * on success only). */
int customers_get(struct store *st, const char *customer_id, struct customer *out);

enum customer_sort {
	CUSTOMER_SORT_LOYALTY = 0,       /* loyalty_score ascending */
	CUSTOMER_SORT_LOYALTY_DESC = 1,  /* -loyalty_score */
	CUSTOMER_SORT_LAST_SEEN = 2,     /* last_seen ascending */
	CUSTOMER_SORT_LAST_SEEN_DESC = 3 /* -last_seen */
};

#define CUSTOMER_ANY (-2) /* a filter that is not set */

struct customer_query {
	int level;           /* enum score_level (LEVEL_UNRATED: unrated), or CUSTOMER_ANY */
	const char *segment; /* NULL: any */
	int at_risk;         /* 0, 1 or CUSTOMER_ANY */
	int nps_category;    /* enum nps_category (not NPS_NONE), or CUSTOMER_ANY */
	enum customer_sort sort;
	int limit; /* 1..500 */
	/* continue after this position (a row of the previous page) */
	bool has_cursor;
	bool cursor_null; /* the position is among the rows with a null sort key */
	int64_t cursor_key;
	const char *cursor_id;
};

/* Rows in the query's order, ties by customer_id in the same direction, null
 * sort keys last. Fills rows[0..*n) (room for q->limit entries, released by
 * the caller) and sets *more when further rows exist. */
int customers_list(struct store *st, const struct customer_query *q, struct customer *rows,
                   size_t *n, bool *more);

#endif
