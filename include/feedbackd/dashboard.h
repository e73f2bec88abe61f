/* Dashboard aggregates: kept by the writer, read by the dashboard endpoints.
 *
 * Write side: rollup_apply() adds one new submission to the per-day
 * counters of every view (no filter; by channel; by agent; by segment; by
 * all three) and to the distinct-customer tables, inside the writer's
 * transaction, so a committed submission is always counted exactly once.
 *
 * Read side: figures over any period [since, until) in seconds. Whole UTC
 * days come from the rollups; the partial first and last days come from the
 * submissions themselves, so every figure is exact for any bounds while the
 * cost grows with the number of days, not with the number of submissions.
 * All functions take the caller's connection (a reader in the server, any
 * connection in the benchmark) and return 0 or a negative FBD_* code. */
#ifndef FEEDBACKD_DASHBOARD_H
#define FEEDBACKD_DASHBOARD_H

#include <stddef.h>
#include <stdint.h>

#include "feedbackd/model.h"
#include "feedbackd/stats.h"
#include "feedbackd/store.h"

/* Add s (as stored: id, segment resolved) to the rollups. Call inside the
 * transaction that inserts s, once per new submission. */
int rollup_apply(struct db_conn *c, const struct submission *s);

/* The same, summed over a commit group: rollup_add() writes s's
 * customer-days at once (later lookups read them) and keeps its counter
 * additions in g; rollup_group_flush() writes g's sums, one UPSERT per key,
 * and empties g. The tables end up exactly as with rollup_apply() per
 * submission. Call flush inside the same transaction, before COMMIT; the
 * submissions' strings are borrowed until then. On an error rollup_add()
 * leaves g as it was (s added to nothing), so a caller that rolls back only
 * s's savepoint can go on. rollup_group_discard() drops g's sums (the
 * transaction was rolled back). g is owned by its creator, who frees it
 * with rollup_group_free() (NULL accepted); one thread at a time. */
struct rollup_group;
int rollup_group_new(struct rollup_group **out);
void rollup_group_free(struct rollup_group *g);
int rollup_add(struct db_conn *c, struct rollup_group *g, const struct submission *s);
int rollup_group_flush(struct db_conn *c, struct rollup_group *g);
void rollup_group_discard(struct rollup_group *g);
/* Keys with a pending sum (bounds the memory a caller lets g hold). */
size_t rollup_group_pending(const struct rollup_group *g);

/* Take s (as stored) out of the rollups, for a feature that deletes
 * submissions (erasure). Call inside the transaction that deletes the row,
 * after the DELETE. Also tells the readers' caches that counts may have
 * gone down (dashboard_state.removals). */
int rollup_remove(struct db_conn *c, const struct submission *s);

/* Filters; NULL / -1 means "any". Strings are borrowed for the call. */
struct dash_filter {
	int channel; /* enum channel or -1 */
	const char *agent_id;
	const char *segment;
};

enum dash_level {
	DASH_BELOW = 0,
	DASH_EXPECTED,
	DASH_EXCEEDED,
	DASH_DELIGHTED,
	DASH_LOYAL,
	DASH_UNRATED,
	DASH_LEVELS
};

struct dash_summary {
	struct stats_counts counts;
	int64_t customers;           /* distinct customers with a submission in the period */
	int64_t levels[DASH_LEVELS]; /* current profiles; only the segment filter applies */
	int64_t at_risk;
};

/* Requires since < until. */
int dash_summary(struct db_conn *c, const struct dash_filter *f, int64_t since, int64_t until,
                 struct dash_summary *out);

struct dash_point {
	int64_t start_day; /* day number of the interval's first day */
	struct stats_counts counts;
};

/* Number of points the trend over [since, until) has (since < until). */
int64_t dash_trend_points(enum stats_interval iv, int64_t since, int64_t until);

/* Fills points[0..n) where n == dash_trend_points(iv, since, until); the
 * caller owns the array. */
int dash_trend(struct db_conn *c, const struct dash_filter *f, int64_t since, int64_t until,
               enum stats_interval iv, struct dash_point *points, size_t n);

enum dash_by { DASH_BY_CHANNEL = 0, DASH_BY_AGENT = 1, DASH_BY_SEGMENT = 2 };

struct dash_row {
	char *key; /* channel name, agent id or segment; NULL: submissions without one */
	struct stats_counts counts;
};

/* One row per key with submissions in [since, until), by count descending,
 * ties by key (absent key last). *rows is owned by the caller:
 * dash_rows_free(*rows, *n). */
int dash_breakdown(struct db_conn *c, enum dash_by by, int64_t since, int64_t until,
                   struct dash_row **rows, size_t *n);
void dash_rows_free(struct dash_row *rows, size_t n);

#endif
