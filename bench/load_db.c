/* Fill a database with stored submissions, fast, through the real writer.
 *
 * Going through submission_from_json() and the group-commit writer (instead
 * of raw INSERTs) means the rows, the customers' counters, the dashboard
 * counters and whatever else the writer maintains in the same transaction are
 * exactly what the service itself would have stored; only HTTP is skipped.
 * Commits use synchronous = NORMAL: a loader that crashes is simply rerun.
 *
 * Usage: load_db --db PATH --rows N [--customers N]
 * The database must not exist yet (or be a feedbackd database to add to). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/gen.h"
#include "feedbackd/error.h"
#include "feedbackd/writer.h"

#define JOB_ITEMS 500
#define JOBS_IN_FLIGHT 8

struct loader {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	int in_flight; /* guarded by lock */
	long failed;   /* guarded by lock */
};

struct load_job {
	struct write_job job;
	struct write_item items[JOB_ITEMS];
	struct loader *ld;
};

static void job_done(struct write_job *job, void *arg)
{
	struct load_job *lj = arg;
	long failed = 0;
	for (size_t i = 0; i < job->n; i++) {
		failed += job->items[i].status != WRITE_CREATED;
		submission_release(&job->items[i].sub);
	}
	struct loader *ld = lj->ld;
	free(lj);
	pthread_mutex_lock(&ld->lock);
	ld->in_flight--;
	ld->failed += failed;
	pthread_cond_signal(&ld->freed);
	pthread_mutex_unlock(&ld->lock);
}

/* One survey as a client would send it, validated by the model. */
static int make_submission(struct gen *g, int64_t now, struct submission *out)
{
	struct gen_row r;
	gen_row(g, now, &r);
	char when[21];
	rfc3339_format(r.submitted_at, when);
	cJSON *o = cJSON_CreateObject();
	bool ok = o && cJSON_AddStringToObject(o, "customer_id", r.customer_id) &&
	          cJSON_AddStringToObject(o, "channel", channel_name(r.channel)) &&
	          cJSON_AddStringToObject(o, "agent_id", r.agent_id) &&
	          cJSON_AddStringToObject(o, "submitted_at", when) &&
	          cJSON_AddStringToObject(o, "expectation", expectation_name(r.expectation)) &&
	          cJSON_AddNumberToObject(o, "csat", r.csat) &&
	          cJSON_AddBoolToObject(o, "resolved", r.resolved) &&
	          (r.effort < 0 || cJSON_AddNumberToObject(o, "effort", r.effort)) &&
	          (r.nps < 0 || cJSON_AddNumberToObject(o, "nps", r.nps));
	struct validation v = {0};
	int err = ok ? submission_from_json(o, SUB_SURVEY, now, 0, out, &v) : FBD_ENOMEM;
	cJSON_Delete(o);
	return err;
}

static int fill_job(struct load_job *lj, struct gen *g, size_t n, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		submission_init(&lj->items[i].sub);
		int err = make_submission(g, now, &lj->items[i].sub);
		if (err != 0) {
			for (size_t j = 0; j <= i; j++)
				submission_release(&lj->items[j].sub);
			return err;
		}
	}
	lj->job = (struct write_job){.items = lj->items, .n = n, .done = job_done, .arg = lj};
	return 0;
}

static int load(struct writer *w, struct loader *ld, long rows, uint32_t customers)
{
	struct gen g;
	gen_init(&g, 42, customers);
	int64_t now = (int64_t)time(NULL);
	int err = 0;
	for (long done = 0; err == 0 && done < rows; done += JOB_ITEMS) {
		size_t n = rows - done < JOB_ITEMS ? (size_t)(rows - done) : JOB_ITEMS;
		struct load_job *lj = malloc(sizeof(*lj));
		if (lj == NULL)
			return FBD_ENOMEM;
		lj->ld = ld;
		if ((err = fill_job(lj, &g, n, now)) != 0) {
			free(lj);
			break;
		}
		pthread_mutex_lock(&ld->lock);
		while (ld->in_flight >= JOBS_IN_FLIGHT)
			pthread_cond_wait(&ld->freed, &ld->lock);
		ld->in_flight++;
		pthread_mutex_unlock(&ld->lock);
		if ((err = writer_submit(w, &lj->job)) != 0) {
			/* done() does not run for a refused job: undo by hand */
			lj->job.items[0].status = WRITE_FAILED;
			job_done(&lj->job, lj);
		}
	}
	return err;
}

int main(int argc, char **argv)
{
	const char *db = NULL;
	long rows = 0;
	uint32_t customers = 100000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--db") == 0)
			db = argv[i + 1];
		else if (strcmp(argv[i], "--rows") == 0)
			rows = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--customers") == 0)
			customers = (uint32_t)strtoul(argv[i + 1], NULL, 10);
	}
	if (db == NULL || rows <= 0 || customers == 0) {
		fprintf(stderr, "usage: %s --db PATH --rows N [--customers N]\n", argv[0]);
		return 2;
	}
	struct loader ld = {.lock = PTHREAD_MUTEX_INITIALIZER, .freed = PTHREAD_COND_INITIALIZER};
	struct store_options so = {.path = db, .sync = FBD_SYNC_NORMAL, .cache_mb = 64};
	struct writer_options wo = {.capacity = JOB_ITEMS * JOBS_IN_FLIGHT};
	struct store *st = NULL;
	struct writer *w = NULL;
	int err = store_open(&st, &so);
	if (err == 0)
		err = writer_start(&w, st, &wo);
	if (err == 0)
		err = load(w, &ld, rows, customers);
	writer_stop(w); /* commits what is queued; every done() has run after this */
	store_close(st);
	if (err == 0 && ld.failed > 0)
		err = FBD_EDB;
	if (err != 0) {
		fprintf(stderr, "load_db: %s (%ld submissions not stored)\n", fbd_error_str(err),
		        ld.failed);
		return 1;
	}
	printf("{\"rows\": %ld, \"customers\": %u}\n", rows, customers);
	return 0;
}
