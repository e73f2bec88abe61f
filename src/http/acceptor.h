/* The listening socket and the thread that accepts on it.
 *
 * Why not libmicrohttpd's own listening socket: MHD_quiesce_daemon() on an
 * epoll daemon with a thread pool races with the pool's threads, which take
 * the listening socket out of their epoll sets too; the thread that comes
 * second gets ENOENT, and libmicrohttpd 0.9.75 aborts the process ("Failed
 * to remove listen FD from epoll set", seen on SIGTERM in the ASan suite; an
 * open defect upstream). Here the daemon runs without a listening socket
 * (MHD_USE_NO_LISTEN_SOCKET) and this thread hands each accepted connection
 * over with MHD_add_connection(), which applies the daemon's connection
 * limits as its own accept would. Stopping to accept is then ours: new
 * connections are refused from acceptor_stop() on. */
#ifndef FEEDBACKD_HTTP_ACCEPTOR_H
#define FEEDBACKD_HTTP_ACCEPTOR_H

#include <sys/socket.h>

struct MHD_Daemon;
struct acceptor;

/* Bind addr (IPv6 addresses only for IPv6), listen, and start handing
 * connections to daemon, which must outlive acceptor_stop(). Returns 0,
 * FBD_EIO (cannot bind or listen) or FBD_ENOMEM. */
int acceptor_start(struct acceptor **out, struct MHD_Daemon *daemon,
                   const struct sockaddr *addr, socklen_t addr_len, int backlog);

/* The bound port (the one picked when addr asked for port 0). */
int acceptor_port(const struct acceptor *a);

/* Stop accepting, wait for the thread and close the socket. NULL accepted. */
void acceptor_stop(struct acceptor *a);

#endif
