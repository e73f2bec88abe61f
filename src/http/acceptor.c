/* The accepting thread; see acceptor.h for why it exists.
 *
 * The thread blocks in accept(). acceptor_stop() sets the flag and shuts the
 * socket down, which makes a blocked accept() return (EINVAL) and the
 * kernel refuse new connections, then joins the thread and closes.
 *
 * Ownership: an accepted socket belongs to libmicrohttpd from
 * MHD_add_connection() on, which closes it itself if it cannot take it. */
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "feedbackd/error.h"
#include "feedbackd/log.h"
#include "http/acceptor.h"

/* Pause after an accept() error that does not go away at once (out of
 * descriptors or memory). */
#define BACKOFF_MS 10

struct acceptor {
	int fd;
	int port;
	struct MHD_Daemon *daemon; /* borrowed */
	pthread_t thread;
	atomic_bool stopping;
};

static void back_off(void)
{
	struct timespec t = {0, BACKOFF_MS * 1000 * 1000};
	nanosleep(&t, NULL);
}

/* A connection that failed before it was accepted, or a signal: try again. */
static bool accept_again_at_once(int err)
{
	return err == EINTR || err == ECONNABORTED || err == EPROTO || err == EAGAIN;
}

static void *acceptor_main(void *arg)
{
	struct acceptor *a = arg;
	bool warned = false; /* one warning per run of failures */
	(void)pthread_setname_np(pthread_self(), "fbd-accept"); /* for top -H; cosmetic */
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(a->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			/* MHD_NO: over a connection limit, or out of memory; the
			 * socket is closed either way, which refuses the client */
			(void)MHD_add_connection(a->daemon, fd, (struct sockaddr *)&peer, len);
			warned = false;
			continue;
		}
		if (atomic_load(&a->stopping))
			break;
		if (accept_again_at_once(errno))
			continue;
		/* out of descriptors or memory (or the network failing): the
		 * connection stays queued, so pause rather than spin */
		if (!warned)
			log_warn("accept: %s; retrying every %d ms", strerror(errno), BACKOFF_MS);
		warned = true;
		back_off();
	}
	return NULL;
}

static int bind_and_listen(struct acceptor *a, const struct sockaddr *addr, socklen_t addr_len,
                           int backlog)
{
	int one = 1;
	a->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a->fd < 0)
		return FBD_EIO;
	/* a restart binds at once, as libmicrohttpd's own socket did */
	if (setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (addr->sa_family == AF_INET6 &&
	     setsockopt(a->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    bind(a->fd, addr, addr_len) != 0 || listen(a->fd, backlog) != 0)
		return FBD_EIO;
	struct sockaddr_storage bound;
	socklen_t len = sizeof(bound);
	if (getsockname(a->fd, (struct sockaddr *)&bound, &len) != 0)
		return FBD_EIO;
	a->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
	                                           : ((struct sockaddr_in *)&bound)->sin_port);
	return 0;
}

int acceptor_start(struct acceptor **out, struct MHD_Daemon *daemon,
                   const struct sockaddr *addr, socklen_t addr_len, int backlog)
{
	struct acceptor *a = calloc(1, sizeof(*a));
	*out = NULL;
	if (a == NULL)
		return FBD_ENOMEM;
	a->daemon = daemon;
	atomic_init(&a->stopping, false);
	int err = bind_and_listen(a, addr, addr_len, backlog);
	if (err == 0 && pthread_create(&a->thread, NULL, acceptor_main, a) != 0)
		err = FBD_ENOMEM;
	if (err != 0) {
		if (a->fd >= 0)
			close(a->fd);
		free(a);
		return err;
	}
	*out = a;
	return 0;
}

int acceptor_port(const struct acceptor *a)
{
	return a->port;
}

void acceptor_stop(struct acceptor *a)
{
	if (a == NULL)
		return;
	atomic_store(&a->stopping, true);
	(void)shutdown(a->fd, SHUT_RDWR);
	pthread_join(a->thread, NULL);
	close(a->fd);
	free(a);
}
