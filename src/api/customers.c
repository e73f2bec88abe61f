/* GET /v1/customers/{customer_id} and GET /v1/customers: stored profiles.
 *
 * Nothing here scores: profiles are what the worker stored last. A customer
 * the worker has not reached yet has its counts and null scores with
 * computed_at null.
 *
 * Cursors: a customer_id may be 128 characters of any script (up to 512
 * bytes), more than the generic cursor of query.h holds, so this endpoint
 * encodes its own: base64url of "<sort>|<key or ->|<customer_id>". The sort
 * is inside so a cursor replayed with another sort is refused. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>

#include "api/handlers.h"
#include "api/query.h"
#include "feedbackd/api.h"
#include "feedbackd/customers.h"
#include "feedbackd/error.h"

#define LIST_DEFAULT_LIMIT 50
#define LIST_MAX_LIMIT 500
#define CUSTOMER_CURSOR_PLAIN 600 /* "3|-9223372036854775808|" + 512 bytes of id */
#define CUSTOMER_CURSOR_MAX (BASE64_ENCODE_LENGTH(CUSTOMER_CURSOR_PLAIN) + 8)

static const char *const sort_names[] = {"loyalty_score", "-loyalty_score", "last_seen",
                                         "-last_seen", NULL};

/* A profile read builds one of these per request: names are literals and
 * strings are referenced from the customer or static tables, not copied
 * (json_add_item). */
static bool add_null(cJSON *obj, const char *name)
{
	return json_add_item(obj, name, cJSON_CreateNull()) != NULL;
}

/* value must outlive obj, or be NULL for null. */
static bool add_string_ref(cJSON *obj, const char *name, const char *value)
{
	return value ? json_add_item(obj, name, cJSON_CreateStringReference(value)) != NULL
	             : add_null(obj, name);
}

static bool add_time(cJSON *obj, const char *name, bool present, int64_t t)
{
	char buf[21];
	if (!present)
		return add_null(obj, name);
	rfc3339_format(t, buf);
	return json_add_item(obj, name, cJSON_CreateString(buf)) != NULL;
}

static bool add_int(cJSON *obj, const char *name, bool present, double v)
{
	return present ? json_add_number(obj, name, v) != NULL : add_null(obj, name);
}

static bool add_level(cJSON *obj, int level)
{
	const char *name = score_level_name(level);
	if (name == NULL)
		return add_null(obj, "level");
	cJSON *l = json_add_item(obj, "level", cJSON_CreateObject());
	return l && json_add_number(l, "code", level) && add_string_ref(l, "name", name);
}

static bool add_shares(cJSON *obj, const struct customer *c)
{
	if (!c->has_shares)
		return add_null(obj, "shares");
	cJSON *s = json_add_item(obj, "shares", cJSON_CreateObject());
	return s && json_add_number(s, "met", c->share_met) &&
	       json_add_number(s, "exceeded", c->share_exceeded) &&
	       json_add_number(s, "delighted", c->share_delighted);
}

static bool add_risk(cJSON *obj, const struct customer *c)
{
	static const enum score_risk bits[] = {RISK_DETRACTOR, RISK_BELOW_EXPECTATIONS,
	                                       RISK_DECLINING};
	if (!json_add_item(obj, "at_risk", cJSON_CreateBool(c->risk_reasons != 0)))
		return false;
	cJSON *reasons = json_add_item(obj, "risk_reasons", cJSON_CreateArray());
	if (reasons == NULL)
		return false;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		if (!(c->risk_reasons & bits[i]))
			continue;
		cJSON *name = cJSON_CreateStringReference(score_risk_name(bits[i]));
		if (name == NULL || !cJSON_AddItemToArray(reasons, name)) {
			cJSON_Delete(name);
			return false;
		}
	}
	return true;
}

/* The SPEC 4 profile shape; NULL on allocation failure. Caller owns it; it
 * refers to c's strings, so c must outlive it. */
static cJSON *customer_to_json(const struct customer *c)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = o && add_string_ref(o, "customer_id", c->customer_id) &&
	          add_string_ref(o, "segment", c->segment) && add_level(o, c->level) &&
	          add_int(o, "loyalty_score", c->loyalty_score != SCORE_NONE, c->loyalty_score) &&
	          add_int(o, "loyalty_delta_30d", c->has_delta, c->loyalty_delta_30d) &&
	          add_string_ref(o, "nps_category", score_nps_category_name(c->nps_category)) &&
	          add_int(o, "latest_nps", c->latest_nps != SCORE_NONE, c->latest_nps) &&
	          json_add_number(o, "surveys", (double)c->surveys) &&
	          json_add_number(o, "nps_ratings", (double)c->nps_ratings) &&
	          add_shares(o, c) && add_risk(o, c) &&
	          add_time(o, "first_seen", true, c->first_seen) &&
	          add_time(o, "last_seen", true, c->last_seen) &&
	          add_time(o, "computed_at", c->computed, c->computed_at);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* A customer_id as the API accepts it on input (SPEC 3). */
static bool customer_id_valid(const char *id)
{
	size_t len = strlen(id);
	return len > 0 && utf8_valid(id, len) && utf8_length(id) <= API_CUSTOMER_ID_MAX_CHARS;
}

const char *api_customer_from_path(struct http_request *req)
{
	const char *id = req->params[0];
	if (query_reject_any(req))
		return NULL;
	if (!customer_id_valid(id)) {
		http_reply_problem(req, 404, "no customer with this id", NULL);
		return NULL;
	}
	return id;
}

void api_get_customer(struct http_request *req)
{
	struct api_env *env = req->app;
	const char *id = api_customer_from_path(req);
	if (id == NULL)
		return;
	struct customer c;
	int err = customers_get(env->store, id, &c);
	if (err == FBD_ENOTFOUND) {
		http_reply_problem(req, 404, "no customer with this id", NULL);
		return;
	}
	if (err != 0) {
		api_reply_store_error(req, err);
		return;
	}
	http_reply_json(req, 200, customer_to_json(&c));
	customer_release(&c);
}

static void cursor_make(enum customer_sort sort, const struct customer *last,
                        char out[static CUSTOMER_CURSOR_MAX])
{
	char plain[CUSTOMER_CURSOR_PLAIN];
	bool loyalty = sort <= CUSTOMER_SORT_LOYALTY_DESC;
	int n;
	if (loyalty && last->loyalty_score == SCORE_NONE)
		n = snprintf(plain, sizeof(plain), "%d|-|%s", (int)sort, last->customer_id);
	else
		n = snprintf(plain, sizeof(plain), "%d|%" PRId64 "|%s", (int)sort,
		             loyalty ? (int64_t)last->loyalty_score : last->last_seen,
		             last->customer_id);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(plain) ? (size_t)n : sizeof(plain) - 1;
	struct base64_encode_ctx ctx;
	base64url_encode_init(&ctx);
	size_t m = base64_encode_update(&ctx, out, len, (const uint8_t *)plain);
	m += base64_encode_final(&ctx, out + m);
	while (m > 0 && out[m - 1] == '=')
		m--;
	out[m] = '\0';
}

/* Decodes value into plain and points q's cursor fields into it. */
static bool cursor_parse(const char *value, struct customer_query *q,
                         char plain[static CUSTOMER_CURSOR_PLAIN])
{
	size_t len = strlen(value);
	if (len == 0 || len >= CUSTOMER_CURSOR_MAX || len % 4 == 1)
		return false;
	struct base64_decode_ctx ctx;
	base64url_decode_init(&ctx);
	size_t n = CUSTOMER_CURSOR_PLAIN - 1;
	if (BASE64_DECODE_LENGTH(len) > n ||
	    !base64_decode_update(&ctx, &n, (uint8_t *)plain, len, value))
		return false;
	plain[n] = '\0';
	if (memchr(plain, '\0', n) != NULL)
		return false;
	int sort = -1, used = 0;
	if (sscanf(plain, "%d|%n", &sort, &used) != 1 || used == 0 || sort != (int)q->sort)
		return false;
	char *key = plain + used, *bar = strchr(key, '|');
	if (bar == NULL || !customer_id_valid(bar + 1))
		return false;
	*bar = '\0';
	q->cursor_null = strcmp(key, "-") == 0;
	if (q->cursor_null && q->sort > CUSTOMER_SORT_LOYALTY_DESC)
		return false;
	if (!q->cursor_null) {
		char *end = NULL;
		long long k = strtoll(key, &end, 10);
		if (end == key || *end != '\0')
			return false;
		q->cursor_key = k;
	}
	q->has_cursor = true;
	q->cursor_id = bar + 1;
	return true;
}

enum list_param { P_LEVEL, P_SEGMENT, P_AT_RISK, P_NPS, P_SORT, P_LIMIT, P_CURSOR };

static const char *const list_params[] = {"level", "segment", "at_risk", "nps_category",
                                          "sort",  "limit",   "cursor",  NULL};

static void parse_level(const char *value, struct customer_query *q, struct validation *v)
{
	if (strcmp(value, "unrated") == 0) {
		q->level = LEVEL_UNRATED;
		return;
	}
	q->level = score_level_parse(value);
	if (q->level < 0)
		validation_add(v, "level",
		               "must be one of: below_expectations, expected, exceeded, delighted,"
		               " loyal, unrated");
}

static void parse_list_query(struct http_request *req, struct customer_query *q,
                             char cursor_plain[static CUSTOMER_CURSOR_PLAIN], struct validation *v)
{
	static const char *const bools[] = {"false", "true", NULL};
	static const char *const categories[] = {"detractor", "passive", "promoter", NULL};
	const char *p[QUERY_MAX_PARAMS];
	query_collect(req, list_params, p, v);
	*q = (struct customer_query){.level = CUSTOMER_ANY,
	                             .at_risk = CUSTOMER_ANY,
	                             .nps_category = CUSTOMER_ANY,
	                             .sort = CUSTOMER_SORT_LAST_SEEN_DESC,
	                             .limit = LIST_DEFAULT_LIMIT};
	if (p[P_LEVEL])
		parse_level(p[P_LEVEL], q, v);
	if (p[P_SEGMENT] && query_text(p[P_SEGMENT], "segment", 64, v))
		q->segment = p[P_SEGMENT];
	if (p[P_AT_RISK])
		q->at_risk = query_enum(p[P_AT_RISK], "at_risk", bools, v);
	if (p[P_NPS])
		q->nps_category = query_enum(p[P_NPS], "nps_category", categories, v);
	if (p[P_SORT]) {
		int sort = query_enum(p[P_SORT], "sort", sort_names, v);
		if (sort >= 0)
			q->sort = (enum customer_sort)sort;
	}
	long limit = LIST_DEFAULT_LIMIT;
	if (p[P_LIMIT] && query_int(p[P_LIMIT], "limit", 1, LIST_MAX_LIMIT, &limit, v))
		q->limit = (int)limit;
	if (p[P_CURSOR] && !cursor_parse(p[P_CURSOR], q, cursor_plain))
		validation_add(v, "cursor", "not a cursor returned by this endpoint for this sort");
}

static cJSON *list_body(const struct customer *rows, size_t n, bool more, enum customer_sort sort)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *data = cJSON_AddArrayToObject(body, "data");
	if (data == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		cJSON *item = customer_to_json(&rows[i]);
		if (item == NULL || !cJSON_AddItemToArray(data, item)) {
			cJSON_Delete(item);
			goto fail;
		}
	}
	char cursor[CUSTOMER_CURSOR_MAX];
	if (more)
		cursor_make(sort, &rows[n - 1], cursor);
	if (!query_page_cursor(body, more ? cursor : NULL))
		goto fail;
	return body;
fail:
	cJSON_Delete(body);
	return NULL;
}

void api_list_customers(struct http_request *req)
{
	struct api_env *env = req->app;
	struct validation v = {0};
	struct customer_query q;
	char cursor_plain[CUSTOMER_CURSOR_PLAIN];
	parse_list_query(req, &q, cursor_plain, &v);
	if (v.n > 0) {
		http_reply_problem(req, 422, "invalid query parameters", &v);
		return;
	}
	struct customer *rows = calloc((size_t)q.limit, sizeof(*rows));
	if (rows == NULL) {
		api_reply_store_error(req, FBD_ENOMEM);
		return;
	}
	size_t n = 0;
	bool more = false;
	int err = customers_list(env->store, &q, rows, &n, &more);
	if (err != 0)
		api_reply_store_error(req, err);
	else
		http_reply_json(req, 200, list_body(rows, n, more, q.sort));
	for (size_t i = 0; i < n; i++)
		customer_release(&rows[i]);
	free(rows);
}
