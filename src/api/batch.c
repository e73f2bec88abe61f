/* POST /v1/batch: many submissions in one request (offline sync, imports).
 *
 * Every item is validated on its own; the valid ones go to the writer as one
 * job, so they commit together in one group, each in its own savepoint and
 * in order (two items with the same client id behave like two requests in a
 * row). The reply lists one result per item, in order:
 *   {"index": i, "status": 201|200, "id": "..."} for a stored (or already
 *   stored) item, {"index": i, "status": 422|409|503, "error": {problem}}
 *   otherwise.
 * If the commit fails nothing was stored and the whole request is 503, so a
 * client retries the batch as it is.
 *
 * With an Idempotency-Key, the results are rendered inside the transaction
 * and stored with the items, when at least one item was stored (a batch that
 * stored nothing is a rejected request and leaves no key). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/query.h"
#include "api/idem.h"
#include "feedbackd/api.h"
#include "feedbackd/error.h"

#define BATCH_MAX_ITEMS 500

struct batch_write {
	struct write_job job;
	struct write_item *items; /* the valid items, n_valid of them */
	size_t n_valid;
	size_t n_total;
	/* per request item: index into items[], or -1 with its error in errors[] */
	long *slot;
	cJSON **errors;
	int submit_err;
	struct api_idem idem;
};

static void batch_write_free(void *arg)
{
	struct batch_write *b = arg;
	if (b == NULL)
		return;
	api_idem_end(&b->idem);
	for (size_t i = 0; b->items && i < b->n_valid; i++)
		submission_release(&b->items[i].sub);
	for (size_t i = 0; b->errors && i < b->n_total; i++)
		cJSON_Delete(b->errors[i]);
	free(b->items);
	free(b->slot);
	free(b->errors);
	free(b);
}

static int batch_alloc(struct batch_write *b, size_t n)
{
	b->n_total = n;
	b->items = calloc(n, sizeof(*b->items));
	b->slot = calloc(n, sizeof(*b->slot));
	b->errors = calloc(n, sizeof(*b->errors));
	return b->items && b->slot && b->errors ? 0 : FBD_ENOMEM;
}

/* The items array of the body, or NULL after adding what is wrong to v. */
static const cJSON *batch_items(const cJSON *doc, struct validation *v)
{
	if (!cJSON_IsObject(doc)) {
		validation_add(v, "", "must be a JSON object with an \"items\" array");
		return NULL;
	}
	for (const cJSON *m = doc->child; m; m = m->next)
		if (strcmp(m->string, "items") != 0)
			validation_add(v, m->string, "unknown field");
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
	int n = cJSON_GetArraySize(items);
	if (!cJSON_IsArray(items))
		validation_add(v, "items", "is required and must be an array");
	else if (n < 1 || n > BATCH_MAX_ITEMS)
		validation_add(v, "items", "must hold 1 to %d submissions, not %d", BATCH_MAX_ITEMS,
		               n);
	return v->n == 0 ? items : NULL;
}

/* Validate every item; valid ones become write items. */
static int batch_validate(struct http_request *req, struct batch_write *b, const cJSON *items)
{
	struct api_env *env = req->app;
	struct validation *v = malloc(sizeof(*v));
	if (v == NULL)
		return FBD_ENOMEM;
	size_t i = 0;
	int err = 0;
	for (const cJSON *it = items->child; err == 0 && it; it = it->next, i++) {
		struct write_item *w = &b->items[b->n_valid];
		submission_init(&w->sub);
		err = submission_from_json(it, SUB_ANY, req->received_at, env->cfg->max_age_days,
		                           &w->sub, v);
		if (err == 0) {
			b->slot[i] = (long)b->n_valid++;
		} else if (err == FBD_EINVAL) {
			b->slot[i] = -1;
			b->errors[i] = http_problem_json(422, "the item has invalid fields", v);
			err = b->errors[i] ? 0 : FBD_ENOMEM;
		}
	}
	free(v);
	return err;
}

/* The problem object of item i that was not stored, and its status. */
static cJSON *item_error(const struct batch_write *b, size_t i, int *status)
{
	if (b->slot[i] < 0) {
		*status = 422;
		return cJSON_Duplicate(b->errors[i], true);
	}
	if (b->items[b->slot[i]].status == WRITE_CONFLICT) {
		*status = 409;
		return http_problem_json(409,
		                         "a submission with this id is already stored with a"
		                         " different body",
		                         NULL);
	}
	*status = 503;
	return http_problem_json(503, "the item could not be stored; retry it", NULL);
}

static cJSON *item_result(const struct batch_write *b, size_t i)
{
	cJSON *r = cJSON_CreateObject();
	if (r == NULL || !json_add_number(r, "index", (double)i))
		goto fail;
	const struct write_item *w = b->slot[i] >= 0 ? &b->items[b->slot[i]] : NULL;
	if (w && (w->status == WRITE_CREATED || w->status == WRITE_EXISTS)) {
		if (!json_add_number(r, "status", (int)w->status) ||
		    !cJSON_AddStringToObject(r, "id", w->sub.id))
			goto fail;
		return r;
	}
	int status = 0;
	cJSON *error = item_error(b, i, &status);
	if (error == NULL || !json_add_number(r, "status", status) ||
	    !cJSON_AddItemToObject(r, "error", error)) {
		cJSON_Delete(error);
		goto fail;
	}
	return r;
fail:
	cJSON_Delete(r);
	return NULL;
}

/* {"results": [...]} as compact text, or NULL without memory. */
static char *batch_render(const struct batch_write *b)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *results = cJSON_AddArrayToObject(body, "results");
	for (size_t i = 0; results && i < b->n_total; i++) {
		cJSON *r = item_result(b, i);
		if (r == NULL || !cJSON_AddItemToArray(results, r)) {
			cJSON_Delete(r);
			results = NULL;
		}
	}
	char *text = results ? cJSON_PrintUnformatted(body) : NULL;
	cJSON_Delete(body);
	return text;
}

static bool batch_stored_any(const struct batch_write *b)
{
	for (size_t i = 0; i < b->n_valid; i++)
		if (b->items[i].status == WRITE_CREATED || b->items[i].status == WRITE_EXISTS)
			return true;
	return false;
}

static int batch_in_tx(struct db_conn *c, struct write_job *job)
{
	struct batch_write *b =
	    (struct batch_write *)((char *)job - offsetof(struct batch_write, job));
	if (!batch_stored_any(b))
		return 0;
	return api_idem_store(c, &b->idem, 200, batch_render(b), NULL);
}

static void batch_reply(struct http_request *req)
{
	struct batch_write *b = req->async;
	if (b->submit_err != 0 || (b->n_valid > 0 && b->job.result != 0)) {
		http_add_header(req, "Retry-After", "1");
		http_reply_problem(req, 503,
		                   b->submit_err == FBD_EFULL
		                       ? "too many submissions are waiting; retry shortly"
		                       : "the batch could not be stored; retry shortly",
		                   NULL);
	} else if (b->idem.rendered) {
		api_idem_reply(req, &b->idem.rec, false);
	} else {
		char *text = batch_render(b);
		if (text)
			http_reply_raw(req, 200, "application/json", text, strlen(text));
		else
			http_reply_problem(req, 503, "out of memory", NULL);
		free(text);
	}
	api_idem_end(&b->idem);
}

static void batch_done(struct write_job *job, void *arg)
{
	http_resume(arg);
}

/* Parse and validate; false after replying. */
static bool batch_prepare(struct http_request *req, struct batch_write *b)
{
	cJSON *doc = api_parse_body(req);
	if (doc == NULL)
		return false;
	struct validation *v = calloc(1, sizeof(*v));
	const cJSON *items = v ? batch_items(doc, v) : NULL;
	int err = v == NULL ? FBD_ENOMEM : 0;
	if (items && (err = batch_alloc(b, (size_t)cJSON_GetArraySize(items))) == 0)
		err = batch_validate(req, b, items);
	if (err != 0)
		api_reply_store_error(req, err);
	else if (items == NULL)
		http_reply_problem(req, 422, "the batch is not valid", v);
	cJSON_Delete(doc);
	free(v);
	return err == 0 && items != NULL;
}

void api_post_batch(struct http_request *req)
{
	struct api_env *env = req->app;
	if (query_reject_any(req) || !api_check_headers(req))
		return;
	struct batch_write *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		api_reply_store_error(req, FBD_ENOMEM);
		return;
	}
	req->async = b;
	req->async_free = batch_write_free;
	if (!api_idem_begin(req, &b->idem))
		return;
	if (!batch_prepare(req, b)) {
		api_idem_end(&b->idem);
		return;
	}
	if (b->n_valid == 0) {
		/* Nothing to store: every item failed validation. */
		batch_reply(req);
		return;
	}
	b->job = (struct write_job){.items = b->items,
	                            .n = b->n_valid,
	                            .done = batch_done,
	                            .arg = req,
	                            .in_tx = b->idem.active ? batch_in_tx : NULL};
	http_suspend(req, batch_reply);
	b->submit_err = writer_submit(env->writer, &b->job);
	if (b->submit_err != 0)
		http_resume(req);
}
