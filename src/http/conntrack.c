/* Connection deadlines and the reaper; see include/feedbackd/conntrack.h.
 *
 * The table is an array of slots with a stack of free indices, sized once
 * (max_connections plus a margin, since MHD's count drops a moment before
 * our CLOSED callback runs). MHD keeps a pointer to a connection's slot as
 * its socket context, so phase changes touch one slot without a search.
 *
 * Why shutdown(2) and not close(2): MHD owns the descriptor. shutdown makes
 * the socket readable at end of stream, MHD's epoll loop notices, and MHD
 * runs its normal close path (completion callback, CLOSED notification,
 * close). The reaper only ever acts under the mutex that the CLOSED
 * notification also takes, and MHD closes the descriptor only after that
 * notification returns, so a slot still marked used names a live socket. */
#include "feedbackd/conntrack.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "feedbackd/error.h"
#include "feedbackd/log.h"

#define CONNTRACK_MARGIN 64
#define CONNTRACK_TICK_MS 200
#define CONNTRACK_BODY_GRACE_MS 1000

struct conntrack_slot {
	bool used;
	bool cut; /* shut down by the reaper; MHD is closing it */
	int fd;
	int64_t deadline_ms; /* 0: none */
};

struct conntrack {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t reaper;
	bool stopping;
	int request_timeout_s;
	int idle_timeout_s;
	size_t n_slots;
	size_t high; /* slots[high..] were never used */
	size_t n_free;
	size_t *free_stack; /* indices below high that are free */
	struct conntrack_slot *slots;
	uint64_t reaped;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t conntrack_deadline(enum conntrack_phase phase, int64_t now, int request_timeout_s,
                           int idle_timeout_s)
{
	int64_t t = (int64_t)request_timeout_s * 1000;
	switch (phase) {
	case CONNTRACK_HEADERS:
		return now + t;
	case CONNTRACK_BODY:
		return now + t + CONNTRACK_BODY_GRACE_MS;
	case CONNTRACK_IDLE:
		return now + (int64_t)idle_timeout_s * 1000 + t;
	case CONNTRACK_HANDLING:
	default:
		return 0;
	}
}

/* Cut every connection past its deadline. Called with the lock held. */
static size_t reap(struct conntrack *ct, int64_t now)
{
	size_t cut = 0;
	for (size_t i = 0; i < ct->high; i++) {
		struct conntrack_slot *s = &ct->slots[i];
		if (!s->used || s->deadline_ms == 0 || now < s->deadline_ms)
			continue;
		/* ENOTCONN when the peer is already gone: MHD closes it anyway */
		(void)shutdown(s->fd, SHUT_RDWR);
		s->deadline_ms = 0;
		s->cut = true;
		cut++;
	}
	ct->reaped += cut;
	return cut;
}

static void *reaper_main(void *arg)
{
	struct conntrack *ct = arg;
	(void)pthread_setname_np(pthread_self(), "fbd-reaper"); /* for top -H; cosmetic */
	pthread_mutex_lock(&ct->lock);
	while (!ct->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += CONNTRACK_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		int rc = pthread_cond_timedwait(&ct->wake, &ct->lock, &until);
		if (rc != 0 && rc != ETIMEDOUT)
			break;
		if (ct->stopping)
			break;
		size_t cut = reap(ct, now_ms());
		if (cut > 0) {
			pthread_mutex_unlock(&ct->lock);
			log_info("closed %zu connections that did not send a whole request in time",
			         cut);
			pthread_mutex_lock(&ct->lock);
		}
	}
	pthread_mutex_unlock(&ct->lock);
	return NULL;
}

static void conntrack_destroy(struct conntrack *ct)
{
	free(ct->slots);
	free(ct->free_stack);
	free(ct);
}

int conntrack_new(struct conntrack **out, size_t slots, int request_timeout_s, int idle_timeout_s)
{
	*out = NULL;
	if (slots == 0 || request_timeout_s <= 0 || idle_timeout_s <= 0)
		return FBD_EINVAL;
	struct conntrack *ct = calloc(1, sizeof(*ct));
	if (ct == NULL)
		return FBD_ENOMEM;
	ct->n_slots = slots + CONNTRACK_MARGIN;
	ct->slots = calloc(ct->n_slots, sizeof(*ct->slots));
	ct->free_stack = calloc(ct->n_slots, sizeof(*ct->free_stack));
	ct->request_timeout_s = request_timeout_s;
	ct->idle_timeout_s = idle_timeout_s;
	if (ct->slots == NULL || ct->free_stack == NULL)
		goto fail;
	pthread_condattr_t attr;
	if (pthread_condattr_init(&attr) != 0)
		goto fail;
	int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&ct->wake, &attr);
	(void)pthread_condattr_destroy(&attr);
	if (rc != 0)
		goto fail;
	if (pthread_mutex_init(&ct->lock, NULL) != 0) {
		pthread_cond_destroy(&ct->wake);
		goto fail;
	}
	if (pthread_create(&ct->reaper, NULL, reaper_main, ct) != 0) {
		pthread_mutex_destroy(&ct->lock);
		pthread_cond_destroy(&ct->wake);
		goto fail;
	}
	*out = ct;
	return 0;
fail:
	conntrack_destroy(ct);
	return FBD_ENOMEM;
}

void conntrack_free(struct conntrack *ct)
{
	if (ct == NULL)
		return;
	pthread_mutex_lock(&ct->lock);
	ct->stopping = true;
	pthread_cond_signal(&ct->wake);
	pthread_mutex_unlock(&ct->lock);
	pthread_join(ct->reaper, NULL);
	pthread_mutex_destroy(&ct->lock);
	pthread_cond_destroy(&ct->wake);
	conntrack_destroy(ct);
}

static struct conntrack_slot *slot_take(struct conntrack *ct)
{
	if (ct->n_free > 0)
		return &ct->slots[ct->free_stack[--ct->n_free]];
	if (ct->high < ct->n_slots)
		return &ct->slots[ct->high++];
	return NULL;
}

void conntrack_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe)
{
	struct conntrack *ct = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *info =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = NULL;
		if (info == NULL)
			return;
		int64_t deadline = conntrack_deadline(CONNTRACK_HEADERS, now_ms(),
		                                      ct->request_timeout_s, ct->idle_timeout_s);
		pthread_mutex_lock(&ct->lock);
		/* No free slot cannot happen (MHD admits at most max_connections);
		 * if it did, the connection would still fall under the idle
		 * timeout. */
		struct conntrack_slot *s = slot_take(ct);
		if (s != NULL) {
			s->used = true;
			s->cut = false;
			s->fd = info->connect_fd;
			s->deadline_ms = deadline;
			*socket_context = s;
		}
		pthread_mutex_unlock(&ct->lock);
		return;
	}
	struct conntrack_slot *s = *socket_context;
	if (s == NULL)
		return;
	pthread_mutex_lock(&ct->lock);
	s->used = false;
	s->deadline_ms = 0;
	ct->free_stack[ct->n_free++] = (size_t)(s - ct->slots);
	pthread_mutex_unlock(&ct->lock);
	*socket_context = NULL;
}

void conntrack_enter(struct conntrack *ct, struct MHD_Connection *conn, enum conntrack_phase phase)
{
	if (ct == NULL)
		return;
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (info == NULL || info->socket_context == NULL)
		return;
	struct conntrack_slot *s = info->socket_context;
	int64_t deadline =
	    conntrack_deadline(phase, now_ms(), ct->request_timeout_s, ct->idle_timeout_s);
	pthread_mutex_lock(&ct->lock);
	/* A connection the reaper cut is closing: it gets no new deadline. */
	if (s->used && !s->cut)
		s->deadline_ms = deadline;
	pthread_mutex_unlock(&ct->lock);
}

uint64_t conntrack_reaped(struct conntrack *ct)
{
	pthread_mutex_lock(&ct->lock);
	uint64_t n = ct->reaped;
	pthread_mutex_unlock(&ct->lock);
	return n;
}
