/* The checkpointer (src/store/checkpointer.c) against a real database: with
 * SQLite's inline auto-checkpoint replaced, the WAL must still stay bounded
 * near CHECKPOINT_SOFT_FRAMES while the writer commits without pause (the
 * case where a plain background PASSIVE checkpoint never lets the WAL
 * restart), and every committed row must be in the database afterwards. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "feedbackd/error.h"
#include "feedbackd/writer.h"
#include "store/checkpointer.h"

#include "check.h"

#define JOBS 80
#define JOB_ITEMS 500
#define FRAME_BYTES (4096 + 24)

struct test_state {
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	int done;
	long created;
	long long max_wal;
	char wal_path[512];
};

static struct test_state ts = {.lock = PTHREAD_MUTEX_INITIALIZER,
                               .done_cond = PTHREAD_COND_INITIALIZER};

static void job_done(struct write_job *job, void *arg)
{
	struct stat sb;
	long long wal = stat(ts.wal_path, &sb) == 0 ? (long long)sb.st_size : 0;
	pthread_mutex_lock(&ts.lock);
	for (size_t i = 0; i < job->n; i++)
		ts.created += job->items[i].status == WRITE_CREATED;
	if (wal > ts.max_wal)
		ts.max_wal = wal;
	ts.done++;
	pthread_cond_signal(&ts.done_cond);
	pthread_mutex_unlock(&ts.lock);
}

/* A survey for a customer spread over many pages, so commits dirty many. */
static int make_item(struct write_item *item, int n)
{
	char customer[32];
	snprintf(customer, sizeof(customer), "c-%d", (n * 7919) % 50000);
	cJSON *o = cJSON_CreateObject();
	int err = FBD_ENOMEM;
	if (o && cJSON_AddStringToObject(o, "customer_id", customer) &&
	    cJSON_AddNumberToObject(o, "csat", 1 + n % 5)) {
		struct validation v = {0};
		submission_init(&item->sub);
		err = submission_from_json(o, SUB_SURVEY, (int64_t)time(NULL), 0, &item->sub, &v);
	}
	cJSON_Delete(o);
	return err;
}

static long count_rows(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	long n = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM submissions", -1, &stmt, NULL) ==
	        SQLITE_OK &&
	    sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

int main(void)
{
	char dir[] = "/tmp/fbd-ckpt-XXXXXX";
	char path[256];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/f.db", dir);
	snprintf(ts.wal_path, sizeof(ts.wal_path), "%s-wal", path);

	struct store_options so = {.path = path, .sync = FBD_SYNC_NORMAL, .cache_mb = 4};
	struct writer_options wo = {.capacity = JOBS * JOB_ITEMS};
	struct store *st = NULL;
	struct writer *w = NULL;
	CHECK_INT(store_open(&st, &so), 0);
	CHECK_INT(writer_start(&w, st, &wo), 0);
	static struct write_item items[JOBS][JOB_ITEMS];
	static struct write_job jobs[JOBS];
	for (int j = 0; w && j < JOBS; j++) {
		for (int i = 0; i < JOB_ITEMS; i++)
			CHECK_INT(make_item(&items[j][i], j * JOB_ITEMS + i), 0);
		jobs[j] = (struct write_job){.items = items[j], .n = JOB_ITEMS, .done = job_done};
		/* two jobs in flight: the writer never idles, as under load */
		pthread_mutex_lock(&ts.lock);
		while (j - ts.done >= 2)
			pthread_cond_wait(&ts.done_cond, &ts.lock);
		pthread_mutex_unlock(&ts.lock);
		CHECK_INT(writer_submit(w, &jobs[j]), 0);
	}
	writer_stop(w);
	CHECK_INT(ts.done, JOBS);
	CHECK_INT(ts.created, JOBS * JOB_ITEMS);
	/* Without checkpoints this run writes well over the hard bound of WAL;
	 * with a background checkpoint alone the WAL only restarts at the hard
	 * bound (65 000 frames seen). With the last copy of each cycle made
	 * under the write gate it restarts at the end of the cycle that the
	 * soft mark started (how far past the mark depends on how busy the
	 * machine is: about 26 000 frames with the mark at 16 000), well before
	 * the hard bound. */
	printf("largest WAL: %lld frames\n", ts.max_wal / FRAME_BYTES);
	CHECK(ts.max_wal > 0);
	CHECK(ts.max_wal < 3LL * CHECKPOINT_HARD_FRAMES / 4 * FRAME_BYTES);
	store_close(st);
	CHECK_INT(count_rows(path), JOBS * JOB_ITEMS);

	for (int j = 0; j < JOBS; j++)
		for (int i = 0; i < JOB_ITEMS; i++)
			submission_release(&items[j][i].sub);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_INT(system(cmd), 0);
	return check_report("checkpointer");
}
