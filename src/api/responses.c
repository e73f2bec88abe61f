/* GET /v1/responses and GET /v1/responses/{id}. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/query.h"
#include "feedbackd/api.h"
#include "feedbackd/error.h"

#define LIST_DEFAULT_LIMIT 50
#define LIST_MAX_LIMIT 500

void api_reply_store_error(struct http_request *req, int err)
{
	if (err == FBD_ENOMEM || err == FBD_ESTORAGE) {
		http_add_header(req, "Retry-After", "1");
		http_reply_problem(req, 503, "the database is unavailable; retry shortly", NULL);
		return;
	}
	http_reply_problem(req, 500, "the request could not be completed", NULL);
}

void api_get_response(struct http_request *req)
{
	struct api_env *env = req->app;
	char id[MODEL_ID_LEN + 1];
	if (query_reject_any(req))
		return;
	if (!uuid_is_valid(req->params[0])) {
		http_reply_problem(req, 404, "no response with this id", NULL);
		return;
	}
	for (size_t i = 0; i <= MODEL_ID_LEN; i++)
		id[i] = (char)tolower((unsigned char)req->params[0][i]);
	struct submission s;
	submission_init(&s);
	int err = store_get_submission(env->store, id, &s);
	if (err == FBD_ENOTFOUND)
		http_reply_problem(req, 404, "no response with this id", NULL);
	else if (err != 0)
		api_reply_store_error(req, err);
	else
		http_reply_json(req, 200, submission_to_json(&s));
	submission_release(&s);
}

enum list_param { P_CUSTOMER, P_TYPE, P_CHANNEL, P_AGENT, P_SEGMENT, P_SINCE, P_UNTIL, P_LIMIT, P_CURSOR };

static const char *const list_params[] = {"customer_id", "type", "channel", "agent_id", "segment",
					  "since", "until", "limit", "cursor", NULL};
static const char *const type_names[] = {"survey", "nps", NULL};

static void parse_cursor(const char *value, struct submission_query *q, struct validation *v)
{
	char plain[CURSOR_MAX];
	long long at = 0;
	int used = 0;
	if (!cursor_decode(value, plain) || sscanf(plain, "%lld.%n", &at, &used) != 1 ||
	    !uuid_is_valid(plain + used)) {
		validation_add(v, "cursor", "not a cursor returned by this endpoint");
		return;
	}
	q->has_cursor = true;
	q->cursor_at = at;
	memcpy(q->cursor_id, plain + used, MODEL_ID_LEN + 1);
}

static void parse_list_query(struct http_request *req, struct submission_query *q,
			     struct validation *v)
{
	const char *p[QUERY_MAX_PARAMS];
	query_collect(req, list_params, p, v);
	*q = (struct submission_query){.type = -1, .channel = -1, .limit = LIST_DEFAULT_LIMIT};
	if (p[P_CUSTOMER] && query_text(p[P_CUSTOMER], "customer_id", 128, v))
		q->customer_id = p[P_CUSTOMER];
	if (p[P_TYPE])
		q->type = query_enum(p[P_TYPE], "type", type_names, v);
	if (p[P_CHANNEL]) {
		q->channel = channel_parse(p[P_CHANNEL]);
		if (q->channel < 0)
			validation_add(v, "channel", "unknown channel");
	}
	if (p[P_AGENT] && query_text(p[P_AGENT], "agent_id", 128, v))
		q->agent_id = p[P_AGENT];
	if (p[P_SEGMENT] && query_text(p[P_SEGMENT], "segment", 64, v))
		q->segment = p[P_SEGMENT];
	if (p[P_SINCE])
		q->has_since = query_time(p[P_SINCE], "since", &q->since, v);
	if (p[P_UNTIL])
		q->has_until = query_time(p[P_UNTIL], "until", &q->until, v);
	long limit = LIST_DEFAULT_LIMIT;
	if (p[P_LIMIT] && query_int(p[P_LIMIT], "limit", 1, LIST_MAX_LIMIT, &limit, v))
		q->limit = (int)limit;
	if (p[P_CURSOR])
		parse_cursor(p[P_CURSOR], q, v);
}

static cJSON *list_body(const struct submission *rows, size_t n, bool more)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *data = cJSON_AddArrayToObject(body, "data");
	if (data == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		cJSON *item = submission_to_json(&rows[i]);
		if (item == NULL || !cJSON_AddItemToArray(data, item)) {
			cJSON_Delete(item);
			goto fail;
		}
	}
	char plain[CURSOR_MAX], cursor[CURSOR_MAX];
	if (more) {
		snprintf(plain, sizeof(plain), "%" PRId64 ".%s", rows[n - 1].submitted_at,
			 rows[n - 1].id);
		cursor_encode(plain, cursor);
	}
	if (!query_page_cursor(body, more ? cursor : NULL))
		goto fail;
	return body;
fail:
	cJSON_Delete(body);
	return NULL;
}

void api_list_responses(struct http_request *req)
{
	struct api_env *env = req->app;
	struct validation v = {0};
	struct submission_query q;
	parse_list_query(req, &q, &v);
	if (v.n > 0) {
		http_reply_problem(req, 422, "invalid query parameters", &v);
		return;
	}
	struct submission *rows = calloc((size_t)q.limit, sizeof(*rows));
	if (rows == NULL) {
		api_reply_store_error(req, FBD_ENOMEM);
		return;
	}
	size_t n = 0;
	bool more = false;
	int err = store_list_submissions(env->store, &q, rows, &n, &more);
	if (err != 0)
		api_reply_store_error(req, err);
	else
		http_reply_json(req, 200, list_body(rows, n, more));
	for (size_t i = 0; i < n; i++)
		submission_release(&rows[i]);
	free(rows);
}
