/* POST /v1/surveys and POST /v1/nps: parse -> validate -> writer -> reply.
 *
 * The request is suspended while the writer commits; the reply (201 with the
 * stored record) is built only after the commit, so a 201 is never lost. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/query.h"
#include "api/idem.h"
#include "feedbackd/api.h"
#include "feedbackd/error.h"
#include "feedbackd/log.h"

struct single_write {
	struct write_item item;
	struct write_job job;
	int submit_err;
	struct api_idem idem;
};

static void single_write_free(void *arg)
{
	struct single_write *w = arg;
	if (w == NULL)
		return;
	api_idem_end(&w->idem);
	submission_release(&w->item.sub);
	free(w);
}

/* In the writer's transaction: a keyed request that stored (or found) its
 * record keeps the reply it is about to get, byte for byte. */
static int single_write_in_tx(struct db_conn *c, struct write_job *job)
{
	struct single_write *w = (struct single_write *)((char *)job - offsetof(struct single_write, job));
	if (w->item.status != WRITE_CREATED && w->item.status != WRITE_EXISTS)
		return 0;
	char location[SUBMISSION_LOCATION_SIZE];
	submission_location(&w->item.sub, location);
	cJSON *body = submission_to_json(&w->item.sub);
	char *text = body ? cJSON_PrintUnformatted(body) : NULL;
	cJSON_Delete(body);
	return api_idem_store(c, &w->idem, w->item.status == WRITE_CREATED ? 201 : 200, text,
			      location);
}

static void single_write_done(struct write_job *job, void *arg)
{
	http_resume(arg);
}

/* 1..255 printable ASCII characters, per the Idempotency-Key draft. */
bool api_idempotency_key_valid(const char *key)
{
	size_t len = strlen(key);
	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
			return false;
	return true;
}

bool api_check_headers(struct http_request *req)
{
	const char *key = http_header(req, "Idempotency-Key");
	if (key && !api_idempotency_key_valid(key)) {
		http_reply_problem(req, 400, "Idempotency-Key must be 1 to 255 printable ASCII characters",
				   NULL);
		return false;
	}
	return true;
}

cJSON *api_parse_body(struct http_request *req)
{
	cJSON *doc = NULL;
	const char *detail = NULL;
	enum json_status st = json_parse_strict(req->body ? req->body : "", req->body_len, &doc,
						&detail);
	if (st == JSON_OK)
		return doc;
	if (st == JSON_NOMEM) {
		http_add_header(req, "Retry-After", "1");
		http_reply_problem(req, 503, "out of memory; retry shortly", NULL);
	} else if (st == JSON_HAS_NUL) {
		struct validation v = {0};
		validation_add(&v, "", "strings must not contain U+0000");
		http_reply_problem(req, 422, "the request body has invalid fields", &v);
	} else {
		http_reply_problem(req, 400, detail ? detail : "the body is not well-formed JSON", NULL);
	}
	return NULL;
}

void api_reply_stored(struct http_request *req, const struct write_item *item, int submit_err)
{
	if (submit_err != 0 || item->status == WRITE_FAILED) {
		http_add_header(req, "Retry-After", "1");
		http_reply_problem(req, 503,
				   submit_err == FBD_EFULL ? "too many submissions are waiting; retry shortly"
							   : "the submission could not be stored; retry shortly",
				   NULL);
		return;
	}
	if (item->status == WRITE_CONFLICT) {
		http_reply_problem(req, 409, "a submission with this id is already stored with a different body",
				   NULL);
		return;
	}
	char location[SUBMISSION_LOCATION_SIZE];
	submission_location(&item->sub, location);
	http_add_header(req, "Location", location);
	http_reply_json(req, item->status == WRITE_CREATED ? 201 : 200,
			submission_to_json(&item->sub));
}

static void single_write_reply(struct http_request *req)
{
	struct single_write *w = req->async;
	if (w->submit_err == 0 && w->job.result == 0 && w->idem.rendered)
		api_idem_reply(req, &w->idem.rec, false);
	else
		api_reply_stored(req, &w->item, w->submit_err);
	api_idem_end(&w->idem);
}

static void post_submission(struct http_request *req, enum submission_type type)
{
	struct api_env *env = req->app;
	if (query_reject_any(req) || !api_check_headers(req))
		return;
	struct single_write *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		http_add_header(req, "Retry-After", "1");
		http_reply_problem(req, 503, "out of memory", NULL);
		return;
	}
	submission_init(&w->item.sub);
	/* Owned by the request from here on, so every exit frees it. */
	req->async = w;
	req->async_free = single_write_free;
	if (!api_idem_begin(req, &w->idem))
		return;
	cJSON *doc = api_parse_body(req);
	if (doc == NULL) {
		api_idem_end(&w->idem);
		return;
	}
	struct validation v = {0};
	int err = submission_from_json(doc, type, req->received_at, env->cfg->max_age_days,
				       &w->item.sub, &v);
	cJSON_Delete(doc);
	if (err != 0) {
		api_idem_end(&w->idem);
		if (err == FBD_EINVAL)
			http_reply_problem(req, 422, "the request body has invalid fields", &v);
		else
			api_reply_store_error(req, err);
		return;
	}
	w->job = (struct write_job){.items = &w->item,
				    .n = 1,
				    .done = single_write_done,
				    .arg = req,
				    .in_tx = w->idem.active ? single_write_in_tx : NULL};
	http_suspend(req, single_write_reply);
	w->submit_err = writer_submit(env->writer, &w->job);
	if (w->submit_err != 0)
		http_resume(req);
}

void api_post_survey(struct http_request *req)
{
	post_submission(req, SUB_SURVEY);
}

void api_post_nps(struct http_request *req)
{
	post_submission(req, SUB_NPS);
}
