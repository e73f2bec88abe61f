/* The writer thread: group commit.
 *
 * Why one writer: SQLite allows one writer at a time anyway, and an fsync per
 * request would cap ingest at the disk's sync rate. Request threads queue
 * jobs; this thread takes everything queued (up to GROUP_MAX submissions),
 * applies it in one transaction and commits once, then tells every job's
 * owner. Storage errors (disk full, read-only, I/O) fail the whole group,
 * since nothing in it can be trusted to commit. Any other error in one item
 * (a "cannot happen": a constraint, a corrupt stored row) fails only that
 * item: the group is rolled back and run again without it. That costs
 * nothing while no item fails, unlike a savepoint per item (8 % of the
 * writer's instructions when it had them).
 *
 * The dashboard counters of the group are summed in memory and written once
 * per key before COMMIT (rollup_group in dashboard.h).
 *
 * With sync = full the group's fdatasync runs on the syncer thread
 * (store/syncer.h): this thread commits with synchronous = NORMAL, hands the
 * group over and starts the next one, and the submitters are told once the
 * WAL is on the disk. A 2xx still means durable; what a reader may see a
 * moment earlier is docs/durability.md's business.
 *
 * The scoring worker's profiles arrive as jobs without submissions (derived,
 * writer.h) and run in the same transactions, so this is the process's one
 * write connection: SQLite empties a connection's page cache whenever
 * another one has committed, and with the worker committing on its own the
 * writer re-read its B-trees many times a second (score/worker.c).
 *
 * Ownership: jobs and their items belong to the submitter throughout. The
 * writer links them into its queue and hands them back through done(). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "feedbackd/dashboard.h"
#include "feedbackd/error.h"
#include "feedbackd/uuid7.h"
#include "feedbackd/writer.h"
#include "store/sql.h"
#include "store/syncer.h"

#define GROUP_MAX 4096
/* Write the summed dashboard counters early past this many keys, which
 * bounds their memory (about 200 bytes a key) within a large group. */
#define ROLLUP_FLUSH_AT 4096

struct writer {
	struct store *st;
	struct db_conn *conn;
	struct syncer *syncer; /* sync = full: makes commits durable, else NULL */
	struct rollup_group *rollups; /* the current group's dashboard counters */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct write_job *head, *tail; /* guarded by lock */
	size_t depth;                  /* submissions queued, guarded by lock */
	struct writer_options opt;
	int64_t next_seq;              /* the next submission's seq, see first_free_seq() */
	bool stopping;                 /* guarded by lock */
	atomic_bool healthy;
};

static bool is_storage_error(int err)
{
	return err == FBD_ESTORAGE || err == FBD_ENOMEM;
}

static void bind_text_or_null(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, i);
}

static void bind_int_or_null(sqlite3_stmt *stmt, int i, int v)
{
	if (v >= 0)
		sqlite3_bind_int(stmt, i, v);
	else
		sqlite3_bind_null(stmt, i);
}

/* Client ids: an id already stored answers with the stored record when the
 * digests match, else a conflict. Returns 1 when the item is settled. */
static int check_existing_id(struct db_conn *c, struct write_item *item)
{
	sqlite3_stmt *stmt = db_stmt(c, "SELECT " SUBMISSION_COLUMNS " FROM submissions WHERE id = ?");
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_text(stmt, 1, item->sub.id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(stmt);
		return rc == SQLITE_DONE ? 0 : db_error(rc);
	}
	struct submission stored;
	submission_init(&stored);
	int err = store_row_to_submission(stmt, &stored);
	sqlite3_reset(stmt);
	if (err != 0) {
		submission_release(&stored);
		return err;
	}
	if (memcmp(stored.digest, item->sub.digest, sizeof(stored.digest)) == 0) {
		submission_release(&item->sub);
		item->sub = stored;
		item->status = WRITE_EXISTS;
	} else {
		submission_release(&stored);
		item->status = WRITE_CONFLICT;
	}
	return 1;
}

/* A submission without a segment takes its customer's current one. */
static int resolve_segment(struct db_conn *c, struct write_item *item)
{
	struct submission *s = &item->sub;
	if (s->segment)
		return 0;
	sqlite3_stmt *stmt = db_stmt(c, "SELECT segment FROM customers WHERE customer_id = ?");
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_text(stmt, 1, s->customer_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	int err = 0;
	if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
		s->segment = strdup((const char *)sqlite3_column_text(stmt, 0));
		err = s->segment ? 0 : FBD_ENOMEM;
		item->segment_resolved = s->segment != NULL;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		err = db_error(rc);
	}
	sqlite3_reset(stmt);
	return err;
}

static int insert_submission(struct db_conn *c, const struct submission *s, int64_t seq)
{
	sqlite3_stmt *stmt = db_stmt(
		c, "INSERT INTO submissions (id, type, customer_id, contact_id, channel, agent_id,"
		   " segment, submitted_at, submitted_given, received_at, expectation, csat, effort,"
		   " resolved, nps, comment, tags, metadata, digest, seq)"
		   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_int64(stmt, 20, seq);
	sqlite3_bind_text(stmt, 1, s->id, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 2, s->type);
	sqlite3_bind_text(stmt, 3, s->customer_id, -1, SQLITE_STATIC);
	bind_text_or_null(stmt, 4, s->contact_id);
	sqlite3_bind_int(stmt, 5, s->channel);
	bind_text_or_null(stmt, 6, s->agent_id);
	bind_text_or_null(stmt, 7, s->segment);
	sqlite3_bind_int64(stmt, 8, s->submitted_at);
	sqlite3_bind_int(stmt, 9, s->submitted_given);
	sqlite3_bind_int64(stmt, 10, s->received_at);
	bind_int_or_null(stmt, 11, s->expectation);
	bind_int_or_null(stmt, 12, s->csat);
	bind_int_or_null(stmt, 13, s->effort);
	bind_int_or_null(stmt, 14, s->resolved);
	bind_int_or_null(stmt, 15, s->nps);
	bind_text_or_null(stmt, 16, s->comment);
	bind_text_or_null(stmt, 17, s->tags_json);
	bind_text_or_null(stmt, 18, s->metadata_json);
	sqlite3_bind_blob(stmt, 19, s->digest, sizeof(s->digest), SQLITE_STATIC);
	return db_step_done(c, stmt);
}

/* The customer row: counts, first/last seen, and the segment it carried. */
static int upsert_customer(struct db_conn *c, const struct submission *s)
{
	sqlite3_stmt *stmt = db_stmt(
		c, "INSERT INTO customers (customer_id, segment, surveys, nps_ratings, first_seen,"
		   " last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?5)"
		   " ON CONFLICT (customer_id) DO UPDATE SET"
		   " segment = coalesce(excluded.segment, segment),"
		   " surveys = surveys + excluded.surveys,"
		   " nps_ratings = nps_ratings + excluded.nps_ratings,"
		   " first_seen = min(first_seen, excluded.first_seen),"
		   " last_seen = max(last_seen, excluded.last_seen)");
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_text(stmt, 1, s->customer_id, -1, SQLITE_STATIC);
	bind_text_or_null(stmt, 2, s->segment);
	sqlite3_bind_int(stmt, 3, s->type == SUB_SURVEY);
	sqlite3_bind_int(stmt, 4, s->type == SUB_NPS);
	sqlite3_bind_int64(stmt, 5, s->submitted_at);
	return db_step_done(c, stmt);
}

/* Everything one new submission changes, inside the group's transaction. */
static int store_new_submission(struct writer *w, struct write_item *item)
{
	struct db_conn *c = w->conn;
	struct submission *s = &item->sub;
	int err = resolve_segment(c, item);
	if (err != 0)
		return err;
	if (!s->client_id)
		uuid7_generate(s->id);
	if ((err = insert_submission(c, s, w->next_seq)) != 0)
		return err;
	w->next_seq++;
	if ((err = upsert_customer(c, s)) != 0)
		return err;
	if ((err = rollup_add(c, w->rollups, s)) != 0)
		return err;
	item->status = WRITE_CREATED;
	return 0;
}

static int apply_item(struct writer *w, struct write_item *item)
{
	int err = 0;
	if (item->sub.client_id) {
		err = check_existing_id(w->conn, item);
		if (err != 0)
			return err > 0 ? 0 : err;
	}
	return store_new_submission(w, item);
}

/* Runs the group's jobs in the open transaction, skipping items that failed
 * in an earlier attempt. Returns 0, a negative error that fails the group,
 * or 1 when one item failed on its own: it is marked WRITE_FAILED, and the
 * caller rolls back and runs the group again. */
static int apply_group(struct writer *w, struct write_job *jobs)
{
	int err = 0;
	for (struct write_job *j = jobs; j; j = j->next) {
		for (size_t i = 0; i < j->n; i++) {
			struct write_item *item = &j->items[i];
			if (item->status == WRITE_FAILED)
				continue;
			if ((err = apply_item(w, item)) != 0) {
				if (is_storage_error(err))
					return err;
				item->status = WRITE_FAILED;
				return 1;
			}
			if (rollup_group_pending(w->rollups) >= ROLLUP_FLUSH_AT &&
			    (err = rollup_group_flush(w->conn, w->rollups)) != 0)
				return err;
		}
		if (j->in_tx && (err = j->in_tx(w->conn, j)) != 0)
			return err;
	}
	return rollup_group_flush(w->conn, w->rollups);
}

/* Undo what a rolled-back attempt left in the items, so the next attempt
 * sees them as submitted: a segment taken from the customer row may have
 * come from a rolled-back submission, and an item settled as a duplicate
 * holds the stored row (which needs the client-id check again). */
static void reset_items(struct write_job *jobs)
{
	for (struct write_job *j = jobs; j; j = j->next)
		for (size_t i = 0; i < j->n; i++) {
			struct write_item *item = &j->items[i];
			if (item->status == WRITE_FAILED)
				continue;
			if (item->status == WRITE_EXISTS || item->status == WRITE_CONFLICT)
				item->sub.client_id = true;
			if (item->segment_resolved) {
				free(item->sub.segment);
				item->sub.segment = NULL;
				item->segment_resolved = false;
			}
			item->status = WRITE_PENDING;
		}
}

static void fail_group(struct write_job *jobs)
{
	for (struct write_job *j = jobs; j; j = j->next)
		for (size_t i = 0; i < j->n; i++)
			j->items[i].status = WRITE_FAILED;
}

static size_t count_created(const struct write_job *jobs)
{
	size_t n = 0;
	for (const struct write_job *j = jobs; j; j = j->next)
		for (size_t i = 0; i < j->n; i++)
			n += j->items[i].status == WRITE_CREATED;
	return n;
}

static bool all_derived(const struct write_job *jobs)
{
	for (const struct write_job *j = jobs; j; j = j->next)
		if (!j->derived)
			return false;
	return true;
}

/* Returns 0 when the group committed (durable only once synced when
 * w->syncer is set), else the error every job of it got. */
static int commit_group(struct writer *w, struct write_job *jobs)
{
	struct db_conn *c = w->conn;
	if (w->syncer && !syncer_healthy(w->syncer)) {
		/* an fdatasync failed: nothing written since can be trusted */
		fail_group(jobs);
		for (struct write_job *j = jobs; j; j = j->next)
			j->result = FBD_ESTORAGE;
		atomic_store(&w->healthy, false);
		return FBD_ESTORAGE;
	}
	store_write_lock(w->st); /* shared with the scoring worker, see store.h */
	int64_t first_seq = w->next_seq; /* a rolled-back attempt leaves no gap */
	int err = db_exec(c, "BEGIN IMMEDIATE");
	/* Each retry has one item fewer, so this ends. */
	while (err == 0 && (err = apply_group(w, jobs)) == 1) {
		rollup_group_discard(w->rollups);
		w->next_seq = first_seq;
		err = db_exec(c, "ROLLBACK");
		reset_items(jobs);
		if (err == 0)
			err = db_exec(c, "BEGIN IMMEDIATE");
	}
	if (err == 0)
		err = db_exec(c, "COMMIT");
	if (err != 0) {
		/* Nothing of the group is acknowledged; the rollback may itself
		 * fail if the transaction is already gone, which is fine. */
		if (!sqlite3_get_autocommit(c->db))
			(void)db_exec(c, "ROLLBACK");
		rollup_group_discard(w->rollups);
		fail_group(jobs);
		w->next_seq = first_seq;
	}
	for (struct write_job *j = jobs; j; j = j->next)
		j->result = err;
	store_write_unlock(w->st);
	if (err == 0)
		store_note_commit(w->st); /* before any reply: readers see it */
	if (err != 0 || !all_derived(jobs))
		atomic_store(&w->healthy, err == 0);
	if (err == 0 && w->opt.on_commit)
		w->opt.on_commit(w->opt.on_commit_arg, count_created(jobs));
	return err;
}

/* The submissions' seq orders them for the scoring worker, whose cursor
 * (worker.h) says that it has passed every seq up to it. SQLite would give
 * a new row one more than the largest seq present; once an erasure
 * (erasure.h) deleted the newest rows, that seq may be one the cursor has
 * passed already, and the row would never be scored. So the writer numbers
 * the rows itself, past every row present and past the cursor: within a
 * run its count never goes back; at start, what the cursor passed is never
 * given again (a seq above the cursor that an erasure freed may be, which
 * is harmless: the worker has not passed it). */
static int first_free_seq(struct db_conn *c, int64_t *out)
{
	sqlite3_stmt *stmt = db_stmt(c, "SELECT max((SELECT coalesce(max(seq), 0) FROM submissions),"
	                                " coalesce((SELECT seq FROM scoring_cursor), 0)) + 1");
	if (stmt == NULL)
		return db_conn_error(c);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? 0 : db_error(rc);
}

/* Detach queued jobs holding at most GROUP_MAX submissions (always at
 * least one job). Called with the lock held. */
static struct write_job *take_group(struct writer *w)
{
	struct write_job *first = w->head, *last = NULL;
	size_t taken = 0;
	for (struct write_job *j = w->head; j; j = j->next) {
		if (last && taken + j->n > GROUP_MAX)
			break;
		taken += j->n;
		last = j;
	}
	w->head = last->next;
	if (w->head == NULL)
		w->tail = NULL;
	last->next = NULL;
	w->depth -= taken;
	return first;
}

/* Tell the jobs of a group, in order, that it is done (with its result). */
static void tell(struct write_job *jobs)
{
	while (jobs) {
		struct write_job *next = jobs->next;
		jobs->next = NULL;
		jobs->done(jobs, jobs->arg);
		jobs = next;
	}
}

/* A committed group: its derived jobs are told now, the rest once the
 * syncer's fdatasync made it durable. */
static void hand_to_syncer(struct writer *w, struct write_job *group)
{
	struct write_job *durable = NULL, **tail = &durable;
	while (group) {
		struct write_job *next = group->next;
		group->next = NULL;
		if (group->derived) {
			group->done(group, group->arg);
		} else {
			*tail = group;
			tail = &group->next;
		}
		group = next;
	}
	if (durable)
		syncer_submit(w->syncer, durable);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	(void)pthread_setname_np(pthread_self(), "fbd-writer"); /* for top -H; cosmetic */
	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (w->head == NULL && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->head == NULL) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		struct write_job *group = take_group(w);
		pthread_mutex_unlock(&w->lock);

		if (commit_group(w, group) == 0 && w->syncer)
			hand_to_syncer(w, group);
		else
			tell(group);
	}
	return NULL;
}

int writer_start(struct writer **out, struct store *st, const struct writer_options *opt)
{
	int err = FBD_ENOMEM;
	struct writer *w = calloc(1, sizeof(*w));
	*out = NULL;
	if (w == NULL)
		return FBD_ENOMEM;
	w->st = st;
	w->opt = *opt;
	atomic_init(&w->healthy, true);
	if ((err = rollup_group_new(&w->rollups)) != 0)
		goto fail_free;
	if ((err = db_conn_open(&w->conn, store_options(st), true)) != 0)
		goto fail_free;
	if ((err = store_route_checkpoints(st, w->conn)) != 0)
		goto fail_conn;
	if ((err = first_free_seq(w->conn, &w->next_seq)) != 0)
		goto fail_conn;
	if (store_options(st)->sync == FBD_SYNC_FULL) {
		if ((err = db_exec(w->conn, "PRAGMA synchronous = NORMAL")) != 0)
			goto fail_conn;
		if ((err = syncer_start(&w->syncer, store_options(st)->path)) != 0)
			goto fail_conn;
	}
	err = FBD_ENOMEM;
	if (pthread_mutex_init(&w->lock, NULL) != 0)
		goto fail_conn;
	if (pthread_cond_init(&w->wake, NULL) != 0)
		goto fail_mutex;
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
		goto fail_cond;
	*out = w;
	return 0;
fail_cond:
	pthread_cond_destroy(&w->wake);
fail_mutex:
	pthread_mutex_destroy(&w->lock);
fail_conn:
	syncer_stop(w->syncer);
	db_conn_close(w->conn);
fail_free:
	rollup_group_free(w->rollups);
	free(w);
	return err;
}

int writer_submit(struct writer *w, struct write_job *job)
{
	int err = 0;
	job->next = NULL;
	for (size_t i = 0; i < job->n; i++) {
		job->items[i].status = WRITE_PENDING;
		job->items[i].segment_resolved = false;
	}
	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		err = FBD_ESHUTDOWN;
	} else if (job->n > 0 && w->depth + job->n > w->opt.capacity && w->depth > 0) {
		/* An empty queue takes any job, so a batch larger than the
		 * capacity is still served instead of refused forever. */
		err = FBD_EFULL;
	} else {
		if (w->tail)
			w->tail->next = job;
		else
			w->head = job;
		w->tail = job;
		w->depth += job->n;
		pthread_cond_signal(&w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	return err;
}

size_t writer_queue_depth(struct writer *w)
{
	pthread_mutex_lock(&w->lock);
	size_t depth = w->depth;
	pthread_mutex_unlock(&w->lock);
	return depth;
}

bool writer_healthy(struct writer *w)
{
	return atomic_load(&w->healthy) && (w->syncer == NULL || syncer_healthy(w->syncer));
}

void writer_stop(struct writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	syncer_stop(w->syncer); /* after the last commit, before the close */
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	db_conn_close(w->conn);
	rollup_group_free(w->rollups);
	free(w);
}
