/* DELETE /v1/customers/{customer_id} and DELETE /v1/customers?customer_id=
 * (scope admin): erase a customer. The query form reaches every id: the
 * server decodes the path before routing, so an id with a '/' in it cannot
 * be one path segment.
 *
 * The erasure is a job for the writer with no submissions, only work in
 * its transaction (erasure.h), so it commits whole, in arrival order with
 * the submissions around it, and is answered only once durable. The request
 * is suspended meanwhile, as a submission's is. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/query.h"
#include "feedbackd/api.h"
#include "feedbackd/erasure.h"
#include "feedbackd/error.h"
#include "feedbackd/log.h"

struct erase_request {
	struct write_job job;
	struct erasure_result result;
	int submit_err;
	char customer_id[]; /* a copy: the query's value belongs to the connection */
};

static int erase_in_tx(struct db_conn *c, struct write_job *job)
{
	struct erase_request *e =
	    (struct erase_request *)((char *)job - offsetof(struct erase_request, job));
	/* A group that is rolled back and run again runs this again: result
	 * is set afresh each time. */
	return erasure_run(c, e->customer_id, &e->result);
}

static void erase_done(struct write_job *job, void *arg)
{
	(void)job;
	http_resume(arg);
}

static void erase_reply(struct http_request *req)
{
	struct erase_request *e = req->async;
	if (e->submit_err != 0 || e->job.result != 0) {
		http_add_header(req, "Retry-After", "1");
		http_reply_problem(req, 503,
		                   e->submit_err == FBD_EFULL
		                       ? "too many writes are waiting; retry shortly"
		                       : "the customer could not be erased; retry shortly",
		                   NULL);
		return;
	}
	if (!e->result.found) {
		http_reply_problem(req, 404, "no customer with this id", NULL);
		return;
	}
	/* The id is personal data: the log gets the count only. */
	log_msg(FBD_LOG_INFO, "customer erased (request %s): %lld submissions", req->request_id,
	        (long long)e->result.submissions);
	cJSON *body = cJSON_CreateObject();
	if (body == NULL || !cJSON_AddStringToObject(body, "customer_id", e->customer_id) ||
	    !json_add_number(body, "erased_submissions", (double)e->result.submissions)) {
		cJSON_Delete(body);
		body = NULL;
	}
	http_reply_json(req, 200, body);
}

/* Hands the erasure to the writer; the reply comes from erase_reply(). */
static void start_erasure(struct http_request *req, const char *customer_id)
{
	struct api_env *env = req->app;
	size_t len = strlen(customer_id);
	struct erase_request *e = calloc(1, sizeof(*e) + len + 1);
	if (e == NULL) {
		api_reply_store_error(req, FBD_ENOMEM);
		return;
	}
	req->async = e;
	req->async_free = free;
	memcpy(e->customer_id, customer_id, len + 1);
	e->job = (struct write_job){.done = erase_done, .arg = req, .in_tx = erase_in_tx};
	http_suspend(req, erase_reply);
	e->submit_err = writer_submit(env->writer, &e->job);
	if (e->submit_err != 0)
		http_resume(req);
}

void api_erase_customer(struct http_request *req)
{
	const char *id = api_customer_from_path(req);
	if (id != NULL)
		start_erasure(req, id);
}

void api_erase_customer_by_query(struct http_request *req)
{
	static const char *const allowed[] = {"customer_id", NULL};
	const char *p[QUERY_MAX_PARAMS];
	struct validation v = {0};
	query_collect(req, allowed, p, &v);
	/* Never "every customer": the parameter is required. */
	if (p[0] == NULL && v.n == 0)
		validation_add(&v, "customer_id", "required: the customer to erase");
	else if (p[0] != NULL)
		(void)query_text(p[0], "customer_id", API_CUSTOMER_ID_MAX_CHARS, &v);
	if (v.n > 0) {
		http_reply_problem(req, 422, "invalid query parameters", &v);
		return;
	}
	start_erasure(req, p[0]);
}
