/* The checkpointer thread; see checkpointer.h for why it exists.
 *
 * Hand-off: the WAL hook runs on the writer thread after each commit and
 * only sets a flag and signals, so a commit never waits for this thread.
 * A PASSIVE checkpoint takes no lock that the writer needs, so the writer
 * keeps committing meanwhile.
 *
 * SQLite restarts the WAL from its beginning only at the first commit after
 * a checkpoint that copied every frame. Under sustained load this thread
 * never gets there: frames arrive while it copies. So once it has copied the
 * bulk, it says so (caught_up), and the writer's next commit finishes the
 * job inline: a PASSIVE checkpoint of the few frames added since, which lets
 * the following commit restart the WAL. The expensive random writes into the
 * database file stay off the commit path; the writer pays for a small copy
 * and two fsyncs per cycle (the WAL's, and the database file's, which
 * flushes every page this thread copied: 6 ms a cycle with 1 000 000 stored
 * submissions, hence the large soft mark in checkpointer.h).
 *
 * Checkpoint failures are not fatal (the frames stay in the WAL, readable,
 * and the next checkpoint copies them), so they are ignored. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "feedbackd/error.h"
#include "store/checkpointer.h"

struct checkpointer {
	struct db_conn *conn; /* used by the thread only */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool pending;          /* guarded by lock */
	bool stopping;         /* guarded by lock */
	atomic_bool caught_up; /* the thread copied the WAL; the writer finishes */
};

static void *checkpointer_main(void *arg)
{
	struct checkpointer *cp = arg;
	(void)pthread_setname_np(pthread_self(), "fbd-checkpoint"); /* for top -H; cosmetic */
	for (;;) {
		pthread_mutex_lock(&cp->lock);
		while (!cp->pending && !cp->stopping)
			pthread_cond_wait(&cp->wake, &cp->lock);
		bool stop = cp->stopping;
		cp->pending = false;
		pthread_mutex_unlock(&cp->lock);
		if (stop)
			break;
		int rc = sqlite3_wal_checkpoint_v2(cp->conn->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
		                                   NULL, NULL);
		atomic_store(&cp->caught_up, rc == SQLITE_OK);
	}
	return NULL;
}

/* sqlite3_wal_hook callback: runs on the writer thread after each commit. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct checkpointer *cp = arg;
	if (frames >= CHECKPOINT_HARD_FRAMES || atomic_exchange(&cp->caught_up, false)) {
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		return SQLITE_OK;
	}
	if (frames >= CHECKPOINT_SOFT_FRAMES) {
		pthread_mutex_lock(&cp->lock);
		cp->pending = true;
		pthread_cond_signal(&cp->wake);
		pthread_mutex_unlock(&cp->lock);
	}
	return SQLITE_OK;
}

int checkpointer_start(struct checkpointer **out, const struct store_options *opt)
{
	struct checkpointer *cp = calloc(1, sizeof(*cp));
	*out = NULL;
	if (cp == NULL)
		return FBD_ENOMEM;
	int err = db_conn_open(&cp->conn, opt, true);
	if (err != 0)
		goto fail_free;
	err = FBD_ENOMEM;
	if (pthread_mutex_init(&cp->lock, NULL) != 0)
		goto fail_conn;
	if (pthread_cond_init(&cp->wake, NULL) != 0)
		goto fail_mutex;
	if (pthread_create(&cp->thread, NULL, checkpointer_main, cp) != 0)
		goto fail_cond;
	*out = cp;
	return 0;
fail_cond:
	pthread_cond_destroy(&cp->wake);
fail_mutex:
	pthread_mutex_destroy(&cp->lock);
fail_conn:
	db_conn_close(cp->conn);
fail_free:
	free(cp);
	return err;
}

void checkpointer_attach(struct checkpointer *cp, struct db_conn *c)
{
	(void)sqlite3_wal_hook(c->db, on_wal_commit, cp);
}

void checkpointer_stop(struct checkpointer *cp)
{
	if (cp == NULL)
		return;
	pthread_mutex_lock(&cp->lock);
	cp->stopping = true;
	pthread_cond_signal(&cp->wake);
	pthread_mutex_unlock(&cp->lock);
	pthread_join(cp->thread, NULL);
	pthread_cond_destroy(&cp->wake);
	pthread_mutex_destroy(&cp->lock);
	db_conn_close(cp->conn);
	free(cp);
}
