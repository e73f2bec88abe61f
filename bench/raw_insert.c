/* The batch-ingest ceiling: plain SQLite inserts with the project's schema,
 * pragmas and batch size, and nothing else.
 *
 * The database is created by the project's own store_open() (every
 * migration) and written through db_conn_open(), so WAL, synchronous = FULL
 * and the page cache are exactly the service's. Each transaction stores
 * --batch rows (500: a full POST /v1/batch) and commits durably. By default
 * a row costs what the schema asks of every submission: the submissions row
 * and its customer's counters (since migration 006 the row is also the
 * rescoring queue: no mark); --rows-only inserts just
 * the submissions row, the floor below which no design can go. No JSON, no
 * HTTP, no savepoints, no validation: the service's batch path divided by
 * this is what its own work costs.
 *
 * Usage: raw_insert --db PATH [--seconds S] [--batch N] [--customers N]
 *                   [--rows-only]
 * Prints one JSON line: rows, seconds, rows_per_s, cpu_s, max_rss_kb. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/gen.h"
#include "feedbackd/config.h"
#include "feedbackd/error.h"
#include "feedbackd/store.h"
#include "feedbackd/uuid7.h"

struct raw_options {
	const char *db;
	double seconds;
	int batch;
	uint32_t customers;
	bool rows_only;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bind_int_or_null(sqlite3_stmt *stmt, int i, int v)
{
	if (v >= 0)
		sqlite3_bind_int(stmt, i, v);
	else
		sqlite3_bind_null(stmt, i);
}

static int step(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? 0 : db_error(rc);
}

static int insert_row(struct db_conn *c, const struct gen_row *r, int64_t now)
{
	sqlite3_stmt *stmt =
	    db_stmt(c, "INSERT INTO submissions (id, type, customer_id, channel, agent_id,"
	               " submitted_at, submitted_given, received_at, expectation, csat, effort,"
	               " resolved, nps, digest) VALUES (?, 0, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)");
	if (stmt == NULL)
		return db_conn_error(c);
	char id[37];
	unsigned char digest[32] = {0};
	uuid7_generate(id);
	memcpy(digest, id, 32); /* any 32 bytes: no duplicate check reads them here */
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, r->customer_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 3, r->channel);
	sqlite3_bind_text(stmt, 4, r->agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, r->submitted_at);
	sqlite3_bind_int64(stmt, 6, now);
	bind_int_or_null(stmt, 7, r->expectation);
	bind_int_or_null(stmt, 8, r->csat);
	bind_int_or_null(stmt, 9, r->effort);
	bind_int_or_null(stmt, 10, r->resolved);
	bind_int_or_null(stmt, 11, r->nps);
	sqlite3_bind_blob(stmt, 12, digest, sizeof(digest), SQLITE_TRANSIENT);
	return step(stmt);
}

/* What the schema asks of every stored submission besides its row. The
 * dashboard counters are left out: how they are kept is the service's own
 * cost, which the ratio to this ceiling is meant to show. */
static int touch_customer(struct db_conn *c, const struct gen_row *r)
{
	sqlite3_stmt *up = db_stmt(
	    c, "INSERT INTO customers (customer_id, surveys, nps_ratings, first_seen, last_seen)"
	       " VALUES (?1, 1, 0, ?2, ?2) ON CONFLICT (customer_id) DO UPDATE SET"
	       " surveys = surveys + 1, first_seen = min(first_seen, excluded.first_seen),"
	       " last_seen = max(last_seen, excluded.last_seen)");
	if (up == NULL)
		return db_conn_error(c);
	sqlite3_bind_text(up, 1, r->customer_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(up, 2, r->submitted_at);
	return step(up);
}

static int insert_batch(struct db_conn *c, struct gen *g, const struct raw_options *o)
{
	int64_t now = (int64_t)time(NULL);
	int err = db_exec(c, "BEGIN IMMEDIATE");
	for (int i = 0; err == 0 && i < o->batch; i++) {
		struct gen_row r;
		gen_row(g, now, &r);
		err = insert_row(c, &r, now);
		if (err == 0 && !o->rows_only)
			err = touch_customer(c, &r);
	}
	if (err == 0)
		return db_exec(c, "COMMIT");
	(void)db_exec(c, "ROLLBACK");
	return err;
}

static int parse_args(int argc, char **argv, struct raw_options *o)
{
	*o = (struct raw_options){.seconds = 10, .batch = 500, .customers = 100000};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--rows-only") == 0) {
			o->rows_only = true;
			continue;
		}
		if (v == NULL)
			return -1;
		i++;
		if (strcmp(a, "--db") == 0)
			o->db = v;
		else if (strcmp(a, "--seconds") == 0)
			o->seconds = atof(v);
		else if (strcmp(a, "--batch") == 0)
			o->batch = atoi(v);
		else if (strcmp(a, "--customers") == 0)
			o->customers = (uint32_t)strtoul(v, NULL, 10);
		else
			return -1;
	}
	return o->db && o->seconds > 0 && o->batch > 0 && o->customers > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct raw_options o;
	if (parse_args(argc, argv, &o) != 0) {
		fprintf(stderr,
		        "usage: %s --db PATH [--seconds S] [--batch N] [--customers N]"
		        " [--rows-only]\n",
		        argv[0]);
		return 2;
	}
	/* The service's own default page cache, as for its pragmas. */
	struct fbd_config defaults;
	config_init(&defaults);
	struct store_options so = {.path = o.db, .sync = FBD_SYNC_FULL,
	                           .cache_mb = defaults.cache_mb};
	config_release(&defaults);
	struct store *st = NULL;
	struct db_conn *c = NULL;
	int err = store_open(&st, &so);
	if (err == 0)
		err = db_conn_open(&c, store_options(st), true);
	struct gen g;
	gen_init(&g, 7, o.customers);
	long rows = 0;
	double start = now_s(), elapsed = 0;
	while (err == 0 && (elapsed = now_s() - start) < o.seconds) {
		err = insert_batch(c, &g, &o);
		rows += err == 0 ? o.batch : 0;
	}
	elapsed = now_s() - start;
	db_conn_close(c);
	store_close(st);
	if (err != 0) {
		fprintf(stderr, "raw_insert: %s\n", fbd_error_str(err));
		return 1;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	             (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("{\"rows\": %ld, \"seconds\": %.3f, \"rows_per_s\": %.1f, \"cpu_s\": %.3f,"
	       " \"max_rss_kb\": %ld}\n",
	       rows, elapsed, (double)rows / elapsed, cpu, ru.ru_maxrss);
	return 0;
}
