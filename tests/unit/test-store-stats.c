/* store_stats() against a real database: the rescoring queue is the range of
 * submissions after the worker's cursor (migration 006), counted and dated
 * without scanning it. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "feedbackd/error.h"
#include "feedbackd/store_stats.h"

#include "check.h"

static void insert(struct db_conn *c, const char *id, int64_t received_at)
{
	sqlite3_stmt *stmt = db_stmt(
	    c, "INSERT INTO submissions (id, type, customer_id, channel, submitted_at,"
	       " submitted_given, received_at, digest) VALUES (?1, 0, 'c-1', 0, ?2, 0, ?2, x'00')");
	CHECK(stmt != NULL);
	if (stmt == NULL)
		return;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, received_at);
	CHECK_INT(db_step_done(c, stmt), 0);
}

static void expect(struct store *st, int64_t pending, int64_t oldest)
{
	struct store_stats ss;
	CHECK_INT(store_stats(st, &ss), 0);
	CHECK_INT(ss.pending_submissions, pending);
	CHECK_INT(ss.oldest_pending_at, oldest);
	CHECK(ss.database_bytes > 0);
}

int main(void)
{
	char dir[] = "/tmp/fbd-stats-XXXXXX", path[256];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/s.db", dir);
	struct store_options so = {.path = path, .sync = FBD_SYNC_NORMAL, .cache_mb = 2};
	struct store *st = NULL;
	struct db_conn *c = NULL;
	CHECK_INT(store_open(&st, &so), 0);
	CHECK_INT(db_conn_open(&c, store_options(st), true), 0);
	if (st == NULL || c == NULL)
		return check_report("store-stats");

	expect(st, 0, 0); /* a new database: nothing pending */
	insert(c, "a", 1000);
	insert(c, "b", 2000);
	insert(c, "c", 3000);
	expect(st, 3, 1000);
	CHECK_INT(db_exec(c, "UPDATE scoring_cursor SET seq ="
	                     " (SELECT seq FROM submissions WHERE id = 'a')"),
	          0);
	expect(st, 2, 2000);
	CHECK_INT(db_exec(c, "UPDATE scoring_cursor SET seq = (SELECT max(seq) FROM submissions)"),
	          0);
	expect(st, 0, 0);
	insert(c, "d", 4000);
	expect(st, 1, 4000);

	db_conn_close(c);
	store_close(st);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_INT(system(cmd), 0);
	return check_report("store-stats");
}
