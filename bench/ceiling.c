/* The HTTP ceiling: what libmicrohttpd alone does on this machine.
 *
 * Same threading model as feedbackd's server (src/http/server.c): one epoll
 * thread pool of the same size, the same connection limits and timeouts, and
 * the reply queued on a later call than the first (libmicrohttpd 0.9.75
 * closes keep-alive connections otherwise). It reads the whole body and
 * answers a fixed 201 to POST and a fixed 200 to anything else, so the only
 * difference to the real service is the work the service does per request:
 * routing, auth, JSON, SQLite, group commit. The benchmark divides the
 * service's figures by this program's.
 *
 * Usage: ceiling <threads>; binds 127.0.0.1 on a free port and prints
 * "listening on 127.0.0.1:<port>" on stdout; stops on SIGTERM or SIGINT. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_LIMIT (1024 * 1024)

static const char created_body[] = "{\"id\":\"01890a5d-ac96-774b-bcce-b302099a8057\"}";
static const char ok_body[] = "{\"ok\":true}";

struct ceiling_request {
	size_t body_len;
	int answered; /* the first call has passed */
};

static struct MHD_Response *created_reply, *ok_reply;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct ceiling_request *req = *con_cls;
	if (req == NULL) {
		req = calloc(1, sizeof(*req));
		*con_cls = req;
		return req ? MHD_YES : MHD_NO;
	}
	if (*upload_data_size > 0) {
		/* read and count the body, as the service does (it copies it) */
		req->body_len += *upload_data_size;
		*upload_data_size = 0;
		return req->body_len <= BODY_LIMIT ? MHD_YES : MHD_NO;
	}
	if (strcmp(method, "POST") == 0)
		return MHD_queue_response(conn, MHD_HTTP_CREATED, created_reply);
	return MHD_queue_response(conn, MHD_HTTP_OK, ok_reply);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	free(*con_cls);
	*con_cls = NULL;
}

static struct MHD_Response *fixed_reply(const char *body, size_t len)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
	if (r != NULL &&
	    MHD_add_response_header(r, "Content-Type", "application/json") != MHD_YES) {
		MHD_destroy_response(r);
		return NULL;
	}
	return r;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 0;
	if (threads < 1 || threads > 256) {
		fprintf(stderr, "usage: %s <threads>\n", argv[0]);
		return 2;
	}
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0)
		return 1;
	created_reply = fixed_reply(created_body, sizeof(created_body) - 1);
	ok_reply = fixed_reply(ok_body, sizeof(ok_body) - 1);
	if (created_reply == NULL || ok_reply == NULL)
		return 1;

	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	/* feedbackd's defaults for the same options */
	struct MHD_Daemon *d = MHD_start_daemon(
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
	    MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
	    MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 256u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "ceiling: cannot start the daemon\n");
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("listening on 127.0.0.1:%u\n", info ? (unsigned)info->port : 0u);
	fflush(stdout);

	int sig = 0;
	while (sigwait(&stop, &sig) != 0)
		;
	MHD_stop_daemon(d);
	MHD_destroy_response(created_reply);
	MHD_destroy_response(ok_reply);
	return 0;
}
