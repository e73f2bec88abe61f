/* Scoring benchmark: full rescore time and commit-to-profile lag.
 *
 * 1. Fills a fresh database (the real schema, migrations applied by
 *    store_open) with N customers and M submissions spread over the last
 *    400 days, by direct inserts in large transactions, and makes every
 *    customer due for rescoring now, as a change of the scoring parameters
 *    does.
 * 2. Starts the real worker and times it until no customer is due.
 * 3. Starts the real writer wired to the worker (as app.c does) and submits
 *    single-submission jobs, like HTTP requests, at a fixed rate for a few
 *    seconds. For a sample of them it measures the time from the commit (the
 *    writer's done callback) until the worker's cursor has passed it, i.e.
 *    the worker has stored a profile that includes the submission.
 *
 * Usage: bench-scoring [customers] [submissions] [rate/s] [seconds] [dir]
 * Defaults: 100000 1000000 5000 10, and a new folder under /tmp. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "feedbackd/error.h"
#include "feedbackd/score.h"
#include "feedbackd/store.h"
#include "feedbackd/uuid7.h"
#include "feedbackd/worker.h"
#include "feedbackd/writer.h"

#define SAMPLE_EVERY 50 /* the observer's polling must stay cheap */
#define MAX_SAMPLES 100000
#define TICK_MS 10

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift: a fixed sequence, so runs are comparable */
static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int die(const char *what, int err)
{
	fprintf(stderr, "bench-scoring: %s: %s\n", what, fbd_error_str(err));
	return 1;
}

static void customer_name(char *buf, size_t len, uint64_t i)
{
	snprintf(buf, len, "cust-%07" PRIu64, i);
}

struct agg {
	int surveys, nps_ratings;
	int64_t first, last;
};

static int exec_checked(struct db_conn *c, const char *sql)
{
	return db_exec(c, sql);
}

static void bind_or_null(sqlite3_stmt *st, int i, int v)
{
	if (v >= 0)
		sqlite3_bind_int(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/* One random submission row for customer ci at time t. */
static int insert_submission(struct db_conn *c, uint64_t ci, int64_t t, struct agg *a)
{
	static const uint8_t digest[32];
	char id[37], cust[32];
	sqlite3_stmt *st = db_stmt(
	    c, "INSERT INTO submissions (id, type, customer_id, channel, segment, submitted_at,"
	       " submitted_given, received_at, expectation, csat, nps, digest)"
	       " VALUES (?, ?, ?, ?, NULL, ?, 1, ?, ?, ?, ?, ?)");
	if (st == NULL)
		return db_conn_error(c);
	bool nps_only = rnd() % 5 == 0;
	uuid7_generate_at(id, (uint64_t)t * 1000 + rnd() % 1000);
	customer_name(cust, sizeof(cust), ci);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, nps_only ? 1 : 0);
	sqlite3_bind_text(st, 3, cust, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, (int)(rnd() % 8));
	sqlite3_bind_int64(st, 5, t);
	sqlite3_bind_int64(st, 6, t);
	/* surveys: expectation in 3 of 4, csat in 2 of 3, nps in 1 of 2 */
	int expectation = nps_only || rnd() % 4 == 0 ? -1 : (int)(rnd() % 3);
	int csat = nps_only || rnd() % 3 == 0 ? -1 : (int)(rnd() % 5) + 1;
	int nps = nps_only || rnd() % 2 == 0 ? (int)(rnd() % 11) : -1;
	bind_or_null(st, 7, expectation);
	bind_or_null(st, 8, csat);
	bind_or_null(st, 9, nps);
	sqlite3_bind_blob(st, 10, digest, sizeof(digest), SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_error(rc);
	a->surveys += !nps_only;
	a->nps_ratings += nps_only;
	if (a->first == 0 || t < a->first)
		a->first = t;
	if (t > a->last)
		a->last = t;
	return 0;
}

static int insert_customer(struct db_conn *c, uint64_t ci, const struct agg *a)
{
	static const char *const segments[] = {"vip", "standard", "trial", NULL};
	char cust[32];
	customer_name(cust, sizeof(cust), ci);
	sqlite3_stmt *st =
	    db_stmt(c, "INSERT INTO customers (customer_id, segment, surveys,"
	               " nps_ratings, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)");
	if (st == NULL)
		return db_conn_error(c);
	const char *seg = segments[ci % 4];
	sqlite3_bind_text(st, 1, cust, -1, SQLITE_TRANSIENT);
	if (seg)
		sqlite3_bind_text(st, 2, seg, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, a->surveys);
	sqlite3_bind_int(st, 4, a->nps_ratings);
	sqlite3_bind_int64(st, 5, a->first);
	sqlite3_bind_int64(st, 6, a->last);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_error(rc);
}

/* Customer ci gets its share of m submissions (m / n, the remainder to the
 * first ones), spread uniformly over the last 400 days. */
static int fill(struct store *st, uint64_t n, uint64_t m, int64_t now)
{
	struct db_conn *c = NULL;
	int err = db_conn_open(&c, store_options(st), true);
	if (err != 0)
		return err;
	if ((err = exec_checked(c, "PRAGMA synchronous = OFF")) != 0)
		goto out;
	if ((err = exec_checked(c, "BEGIN")) != 0)
		goto out;
	for (uint64_t ci = 0; ci < n && err == 0; ci++) {
		struct agg a = {0};
		uint64_t k = m / n + (ci < m % n);
		for (uint64_t j = 0; j < k && err == 0; j++)
			err = insert_submission(c, ci, now - (int64_t)(rnd() % (400 * 86400)), &a);
		if (err == 0)
			err = insert_customer(c, ci, &a);
		if (err == 0 && ci % 10000 == 9999) {
			err = exec_checked(c, "COMMIT");
			if (err == 0)
				err = exec_checked(c, "BEGIN");
		}
	}
	if (err == 0)
		err = exec_checked(c, "COMMIT");
	else
		(void)exec_checked(c, "ROLLBACK");
out:
	db_conn_close(c);
	return err;
}

/* Every customer due now and nothing new after the cursor: the worker's
 * time-based passes rescore each customer once. */
static int remark_all(struct store *st)
{
	struct db_conn *c = NULL;
	int err = db_conn_open(&c, store_options(st), true);
	if (err != 0)
		return err;
	err = exec_checked(c, "UPDATE customers SET next_rescore_at = 0");
	if (err == 0)
		err = exec_checked(c, "UPDATE scoring_cursor SET seq ="
		                      " (SELECT coalesce(max(seq), 0) FROM submissions)");
	db_conn_close(c);
	return err;
}

/* Polls until no customer is due any more (remark_all made them due at 0; a
 * scored profile is due in the future or never). */
static int wait_drained(struct store *st, double timeout)
{
	double until = mono() + timeout;
	struct timespec tick = {0, 20 * 1000 * 1000};
	struct db_conn *c = store_reader(st);
	if (c == NULL)
		return FBD_ESTORAGE;
	while (mono() < until) {
		sqlite3_stmt *stmt =
		    db_stmt(c, "SELECT 1 FROM customers WHERE next_rescore_at <= 0 LIMIT 1");
		if (stmt == NULL)
			return db_conn_error(c);
		int rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		if (rc == SQLITE_DONE)
			return 0;
		if (rc != SQLITE_ROW)
			return db_error(rc);
		nanosleep(&tick, NULL);
	}
	return FBD_EFULL;
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- lag under load ---- */

struct sample {
	char id[37];      /* the submission's, set by the done callback */
	double committed; /* 0 until the done callback ran */
	double reflected; /* 0 until the worker's cursor was seen past it */
};

struct load {
	struct writer *writer;
	struct store *st;
	uint64_t customers;
	int rate, seconds;
	pthread_mutex_t lock;
	struct sample *samples;
	size_t n_samples; /* guarded by lock */
	atomic_long submitted, failed, rejected;
	atomic_bool done_submitting;
	double send_seconds; /* how long the generator took to send everything */
};

struct bench_job {
	struct write_job job;
	struct write_item item;
	struct load *load;
	long sample; /* index in samples, or -1 */
};

static void job_done(struct write_job *job, void *arg)
{
	struct bench_job *bj = arg;
	struct load *l = bj->load;
	if (bj->item.status != WRITE_CREATED)
		atomic_fetch_add(&l->failed, 1);
	if (bj->sample >= 0) {
		pthread_mutex_lock(&l->lock);
		memcpy(l->samples[bj->sample].id, bj->item.sub.id, sizeof(l->samples[0].id));
		l->samples[bj->sample].committed = mono();
		pthread_mutex_unlock(&l->lock);
	}
	submission_release(&bj->item.sub);
	free(bj);
	(void)job;
}

static int submit_one(struct load *l, long i)
{
	struct bench_job *bj = calloc(1, sizeof(*bj));
	if (bj == NULL)
		return FBD_ENOMEM;
	char cust[32];
	customer_name(cust, sizeof(cust), rnd() % l->customers);
	submission_init(&bj->item.sub);
	struct submission *s = &bj->item.sub;
	s->customer_id = strdup(cust);
	s->submitted_at = s->received_at = (int64_t)time(NULL);
	s->submitted_given = false;
	s->expectation = (int)(rnd() % 3);
	s->csat = (int)(rnd() % 5) + 1;
	s->nps = (int)(rnd() % 11);
	bj->load = l;
	bj->sample = -1;
	bj->job = (struct write_job){.items = &bj->item, .n = 1, .done = job_done, .arg = bj};
	if (s->customer_id == NULL) {
		free(bj);
		return FBD_ENOMEM;
	}
	if (i % SAMPLE_EVERY == 0) {
		pthread_mutex_lock(&l->lock);
		if (l->n_samples < MAX_SAMPLES)
			bj->sample = (long)l->n_samples++;
		pthread_mutex_unlock(&l->lock);
	}
	int err = writer_submit(l->writer, &bj->job);
	if (err != 0) {
		/* a full queue is what HTTP answers with 503: count it */
		atomic_fetch_add(&l->rejected, 1);
		if (bj->sample >= 0) {
			pthread_mutex_lock(&l->lock);
			l->samples[bj->sample].committed = -1;
			pthread_mutex_unlock(&l->lock);
		}
		submission_release(s);
		free(bj);
	}
	return 0;
}

/* Paces submissions: rate/100 every 10 ms, catching up after a late tick. */
static void *generator(void *arg)
{
	struct load *l = arg;
	double start = mono();
	long sent = 0, total = (long)l->rate * l->seconds;
	struct timespec tick = {0, TICK_MS * 1000 * 1000};
	while (sent < total) {
		long due = (long)((mono() - start) * l->rate);
		if (due > total)
			due = total;
		for (; sent < due; sent++)
			if (submit_one(l, sent) != 0)
				break;
		atomic_store(&l->submitted, sent);
		nanosleep(&tick, NULL);
	}
	l->send_seconds = mono() - start;
	atomic_store(&l->done_submitting, true);
	return NULL;
}

static bool reflected(struct db_conn *c, const char *id)
{
	sqlite3_stmt *st = db_stmt(c, "SELECT 1 FROM submissions s, scoring_cursor c"
	                              " WHERE s.id = ? AND s.seq <= c.seq");
	if (st == NULL)
		return false;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	bool done = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return done;
}

/* Polls committed samples every 2 ms until the worker's cursor passes them. */
static void observe(struct load *l, struct db_conn *c, double deadline)
{
	size_t first_open = 0;
	struct timespec tick = {0, 2 * 1000 * 1000};
	while (mono() < deadline) {
		pthread_mutex_lock(&l->lock);
		size_t n = l->n_samples;
		pthread_mutex_unlock(&l->lock);
		bool open_left = false;
		for (size_t i = first_open; i < n; i++) {
			pthread_mutex_lock(&l->lock);
			double committed = l->samples[i].committed;
			pthread_mutex_unlock(&l->lock);
			if (committed <= 0 || l->samples[i].reflected > 0) {
				open_left |= committed == 0;
				continue;
			}
			if (reflected(c, l->samples[i].id))
				l->samples[i].reflected = mono();
			else
				open_left = true;
		}
		while (first_open < n && (l->samples[first_open].reflected > 0 ||
		                          l->samples[first_open].committed < 0))
			first_open++;
		if (!open_left && atomic_load(&l->done_submitting) && first_open == n)
			return;
		nanosleep(&tick, NULL);
	}
}

/* The writer's on_commit: worker_start() sets *arg before its thread runs,
 * and only the load, which starts later, stores submissions. */
static void wake_worker(void *arg, size_t stored)
{
	struct worker *const *w = arg;
	if (stored > 0)
		worker_on_commit(*w, stored);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int run_load(struct store *st, struct writer *writer, uint64_t customers, int rate,
                    int seconds)
{
	struct load l = {
	    .st = st, .writer = writer, .customers = customers, .rate = rate, .seconds = seconds};
	struct db_conn *c = NULL;
	pthread_t gen;
	int err = FBD_ENOMEM;
	l.samples = calloc(MAX_SAMPLES, sizeof(*l.samples));
	double *lags = calloc(MAX_SAMPLES, sizeof(*lags));
	if (l.samples == NULL || lags == NULL || pthread_mutex_init(&l.lock, NULL) != 0)
		goto out;
	if ((err = db_conn_open(&c, store_options(st), false)) != 0)
		goto out_lock;
	double t0 = mono(), cpu0 = cpu_seconds();
	if (pthread_create(&gen, NULL, generator, &l) != 0) {
		err = FBD_ENOMEM;
		goto out_conn;
	}
	observe(&l, c, t0 + seconds + 30);
	pthread_join(gen, NULL);
	double elapsed = mono() - t0;
	size_t n = 0, lost = 0;
	for (size_t i = 0; i < l.n_samples; i++) {
		if (l.samples[i].reflected > 0)
			lags[n++] = l.samples[i].reflected - l.samples[i].committed;
		else if (l.samples[i].committed >= 0)
			lost++;
	}
	qsort(lags, n, sizeof(*lags), cmp_double);
	printf("load: %ld submissions sent in %.2f s (%.0f/s), %ld rejected (queue full), %ld"
	       " failed; %.2f s until the last sample was reflected; %.2f s of CPU\n",
	       atomic_load(&l.submitted), l.send_seconds,
	       (double)atomic_load(&l.submitted) / l.send_seconds, atomic_load(&l.rejected),
	       atomic_load(&l.failed), elapsed, cpu_seconds() - cpu0);
	if (n > 0)
		printf("commit->profile lag over %zu samples: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
		       " (%zu not reflected)\n",
		       n, lags[n / 2] * 1e3, lags[(n * 99) / 100] * 1e3, lags[n - 1] * 1e3, lost);
	err = 0;
out_conn:
	db_conn_close(c);
out_lock:
	pthread_mutex_destroy(&l.lock);
out:
	free(l.samples);
	free(lags);
	return err;
}

/* The database, its WAL and shared-memory files, and the folder we made. */
static void remove_db(const char *dir, const char *path)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	char file[300];
	for (size_t i = 0; i < 3; i++) {
		snprintf(file, sizeof(file), "%s%s", path, suffixes[i]);
		(void)unlink(file);
	}
	if (rmdir(dir) != 0)
		fprintf(stderr, "bench-scoring: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
	uint64_t m = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
	int rate = argc > 3 ? atoi(argv[3]) : 5000;
	int seconds = argc > 4 ? atoi(argv[4]) : 10;
	char dir[] = "/tmp/bench-scoring-XXXXXX", path[256];
	if (n == 0 || rate <= 0 || seconds <= 0) {
		fprintf(stderr,
		        "usage: bench-scoring [customers] [submissions] [rate] [seconds] [dir]\n");
		return 2;
	}
	const char *base = argc > 5 ? argv[5] : mkdtemp(dir);
	if (base == NULL)
		return die("mkdtemp", FBD_EIO);
	snprintf(path, sizeof(path), "%s/bench.db", base);
	struct store_options opt = {.path = path, .sync = FBD_SYNC_FULL, .cache_mb = 64};
	struct store *st = NULL;
	bool reuse = argc > 5 && access(path, F_OK) == 0;
	int err = store_open(&st, &opt);
	if (err != 0)
		return die("store_open", err);

	int64_t now = (int64_t)time(NULL);
	double t = mono();
	if (reuse) {
		/* a database filled by an earlier run: only make everyone due */
		printf("reusing %s: every customer due again\n", path);
	} else {
		if ((err = fill(st, n, m, now)) != 0)
			return die("fill", err);
		printf("fill: %" PRIu64 " customers, %" PRIu64 " submissions in %.2f s (%s)\n", n,
		       m, mono() - t, path);
	}
	if ((err = remark_all(st)) != 0)
		return die("remark", err);

	struct fbd_config cfg;
	config_init(&cfg);
	struct worker_options wo = {0};
	score_params_from_config(&wo.params, &cfg);
	config_release(&cfg);
	struct worker *w = NULL;
	struct writer *writer = NULL;
	struct writer_options wopt = {.capacity = 8192, .on_commit = wake_worker, .on_commit_arg = &w};
	if ((err = writer_start(&writer, st, &wopt)) != 0)
		return die("writer_start", err);
	wo.writer = writer;
	t = mono();
	double cpu = cpu_seconds();
	if ((err = worker_start(&w, st, &wo)) != 0)
		return die("worker_start", err);
	if ((err = wait_drained(st, 600)) != 0)
		return die("full rescore", err);
	double full = mono() - t;
	cpu = cpu_seconds() - cpu;
	struct worker_stats s;
	worker_stats(w, &s);
	printf("full rescore: %" PRIu64 " profiles in %.2f s (%.0f/s), %.2f s of CPU\n",
	       s.profiles_scored, full, (double)s.profiles_scored / full, cpu);

	err = run_load(st, writer, n, rate, seconds);
	writer_stop(writer);
	worker_stop(w);
	store_close(st);
	if (err != 0)
		return die("load", err);
	if (argc <= 5)
		remove_db(base, path);
	return 0;
}
