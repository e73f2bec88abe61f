/* Upkeep thread (see upkeep.h).
 *
 * One job at a time: the thread hands the writer a probe or a purge, sleeps
 * until the writer's done() callback (on the writer thread) reports back,
 * then looks at the result. Everything shared with that callback is guarded
 * by the lock. */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "feedbackd/error.h"
#include "feedbackd/idempotency.h"
#include "feedbackd/log.h"
#include "feedbackd/upkeep.h"

#define TICK_MS 250
#define PROBE_INTERVAL_S 1
#define PURGE_INTERVAL_S 60

enum upkeep_chore { CHORE_NONE = 0, CHORE_PROBE, CHORE_PURGE };

struct upkeep {
	struct writer *writer;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping; /* guarded by lock */
	bool busy;     /* a job is with the writer; guarded by lock */
	struct write_job job;
	enum upkeep_chore chore;
	int probe_code;            /* SQLite code of the last failed probe (writer thread) */
	int purged;                /* rows deleted by the last purge (writer thread) */
	bool failing;              /* writes fail and that was logged */
	bool probed_after_failure; /* the chore out is a probe after a failed commit */
	int64_t next_probe, next_purge;
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static int probe_in_tx(struct db_conn *c, struct write_job *job)
{
	struct upkeep *u = job->arg;
	return store_probe_write(c, now_s(), &u->probe_code);
}

static int purge_in_tx(struct db_conn *c, struct write_job *job)
{
	struct upkeep *u = job->arg;
	return idem_purge(c, now_s() - IDEM_TTL_S, UPKEEP_PURGE_BATCH, &u->purged);
}

static void chore_done(struct write_job *job, void *arg)
{
	struct upkeep *u = arg;
	pthread_mutex_lock(&u->lock);
	u->busy = false;
	pthread_cond_signal(&u->wake);
	pthread_mutex_unlock(&u->lock);
}

static void chore_submit(struct upkeep *u, enum upkeep_chore chore)
{
	u->chore = chore;
	u->probe_code = 0;
	u->purged = 0;
	u->job = (struct write_job){.done = chore_done,
	                            .arg = u,
	                            .in_tx = chore == CHORE_PROBE ? probe_in_tx : purge_in_tx};
	pthread_mutex_lock(&u->lock);
	u->busy = true;
	pthread_mutex_unlock(&u->lock);
	if (writer_submit(u->writer, &u->job) != 0) {
		/* Queue full or stopping: try again on a later tick. */
		pthread_mutex_lock(&u->lock);
		u->busy = false;
		pthread_mutex_unlock(&u->lock);
		u->chore = CHORE_NONE;
	}
}

static void log_failing(struct upkeep *u)
{
	/* A connection that SQLite opened read-only (the file was
	 * write-protected at start) stays so; anything else (a full disk, a
	 * file system that comes back) clears up without a restart. */
	bool readonly = (u->probe_code & 0xff) == SQLITE_READONLY;
	const char *why = u->probe_code != 0 ? sqlite3_errstr(u->probe_code)
	                                     : "the commit failed (storage error)";
	log_error("database writes are failing: %s; writes answer 503 until they succeed (%s)",
	          why,
	          readonly ? "make the database file and its folder writable, then restart"
	                   : "free disk space; writes resume by themselves");
	u->failing = true;
}

/* Look at the result of the chore that just came back. */
static void chore_finish(struct upkeep *u)
{
	enum upkeep_chore chore = u->chore;
	u->chore = CHORE_NONE;
	if (chore == CHORE_PROBE && u->job.result != 0 && !u->failing)
		log_failing(u);
	else if (chore == CHORE_PROBE && u->job.result == 0 && !u->failing &&
	         u->probed_after_failure)
		log_warn(
		    "a database commit failed, but the next write succeeded; accepting writes");
	u->probed_after_failure = false;
	if (chore == CHORE_PURGE && u->job.result == 0) {
		if (u->purged > 0)
			log_info("purged %d idempotency keys older than 24 h", u->purged);
		u->next_purge = now_s() + (u->purged == UPKEEP_PURGE_BATCH ? 1 : PURGE_INTERVAL_S);
	}
}

/* Decide the next chore, if any. */
static void chore_next(struct upkeep *u)
{
	bool healthy = writer_healthy(u->writer);
	int64_t now = now_s();
	if (healthy && u->failing) {
		log_info("database writes succeed again; accepting writes");
		u->failing = false;
	}
	if (!healthy && now >= u->next_probe) {
		u->next_probe = now + PROBE_INTERVAL_S;
		chore_submit(u, CHORE_PROBE);
		u->probed_after_failure = u->chore == CHORE_PROBE;
	} else if (healthy && now >= u->next_purge) {
		chore_submit(u, CHORE_PURGE);
	}
}

static void *upkeep_main(void *arg)
{
	struct upkeep *u = arg;
	(void)pthread_setname_np(pthread_self(), "fbd-upkeep"); /* for top -H; cosmetic */
	/* The first probe runs at once: a database that opened but cannot be
	 * written (read-only file, full disk) is reported before any request. */
	chore_submit(u, CHORE_PROBE);
	pthread_mutex_lock(&u->lock);
	for (;;) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		int rc = 0;
		while (!u->stopping && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&u->wake, &u->lock, &until);
		log_flush(); /* access lines of a server gone quiet (see log.h) */
		if (u->stopping) {
			/* The writer runs until we are gone and always calls
			 * done(), so this wait ends. */
			while (u->busy)
				pthread_cond_wait(&u->wake, &u->lock);
			break;
		}
		if (u->busy)
			continue;
		pthread_mutex_unlock(&u->lock);
		if (u->chore != CHORE_NONE)
			chore_finish(u);
		if (!u->stopping)
			chore_next(u);
		pthread_mutex_lock(&u->lock);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

int upkeep_start(struct upkeep **out, struct writer *w)
{
	*out = NULL;
	struct upkeep *u = calloc(1, sizeof(*u));
	if (u == NULL)
		return FBD_ENOMEM;
	u->writer = w;
	u->next_purge = now_s() + 1;
	if (pthread_mutex_init(&u->lock, NULL) != 0)
		goto fail_free;
	if (pthread_cond_init(&u->wake, NULL) != 0)
		goto fail_mutex;
	if (pthread_create(&u->thread, NULL, upkeep_main, u) != 0)
		goto fail_cond;
	*out = u;
	return 0;
fail_cond:
	pthread_cond_destroy(&u->wake);
fail_mutex:
	pthread_mutex_destroy(&u->lock);
fail_free:
	free(u);
	return FBD_ENOMEM;
}

void upkeep_stop(struct upkeep *u)
{
	if (u == NULL)
		return;
	pthread_mutex_lock(&u->lock);
	u->stopping = true;
	pthread_cond_signal(&u->wake);
	pthread_mutex_unlock(&u->lock);
	pthread_join(u->thread, NULL);
	pthread_cond_destroy(&u->wake);
	pthread_mutex_destroy(&u->lock);
	free(u);
}
