#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "feedbackd/error.h"
#include "http/linger.h"

#define LINGER_MAX 64
#define LINGER_MS 2000
#define DISCARD_MAX (4u << 20) /* stop reading a client that never stops */

struct lingering {
	int fd;
	struct timespec deadline;
	size_t discarded;
};

struct linger_set {
	pthread_t thread;
	pthread_mutex_t lock;
	int wake[2];                 /* pipe: a new socket or stop */
	bool stopping;               /* guarded by lock */
	size_t n;                    /* guarded by lock */
	struct lingering socks[LINGER_MAX];
};

static bool past(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* Read what is there; true when the socket is done (EOF, error, limit). */
static bool drain(struct lingering *s)
{
	char buf[16384];
	for (;;) {
		ssize_t n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			s->discarded += (size_t)n;
			if (s->discarded > DISCARD_MAX)
				return true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
	}
}

/* One pass: drain readable sockets, close finished ones. Lock held. */
static void sweep(struct linger_set *l, const struct pollfd *fds, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		struct lingering *s = &l->socks[i];
		bool done = past(&s->deadline);
		if (!done && (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
			done = drain(s);
		if (done) {
			close(s->fd);
			l->socks[i] = l->socks[--l->n];
		}
	}
}

static void *linger_main(void *arg)
{
	struct linger_set *l = arg;
	(void)pthread_setname_np(pthread_self(), "fbd-linger"); /* for top -H; cosmetic */
	struct pollfd fds[LINGER_MAX + 1];
	for (;;) {
		pthread_mutex_lock(&l->lock);
		bool stopping = l->stopping;
		size_t n = l->n;
		fds[0] = (struct pollfd){.fd = l->wake[0], .events = POLLIN};
		for (size_t i = 0; i < n; i++)
			fds[i + 1] = (struct pollfd){.fd = l->socks[i].fd, .events = POLLIN};
		pthread_mutex_unlock(&l->lock);
		if (stopping)
			break;
		if (poll(fds, n + 1, n ? 100 : -1) > 0 && (fds[0].revents & POLLIN)) {
			char c[64];
			(void)!read(l->wake[0], c, sizeof(c));
		}
		pthread_mutex_lock(&l->lock);
		/* sockets added during poll() sit past n and wait for the next pass */
		sweep(l, fds, n);
		pthread_mutex_unlock(&l->lock);
	}
	return NULL;
}

int linger_start(struct linger_set **out)
{
	struct linger_set *l = calloc(1, sizeof(*l));
	*out = NULL;
	if (l == NULL)
		return FBD_ENOMEM;
	if (pipe2(l->wake, O_CLOEXEC | O_NONBLOCK) != 0)
		goto fail_free;
	if (pthread_mutex_init(&l->lock, NULL) != 0)
		goto fail_pipe;
	if (pthread_create(&l->thread, NULL, linger_main, l) != 0)
		goto fail_mutex;
	*out = l;
	return 0;
fail_mutex:
	pthread_mutex_destroy(&l->lock);
fail_pipe:
	close(l->wake[0]);
	close(l->wake[1]);
fail_free:
	free(l);
	return FBD_EIO;
}

void linger_add(struct linger_set *l, int fd)
{
	pthread_mutex_lock(&l->lock);
	if (l->n < LINGER_MAX && !l->stopping) {
		int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (copy >= 0) {
			struct lingering *s = &l->socks[l->n++];
			s->fd = copy;
			s->discarded = 0;
			clock_gettime(CLOCK_MONOTONIC, &s->deadline);
			s->deadline.tv_sec += LINGER_MS / 1000;
			/* the reply is out: tell the client we are done talking */
			(void)shutdown(copy, SHUT_WR);
		}
	}
	pthread_mutex_unlock(&l->lock);
	(void)!write(l->wake[1], "", 1);
}

void linger_stop(struct linger_set *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_mutex_unlock(&l->lock);
	(void)!write(l->wake[1], "", 1);
	pthread_join(l->thread, NULL);
	for (size_t i = 0; i < l->n; i++)
		close(l->socks[i].fd);
	pthread_mutex_destroy(&l->lock);
	close(l->wake[0]);
	close(l->wake[1]);
	free(l);
}
