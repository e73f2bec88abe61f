/* Lingering close for connections answered before their body was read.
 *
 * When the server answers 413 from a Content-Length header alone, the client
 * is usually already sending the body. Closing a socket with unread data makes the kernel
 * send a reset, and a reset makes the client's kernel throw away the reply it
 * had already received, so the client sees "connection reset" instead of the
 * 413. As web servers do, we keep such sockets open a little longer after the
 * reply: shut down our side for writing, read and discard what the client
 * still sends until it closes or a short deadline passes, then close. The
 * socket is dup()ed before libmicrohttpd closes its descriptor, so the
 * connection itself stays open only as long as we hold the copy. */
#ifndef FEEDBACKD_HTTP_LINGER_H
#define FEEDBACKD_HTTP_LINGER_H

struct linger_set;

/* Start the linger thread. Returns 0 or a negative error code. */
int linger_start(struct linger_set **out);

/* Take over a copy of fd (the caller keeps and closes its own). Sockets
 * beyond the fixed capacity are not kept: they close as they would have. */
void linger_add(struct linger_set *l, int fd);

/* Close every kept socket and stop the thread. NULL accepted. */
void linger_stop(struct linger_set *l);

#endif
