/* The syncer (src/store/syncer.c): committed jobs are told after an
 * fdatasync of the WAL, in the order they were handed over, and everything
 * handed over is told before syncer_stop() returns; a failed sync fails the
 * jobs waiting and every later one. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "feedbackd/error.h"
#include "store/syncer.h"

#include "check.h"

#define JOBS 50

struct told {
	pthread_mutex_t lock;
	int n;
	int order[JOBS];
	int result[JOBS];
	enum write_status status[JOBS];
};

static struct told told = {.lock = PTHREAD_MUTEX_INITIALIZER};
static struct write_item items[JOBS];
static struct write_job jobs[JOBS];

static void on_done(struct write_job *job, void *arg)
{
	int i = (int)(job - jobs);
	(void)arg;
	pthread_mutex_lock(&told.lock);
	told.order[told.n] = i;
	told.result[told.n] = job->result;
	told.status[told.n] = job->items[0].status;
	told.n++;
	pthread_mutex_unlock(&told.lock);
}

/* Jobs [from, to) with one created item each, handed over in lists of
 * three (as groups of one commit each). */
static void hand_over(struct syncer *s, int from, int to)
{
	for (int i = from; i < to; i++) {
		items[i] = (struct write_item){.status = WRITE_CREATED};
		jobs[i] = (struct write_job){.items = &items[i], .n = 1, .done = on_done};
	}
	for (int i = from; i < to; i += 3) {
		int end = i + 3 < to ? i + 3 : to;
		for (int k = i; k + 1 < end; k++)
			jobs[k].next = &jobs[k + 1];
		syncer_submit(s, &jobs[i]);
	}
}

static void test_synced(const char *dir)
{
	char db[256], wal[300];
	snprintf(db, sizeof(db), "%s/ok.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", db);
	int fd = open(wal, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0 && write(fd, "frames", 6) == 6);
	if (fd >= 0)
		close(fd);
	struct syncer *s = NULL;
	told.n = 0;
	CHECK_INT(syncer_start(&s, db), 0);
	hand_over(s, 0, JOBS);
	syncer_stop(s); /* tells everything before it returns */
	CHECK_INT(told.n, JOBS);
	for (int i = 0; i < told.n; i++) {
		CHECK_INT(told.order[i], i);
		CHECK_INT(told.result[i], 0);
		CHECK_INT(told.status[i], WRITE_CREATED);
	}
}

static void test_failed(const char *dir)
{
	char db[256];
	snprintf(db, sizeof(db), "%s/missing.db", dir); /* no WAL: the sync fails */
	struct syncer *s = NULL;
	told.n = 0;
	CHECK_INT(syncer_start(&s, db), 0);
	CHECK(syncer_healthy(s));
	hand_over(s, 0, 10);
	pthread_mutex_lock(&told.lock);
	int n = told.n;
	pthread_mutex_unlock(&told.lock);
	while (n < 10) {
		usleep(1000);
		pthread_mutex_lock(&told.lock);
		n = told.n;
		pthread_mutex_unlock(&told.lock);
	}
	CHECK(!syncer_healthy(s));
	hand_over(s, 10, 20); /* final: later jobs fail without a try */
	syncer_stop(s);
	CHECK_INT(told.n, 20);
	for (int i = 0; i < told.n; i++) {
		CHECK_INT(told.order[i], i);
		CHECK_INT(told.result[i], FBD_ESTORAGE);
		CHECK_INT(told.status[i], WRITE_FAILED);
	}
}

int main(void)
{
	char dir[] = "/tmp/fbd-syncer-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	test_synced(dir);
	test_failed(dir);
	syncer_stop(NULL);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_INT(system(cmd), 0);
	return check_report("syncer");
}
