/* Dashboard latency at scale.
 *
 * Loads N submissions (default 1 000 000) spread uniformly over two years
 * for C customers (default 100 000) through the real write path — the
 * group-commit writer, so each row also updates its customer, its dirty
 * mark and the rollups exactly as in production — then times the dashboard
 * queries in-process on a read connection, with period bounds that are
 * never on UTC midnight (so every summary also reads its partial days).
 *
 *   bench-dashboard [--db PATH] [--submissions N] [--customers C] [--iterations I]
 *                   [--in-order]
 *
 * An existing database with at least N submissions is reused as is. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "feedbackd/dashboard.h"
#include "feedbackd/error.h"
#include "feedbackd/store.h"
#include "feedbackd/writer.h"

#define DAY 86400
#define SPAN_DAYS 730
#define JOB_ITEMS 4096
#define AGENTS 50
#define SEGMENTS 5

struct options {
	const char *db;
	long submissions, customers, iterations;
	bool in_order; /* submitted_at increasing, as live traffic arrives */
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
/* --in-order: the n-th of total submissions is dated n/total of the way
 * through the two years; otherwise dates are uniformly random. */
static long in_order_total, in_order_seq;

static uint64_t rnd(void)
{
	/* xorshift64*: fast and reproducible, quality is ample for test data */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static long below(long n)
{
	return (long)(rnd() % (uint64_t)n);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *key(const char *prefix, long v)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s%ld", prefix, v);
	return strdup(buf);
}

/* One random submission; the customer's segment is carried half the time
 * (otherwise the writer takes the customer's), as real apps would. */
static int make_submission(struct submission *s, int64_t now, long customers)
{
	submission_init(s);
	long cust = below(customers);
	bool want_segment = below(2) == 0, want_agent = false;
	s->customer_id = key("cust-", cust);
	if (in_order_total > 0)
		s->submitted_at = now - (int64_t)SPAN_DAYS * DAY +
		                  (int64_t)((double)in_order_seq++ / (double)in_order_total *
		                            (double)(SPAN_DAYS * (long)DAY - 1));
	else
		s->submitted_at = now - 1 - below(SPAN_DAYS * (long)DAY);
	s->received_at = now;
	s->submitted_given = true;
	s->channel = (enum channel)below(CH_COUNT);
	if (want_segment)
		s->segment = key("seg-", cust % SEGMENTS);
	if (below(5) == 0) {
		s->type = SUB_NPS;
		s->nps = (int)below(11);
	} else {
		s->type = SUB_SURVEY;
		want_agent = below(5) != 0;
		if (want_agent)
			s->agent_id = key("agent-", below(AGENTS));
		s->nps = below(10) < 6 ? (int)below(11) : -1;
		s->csat = below(10) < 8 ? 1 + (int)below(5) : -1;
		s->effort = below(10) < 4 ? 1 + (int)below(7) : -1;
		s->expectation = below(10) < 7 ? (int)below(3) : EXP_NONE;
		s->resolved = below(2) == 0 ? (int)below(2) : -1;
		if (s->nps < 0 && s->csat < 0 && s->expectation == EXP_NONE)
			s->csat = 4; /* a survey carries at least one of the three */
	}
	if (s->customer_id == NULL || (want_segment && s->segment == NULL) ||
	    (want_agent && s->agent_id == NULL))
		return FBD_ENOMEM;
	return 0;
}

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void job_done(struct write_job *job, void *arg)
{
	struct waiter *w = arg;
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static int load_batch(struct writer *wr, struct write_item *items, size_t n, int64_t now,
                      long customers)
{
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
	struct write_job job = {.items = items, .n = n, .done = job_done, .arg = &w};
	int err = 0;
	for (size_t i = 0; i < n && err == 0; i++)
		err = make_submission(&items[i].sub, now, customers);
	if (err == 0 && (err = writer_submit(wr, &job)) == 0) {
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
		for (size_t i = 0; i < n && err == 0; i++)
			if (items[i].status != WRITE_CREATED)
				err = FBD_EDB;
	}
	for (size_t i = 0; i < n; i++)
		submission_release(&items[i].sub);
	return err;
}

static int64_t count_rows(struct db_conn *c, const char *sql)
{
	sqlite3_stmt *stmt = db_stmt(c, sql);
	int64_t n = -1;
	if (stmt && sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int64(stmt, 0);
	if (stmt)
		sqlite3_reset(stmt);
	return n;
}

/* Profiles as the scoring worker would leave them, so levels are not all
 * "unrated"; the triggers of migration 003 keep profile_counts. */
static int fake_profiles(struct store *st)
{
	struct db_conn *c = NULL;
	int err = db_conn_open(&c, store_options(st), true);
	if (err == 0)
		err = db_exec(c, "UPDATE customers SET level = CASE WHEN abs(random()) % 6 = 5"
		                 " THEN NULL ELSE abs(random()) % 5 END,"
		                 " at_risk = abs(random()) % 7 = 0");
	db_conn_close(c);
	return err;
}

static int load(struct store *st, const struct options *o, int64_t now)
{
	struct writer *wr = NULL;
	struct writer_options wo = {.capacity = JOB_ITEMS * 2};
	struct write_item *items = calloc(JOB_ITEMS, sizeof(*items));
	if (items == NULL)
		return FBD_ENOMEM;
	in_order_total = o->in_order ? o->submissions : 0;
	int err = writer_start(&wr, st, &wo);
	double t0 = now_s();
	for (long done = 0; err == 0 && done < o->submissions; done += JOB_ITEMS) {
		size_t n =
		    (size_t)(o->submissions - done < JOB_ITEMS ? o->submissions - done : JOB_ITEMS);
		err = load_batch(wr, items, n, now, o->customers);
		if (err == 0 && (done / JOB_ITEMS) % 25 == 0)
			fprintf(stderr, "loaded %ld / %ld (%.0f s)\n", done + (long)n,
			        o->submissions, now_s() - t0);
	}
	writer_stop(wr);
	free(items);
	double secs = now_s() - t0;
	if (err == 0)
		err = fake_profiles(st);
	printf("load: %ld submissions through the writer in %.1f s (%.0f /s, rollups included)\n",
	       o->submissions, secs, (double)o->submissions / secs);
	return err;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

enum bench_kind { B_SUMMARY, B_TREND, B_BREAKDOWN };

struct bench_case {
	const char *name;
	enum bench_kind kind;
	int days;
	struct dash_filter filter;
	enum stats_interval interval;
	enum dash_by by;
	bool
	    new_range; /* every iteration covers other whole days (no reuse of remembered counts) */
};

static int run_once(struct db_conn *c, const struct bench_case *bc, int64_t until)
{
	int64_t since = until - (int64_t)bc->days * DAY;
	switch (bc->kind) {
	case B_SUMMARY: {
		struct dash_summary s;
		return dash_summary(c, &bc->filter, since, until, &s);
	}
	case B_TREND: {
		struct dash_point pts[400];
		int64_t n = dash_trend_points(bc->interval, since, until);
		if (n > 400)
			return FBD_EINVAL;
		return dash_trend(c, &bc->filter, since, until, bc->interval, pts, (size_t)n);
	}
	default: {
		struct dash_row *rows = NULL;
		size_t n = 0;
		int err = dash_breakdown(c, bc->by, since, until, &rows, &n);
		dash_rows_free(rows, n);
		return err;
	}
	}
}

static int measure(struct db_conn *c, const struct bench_case *bc, long iterations, int64_t now)
{
	double *ms = calloc((size_t)iterations, sizeof(*ms));
	if (ms == NULL)
		return FBD_ENOMEM;
	int err = 0;
	/* warm the statement cache and the pages once, as a running server would be */
	for (int i = 0; i < 3 && err == 0; i++)
		err = run_once(c, bc, now - 1000);
	int64_t today = now - now % DAY;
	for (long i = 0; i < iterations && err == 0; i++) {
		/* A ragged "now", never on midnight: later today (a dashboard
		 * reloaded during the day), or on another day each time. */
		int64_t until = bc->new_range ? today - i * DAY + 1 + below(DAY - 1)
		                              : today + 1 + below(now - today);
		if (until > now)
			until = now;
		double t0 = now_s();
		err = run_once(c, bc, until);
		ms[i] = (now_s() - t0) * 1000.0;
	}
	if (err == 0) {
		qsort(ms, (size_t)iterations, sizeof(*ms), cmp_double);
		printf("%-38s p50 %7.3f ms   p99 %7.3f ms   max %7.3f ms\n", bc->name,
		       ms[iterations / 2], ms[(iterations * 99) / 100], ms[iterations - 1]);
	}
	free(ms);
	return err;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	*o = (struct options){"bench/out/dashboard.db", 1000000, 100000, 300, false};
	for (int i = 1; i < argc; i++) {
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (next && strcmp(argv[i], "--db") == 0)
			o->db = next;
		else if (next && strcmp(argv[i], "--submissions") == 0)
			o->submissions = atol(next);
		else if (next && strcmp(argv[i], "--customers") == 0)
			o->customers = atol(next);
		else if (strcmp(argv[i], "--in-order") == 0) {
			o->in_order = true;
			continue;
		} else if (next && strcmp(argv[i], "--iterations") == 0)
			o->iterations = atol(next);
		else
			return FBD_EINVAL;
		i++;
	}
	if (o->submissions < 1 || o->customers < 1 || o->iterations < 1)
		return FBD_EINVAL;
	return 0;
}

static const struct bench_case cases[] = {
    {"summary 30 d", B_SUMMARY, 30, {-1, NULL, NULL}, STATS_DAY, 0, false},
    {"summary 365 d", B_SUMMARY, 365, {-1, NULL, NULL}, STATS_DAY, 0, false},
    {"summary 30 d, new days each time", B_SUMMARY, 30, {-1, NULL, NULL}, STATS_DAY, 0, true},
    {"summary 365 d, new days each time", B_SUMMARY, 365, {-1, NULL, NULL}, STATS_DAY, 0, true},
    {"summary 30 d channel=chat", B_SUMMARY, 30, {CH_CHAT, NULL, NULL}, STATS_DAY, 0, false},
    {"summary 30 d agent", B_SUMMARY, 30, {-1, "agent-7", NULL}, STATS_DAY, 0, false},
    {"summary 30 d segment", B_SUMMARY, 30, {-1, NULL, "seg-3"}, STATS_DAY, 0, false},
    {"summary 365 d channel=chat", B_SUMMARY, 365, {CH_CHAT, NULL, NULL}, STATS_DAY, 0, false},
    {"summary 365 d agent", B_SUMMARY, 365, {-1, "agent-7", NULL}, STATS_DAY, 0, false},
    {"summary 30 d chat+agent", B_SUMMARY, 30, {CH_CHAT, "agent-7", NULL}, STATS_DAY, 0, false},
    {"summary 365 d chat+segment", B_SUMMARY, 365, {CH_CHAT, NULL, "seg-3"}, STATS_DAY, 0, false},
    {"summary 30 d chat+agent, new days",
     B_SUMMARY,
     30,
     {CH_CHAT, "agent-7", NULL},
     STATS_DAY,
     0,
     true},
    {"summary 365 d chat+agent, new days",
     B_SUMMARY,
     365,
     {CH_CHAT, "agent-7", NULL},
     STATS_DAY,
     0,
     true},
    {"trend nps daily 90 d", B_TREND, 90, {-1, NULL, NULL}, STATS_DAY, 0, false},
    {"trend nps weekly 365 d", B_TREND, 365, {-1, NULL, NULL}, STATS_WEEK, 0, false},
    {"trend nps daily 90 d agent", B_TREND, 90, {-1, "agent-7", NULL}, STATS_DAY, 0, false},
    {"breakdown channel 30 d",
     B_BREAKDOWN,
     30,
     {-1, NULL, NULL},
     STATS_DAY,
     DASH_BY_CHANNEL,
     false},
    {"breakdown agent 30 d", B_BREAKDOWN, 30, {-1, NULL, NULL}, STATS_DAY, DASH_BY_AGENT, false},
    {"breakdown segment 30 d",
     B_BREAKDOWN,
     30,
     {-1, NULL, NULL},
     STATS_DAY,
     DASH_BY_SEGMENT,
     false},
    {"breakdown channel 365 d",
     B_BREAKDOWN,
     365,
     {-1, NULL, NULL},
     STATS_DAY,
     DASH_BY_CHANNEL,
     false},
    {"breakdown agent 365 d", B_BREAKDOWN, 365, {-1, NULL, NULL}, STATS_DAY, DASH_BY_AGENT, false},
};

int main(int argc, char **argv)
{
	struct options o;
	if (parse_args(argc, argv, &o) != 0) {
		fprintf(stderr,
		        "usage: %s [--db PATH] [--submissions N] [--customers C]"
		        " [--iterations I] [--in-order]\n",
		        argv[0]);
		return 2;
	}
	struct store *st = NULL;
	struct store_options so = {.path = o.db, .sync = FBD_SYNC_NORMAL, .cache_mb = 256};
	int err = store_open(&st, &so);
	if (err != 0) {
		fprintf(stderr, "cannot open %s: %s\n", o.db, fbd_error_str(err));
		return 1;
	}
	struct db_conn *c = NULL;
	int64_t now = (int64_t)time(NULL);
	if ((err = db_conn_open(&c, &so, false)) == 0 &&
	    count_rows(c, "SELECT count(*) FROM submissions") < o.submissions)
		err = load(st, &o, now);
	if (err == 0) {
		now = count_rows(c, "SELECT max(received_at) FROM submissions") + 1;
		printf("data: %" PRId64 " submissions, %" PRId64 " customers, %" PRId64
		       " rollup rows, %" PRId64 " customer-days\n",
		       count_rows(c, "SELECT count(*) FROM submissions"),
		       count_rows(c, "SELECT count(*) FROM customers"),
		       count_rows(c, "SELECT count(*) FROM rollups"),
		       count_rows(c, "SELECT count(*) FROM customer_days"));
		struct stat sb;
		if (stat(o.db, &sb) == 0)
			printf("database file: %.0f MiB\n", (double)sb.st_size / 1048576.0);
	}
	for (size_t i = 0; err == 0 && i < sizeof(cases) / sizeof(cases[0]); i++)
		err = measure(c, &cases[i], o.iterations, now);
	db_conn_close(c);
	store_close(st);
	if (err != 0) {
		fprintf(stderr, "benchmark failed: %s\n", fbd_error_str(err));
		return 1;
	}
	return 0;
}
