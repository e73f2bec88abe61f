/* Request deadlines for slow clients.
 *
 * libmicrohttpd 0.9.75 calls the access handler only once a request's
 * headers are complete, and its own timeout is an inactivity timer reset by
 * every byte, so a client that drips one header byte per second would hold
 * its connection forever. This module bounds that: every connection is
 * tracked from accept to close (MHD_OPTION_NOTIFY_CONNECTION) with a
 * deadline, and a reaper thread shuts down (shutdown(2)) the socket of a
 * connection that missed it; MHD then sees the end of the stream and closes
 * the connection itself.
 *
 * Deadlines, with T = request_timeout and I = idle_timeout:
 * - a new connection must deliver its first request's headers within T;
 * - once the headers are in, the body has T (the server answers 408 when a
 *   late chunk arrives; the reaper cuts at T + 1 s a client that went quiet);
 * - while the request is processed and answered there is no deadline (the
 *   handler's own work is bounded; a client that does not read the reply is
 *   cut by the idle timeout);
 * - after a reply a keep-alive connection must deliver the next request's
 *   headers within I + T: it may idle for up to I (else MHD closes it), and
 *   since the start of a request is invisible until its headers are
 *   complete, the allowance covers both.
 *
 * Memory is one fixed slot per allowed connection. */
#ifndef FEEDBACKD_CONNTRACK_H
#define FEEDBACKD_CONNTRACK_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

enum conntrack_phase {
	CONNTRACK_HEADERS = 0, /* waiting for a request's headers */
	CONNTRACK_BODY,        /* headers in, body arriving */
	CONNTRACK_HANDLING,    /* whole request in: no deadline */
	CONNTRACK_IDLE,        /* replied; waiting for the next request */
};

/* The deadline (ms on the caller's clock) of a connection entering phase at
 * now_ms, or 0 for none. The first request of a connection is
 * CONNTRACK_HEADERS; later ones begin in CONNTRACK_IDLE. Pure. */
int64_t conntrack_deadline(enum conntrack_phase phase, int64_t now_ms, int request_timeout_s,
                           int idle_timeout_s);

struct conntrack;

/* Track up to slots connections and start the reaper thread. *out is owned
 * by the caller: conntrack_free(). Returns 0, FBD_EINVAL or FBD_ENOMEM. */
int conntrack_new(struct conntrack **out, size_t slots, int request_timeout_s, int idle_timeout_s);

/* Stop the reaper and free. Call after MHD_stop_daemon. NULL accepted. */
void conntrack_free(struct conntrack *ct);

/* An MHD_NotifyConnectionCallback (cls: the struct conntrack). MHD sends
 * CLOSED before it closes the socket (libmicrohttpd 0.9.75, daemon.c,
 * MHD_cleanup_connections), and both this callback and the reaper hold the
 * table's mutex, so the reaper never shuts down a descriptor that MHD has
 * closed and the kernel may have reused. */
void conntrack_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe);

/* Phase changes, called from the access handler and the completion
 * callback on the connection's thread. Untracked connections are ignored. */
void conntrack_enter(struct conntrack *ct, struct MHD_Connection *conn, enum conntrack_phase phase);

/* Connections cut by the reaper so far. */
uint64_t conntrack_reaped(struct conntrack *ct);

#endif
