/* The writer's queue, on a real SQLite database in a temporary folder. The
 * test holds the store's write gate, so the writer stops at it with its
 * first group and the queue fills deterministically behind it:
 * - a job with submissions is refused (FBD_EFULL) once the queue holds its
 *   capacity (here more: a larger job is taken by an empty queue), and its
 *   done() is never called;
 * - a job without submissions (the scoring worker's profiles, a probe) is
 *   taken even then, since it adds nothing to what the capacity bounds;
 * - a derived job's in_tx runs inside a group that commits, and every
 *   accepted job is told, with sync = full (derived ones at the commit, the
 *   others after the syncer's fdatasync). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "feedbackd/error.h"
#include "feedbackd/writer.h"

#define DAY 86400

static void done(struct write_job *job, void *arg)
{
	(void)job;
	atomic_store((atomic_int *)arg, 1);
}

static int note_in_tx(struct db_conn *c, struct write_job *job)
{
	(void)job;
	return db_exec(c, "INSERT INTO note (x) VALUES (1)");
}

static void make(struct write_item *items, size_t n, const char *customer)
{
	for (size_t i = 0; i < n; i++) {
		struct submission *s = &items[i].sub;
		submission_init(s);
		s->customer_id = strdup(customer);
		s->submitted_at = 20400LL * DAY + (int64_t)i;
		s->received_at = s->submitted_at;
		s->submitted_given = true;
		s->nps = 9;
	}
}

static void release(struct write_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		submission_release(&items[i].sub);
}

static long long count_rows(struct db_conn *c, const char *sql)
{
	sqlite3_stmt *stmt = db_stmt(c, sql);
	long long n = -1;
	if (stmt && sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int64(stmt, 0);
	if (stmt)
		sqlite3_reset(stmt);
	return n;
}

/* Until the writer has taken everything queued (it then waits at the gate). */
static int wait_taken(struct writer *w)
{
	for (int i = 0; i < 5000; i++) {
		if (writer_queue_depth(w) == 0)
			return 0;
		usleep(1000);
	}
	return FBD_EDB;
}

static void check_queue_bounds(struct store *st, struct db_conn *c)
{
	struct write_item a_items[2], b_items[3], c_items[1];
	make(a_items, 2, "a");
	make(b_items, 3, "b");
	make(c_items, 1, "c");
	atomic_int a_done = 0, b_done = 0, c_done = 0, d_done = 0;
	struct write_job a = {.items = a_items, .n = 2, .done = done, .arg = &a_done};
	/* larger than the capacity: an empty queue takes it anyway */
	struct write_job b = {.items = b_items, .n = 3, .done = done, .arg = &b_done};
	struct write_job full = {.items = c_items, .n = 1, .done = done, .arg = &c_done};
	struct write_job d = {.done = done, .arg = &d_done, .in_tx = note_in_tx, .derived = true};
	struct writer *w = NULL;
	struct writer_options wo = {.capacity = 2};
	CHECK_INT(db_exec(c, "CREATE TABLE note (x INTEGER)"), 0);
	CHECK_INT(writer_start(&w, st, &wo), 0);
	if (w == NULL)
		return;
	store_write_lock(st);
	CHECK_INT(writer_submit(w, &a), 0);
	CHECK_INT(wait_taken(w), 0);
	CHECK_INT(writer_submit(w, &b), 0);
	CHECK_INT(writer_queue_depth(w), 3);
	CHECK_INT(writer_submit(w, &full), FBD_EFULL);
	CHECK_INT(writer_submit(w, &d), 0);
	CHECK_INT(writer_queue_depth(w), 3);
	store_write_unlock(st);
	writer_stop(w); /* commits what is queued, tells every job */
	CHECK_INT(atomic_load(&a_done), 1);
	CHECK_INT(atomic_load(&b_done), 1);
	CHECK_INT(atomic_load(&c_done), 0);
	CHECK_INT(atomic_load(&d_done), 1);
	CHECK_INT(a.result, 0);
	CHECK_INT(b.result, 0);
	CHECK_INT(d.result, 0);
	CHECK_INT(b_items[2].status, WRITE_CREATED);
	CHECK_INT(count_rows(c, "SELECT count(*) FROM submissions"), 5);
	CHECK_INT(count_rows(c, "SELECT count(*) FROM submissions WHERE customer_id = 'c'"), 0);
	CHECK_INT(count_rows(c, "SELECT count(*) FROM note"), 1);
	release(a_items, 2);
	release(b_items, 3);
	release(c_items, 1);
}

int main(void)
{
	char dir[] = "/tmp/test-writer-XXXXXX", path[64], file[80];
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/f.db", dir);
	struct store_options so = {.path = path, .sync = FBD_SYNC_FULL, .cache_mb = 2};
	struct store *st = NULL;
	struct db_conn *c = NULL;
	CHECK_INT(store_open(&st, &so), 0);
	CHECK_INT(db_conn_open(&c, &so, true), 0);
	if (st != NULL && c != NULL)
		check_queue_bounds(st, c);
	db_conn_close(c);
	store_close(st);
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(file, sizeof(file), "%s%s", path, suffixes[i]);
		(void)unlink(file);
	}
	(void)rmdir(dir);
	return check_report("writer");
}
