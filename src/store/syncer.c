/* The syncer thread; see syncer.h for why it exists and what it promises.
 *
 * Ownership: the jobs handed over stay their submitters'; the syncer only
 * links them in its list until it calls done(). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feedbackd/error.h"
#include "feedbackd/log.h"
#include "store/syncer.h"

struct syncer {
	char *wal_path; /* owned */
	int wal_fd;     /* -1 until the first sync; thread-private */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct write_job *head, *tail; /* guarded by lock */
	bool stopping;                 /* guarded by lock */
	atomic_bool healthy;
};

/* One fdatasync of the WAL. The file exists: a commit created it. */
static int sync_wal(struct syncer *s)
{
	if (s->wal_fd < 0)
		s->wal_fd = open(s->wal_path, O_RDONLY | O_CLOEXEC);
	if (s->wal_fd < 0) {
		log_error("syncer: cannot open %s: %s", s->wal_path, strerror(errno));
		return FBD_ESTORAGE;
	}
	int rc;
	do
		rc = fdatasync(s->wal_fd);
	while (rc != 0 && errno == EINTR);
	if (rc != 0) {
		log_error("syncer: fdatasync of %s failed: %s; refusing writes until restart",
		          s->wal_path, strerror(errno));
		return FBD_ESTORAGE;
	}
	return 0;
}

static void fail_jobs(struct write_job *jobs)
{
	for (struct write_job *j = jobs; j; j = j->next) {
		j->result = FBD_ESTORAGE;
		for (size_t i = 0; i < j->n; i++)
			j->items[i].status = WRITE_FAILED;
	}
}

static void *syncer_main(void *arg)
{
	struct syncer *s = arg;
	(void)pthread_setname_np(pthread_self(), "fbd-syncer"); /* for top -H; cosmetic */
	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (s->head == NULL && !s->stopping)
			pthread_cond_wait(&s->wake, &s->lock);
		struct write_job *jobs = s->head;
		s->head = s->tail = NULL;
		pthread_mutex_unlock(&s->lock);
		if (jobs == NULL)
			break; /* stopping, and everything was told */
		if (!atomic_load(&s->healthy) || sync_wal(s) != 0) {
			atomic_store(&s->healthy, false);
			fail_jobs(jobs);
		}
		while (jobs) {
			struct write_job *next = jobs->next;
			jobs->next = NULL;
			jobs->done(jobs, jobs->arg);
			jobs = next;
		}
	}
	return NULL;
}

int syncer_start(struct syncer **out, const char *db_path)
{
	struct syncer *s = calloc(1, sizeof(*s));
	*out = NULL;
	if (s == NULL)
		return FBD_ENOMEM;
	s->wal_fd = -1;
	atomic_init(&s->healthy, true);
	size_t len = strlen(db_path) + sizeof("-wal");
	s->wal_path = malloc(len);
	if (s->wal_path == NULL)
		goto fail_free;
	snprintf(s->wal_path, len, "%s-wal", db_path);
	if (pthread_mutex_init(&s->lock, NULL) != 0)
		goto fail_free;
	if (pthread_cond_init(&s->wake, NULL) != 0)
		goto fail_mutex;
	if (pthread_create(&s->thread, NULL, syncer_main, s) != 0)
		goto fail_cond;
	*out = s;
	return 0;
fail_cond:
	pthread_cond_destroy(&s->wake);
fail_mutex:
	pthread_mutex_destroy(&s->lock);
fail_free:
	free(s->wal_path);
	free(s);
	return FBD_ENOMEM;
}

void syncer_submit(struct syncer *s, struct write_job *jobs)
{
	struct write_job *last = jobs;
	while (last->next)
		last = last->next;
	pthread_mutex_lock(&s->lock);
	if (s->tail)
		s->tail->next = jobs;
	else
		s->head = jobs;
	s->tail = last;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

bool syncer_healthy(struct syncer *s)
{
	return atomic_load(&s->healthy);
}

void syncer_stop(struct syncer *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	free(s->wal_path);
	free(s);
}
