/* The dashboard aggregates against the submissions they summarise, on a real
 * SQLite database in a temporary folder: random submissions stored through
 * the writer in random date order, some removed again with rollup_remove(),
 * and every answer compared with a brute-force query over the submissions
 * table. Also rebuilds the aggregates with migration 003's backfill and
 * checks it yields the same tables as the incremental upkeep.
 *
 * The writer sums a group's counters in memory (rollup_group): the 700
 * submissions, stored as one group (many share a customer and a day), must
 * give exactly the tables that rollup_apply() one submission at a time
 * gives. And an item that fails on its own is dropped from its group, which
 * is run again without it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "feedbackd/dashboard.h"
#include "feedbackd/error.h"
#include "feedbackd/writer.h"
#include "store/migrations.h"

#define N_SUBMISSIONS 700
#define N_REMOVED 200
#define BASE_DAY 20400 /* 2025-11-09 */
#define SPAN_DAYS 40
#define DAY 86400

static uint64_t rng = 88172645463325252ULL;

static long below(long n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (long)(rng % (uint64_t)n);
}

static char *pick(const char *const names[], long n)
{
	return strdup(names[below(n)]);
}

static void make(struct submission *s)
{
	static const char *const customers[] = {"c1", "c2", "c3", "c4",  "c5",  "c6",
	                                        "c7", "c8", "c9", "c10", "c11", "c12"};
	static const char *const agents[] = {"a", "b"};
	static const char *const segments[] = {"gold", "tin"};
	submission_init(s);
	s->customer_id = pick(customers, 12);
	s->channel = (enum channel)below(3);
	if (below(3) != 0)
		s->agent_id = pick(agents, 2);
	if (below(10) < 3)
		s->segment = pick(segments, 2);
	s->submitted_at = (int64_t)BASE_DAY * DAY + below(SPAN_DAYS * DAY);
	s->received_at = s->submitted_at;
	s->submitted_given = true;
	s->nps = (int)below(11);
	s->csat = below(2) ? 1 + (int)below(5) : -1;
}

static void done(struct write_job *job, void *arg)
{
	(void)job;
	*(volatile int *)arg = 1;
}

/* Stores every item through the writer; the items then hold the stored rows. */
static int load(struct store *st, struct write_item *items, size_t n)
{
	struct writer *w = NULL;
	struct writer_options wo = {.capacity = n};
	volatile int finished = 0;
	struct write_job job = {.items = items, .n = n, .done = done, .arg = (void *)&finished};
	for (size_t i = 0; i < n; i++)
		make(&items[i].sub);
	int err = writer_start(&w, st, &wo);
	if (err == 0)
		err = writer_submit(w, &job);
	writer_stop(w); /* commits what is queued */
	for (size_t i = 0; err == 0 && i < n; i++)
		if (items[i].status != WRITE_CREATED)
			err = FBD_EDB;
	return err == 0 && finished ? 0 : FBD_EDB;
}

static int remove_one(struct db_conn *c, const struct submission *s)
{
	int err = db_exec(c, "BEGIN IMMEDIATE");
	sqlite3_stmt *del = err == 0 ? db_stmt(c, "DELETE FROM submissions WHERE id = ?") : NULL;
	if (err == 0 && del == NULL)
		err = db_conn_error(c);
	if (err == 0) {
		sqlite3_bind_text(del, 1, s->id, -1, SQLITE_STATIC);
		err = sqlite3_step(del) == SQLITE_DONE ? 0 : FBD_EDB;
		sqlite3_reset(del);
	}
	if (err == 0)
		err = rollup_remove(c, s);
	return db_exec(c, err == 0 ? "COMMIT" : "ROLLBACK") == 0 ? err : FBD_EDB;
}

struct truth {
	int64_t responses, customers, promoters, detractors, csat_count, csat_sum;
};

static struct truth brute_force(struct db_conn *c, const struct dash_filter *f, int64_t since,
                                int64_t until)
{
	struct truth t = {-1, -1, -1, -1, -1, -1};
	sqlite3_stmt *stmt = db_stmt(
	    c, "SELECT count(*), count(DISTINCT customer_id), coalesce(sum(nps >= 9), 0),"
	       " coalesce(sum(nps <= 6), 0), count(csat), coalesce(sum(csat), 0) FROM submissions"
	       " WHERE submitted_at >= ?1 AND submitted_at < ?2 AND (?3 < 0 OR channel = ?3)"
	       " AND (?4 IS NULL OR agent_id = ?4) AND (?5 IS NULL OR segment = ?5)");
	if (stmt == NULL)
		return t;
	sqlite3_bind_int64(stmt, 1, since);
	sqlite3_bind_int64(stmt, 2, until);
	sqlite3_bind_int(stmt, 3, f->channel);
	if (f->agent_id)
		sqlite3_bind_text(stmt, 4, f->agent_id, -1, SQLITE_STATIC);
	if (f->segment)
		sqlite3_bind_text(stmt, 5, f->segment, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		t = (struct truth){sqlite3_column_int64(stmt, 0), sqlite3_column_int64(stmt, 1),
		                   sqlite3_column_int64(stmt, 2), sqlite3_column_int64(stmt, 3),
		                   sqlite3_column_int64(stmt, 4), sqlite3_column_int64(stmt, 5)};
	sqlite3_reset(stmt);
	return t;
}

static const struct dash_filter filters[] = {
    {-1, NULL, NULL}, {1, NULL, NULL},  {-1, "a", NULL},   {-1, NULL, "gold"},
    {0, "b", NULL},   {-1, "a", "tin"}, {2, NULL, "gold"}, {1, "a", "gold"},
};

/* The same periods every round, so that remembered customer counts are
 * reused and must notice removals. */
static void compare_all(struct db_conn *c, const char *round)
{
	uint64_t saved = rng;
	rng = 0x1234567ULL;
	for (int i = 0; i < 60; i++) {
		const struct dash_filter *f = &filters[i % 8];
		int64_t since = (int64_t)(BASE_DAY - 1) * DAY + below((SPAN_DAYS + 1) * DAY);
		int64_t until = since + 1 + below(20 * DAY);
		if (i % 5 == 0) /* whole days too */
			since -= since % DAY, until -= until % DAY - DAY;
		struct dash_summary s;
		struct truth t = brute_force(c, f, since, until);
		int err = dash_summary(c, f, since, until, &s);
		CHECK_INT(err, 0);
		if (s.counts.responses != t.responses || s.customers != t.customers ||
		    s.counts.promoters != t.promoters || s.counts.detractors != t.detractors ||
		    s.counts.csat_count != t.csat_count || s.counts.csat_sum != t.csat_sum)
			fprintf(stderr, "%s: period %d filter %d differs\n", round, i, i % 8);
		CHECK_INT(s.counts.responses, t.responses);
		CHECK_INT(s.customers, t.customers);
		CHECK_INT(s.counts.promoters, t.promoters);
		CHECK_INT(s.counts.detractors, t.detractors);
		CHECK_INT(s.counts.csat_count, t.csat_count);
		CHECK_INT(s.counts.csat_sum, t.csat_sum);
	}
	rng = saved;
}

/* A digest of the aggregate tables, to compare two ways of building them.
 * Unsigned: the multiplications wrap by design (signed overflow is UB). */
static bool table_digest(struct db_conn *c, const char *sql, uint64_t *out)
{
	sqlite3_stmt *stmt = db_stmt(c, sql);
	uint64_t h = 0;
	if (stmt == NULL)
		return false;
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		const unsigned char *row = sqlite3_column_text(stmt, 0);
		for (; row && *row; row++)
			h = h * 1099511628211ULL + *row;
		h = h * 31 + 7;
	}
	sqlite3_reset(stmt);
	*out = h;
	return true;
}

static const char *const digests[] = {
    "SELECT kind || ',' || channel || ',' || agent_id || ',' || segment || ',' || day || ','"
    " || responses || ',' || nps_count || ',' || promoters || ',' || passives || ','"
    " || detractors || ',' || csat_count || ',' || csat_positive || ',' || csat_sum || ','"
    " || effort_count || ',' || exp_met || ',' || resolved_count FROM rollups"
    " WHERE responses != 0 ORDER BY kind, day, channel, agent_id, segment",
    "SELECT kind || ',' || channel || ',' || agent_id || ',' || segment || ',' || customer_id"
    " || ',' || day FROM customer_days ORDER BY 1",
    "SELECT kind || ',' || channel || ',' || agent_id || ',' || segment || ',' || day || ','"
    " || prev_day || ',' || n FROM customer_gaps WHERE n != 0 ORDER BY 1",
};

/* Every row, zero counts included: the exact table contents. */
static const char *const exact[] = {
    "SELECT kind || ',' || channel || ',' || agent_id || ',' || segment || ',' || day || ','"
    " || responses || ',' || nps_count || ',' || promoters || ',' || passives || ','"
    " || detractors || ',' || csat_count || ',' || csat_positive || ',' || csat_sum || ','"
    " || effort_count || ',' || effort_sum || ',' || exp_below || ',' || exp_met || ','"
    " || exp_exceeded || ',' || resolved_count || ',' || resolved_yes FROM rollups"
    " ORDER BY kind, day, channel, agent_id, segment",
    "SELECT kind || ',' || channel || ',' || agent_id || ',' || segment || ',' || customer_id"
    " || ',' || day FROM customer_days ORDER BY 1",
    "SELECT kind || ',' || channel || ',' || agent_id || ',' || segment || ',' || day || ','"
    " || prev_day || ',' || n FROM customer_gaps ORDER BY 1",
    "SELECT count(*) FROM rollups",
    "SELECT count(*) FROM customer_gaps",
};

/* A fresh database in dir/name; rollup_apply() for each stored item, each
 * in a transaction of its own, in the order the writer stored them. */
static int one_by_one(const char *dir, const struct write_item *items, size_t n, struct store **st,
                      struct db_conn **c)
{
	char path[64];
	snprintf(path, sizeof(path), "%s/single.db", dir);
	struct store_options so = {.path = path, .sync = FBD_SYNC_NORMAL, .cache_mb = 8};
	int err = store_open(st, &so);
	if (err == 0)
		err = db_conn_open(c, &so, true);
	for (size_t i = 0; err == 0 && i < n; i++) {
		err = db_exec(*c, "BEGIN IMMEDIATE");
		if (err == 0)
			err = rollup_apply(*c, &items[i].sub);
		if (err == 0)
			err = db_exec(*c, "COMMIT");
	}
	return err;
}

static void check_group_equals_single(const char *dir, struct db_conn *grouped,
                                      const struct write_item *items, size_t n)
{
	struct store *st = NULL;
	struct db_conn *c = NULL;
	CHECK_INT(one_by_one(dir, items, n, &st, &c), 0);
	for (size_t i = 0; c && i < sizeof(exact) / sizeof(exact[0]); i++) {
		uint64_t a = 0, b = 1;
		CHECK(table_digest(grouped, exact[i], &a));
		CHECK(table_digest(c, exact[i], &b));
		if (a != b)
			fprintf(stderr, "grouped and single differ: %s\n", exact[i]);
		CHECK(a == b);
	}
	db_conn_close(c);
	store_close(st);
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

/* A real SQLite error (a trigger's RAISE) in the third of four items: it
 * alone fails; the second, a duplicate of the first's client id, is settled
 * as a duplicate again in the rerun instead of stored a second time. */
static void check_failing_item(struct store *st, struct db_conn *c)
{
	static const char *const customers[] = {"r1", "r1", "boom", "r2"};
	struct write_item items[4];
	memset(items, 0, sizeof(items));
	for (int i = 0; i < 4; i++) {
		submission_init(&items[i].sub);
		items[i].sub.customer_id = strdup(customers[i]);
		items[i].sub.submitted_at = (int64_t)(BASE_DAY + 50) * DAY + i;
		items[i].sub.received_at = items[i].sub.submitted_at;
		items[i].sub.nps = 9;
	}
	for (int i = 0; i < 2; i++) {
		items[i].sub.client_id = true;
		strcpy(items[i].sub.id, "0190e0a4-0000-7000-8000-00000000abcd");
		memset(items[i].sub.digest, 7, sizeof(items[i].sub.digest));
	}
	CHECK_INT(db_exec(c,
	                  "CREATE TRIGGER boom BEFORE INSERT ON submissions"
	                  " WHEN new.customer_id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END"),
	          0);
	struct writer *w = NULL;
	struct writer_options wo = {.capacity = 4};
	volatile int finished = 0;
	struct write_job job = {.items = items, .n = 4, .done = done, .arg = (void *)&finished};
	CHECK_INT(writer_start(&w, st, &wo), 0);
	CHECK_INT(writer_submit(w, &job), 0);
	writer_stop(w);
	CHECK_INT(finished, 1);
	CHECK_INT(job.result, 0);
	CHECK_INT(items[0].status, WRITE_CREATED);
	CHECK_INT(items[1].status, WRITE_EXISTS);
	CHECK_INT(items[2].status, WRITE_FAILED);
	CHECK_INT(items[3].status, WRITE_CREATED);
	CHECK_INT(count_rows(c, "SELECT count(*) FROM submissions WHERE customer_id IN"
	                        " ('r1', 'r2', 'boom')"),
	          2);
	CHECK_INT(count_rows(c, "SELECT count(*) FROM customers WHERE customer_id = 'boom'"), 0);
	CHECK_INT(count_rows(c, "SELECT responses FROM rollups WHERE kind = 0 AND day = 20450"), 2);
	CHECK_INT(count_rows(c, "SELECT sum(n) FROM customer_gaps WHERE kind = 0 AND day = 20450"),
	          2);
	for (int i = 0; i < 4; i++)
		submission_release(&items[i].sub);
}

/* Empty the aggregates and run the backfill part of migration 003, then
 * migration 007 (customer-days rekeyed, view 4's dropped), as an upgrade
 * from before 003 does. */
static int rebuild_with_backfill(struct db_conn *c)
{
	const char *sql = NULL, *rekey = NULL;
	for (int i = 0; i < migrations_count; i++) {
		if (migrations[i].version == 3)
			sql = strstr(migrations[i].sql, "-- Backfill");
		if (migrations[i].version == 7)
			rekey = migrations[i].sql;
	}
	if (sql == NULL || rekey == NULL)
		return FBD_EINVAL;
	int rc = sqlite3_exec(c->db,
	                      "BEGIN; DELETE FROM rollups; DELETE FROM customer_days;"
	                      " DELETE FROM customer_gaps; DELETE FROM profile_counts;",
	                      NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(c->db, rekey, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : FBD_EDB;
}

int main(void)
{
	char dir[] = "/tmp/test-rollups-XXXXXX", path[64];
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/f.db", dir);
	struct store_options so = {.path = path, .sync = FBD_SYNC_NORMAL, .cache_mb = 8};
	struct store *st = NULL;
	struct db_conn *c = NULL;
	struct write_item *items = calloc(N_SUBMISSIONS, sizeof(*items));
	CHECK(items != NULL);
	CHECK_INT(store_open(&st, &so), 0);
	CHECK_INT(db_conn_open(&c, &so, true), 0);
	if (items == NULL || st == NULL || c == NULL)
		return check_report("rollups");
	CHECK_INT(load(st, items, N_SUBMISSIONS), 0);
	check_group_equals_single(dir, c, items, N_SUBMISSIONS);
	compare_all(c, "stored");
	for (int i = 0; i < N_REMOVED; i++) /* every third one, spread over the dates */
		CHECK_INT(remove_one(c, &items[(size_t)i * 3].sub), 0);
	compare_all(c, "after removals");

	uint64_t before[3] = {0}, after[3] = {0};
	for (int i = 0; i < 3; i++)
		CHECK(table_digest(c, digests[i], &before[i]));
	CHECK_INT(rebuild_with_backfill(c), 0);
	for (int i = 0; i < 3; i++) {
		CHECK(table_digest(c, digests[i], &after[i]));
		CHECK(before[i] == after[i]);
	}
	compare_all(c, "after backfill");
	check_failing_item(st, c);

	for (size_t i = 0; i < N_SUBMISSIONS; i++)
		submission_release(&items[i].sub);
	free(items);
	db_conn_close(c);
	store_close(st);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
	return check_report("rollups");
}
