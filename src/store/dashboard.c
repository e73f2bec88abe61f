/* Read side of the dashboard aggregates (see include/feedbackd/dashboard.h).
 *
 * A period [since, until) splits into the whole UTC days it covers, read
 * from the rollups, and at most two partial days at its ends, read from the
 * submissions (covering index submissions_for_dashboards). The view is the
 * narrowest one that answers the filters: kinds 0..3 have one key per day,
 * so a range of days is one index range; combined filters read view 4,
 * whose key has all three dimensions, with an IN list over the channels
 * when the channel is not fixed so that an index can still be used.
 *
 * Statements use named parameters (:kind, :ch, :ag, :sg, :lo, :hi, ...)
 * and every query binds all of them that its text uses, which keeps the
 * handful of texts built here easy to check against one binding routine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feedbackd/dashboard.h"
#include "feedbackd/error.h"

#define VIEW_ALL 4
#define SQL_MAX 2048

#define ROLLUP_SUMS                                                                                \
	"coalesce(sum(responses), 0), coalesce(sum(nps_count), 0), coalesce(sum(promoters), 0),"   \
	" coalesce(sum(passives), 0), coalesce(sum(detractors), 0),"                               \
	" coalesce(sum(csat_count), 0), coalesce(sum(csat_positive), 0),"                          \
	" coalesce(sum(csat_sum), 0), coalesce(sum(effort_count), 0),"                             \
	" coalesce(sum(effort_sum), 0), coalesce(sum(exp_below), 0), coalesce(sum(exp_met), 0),"   \
	" coalesce(sum(exp_exceeded), 0), coalesce(sum(resolved_count), 0),"                       \
	" coalesce(sum(resolved_yes), 0)"

#define ROLLUP_COLUMNS                                                                             \
	"responses, nps_count, promoters, passives, detractors, csat_count, csat_positive,"        \
	" csat_sum, effort_count, effort_sum, exp_below, exp_met, exp_exceeded, resolved_count,"   \
	" resolved_yes"

#define SUBMISSION_SUMS                                                                            \
	"count(*), count(nps), coalesce(sum(nps >= 9), 0), coalesce(sum(nps BETWEEN 7 AND 8), 0)," \
	" coalesce(sum(nps <= 6), 0), count(csat), coalesce(sum(csat >= 4), 0),"                   \
	" coalesce(sum(csat), 0), count(effort), coalesce(sum(effort), 0),"                        \
	" coalesce(sum(expectation = 0), 0), coalesce(sum(expectation = 1), 0),"                   \
	" coalesce(sum(expectation = 2), 0), count(resolved), coalesce(sum(resolved = 1), 0)"

/* Everything a statement may bind. Days for :lo/:hi, seconds for the rest. */
struct qparams {
	int kind;
	const struct dash_filter *f;
	int64_t lo, hi;         /* whole days [lo, hi) */
	int64_t t1, t2, t3, t4; /* partial days [t1, t2) and [t3, t4) */
};

/* The period cut at UTC midnights. */
struct split {
	int64_t lo, hi;             /* whole days [lo, hi); empty when lo >= hi */
	int64_t head_from, head_to; /* seconds; empty when from >= to */
	int64_t tail_from, tail_to;
};

static void split_period(int64_t since, int64_t until, struct split *s)
{
	int64_t lo = -stats_day_of(-since); /* ceiling */
	int64_t hi = stats_day_of(until);
	if (lo > hi) {
		/* both bounds inside one day */
		*s = (struct split){lo, lo, since, until, until, until};
		return;
	}
	*s = (struct split){lo, hi, since, lo * STATS_DAY_SECONDS, hi * STATS_DAY_SECONDS, until};
}

static int view_kind(const struct dash_filter *f)
{
	int n = (f->channel >= 0) + (f->agent_id != NULL) + (f->segment != NULL);
	if (n == 0)
		return 0;
	if (n > 1)
		return VIEW_ALL;
	return f->channel >= 0 ? 1 : f->agent_id ? 2 : 3;
}

static void bind_int(sqlite3_stmt *stmt, const char *name, int64_t v)
{
	int i = sqlite3_bind_parameter_index(stmt, name);
	if (i > 0)
		sqlite3_bind_int64(stmt, i, v);
}

static void bind_text(sqlite3_stmt *stmt, const char *name, const char *v)
{
	int i = sqlite3_bind_parameter_index(stmt, name);
	if (i > 0)
		sqlite3_bind_text(stmt, i, v, -1, SQLITE_STATIC);
}

static void bind_params(sqlite3_stmt *stmt, const struct qparams *p)
{
	bind_int(stmt, ":kind", p->kind);
	bind_int(stmt, ":ch", p->f->channel);
	bind_text(stmt, ":ag", p->f->agent_id ? p->f->agent_id : "");
	bind_text(stmt, ":sg", p->f->segment ? p->f->segment : "");
	bind_int(stmt, ":lo", p->lo);
	bind_int(stmt, ":hi", p->hi);
	bind_int(stmt, ":los", p->lo * STATS_DAY_SECONDS);
	bind_int(stmt, ":his", p->hi * STATS_DAY_SECONDS);
	bind_int(stmt, ":t1", p->t1);
	bind_int(stmt, ":t2", p->t2);
	bind_int(stmt, ":t3", p->t3);
	bind_int(stmt, ":t4", p->t4);
}

/* Appends to sql (of size SQL_MAX) the conditions that select rollups rows
 * of the filter's view, columns prefixed by alias. */
static size_t key_conditions(char *sql, size_t n, int kind, const struct dash_filter *f,
                             const char *a)
{
	if (kind != VIEW_ALL)
		return n + (size_t)snprintf(sql + n, SQL_MAX - n,
		                            "%1$skind = :kind AND %1$schannel = :ch AND"
		                            " %1$sagent_id = :ag AND %1$ssegment = :sg",
		                            a);
	n += (size_t)snprintf(sql + n, SQL_MAX - n, "%skind = :kind AND %s", a, a);
	n += (size_t)snprintf(sql + n, SQL_MAX - n,
	                      f->channel >= 0 ? "channel = :ch"
	                                      : "channel IN (0, 1, 2, 3, 4, 5, 6, 7)");
	if (f->agent_id)
		n += (size_t)snprintf(sql + n, SQL_MAX - n, " AND %sagent_id = :ag", a);
	if (f->segment)
		n += (size_t)snprintf(sql + n, SQL_MAX - n, " AND %ssegment = :sg", a);
	return n;
}

/* Conditions on the submissions table (alias a) for the filter. */
static size_t submission_conditions(char *sql, size_t n, const struct dash_filter *f, const char *a)
{
	if (f->channel >= 0)
		n += (size_t)snprintf(sql + n, SQL_MAX - n, " AND %schannel = :ch", a);
	if (f->agent_id)
		n += (size_t)snprintf(sql + n, SQL_MAX - n, " AND %sagent_id = :ag", a);
	if (f->segment)
		n += (size_t)snprintf(sql + n, SQL_MAX - n, " AND %ssegment = :sg", a);
	return n;
}

static void read_counts(sqlite3_stmt *stmt, int col, struct stats_counts *c)
{
	int64_t *fields[] = {&c->responses,    &c->nps_count,      &c->promoters,     &c->passives,
	                     &c->detractors,   &c->csat_count,     &c->csat_positive, &c->csat_sum,
	                     &c->effort_count, &c->effort_sum,     &c->exp_below,     &c->exp_met,
	                     &c->exp_exceeded, &c->resolved_count, &c->resolved_yes};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		*fields[i] = sqlite3_column_int64(stmt, col + (int)i);
}

static sqlite3_stmt *prepare(struct db_conn *c, const char *sql, const struct qparams *p)
{
	sqlite3_stmt *stmt = db_stmt(c, sql);
	if (stmt)
		bind_params(stmt, p);
	return stmt;
}

/* Runs a statement that yields exactly one row and reads its first column. */
static int scalar(struct db_conn *c, const char *sql, const struct qparams *p, int64_t *out)
{
	sqlite3_stmt *stmt = prepare(c, sql, p);
	if (stmt == NULL)
		return db_conn_error(c);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? 0 : db_error(rc) ? db_error(rc) : FBD_EDB;
}

/* Adds the counters of submissions in [from, to) to *out. */
static int partial_counts(struct db_conn *c, const struct qparams *p, int64_t from, int64_t to,
                          struct stats_counts *out)
{
	if (from >= to)
		return 0;
	char sql[SQL_MAX];
	size_t n = (size_t)snprintf(sql, SQL_MAX,
	                            "SELECT " SUBMISSION_SUMS " FROM submissions"
	                            " WHERE submitted_at >= :t1 AND submitted_at < :t2");
	submission_conditions(sql, n, p->f, "");
	struct qparams q = *p;
	q.t1 = from;
	q.t2 = to;
	sqlite3_stmt *stmt = prepare(c, sql, &q);
	if (stmt == NULL)
		return db_conn_error(c);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		struct stats_counts part;
		read_counts(stmt, 0, &part);
		stats_merge(out, &part);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? 0 : db_error(rc) ? db_error(rc) : FBD_EDB;
}

/* Whole days [lo, hi): calls fn for each day with data (by_day) or once
 * with the total. */
static int rollup_rows(struct db_conn *c, const struct qparams *p, bool by_day,
                       void (*fn)(void *arg, int64_t day, const struct stats_counts *n), void *arg)
{
	if (p->lo >= p->hi)
		return 0;
	char sql[SQL_MAX];
	size_t n = (size_t)snprintf(sql, SQL_MAX, "SELECT %s" ROLLUP_SUMS " FROM rollups WHERE ",
	                            by_day ? "day, " : "");
	n = key_conditions(sql, n, p->kind, p->f, "");
	snprintf(sql + n, SQL_MAX - n, " AND day >= :lo AND day < :hi%s",
	         by_day ? " GROUP BY day" : "");
	sqlite3_stmt *stmt = prepare(c, sql, p);
	if (stmt == NULL)
		return db_conn_error(c);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct stats_counts row;
		read_counts(stmt, by_day ? 1 : 0, &row);
		fn(arg, by_day ? sqlite3_column_int64(stmt, 0) : p->lo, &row);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? 0 : db_error(rc) ? db_error(rc) : FBD_EDB;
}

static void add_total(void *arg, int64_t day, const struct stats_counts *n)
{
	(void)day;
	stats_merge(arg, n);
}

/* Distinct customers of whole days, remembered per thread.
 *
 * Counting them reads one gap cell per customer (about 100 000 cells for a
 * year of 100 000 customers), by far the largest part of a long summary,
 * while the answer for a given range of whole days rarely changes: new
 * submissions land on today, which is a partial day, not a whole one. An
 * entry is reused only while the view's response count over the same days
 * and the number of submissions ever removed (rollup_remove) are both
 * unchanged, read in the same snapshot: with no removal, submissions are
 * only added, so an unchanged count means an unchanged set of submissions,
 * hence the same customers. Thread local, so readers never contend; each
 * HTTP thread has its own reader. */
#define CUSTOMER_CACHE_SIZE 16

struct customer_cache_entry {
	bool used;
	int kind, channel;
	int64_t lo, hi, responses, removals, customers;
	uint64_t last_used;
	char agent_id[4 * 128 + 1]; /* agent_id is at most 128 characters */
	char segment[4 * 64 + 1];   /* segment at most 64 */
};

static _Thread_local struct customer_cache_entry customer_cache[CUSTOMER_CACHE_SIZE];
static _Thread_local uint64_t customer_cache_clock;

static bool cache_key_matches(const struct customer_cache_entry *e, const struct qparams *p)
{
	return e->used && e->kind == p->kind && e->channel == p->f->channel && e->lo == p->lo &&
	       e->hi == p->hi && strcmp(e->agent_id, p->f->agent_id ? p->f->agent_id : "") == 0 &&
	       strcmp(e->segment, p->f->segment ? p->f->segment : "") == 0;
}

static struct customer_cache_entry *cache_find(const struct qparams *p)
{
	for (int i = 0; i < CUSTOMER_CACHE_SIZE; i++)
		if (cache_key_matches(&customer_cache[i], p))
			return &customer_cache[i];
	return NULL;
}

static void cache_store(const struct qparams *p, int64_t responses, int64_t removals,
                        int64_t customers)
{
	const char *agent = p->f->agent_id ? p->f->agent_id : "";
	const char *segment = p->f->segment ? p->f->segment : "";
	struct customer_cache_entry *e = cache_find(p);
	if (strlen(agent) >= sizeof(e->agent_id) || strlen(segment) >= sizeof(e->segment))
		return;
	if (e == NULL) {
		/* the least recently used entry; unused ones have last_used 0 */
		e = &customer_cache[0];
		for (int i = 1; i < CUSTOMER_CACHE_SIZE; i++)
			if (customer_cache[i].last_used < e->last_used)
				e = &customer_cache[i];
	}
	*e = (struct customer_cache_entry){
	    true,     p->kind,   p->f->channel,          p->lo, p->hi, responses,
	    removals, customers, ++customer_cache_clock, "",    ""};
	memcpy(e->agent_id, agent, strlen(agent) + 1);
	memcpy(e->segment, segment, strlen(segment) + 1);
}

/* Distinct customers over the whole days: first occurrences (views 0..3),
 * or a distinct count over the submissions of those days (view 4). */
static int count_customers_whole_days(struct db_conn *c, const struct qparams *p, int64_t *out)
{
	if (p->kind != VIEW_ALL)
		/* One index seek per day that has data, reading only the cells
		 * with prev_day < lo; written as a correlated subquery because
		 * as a join the planner moves the day range onto customer_gaps
		 * and reads every cell of every day once per day. */
		return scalar(
		    c,
		    "SELECT coalesce(sum((SELECT sum(g.n) FROM customer_gaps g"
		    " WHERE g.kind = :kind AND g.channel = :ch AND g.agent_id = :ag"
		    " AND g.segment = :sg AND g.day = r.day AND g.prev_day < :lo)), 0)"
		    " FROM rollups r WHERE r.kind = :kind AND r.channel = :ch"
		    " AND r.agent_id = :ag AND r.segment = :sg AND r.day >= :lo AND r.day < :hi",
		    p, out);
	/* The combined view keeps no customer-days (migration 007): its
	 * customers are read from the submissions of those days, one range of
	 * submissions_for_dashboards, which holds every column used here. */
	char sql[SQL_MAX];
	size_t n = (size_t)snprintf(sql, SQL_MAX,
	                            "SELECT count(DISTINCT customer_id) FROM submissions"
	                            " WHERE submitted_at >= :los AND submitted_at < :his");
	submission_conditions(sql, n, p->f, "");
	return scalar(c, sql, p, out);
}

/* responses: the view's submissions in the whole days (the cache's check). */
static int customers_whole_days(struct db_conn *c, const struct qparams *p, int64_t responses,
                                int64_t *out)
{
	*out = 0;
	if (p->lo >= p->hi || responses == 0)
		return 0;
	int64_t removals = 0;
	int err = scalar(c, "SELECT removals FROM dashboard_state", p, &removals);
	if (err != 0)
		return err;
	struct customer_cache_entry *e = cache_find(p);
	if (e && e->responses == responses && e->removals == removals) {
		e->last_used = ++customer_cache_clock;
		*out = e->customers;
		return 0;
	}
	err = count_customers_whole_days(c, p, out);
	if (err == 0)
		cache_store(p, responses, removals, *out);
	return err;
}

/* Customers of the partial days who have no submission in the whole days. */
static int customers_partial_days(struct db_conn *c, const struct qparams *p, int64_t *out)
{
	*out = 0;
	if (p->t1 >= p->t2 && p->t3 >= p->t4)
		return 0;
	char sql[SQL_MAX];
	size_t n = (size_t)snprintf(sql, SQL_MAX,
	                            "SELECT count(*) FROM (SELECT customer_id FROM submissions"
	                            " WHERE submitted_at >= :t1 AND submitted_at < :t2");
	n = submission_conditions(sql, n, p->f, "");
	n += (size_t)snprintf(sql + n, SQL_MAX - n,
	                      " UNION SELECT customer_id FROM submissions"
	                      " WHERE submitted_at >= :t3 AND submitted_at < :t4");
	n = submission_conditions(sql, n, p->f, "");
	if (p->kind != VIEW_ALL) {
		snprintf(sql + n, SQL_MAX - n,
		         ") e WHERE NOT EXISTS (SELECT 1 FROM customer_days d WHERE d.kind = :kind"
		         " AND d.channel = :ch AND d.agent_id = :ag AND d.segment = :sg"
		         " AND d.customer_id = e.customer_id AND d.day >= :lo AND d.day < :hi)");
	} else {
		n += (size_t)snprintf(
		    sql + n, SQL_MAX - n,
		    ") e WHERE NOT EXISTS (SELECT 1 FROM submissions s2"
		    " WHERE s2.customer_id = e.customer_id AND s2.submitted_at >= :los"
		    " AND s2.submitted_at < :his");
		n = submission_conditions(sql, n, p->f, "s2.");
		snprintf(sql + n, SQL_MAX - n, ")");
	}
	return scalar(c, sql, p, out);
}

static int profile_counts(struct db_conn *c, const struct qparams *p, struct dash_summary *out)
{
	sqlite3_stmt *stmt = prepare(
	    c,
	    p->f->segment ? "SELECT level, at_risk, n FROM profile_counts WHERE segment = :sg"
	                  : "SELECT level, at_risk, sum(n) FROM profile_counts"
	                    " GROUP BY level, at_risk",
	    p);
	if (stmt == NULL)
		return db_conn_error(c);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int level = sqlite3_column_int(stmt, 0);
		int64_t n = sqlite3_column_int64(stmt, 2);
		out->levels[level >= 0 && level < DASH_UNRATED ? level : DASH_UNRATED] += n;
		if (sqlite3_column_int(stmt, 1))
			out->at_risk += n;
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? 0 : db_error(rc) ? db_error(rc) : FBD_EDB;
}

/* Every figure of one answer comes from one snapshot, even while the writer
 * commits between its statements. A server reader is already in one
 * (store_reader), used as it is and left open; another connection (the
 * benchmark's) gets a transaction of its own. */
static int snapshot_begin(struct db_conn *c, bool *began)
{
	*began = sqlite3_get_autocommit(c->db) != 0;
	return *began ? db_exec(c, "BEGIN") : 0;
}

static int snapshot_end(struct db_conn *c, bool began, int err)
{
	if (!began)
		return err;
	int end = db_exec(c, err == 0 ? "COMMIT" : "ROLLBACK");
	return err != 0 ? err : end;
}

static struct qparams params_for(const struct dash_filter *f, const struct split *s)
{
	return (struct qparams){view_kind(f), f,          s->lo,        s->hi,
	                        s->head_from, s->head_to, s->tail_from, s->tail_to};
}

int dash_summary(struct db_conn *c, const struct dash_filter *f, int64_t since, int64_t until,
                 struct dash_summary *out)
{
	struct split s;
	memset(out, 0, sizeof(*out));
	if (since >= until)
		return FBD_EINVAL;
	split_period(since, until, &s);
	struct qparams p = params_for(f, &s);
	int64_t whole = 0, partial = 0;
	bool began = false;
	int err = snapshot_begin(c, &began);
	if (err != 0)
		return err;
	struct stats_counts whole_days;
	memset(&whole_days, 0, sizeof(whole_days));
	err = rollup_rows(c, &p, false, add_total, &whole_days);
	stats_merge(&out->counts, &whole_days);
	if (err == 0)
		err = partial_counts(c, &p, s.head_from, s.head_to, &out->counts);
	if (err == 0)
		err = partial_counts(c, &p, s.tail_from, s.tail_to, &out->counts);
	if (err == 0)
		err = customers_whole_days(c, &p, whole_days.responses, &whole);
	if (err == 0)
		err = customers_partial_days(c, &p, &partial);
	if (err == 0)
		err = profile_counts(c, &p, out);
	out->customers = whole + partial;
	return snapshot_end(c, began, err);
}

int64_t dash_trend_points(enum stats_interval iv, int64_t since, int64_t until)
{
	return stats_interval_count(iv, stats_day_of(since), stats_day_of(until - 1));
}

struct trend_ctx {
	enum stats_interval iv;
	int64_t first_day;
	struct dash_point *points;
	size_t n;
};

static void add_to_point(void *arg, int64_t day, const struct stats_counts *n)
{
	struct trend_ctx *t = arg;
	int64_t i = stats_interval_count(t->iv, t->first_day, day) - 1;
	if (i >= 0 && (size_t)i < t->n)
		stats_merge(&t->points[i].counts, n);
}

static int add_partial_to_point(struct db_conn *c, const struct qparams *p, int64_t from,
                                int64_t to, struct trend_ctx *t)
{
	struct stats_counts n;
	memset(&n, 0, sizeof(n));
	if (from >= to)
		return 0;
	int err = partial_counts(c, p, from, to, &n);
	if (err == 0)
		add_to_point(t, stats_day_of(from), &n);
	return err;
}

int dash_trend(struct db_conn *c, const struct dash_filter *f, int64_t since, int64_t until,
               enum stats_interval iv, struct dash_point *points, size_t n)
{
	if (since >= until || (int64_t)n != dash_trend_points(iv, since, until))
		return FBD_EINVAL;
	struct split s;
	split_period(since, until, &s);
	struct qparams p = params_for(f, &s);
	struct trend_ctx t = {iv, stats_day_of(since), points, n};
	int64_t start = stats_interval_start(iv, t.first_day);
	for (size_t i = 0; i < n; i++) {
		memset(&points[i], 0, sizeof(points[i]));
		points[i].start_day = start;
		start = stats_interval_next(iv, start);
	}
	bool began = false;
	int err = snapshot_begin(c, &began);
	if (err != 0)
		return err;
	err = rollup_rows(c, &p, true, add_to_point, &t);
	if (err == 0)
		err = add_partial_to_point(c, &p, s.head_from, s.head_to, &t);
	if (err == 0)
		err = add_partial_to_point(c, &p, s.tail_from, s.tail_to, &t);
	return snapshot_end(c, began, err);
}

/* Breakdown rows, aggregated in C: a breakdown over a year reads one
 * rollup row per key and day (some 18 000 for 50 agents), and summing them
 * through a small hash table costs a fraction of SQLite's GROUP BY, which
 * sorts every row with its fifteen counters first. */
struct row_list {
	struct dash_row *rows;
	size_t n, cap;
	size_t *slots; /* index + 1 into rows, 0 = empty; n_slots is a power of two */
	size_t n_slots;
};

static uint64_t key_hash(const char *key)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a; NULL hashes like "" */
	for (; key && *key; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return h;
}

/* NULL keys sort last. */
static int compare_keys(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == NULL) - (b == NULL);
	return strcmp(a, b);
}

static int grow_slots(struct row_list *l)
{
	size_t n_slots = l->n_slots ? l->n_slots * 2 : 64;
	size_t *slots = calloc(n_slots, sizeof(*slots));
	if (slots == NULL)
		return FBD_ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		size_t j = key_hash(l->rows[i].key) & (n_slots - 1);
		while (slots[j])
			j = (j + 1) & (n_slots - 1);
		slots[j] = i + 1;
	}
	free(l->slots);
	l->slots = slots;
	l->n_slots = n_slots;
	return 0;
}

/* Adds counts to the row of key (copied), creating it when new. */
static int row_add(struct row_list *l, const char *key, const struct stats_counts *counts)
{
	if (2 * (l->n + 1) > l->n_slots && grow_slots(l) != 0)
		return FBD_ENOMEM;
	size_t j = key_hash(key) & (l->n_slots - 1);
	for (; l->slots[j]; j = (j + 1) & (l->n_slots - 1)) {
		struct dash_row *r = &l->rows[l->slots[j] - 1];
		if (compare_keys(r->key, key) == 0) {
			stats_merge(&r->counts, counts);
			return 0;
		}
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct dash_row *rows = realloc(l->rows, cap * sizeof(*rows));
		if (rows == NULL)
			return FBD_ENOMEM;
		l->rows = rows;
		l->cap = cap;
	}
	struct dash_row *r = &l->rows[l->n];
	r->key = NULL;
	if (key && (r->key = strdup(key)) == NULL)
		return FBD_ENOMEM;
	r->counts = *counts;
	l->slots[j] = ++l->n;
	return 0;
}

/* The row's key: a channel name, or the text with '' meaning "none". */
static int row_key(sqlite3_stmt *stmt, enum dash_by by, const char **key)
{
	if (by == DASH_BY_CHANNEL) {
		int ch = sqlite3_column_int(stmt, 0);
		*key = channel_name(ch >= 0 && ch < CH_COUNT ? (enum channel)ch : CH_OTHER);
		return 0;
	}
	*key = (const char *)sqlite3_column_text(stmt, 0);
	if (*key == NULL && sqlite3_errcode(sqlite3_db_handle(stmt)) == SQLITE_NOMEM)
		return FBD_ENOMEM;
	if (*key && (*key)[0] == '\0')
		*key = NULL;
	return 0;
}

static int collect_rows(struct db_conn *c, const char *sql, const struct qparams *p,
                        enum dash_by by, struct row_list *l)
{
	sqlite3_stmt *stmt = prepare(c, sql, p);
	if (stmt == NULL)
		return db_conn_error(c);
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *key = NULL;
		struct stats_counts counts;
		read_counts(stmt, 1, &counts);
		err = row_key(stmt, by, &key);
		if (err == 0)
			err = row_add(l, key, &counts);
	}
	sqlite3_reset(stmt);
	if (err != 0)
		return err;
	return rc == SQLITE_DONE ? 0 : db_error(rc) ? db_error(rc) : FBD_EDB;
}

static int by_count_desc(const void *a, const void *b)
{
	const struct dash_row *x = a, *y = b;
	if (x->counts.responses != y->counts.responses)
		return x->counts.responses > y->counts.responses ? -1 : 1;
	return compare_keys(x->key, y->key);
}

int dash_breakdown(struct db_conn *c, enum dash_by by, int64_t since, int64_t until,
                   struct dash_row **rows, size_t *n)
{
	static const char *const columns[] = {"channel", "agent_id", "segment"};
	static const char *const sub_columns[] = {"channel", "coalesce(agent_id, '')",
	                                          "coalesce(segment, '')"};
	*rows = NULL;
	*n = 0;
	if (since >= until || by < DASH_BY_CHANNEL || by > DASH_BY_SEGMENT)
		return FBD_EINVAL;
	struct dash_filter none = {-1, NULL, NULL};
	struct split s;
	split_period(since, until, &s);
	struct qparams p = params_for(&none, &s);
	p.kind = 1 + (int)by;
	struct row_list l = {0};
	char sql[SQL_MAX];
	bool began = false;
	int err = snapshot_begin(c, &began);
	if (err != 0)
		return err;
	if (s.lo < s.hi) {
		snprintf(sql, SQL_MAX,
		         "SELECT %s, " ROLLUP_COLUMNS " FROM rollups WHERE kind = :kind"
		         " AND day >= :lo AND day < :hi",
		         columns[by]);
		err = collect_rows(c, sql, &p, by, &l);
	}
	if (err == 0) {
		snprintf(sql, SQL_MAX,
		         "SELECT k, " SUBMISSION_SUMS " FROM (SELECT %1$s AS k, nps, csat, effort,"
		         " expectation, resolved FROM submissions WHERE submitted_at >= :t1"
		         " AND submitted_at < :t2 UNION ALL SELECT %1$s, nps, csat, effort,"
		         " expectation, resolved FROM submissions WHERE submitted_at >= :t3"
		         " AND submitted_at < :t4) GROUP BY k",
		         sub_columns[by]);
		err = collect_rows(c, sql, &p, by, &l);
	}
	err = snapshot_end(c, began, err);
	free(l.slots);
	if (err != 0) {
		dash_rows_free(l.rows, l.n);
		return err;
	}
	if (l.n > 0)
		qsort(l.rows, l.n, sizeof(*l.rows), by_count_desc);
	/* A key whose submissions were all erased keeps rollup rows of zeros;
	 * it has no submissions in the period, so no row (SPEC 4). Sorted by
	 * count, such rows are last. */
	while (l.n > 0 && l.rows[l.n - 1].counts.responses == 0)
		free(l.rows[--l.n].key);
	*rows = l.rows;
	*n = l.n;
	return 0;
}

void dash_rows_free(struct dash_row *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++)
		free(rows[i].key);
	free(rows);
}
