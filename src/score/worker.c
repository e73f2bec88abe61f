/* The scoring worker.
 *
 * Why the submissions table is the queue: a submission is pending until the
 * worker's cursor (table scoring_cursor, migration 006) passes its seq, so a
 * commit is never without its rescoring, a crash loses no pending work and a
 * restart resumes it, and the writer writes nothing for it beyond the row.
 * (Until migration 006 the writer upserted a mark per submission into a
 * table keyed by customer id: a page written at a random place per
 * submission, and another when the worker deleted the mark; dropping them
 * made single-survey ingest 13-17 % faster on an empty database, A/B in
 * docs/performance.md.) seq only grows and one writer
 * commits in seq order, so a snapshot sees every submission up to some seq
 * and none after it: one committed while its customer was being scored lies
 * after the new cursor and is taken by the next pass.
 *
 * A pass: (1) in one read transaction, take the customers of the next
 * `batch` submissions after the cursor, and for each load the submissions
 * its two windows need and score them with the pure model (score.h); (2)
 * hand the profiles to the writer (writer.h) in jobs of WRITE_CHUNK, which
 * it stores inside its next group transactions, the last one also moving
 * the cursor past the batch's submissions. Then the same for customers whose
 * next_rescore_at has come: time alone moved a submission into or out of a
 * window. That set is read through an index, so a tick costs what is due,
 * not what exists.
 *
 * Sharing the database with the writer (measured with bench/bench-scoring,
 * 100 000 customers, 5 000 submissions/s, and bench/run.sh):
 * - the worker's own connection only reads; its writes run on the writer's
 *   connection. SQLite empties a connection's whole page cache when it
 *   begins a read and finds that another connection has committed since, so
 *   while the worker committed on its own connection (about 40 times a
 *   second under load) the writer re-read its B-trees' pages after each
 *   of them: 5.3 page reads per submission with 1 000 000 stored; now 4.2,
 *   and single-survey ingest 9-17 % faster (docs/performance.md). The
 *   profiles' pages are often the ones the writer just updated for the same
 *   customers' counters;
 * - a batch reads and scores up to 1024 customers, and hands them over in
 *   jobs of WRITE_CHUNK (128) profiles, one at a time: a job lengthens the
 *   group transaction it joins, which requests wait for (write_batch). The
 *   jobs are derived (writer.h): the writer tells the worker once the group
 *   committed, not once it is durable; waiting for an fdatasync per chunk
 *   made a full rescore of 100 000 customers take 3.9 s instead of 2.4;
 * - an UPDATE sets the indexed columns only when they change, since SQLite
 *   rewrites the index entries of every column in the SET list.
 *
 * Wake-ups: the writer calls worker_on_commit() after each commit; the
 * worker also wakes every idle_ms for time-based work. A wake-up during a
 * pass is remembered (a flag under the mutex), so a commit is reflected
 * within one pass of its wake-up. Passes start at most every
 * PASS_INTERVAL_MS (100 ms, a tenth of the freshness target): under load a
 * pass per commit scored a customer again for every submission and paid a
 * write transaction per group; gathering 100 ms of submissions took
 * single-survey ingest from about 10 000 to 11 500 requests/s
 * (docs/performance.md).
 *
 * Durability: the cursor moves in the transaction that stores the last
 * profiles of a batch, so a commit that is lost leaves those submissions
 * pending and their customers are simply rescored.
 *
 * Ownership: struct worker owns its connection and the batch buffers; the
 * store and the writer are borrowed: the writer must be stopped before the
 * worker, the store closed after it. */
#include "feedbackd/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feedbackd/error.h"
#include "feedbackd/log.h"
#include "feedbackd/writer.h"

#define DEFAULT_BATCH 1024
#define MAX_BATCH 4096
#define DEFAULT_IDLE_MS 1000
/* Passes start at most this often (see Wake-ups above). */
#define PASS_INTERVAL_MS 100
/* Page cache of the worker's connection at most (limit_cache). */
#define WORKER_CACHE_MB 2
/* Profiles per job handed to the writer (see write_batch). */
#define WRITE_CHUNK 128

/* One customer of a batch. */
struct worker_job {
	char *customer_id; /* owned */
	struct score_profile profile;
	/* the stored values of the two indexed profile columns (SCORE_NONE /
	 * SCORE_NEVER for NULL), so an UPDATE leaves an index alone when its
	 * column does not change */
	int old_loyalty;
	int64_t old_next_rescore;
};

/* Writes the worker hands to the writer (write_via_writer). */
struct worker_write {
	struct write_job job;
	struct worker *w;
	bool done; /* guarded by w->lock */
	/* chunk_in_tx: profiles w->jobs[start, end), then the cursor unless -1 */
	int start, end;
	int64_t now, cursor;
	const char *params_text; /* expire_in_tx */
};

struct worker {
	struct db_conn *conn; /* read-only: every write goes through opt.writer */
	struct worker_options opt;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t written; /* a worker_write is done */
	bool woken;    /* guarded by lock */
	bool stopping; /* guarded by lock */
	atomic_bool alive;
	atomic_uint_fast64_t scored;
	atomic_uint_fast64_t failed;
	struct worker_job *jobs;  /* batch buffer, opt.batch entries */
	int batch_rows;           /* submissions (or due customers) the batch read */
	int64_t batch_cursor;     /* new submissions: the last one's seq, else -1 */
	struct score_item *items; /* window buffer, items_cap entries */
	size_t items_cap;
};

static const char *const sql_cursor = "SELECT seq FROM scoring_cursor";
/* The customers of the next ?2 submissions after seq ?1, each once, with
 * how many of those submissions are theirs and the newest one's seq. */
static const char *const sql_take_new =
    "SELECT customer_id, count(*), max(seq) FROM ("
    " SELECT seq, customer_id FROM submissions WHERE seq > ?1 ORDER BY seq LIMIT ?2)"
    " GROUP BY customer_id";
static const char *const sql_take_due =
    "SELECT customer_id, 1, -1 FROM customers WHERE next_rescore_at <= ?1"
    " ORDER BY next_rescore_at LIMIT ?2";

/* Fast path: every submission after the start of the older window (future
 * ones included), newest first, one range scan of submissions_by_customer,
 * which holds every column read here (migration 005), so no table lookup.
 * When it returns fewer rows than asked, it is the complete set, which is
 * more than score_customer() needs. */
static const char *const sql_recent =
    "SELECT type, submitted_at, expectation, csat, nps FROM submissions"
    " WHERE customer_id = ?1 AND submitted_at > ?2"
    " ORDER BY submitted_at DESC, id DESC LIMIT ?3";

/* A customer with more: exactly what score_customer() needs (see score.h),
 * the newest max_items of each window, the oldest submission after
 * now - 30 days and the oldest after now. UNION removes the overlap of the
 * two windows; all four parts are range scans of submissions_by_customer. */
static const char *const sql_window =
    "SELECT type, submitted_at, expectation, csat, nps, id FROM ("
    " SELECT type, submitted_at, expectation, csat, nps, id FROM submissions"
    "  WHERE customer_id = ?1 AND submitted_at > ?2 AND submitted_at <= ?3"
    "  ORDER BY submitted_at DESC, id DESC LIMIT ?6)"
    " UNION SELECT * FROM ("
    " SELECT type, submitted_at, expectation, csat, nps, id FROM submissions"
    "  WHERE customer_id = ?1 AND submitted_at > ?4 AND submitted_at <= ?5"
    "  ORDER BY submitted_at DESC, id DESC LIMIT ?6)"
    " UNION SELECT * FROM ("
    " SELECT type, submitted_at, expectation, csat, nps, id FROM submissions"
    "  WHERE customer_id = ?1 AND submitted_at > ?5 ORDER BY submitted_at, id LIMIT 1)"
    " UNION SELECT * FROM ("
    " SELECT type, submitted_at, expectation, csat, nps, id FROM submissions"
    "  WHERE customer_id = ?1 AND submitted_at > ?3 ORDER BY submitted_at, id LIMIT 1)"
    " ORDER BY submitted_at DESC, id DESC";

static const char *const sql_old_profile =
    "SELECT loyalty_score, next_rescore_at FROM customers WHERE customer_id = ?";

/* SQLite rewrites the entries of every index whose column is SET, changed
 * or not; loyalty_score and next_rescore_at are indexed (migration 002) and
 * mostly unchanged by a rescore, so there is one statement per combination
 * (index: bit 1 loyalty_score, bit 2 next_rescore_at). */
#define PROFILE_SET                                                                                \
	"UPDATE customers SET level = ?1, loyalty_delta_30d = ?3, nps_category = ?4,"              \
	" latest_nps = ?5, share_met = ?6, share_exceeded = ?7, share_delighted = ?8,"             \
	" at_risk = ?9, risk_reasons = ?10, computed_at = ?11"
static const char *const sql_store_profile[4] = {
    PROFILE_SET " WHERE customer_id = ?13",
    PROFILE_SET ", loyalty_score = ?2 WHERE customer_id = ?13",
    PROFILE_SET ", next_rescore_at = ?12 WHERE customer_id = ?13",
    PROFILE_SET ", loyalty_score = ?2, next_rescore_at = ?12 WHERE customer_id = ?13",
};
static const char *const sql_move_cursor = "UPDATE scoring_cursor SET seq = ?";

static int64_t now_seconds(void)
{
	return (int64_t)time(NULL);
}

static int column_or_none(sqlite3_stmt *stmt, int col)
{
	return sqlite3_column_type(stmt, col) == SQLITE_NULL ? SCORE_NONE
	                                                     : sqlite3_column_int(stmt, col);
}

static void release_jobs(struct worker *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(w->jobs[i].customer_id);
		w->jobs[i].customer_id = NULL;
	}
}

/* The seq of the newest submission already reflected in the profiles. */
static int read_cursor(struct worker *w, int64_t *seq)
{
	sqlite3_stmt *stmt = db_stmt(w->conn, sql_cursor);
	if (stmt == NULL)
		return db_conn_error(w->conn);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*seq = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return FBD_EDB; /* migration 006 inserts the row: never deleted */
	return rc == SQLITE_ROW ? 0 : db_error(rc);
}

/* Fill w->jobs with the customers of the next submissions after the cursor
 * (new) or of the customers due at now, at most opt.batch of them, and set
 * w->batch_rows and w->batch_cursor. Returns the number of customers taken,
 * or a negative error. */
static int take_batch(struct worker *w, bool new, int64_t now)
{
	int64_t from = now;
	int err = new ? read_cursor(w, &from) : 0;
	if (err != 0)
		return err;
	sqlite3_stmt *stmt = db_stmt(w->conn, new ? sql_take_new : sql_take_due);
	if (stmt == NULL)
		return db_conn_error(w->conn);
	sqlite3_bind_int64(stmt, 1, from);
	sqlite3_bind_int(stmt, 2, w->opt.batch);
	w->batch_rows = 0;
	w->batch_cursor = -1;
	int n = 0, rc;
	while (n < w->opt.batch && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const unsigned char *id = sqlite3_column_text(stmt, 0);
		struct worker_job *job = &w->jobs[n];
		job->customer_id = id ? strdup((const char *)id) : NULL;
		if (job->customer_id == NULL) {
			err = FBD_ENOMEM;
			break;
		}
		n++;
		w->batch_rows += sqlite3_column_int(stmt, 1);
		int64_t seq = sqlite3_column_int64(stmt, 2);
		if (seq > w->batch_cursor)
			w->batch_cursor = seq;
	}
	/* at most opt.batch rows, so at most as many customers */
	if (err == 0 && n < w->opt.batch && rc != SQLITE_DONE)
		err = db_error(rc);
	sqlite3_reset(stmt);
	if (err != 0) {
		release_jobs(w, (size_t)n);
		return err;
	}
	return n;
}

/* Read the rows of stmt (columns as in sql_recent) into w->items; at most
 * items_cap rows are asked for. */
static int read_items(struct worker *w, sqlite3_stmt *stmt, size_t *n)
{
	int rc;
	*n = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && *n < w->items_cap) {
		w->items[(*n)++] = (struct score_item){
		    .survey = sqlite3_column_int(stmt, 0) == SUB_SURVEY,
		    .submitted_at = sqlite3_column_int64(stmt, 1),
		    .expectation = column_or_none(stmt, 2),
		    .csat = column_or_none(stmt, 3),
		    .nps = column_or_none(stmt, 4),
		};
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_ROW)
		return FBD_EDB; /* more rows than the LIMIT asked for: a bug */
	return db_error(rc);
}

static int read_old_profile(struct worker *w, struct worker_job *job)
{
	sqlite3_stmt *stmt = db_stmt(w->conn, sql_old_profile);
	if (stmt == NULL)
		return db_conn_error(w->conn);
	sqlite3_bind_text(stmt, 1, job->customer_id, -1, SQLITE_STATIC);
	job->old_loyalty = SCORE_NONE;
	job->old_next_rescore = SCORE_NEVER;
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		job->old_loyalty = column_or_none(stmt, 0);
		if (sqlite3_column_type(stmt, 1) != SQLITE_NULL)
			job->old_next_rescore = sqlite3_column_int64(stmt, 1);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error(rc);
}

/* Load what the customer's windows need into w->items and score them. */
static int score_job(struct worker *w, struct worker_job *job, int64_t now)
{
	int err = read_old_profile(w, job);
	if (err != 0)
		return err;
	const struct score_params *p = &w->opt.params;
	int64_t past = now - SCORE_DELTA_SECONDS;
	size_t n = 0;
	sqlite3_stmt *stmt = db_stmt(w->conn, sql_recent);
	if (stmt == NULL)
		return db_conn_error(w->conn);
	sqlite3_bind_text(stmt, 1, job->customer_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, past - p->window);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)w->items_cap);
	err = read_items(w, stmt, &n);
	if (err == 0 && n == w->items_cap) {
		stmt = db_stmt(w->conn, sql_window);
		if (stmt == NULL)
			return db_conn_error(w->conn);
		sqlite3_bind_text(stmt, 1, job->customer_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 2, now - p->window);
		sqlite3_bind_int64(stmt, 3, now);
		sqlite3_bind_int64(stmt, 4, past - p->window);
		sqlite3_bind_int64(stmt, 5, past);
		sqlite3_bind_int(stmt, 6, p->max_items);
		err = read_items(w, stmt, &n);
	}
	if (err != 0)
		return err;
	return score_customer(w->items, n, now, p, &job->profile);
}

static void bind_opt_int(sqlite3_stmt *stmt, int i, bool present, int64_t v)
{
	if (present)
		sqlite3_bind_int64(stmt, i, v);
	else
		sqlite3_bind_null(stmt, i);
}

/* The profile writes run on the writer's connection c, in its transaction. */
static int store_profile(struct db_conn *c, const struct worker_job *job, int64_t now)
{
	const struct score_profile *pr = &job->profile;
	int changed = (pr->loyalty_score != job->old_loyalty) |
	              (pr->next_rescore_at != job->old_next_rescore) << 1;
	sqlite3_stmt *stmt = db_stmt(c, sql_store_profile[changed]);
	if (stmt == NULL)
		return db_conn_error(c);
	bind_opt_int(stmt, 1, pr->level != LEVEL_UNRATED, pr->level);
	bind_opt_int(stmt, 2, pr->loyalty_score != SCORE_NONE, pr->loyalty_score);
	bind_opt_int(stmt, 3, pr->has_delta, pr->loyalty_delta_30d);
	bind_opt_int(stmt, 4, pr->nps_category != NPS_NONE, pr->nps_category);
	bind_opt_int(stmt, 5, pr->latest_nps != SCORE_NONE, pr->latest_nps);
	const int shares[3] = {pr->share_met_milli, pr->share_exceeded_milli,
	                       pr->share_delighted_milli};
	for (int i = 0; i < 3; i++) {
		if (pr->has_shares)
			sqlite3_bind_double(stmt, 6 + i, shares[i] / 1000.0);
		else
			sqlite3_bind_null(stmt, 6 + i);
	}
	sqlite3_bind_int(stmt, 9, pr->risk_reasons != 0);
	sqlite3_bind_int(stmt, 10, (int)pr->risk_reasons);
	sqlite3_bind_int64(stmt, 11, now);
	bind_opt_int(stmt, 12, pr->next_rescore_at != SCORE_NEVER, pr->next_rescore_at);
	sqlite3_bind_text(stmt, 13, job->customer_id, -1, SQLITE_STATIC);
	return db_step_done(c, stmt);
}

static int move_cursor(struct db_conn *c, int64_t seq)
{
	sqlite3_stmt *stmt = db_stmt(c, sql_move_cursor);
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_int64(stmt, 1, seq);
	return db_step_done(c, stmt);
}

static void rollback_if_open(struct worker *w)
{
	if (!sqlite3_get_autocommit(w->conn->db))
		(void)db_exec(w->conn, "ROLLBACK");
}

/* Read phase: take a batch and score it in one snapshot. Returns the batch
 * size or a negative error (w->jobs released then). */
static int read_batch(struct worker *w, bool new, int64_t now)
{
	int err = db_exec(w->conn, "BEGIN");
	if (err != 0)
		return err;
	int n = take_batch(w, new, now);
	if (n < 0) {
		err = n;
		goto fail;
	}
	for (int i = 0; i < n && err == 0; i++)
		err = score_job(w, &w->jobs[i], now);
	if (err == 0)
		err = db_exec(w->conn, "COMMIT");
	if (err == 0)
		return n;
	release_jobs(w, (size_t)n);
fail:
	rollback_if_open(w);
	return err;
}

/* Runs on the writer thread (write_job.done): wakes the worker waiting in
 * write_via_writer(). */
static void write_done(struct write_job *job, void *arg)
{
	struct worker_write *ww = arg;
	(void)job;
	pthread_mutex_lock(&ww->w->lock);
	ww->done = true;
	pthread_cond_broadcast(&ww->w->written);
	pthread_mutex_unlock(&ww->w->lock);
}

/* Have the writer run in_tx inside its next transaction and wait until that
 * committed (a derived job: not until the fdatasync) or failed. Returns 0
 * or the error. */
static int write_via_writer(struct worker *w, struct worker_write *ww,
                            int (*in_tx)(struct db_conn *c, struct write_job *job))
{
	ww->w = w;
	ww->done = false;
	ww->job = (struct write_job){
	    .done = write_done, .arg = ww, .in_tx = in_tx, .derived = true};
	int err = writer_submit(w->opt.writer, &ww->job);
	if (err != 0)
		return err;
	pthread_mutex_lock(&w->lock);
	while (!ww->done)
		pthread_cond_wait(&w->written, &w->lock);
	pthread_mutex_unlock(&w->lock);
	return ww->job.result;
}

static int chunk_in_tx(struct db_conn *c, struct write_job *job)
{
	struct worker_write *ww = job->arg;
	int err = 0;
	for (int i = ww->start; i < ww->end && err == 0; i++)
		err = store_profile(c, &ww->w->jobs[i], ww->now);
	if (err == 0 && ww->cursor >= 0)
		err = move_cursor(c, ww->cursor);
	return err;
}

/* Write phase: store the batch's profiles, at most WRITE_CHUNK of them per
 * transaction of the writer, and with the last of them move the cursor past
 * the batch's submissions (when it took new ones). A chunk lengthens the
 * writer's transaction it joins, which requests wait for: a whole batch in
 * one transaction (a pass gathers 100 ms of submissions) raised single-
 * survey p99 latency from 12-14 ms to 15-17 ms; in chunks it was 13-16 ms
 * (A/B, empty database, when the worker still wrote on its own connection). */
static int write_batch(struct worker *w, int n, int64_t now)
{
	int err = 0;
	for (int start = 0; start < n && err == 0; start += WRITE_CHUNK) {
		int end = start + WRITE_CHUNK < n ? start + WRITE_CHUNK : n;
		struct worker_write ww = {.start = start, .end = end, .now = now,
		                          .cursor = end == n ? w->batch_cursor : -1};
		err = write_via_writer(w, &ww, chunk_in_tx);
	}
	return err;
}

/* One batch of new submissions or due customers. Returns how many rows the
 * batch read (opt.batch when more may follow), or a negative error. */
static int run_batch(struct worker *w, bool new)
{
	int64_t now = now_seconds();
	int n = read_batch(w, new, now);
	if (n <= 0)
		return n;
	int err = write_batch(w, n, now);
	release_jobs(w, (size_t)n);
	if (err != 0)
		return err;
	atomic_fetch_add(&w->scored, (uint_fast64_t)n);
	return w->batch_rows;
}

static bool stop_requested(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	bool stop = w->stopping;
	pthread_mutex_unlock(&w->lock);
	return stop;
}

/* Everything pending: new submissions first (freshness), then what time
 * made due. */
static int run_pass(struct worker *w)
{
	for (int kind = 0; kind < 2; kind++) {
		int n;
		do {
			n = run_batch(w, kind == 0);
			if (n < 0)
				return n;
		} while (n == w->opt.batch && !stop_requested(w));
	}
	return 0;
}

static struct timespec ms_after(const struct timespec *t, long ms)
{
	struct timespec r = *t;
	r.tv_sec += ms / 1000;
	r.tv_nsec += (ms % 1000) * 1000000L;
	if (r.tv_nsec >= 1000000000L) {
		r.tv_sec++;
		r.tv_nsec -= 1000000000L;
	}
	return r;
}

/* Sleep until woken, stopped or idle_ms passed, and in any case until
 * PASS_INTERVAL_MS after the start of the last pass. Returns false to stop. */
static bool wait_for_work(struct worker *w, const struct timespec *pass_start)
{
	struct timespec now, until, not_before = ms_after(pass_start, PASS_INTERVAL_MS);
	clock_gettime(CLOCK_MONOTONIC, &now);
	until = ms_after(&now, w->opt.idle_ms);
	pthread_mutex_lock(&w->lock);
	while (!w->woken && !w->stopping)
		if (pthread_cond_timedwait(&w->wake, &w->lock, &until) == ETIMEDOUT)
			break;
	while (!w->stopping)
		if (pthread_cond_timedwait(&w->wake, &w->lock, &not_before) == ETIMEDOUT)
			break;
	w->woken = false;
	bool go_on = !w->stopping;
	pthread_mutex_unlock(&w->lock);
	return go_on;
}

/* The params as text, to notice a configuration change between runs. */
static void params_text(const struct score_params *p, char *buf, size_t len)
{
	snprintf(buf, len,
	         "window=%lld max_items=%d met=%.17g exceeded=%.17g delighted=%.17g"
	         " loyal_min=%d w_nps=%.17g w_exp=%.17g w_csat=%.17g declining=%d",
	         (long long)p->window, p->max_items, p->level_met_share, p->level_exceeded_share,
	         p->level_delighted_share, p->loyal_min_surveys, p->weight_nps,
	         p->weight_expectation, p->weight_csat, p->declining_delta);
}

/* The params of the stored profiles, in the writer's transaction: when
 * they differ from ours, every scored customer is made due now, so the
 * time-based passes rescore them all (in batches, beside the writer) after
 * the start. */
static int expire_in_tx(struct db_conn *c, struct write_job *job)
{
	struct worker_write *ww = job->arg;
	const char *text = ww->params_text;
	sqlite3_stmt *stmt = db_stmt(c, "SELECT params FROM scoring_params");
	if (stmt == NULL)
		return db_conn_error(c);
	int rc = sqlite3_step(stmt);
	const unsigned char *old = rc == SQLITE_ROW ? sqlite3_column_text(stmt, 0) : NULL;
	bool same = old && strcmp((const char *)old, text) == 0;
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(rc);
	if (same)
		return 0;
	int err = db_exec(c, "UPDATE customers SET next_rescore_at = 0 WHERE computed_at IS NOT NULL");
	if (err != 0)
		return err;
	stmt = db_stmt(c, "INSERT INTO scoring_params (id, params) VALUES (1, ?)"
	                  " ON CONFLICT (id) DO UPDATE SET params = excluded.params");
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_text(stmt, 1, text, -1, SQLITE_STATIC);
	return db_step_done(c, stmt);
}

/* Profiles stored under other params are stale (expire_in_tx). Returns 0 or
 * a storage error. */
static int expire_if_params_changed(struct worker *w)
{
	char text[512];
	params_text(&w->opt.params, text, sizeof(text));
	struct worker_write ww = {.params_text = text};
	return write_via_writer(w, &ww, expire_in_tx);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	(void)pthread_setname_np(pthread_self(), "fbd-scoring"); /* for top -H; cosmetic */
	bool was_failing = false;
	struct timespec pass_start;
	do {
		clock_gettime(CLOCK_MONOTONIC, &pass_start);
		int err = run_pass(w);
		atomic_store(&w->alive, err == 0);
		if (err == FBD_ESHUTDOWN)
			break; /* the writer stopped: worker_stop() comes next */
		if (err != 0) {
			atomic_fetch_add(&w->failed, 1);
			/* Logged once per failure streak; the pass is retried at
			 * the next wake-up (marks are still in the table). */
			if (!was_failing)
				log_error("scoring worker: pass failed: %s; retrying",
				          fbd_error_str(err));
		} else if (was_failing) {
			log_info("scoring worker: recovered");
		}
		was_failing = err != 0;
	} while (wait_for_work(w, &pass_start));
	return NULL;
}

static int init_sync(pthread_mutex_t *lock, pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	if (pthread_mutex_init(lock, NULL) != 0)
		return FBD_ENOMEM;
	if (pthread_condattr_init(&attr) != 0)
		goto fail_mutex;
	int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	if (rc == 0)
		return 0;
fail_mutex:
	pthread_mutex_destroy(lock);
	return FBD_ENOMEM;
}

/* SQLite empties a connection's page cache whenever it begins a read after
 * another connection committed, which under load is every pass, so a
 * larger cache holds only what one batch reads twice (the B-trees' upper
 * pages). 2 MiB instead of 10 read as many pages per submission (2.6 with
 * 1 000 000 stored), rescored 100 000 customers as fast (2.3-2.5 s,
 * bench-scoring) and kept peak RSS under load 8 MB lower. */
static int limit_cache(struct db_conn *c, int cache_mb)
{
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d",
	         (cache_mb < WORKER_CACHE_MB ? cache_mb : WORKER_CACHE_MB) * 1024);
	return db_exec(c, sql);
}

int worker_start(struct worker **out, struct store *st, const struct worker_options *opt)
{
	int err = FBD_ENOMEM;
	struct worker *w = calloc(1, sizeof(*w));
	*out = NULL;
	if (w == NULL)
		return FBD_ENOMEM;
	w->opt = *opt;
	if (w->opt.batch <= 0)
		w->opt.batch = DEFAULT_BATCH;
	if (w->opt.batch > MAX_BATCH)
		w->opt.batch = MAX_BATCH;
	if (w->opt.idle_ms <= 0)
		w->opt.idle_ms = DEFAULT_IDLE_MS;
	atomic_init(&w->alive, true);
	atomic_init(&w->scored, 0);
	atomic_init(&w->failed, 0);
	/* two windows of max_items plus the two event-only rows */
	w->items_cap = 2 * (size_t)w->opt.params.max_items + 2;
	w->items = calloc(w->items_cap, sizeof(*w->items));
	w->jobs = calloc((size_t)w->opt.batch, sizeof(*w->jobs));
	if (w->items == NULL || w->jobs == NULL)
		goto fail_free;
	/* Read-only, and no mmap_size: mapping the file saved a copy per page
	 * read (full rescore 1.3 s instead of 1.4 s, bench-scoring), but every
	 * page the worker touched then counted in the process's RSS: 170 MB of
	 * a 1 000 000-row database under load, against a 64 MB goal
	 * (docs/performance.md). */
	if ((err = db_conn_open(&w->conn, store_options(st), false)) != 0)
		goto fail_free;
	if ((err = limit_cache(w->conn, store_options(st)->cache_mb)) != 0)
		goto fail_conn;
	if ((err = init_sync(&w->lock, &w->wake)) != 0)
		goto fail_conn;
	err = FBD_ENOMEM;
	if (pthread_cond_init(&w->written, NULL) != 0)
		goto fail_sync;
	if ((err = expire_if_params_changed(w)) != 0)
		goto fail_written;
	/* *out first: the thread's writes make the writer call on_commit,
	 * which may read it */
	*out = w;
	err = FBD_ENOMEM;
	if (pthread_create(&w->thread, NULL, worker_main, w) == 0)
		return 0;
	*out = NULL;
fail_written:
	pthread_cond_destroy(&w->written);
fail_sync:
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
fail_conn:
	db_conn_close(w->conn);
fail_free:
	free(w->jobs);
	free(w->items);
	free(w);
	return err;
}

void worker_notify(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->woken = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void worker_on_commit(void *arg, size_t stored)
{
	if (stored > 0)
		worker_notify(arg);
}

bool worker_alive(struct worker *w)
{
	return w != NULL && atomic_load(&w->alive);
}

void worker_stats(struct worker *w, struct worker_stats *out)
{
	*out = (struct worker_stats){
	    .profiles_scored = atomic_load(&w->scored),
	    .passes_failed = atomic_load(&w->failed),
	};
}

void worker_stop(struct worker *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->written);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	db_conn_close(w->conn);
	free(w->jobs);
	free(w->items);
	free(w);
}
