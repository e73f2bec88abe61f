/* The checkpointer thread; see checkpointer.h for why it exists.
 *
 * SQLite starts the WAL again from its beginning only in a write transaction
 * that begins once every frame has been copied into the database file (and
 * while no reader still reads an older snapshot from the WAL). Under
 * sustained load a background PASSIVE checkpoint never gets there: frames
 * arrive while it copies. So a cycle has two steps:
 * 1. Rounds beside the writer, each a PASSIVE pass and a flush of the
 *    database file (sync_db), until a round copied at most FINISH_FRAMES.
 *    Each round copies what arrived during the previous one, so they
 *    shrink; MAX_ROUNDS, and half the hard bound of the WAL, end them should
 *    the writer outrun the copy. The flush is ours because SQLite syncs the
 *    file only after a pass that ends at the WAL's current end, which under
 *    load is rare.
 * 2. The last few frames copied with the store's write gate held, so no
 *    commit lands between this copy and the next write transaction, which
 *    therefore restarts the WAL. SQLite syncs the file here, which now
 *    flushes only the pages copied since the last round.
 * Until this design the writer finished the copy inside its next commit,
 * with the gate held, including the flush of every page copied in the cycle:
 * with 1 000 000 stored submissions 20 to 80 ms (up to 460 ms) per cycle,
 * about once a second under load, which made the single-survey p99 of that
 * case 170-360 ms; now it is 38-45 ms, for a WAL that peaks about 40 % higher
 * (docs/performance.md).
 *
 * Checkpoint and flush failures are not fatal (the frames stay in the WAL,
 * readable, and the next cycle copies them), so they end the cycle and
 * nothing more: after a failed flush the WAL must not start again. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "feedbackd/error.h"
#include "store/checkpointer.h"

#define FINISH_FRAMES 1000 /* about what arrives during a round of that size */
#define MAX_ROUNDS 8
#define SYNC_STEP_PAGES 512
#define SYNC_STEP_MIN_BYTES (SYNC_STEP_PAGES * 4096) /* SQLite's default page size */

struct checkpointer {
	struct store *st;     /* borrowed: the write gate */
	struct db_conn *conn; /* used by the thread only */
	int db_fd;            /* the database file, for sync_db(); -1 if it would not open */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool pending;  /* guarded by lock */
	bool stopping; /* guarded by lock */
};

static int passive(struct checkpointer *cp, int *frames, int *copied)
{
	return sqlite3_wal_checkpoint_v2(cp->conn->db, NULL, SQLITE_CHECKPOINT_PASSIVE, frames,
	                                 copied);
}

/* Flushes what a pass copied. A large copy (the first pass of a cycle:
 * about 60 MB with 1 000 000 stored submissions) is flushed in steps of the
 * file that each hold about SYNC_STEP_PAGES of it (the copied pages are
 * spread over the whole file), so that the WAL's syncs (the syncer's, after
 * every commit) queue behind one step's writes, not behind all of them: one
 * fdatasync held them up for 100-300 ms. Smaller steps made the p99 lower
 * and the WAL longer (each step waits for its writes before the next
 * starts): 1024 pages gave 50-67 ms and 27 000-31 000 frames, 512 pages
 * 38-45 ms and 29 000-34 000, steps of 8 MB 30-40 ms and up to 63 000. */
static int sync_db(struct checkpointer *cp, int frames_copied)
{
	struct stat sb;
	if (cp->db_fd < 0)
		return 0; /* SQLite's own sync at the end of the cycle then does it all */
	if (frames_copied > SYNC_STEP_PAGES && fstat(cp->db_fd, &sb) == 0) {
		off_t step = sb.st_size / frames_copied * SYNC_STEP_PAGES;
		/* the count is of frames, one per commit that wrote a page, so
		 * it can exceed the file's pages and the step round to 0 */
		if (step < SYNC_STEP_MIN_BYTES)
			step = SYNC_STEP_MIN_BYTES;
		/* only a head start: a failure here is the fdatasync's too */
		for (off_t at = 0; at < sb.st_size; at += step)
			(void)sync_file_range(cp->db_fd, at, step,
			                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
			                          SYNC_FILE_RANGE_WAIT_AFTER);
	}
	int rc;
	do
		rc = fdatasync(cp->db_fd); /* also the device's cache */
	while (rc != 0 && errno == EINTR);
	return rc;
}

static void run_cycle(struct checkpointer *cp)
{
	int frames = 0, copied = 0;
	for (int round = 0; round < MAX_ROUNDS; round++) {
		int before = copied;
		if (passive(cp, &frames, &copied) != SQLITE_OK || sync_db(cp, copied - before) != 0)
			return;
		if (copied - before <= FINISH_FRAMES || frames >= CHECKPOINT_HARD_FRAMES / 2)
			break;
	}
	store_write_lock(cp->st);
	(void)passive(cp, &frames, &copied);
	/* A snapshot that an idle reader keeps (store.h) would stop the restart. */
	store_end_idle_snapshots(cp->st);
	store_write_unlock(cp->st);
	/* Commits during the cycle asked for it again; it has copied their
	 * frames. If the restart fails after all, the next commit asks again. */
	pthread_mutex_lock(&cp->lock);
	cp->pending = false;
	pthread_mutex_unlock(&cp->lock);
}

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
		run_cycle(cp);
	}
	return NULL;
}

/* sqlite3_wal_hook callback: runs on the committing thread after each
 * commit, so it only signals, except at the hard bound. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct checkpointer *cp = arg;
	if (frames >= CHECKPOINT_HARD_FRAMES) {
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	} else if (frames >= CHECKPOINT_SOFT_FRAMES) {
		pthread_mutex_lock(&cp->lock);
		cp->pending = true;
		pthread_cond_signal(&cp->wake);
		pthread_mutex_unlock(&cp->lock);
	}
	return SQLITE_OK;
}

int checkpointer_start(struct checkpointer **out, struct store *st)
{
	struct checkpointer *cp = calloc(1, sizeof(*cp));
	*out = NULL;
	if (cp == NULL)
		return FBD_ENOMEM;
	cp->st = st;
	cp->db_fd = -1;
	int err = db_conn_open(&cp->conn, store_options(st), true);
	if (err != 0)
		goto fail_free;
	/* fdatasync() flushes the file's pages whatever the descriptor's mode. */
	cp->db_fd = open(store_options(st)->path, O_RDONLY | O_CLOEXEC);
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
	if (cp->db_fd >= 0)
		close(cp->db_fd);
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
	if (cp->db_fd >= 0)
		close(cp->db_fd);
	db_conn_close(cp->conn);
	free(cp);
}
