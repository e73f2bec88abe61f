/* GET /v1/dashboard/summary, /v1/dashboard/trend, /v1/dashboard/breakdown.
 *
 * Thin: parse and validate the query (every problem is a 422 naming the
 * parameter), run the store's dashboard query on this thread's reader, and
 * shape the figures (rounding lives in stats.c, see docs/metrics.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/query.h"
#include "feedbackd/api.h"
#include "feedbackd/dashboard.h"
#include "feedbackd/error.h"

#define DEFAULT_PERIOD_S (30 * STATS_DAY_SECONDS)
#define MAX_TREND_POINTS 1000

enum dash_param { D_SINCE, D_UNTIL, D_CHANNEL, D_AGENT, D_SEGMENT, D_METRIC, D_INTERVAL, D_BY };

static const char *const summary_params[] = {"since",    "until",   "channel",
                                             "agent_id", "segment", NULL};
static const char *const trend_params[] = {"since",   "until",  "channel",  "agent_id",
                                           "segment", "metric", "interval", NULL};
static const char *const breakdown_params[] = {"since", "until", NULL, NULL, NULL,
                                               NULL,    NULL,    "by", NULL};

enum metric { M_NPS, M_CSAT, M_EFFORT, M_RESPONSES };
static const char *const metric_names[] = {"nps", "csat", "effort", "responses", NULL};
static const char *const interval_names[] = {"day", "week", "month", NULL};
static const char *const by_names[] = {"channel", "agent", "segment", NULL};

struct dash_query {
	int64_t since, until;
	struct dash_filter filter;
	int metric;
	int interval;
	int by;
};

/* Names with a NULL hole (breakdown) are collected through a compact list. */
static void collect(struct http_request *req, const char *const names[], size_t count,
                    const char *values[QUERY_MAX_PARAMS], struct validation *v)
{
	const char *allowed[QUERY_MAX_PARAMS + 1];
	const char *got[QUERY_MAX_PARAMS];
	size_t map[QUERY_MAX_PARAMS], n = 0;
	for (size_t i = 0; i < count; i++) {
		values[i] = NULL;
		if (names[i]) {
			map[n] = i;
			allowed[n++] = names[i];
		}
	}
	allowed[n] = NULL;
	query_collect(req, allowed, got, v);
	for (size_t i = 0; i < n; i++)
		values[map[i]] = got[i];
}

static void parse_period(const char *p[], int64_t now, struct dash_query *q, struct validation *v)
{
	bool has_since = p[D_SINCE] && query_time(p[D_SINCE], "since", &q->since, v);
	bool has_until = p[D_UNTIL] && query_time(p[D_UNTIL], "until", &q->until, v);
	/* Stored times are whole seconds and now is the second the request
	 * arrived in: a submission stored earlier in that second is before the
	 * true now, so the default period ends with the end of this second. */
	if (!has_until)
		q->until = now + 1;
	if (!has_since)
		q->since = q->until - DEFAULT_PERIOD_S;
	if ((p[D_SINCE] == NULL || has_since) && (p[D_UNTIL] == NULL || has_until) &&
	    q->since >= q->until)
		validation_add(v, "since", "must be before until");
}

static void parse_filters(const char *p[], struct dash_query *q, struct validation *v)
{
	q->filter = (struct dash_filter){-1, NULL, NULL};
	if (p[D_CHANNEL]) {
		q->filter.channel = channel_parse(p[D_CHANNEL]);
		if (q->filter.channel < 0)
			validation_add(v, "channel", "unknown channel");
	}
	if (p[D_AGENT] && query_text(p[D_AGENT], "agent_id", 128, v))
		q->filter.agent_id = p[D_AGENT];
	if (p[D_SEGMENT] && query_text(p[D_SEGMENT], "segment", 64, v))
		q->filter.segment = p[D_SEGMENT];
}

static cJSON *add_object(cJSON *parent, const char *name)
{
	return parent ? cJSON_AddObjectToObject(parent, name) : NULL;
}

static bool add_num(cJSON *o, const char *name, double value)
{
	return o && json_add_number(o, name, value);
}

static bool add_opt(cJSON *o, const char *name, bool has, double value)
{
	if (o == NULL)
		return false;
	return has ? json_add_number(o, name, value) != NULL
	           : cJSON_AddNullToObject(o, name) != NULL;
}

static bool add_time(cJSON *o, const char *name, int64_t t)
{
	char buf[21];
	rfc3339_format(t, buf);
	return o && cJSON_AddStringToObject(o, name, buf);
}

/* {"score", ..., "count", "margin_of_error"} members shared by every NPS. */
static bool add_nps_fields(cJSON *o, const struct stats_counts *n)
{
	double score = 0, moe = 0;
	bool has = stats_nps(n, &score);
	(void)stats_nps_margin(n->promoters, n->detractors, n->nps_count, &moe);
	return add_opt(o, "score", has, score) && add_num(o, "count", (double)n->nps_count) &&
	       add_opt(o, "margin_of_error", has, moe);
}

static bool add_csat_fields(cJSON *o, const struct stats_counts *n)
{
	double score = 0;
	bool has = stats_csat_score(n, &score);
	return add_opt(o, "score", has, score) && add_num(o, "count", (double)n->csat_count);
}

static bool summary_measures(cJSON *body, const struct stats_counts *n)
{
	double mean = 0, rate = 0;
	cJSON *nps = add_object(body, "nps");
	bool ok = add_nps_fields(nps, n) && add_num(nps, "promoters", (double)n->promoters) &&
	          add_num(nps, "passives", (double)n->passives) &&
	          add_num(nps, "detractors", (double)n->detractors);
	cJSON *csat = add_object(body, "csat");
	bool has = stats_csat_mean(n, &mean);
	ok = ok && add_csat_fields(csat, n) && add_opt(csat, "mean", has, mean);
	cJSON *effort = add_object(body, "effort");
	has = stats_effort_mean(n, &mean);
	ok = ok && add_opt(effort, "mean", has, mean) &&
	     add_num(effort, "count", (double)n->effort_count);
	cJSON *exp = add_object(body, "expectation");
	ok = ok && add_num(exp, "below", (double)n->exp_below) &&
	     add_num(exp, "met", (double)n->exp_met) &&
	     add_num(exp, "exceeded", (double)n->exp_exceeded);
	cJSON *resolved = add_object(body, "resolved");
	has = stats_resolved_rate(n, &rate);
	return ok && add_opt(resolved, "rate", has, rate) &&
	       add_num(resolved, "count", (double)n->resolved_count);
}

static cJSON *summary_body(const struct dash_query *q, const struct dash_summary *s)
{
	static const char *const level_names[DASH_LEVELS] = {
	    "below_expectations", "expected", "exceeded", "delighted", "loyal", "unrated"};
	cJSON *body = cJSON_CreateObject();
	bool ok = add_time(body, "since", q->since) && add_time(body, "until", q->until) &&
	          add_num(body, "responses", (double)s->counts.responses) &&
	          add_num(body, "customers", (double)s->customers) &&
	          summary_measures(body, &s->counts);
	cJSON *levels = add_object(body, "levels");
	for (int i = 0; ok && i < DASH_LEVELS; i++)
		ok = add_num(levels, level_names[i], (double)s->levels[i]);
	ok = ok && add_num(body, "at_risk_customers", (double)s->at_risk);
	if (!ok) {
		cJSON_Delete(body);
		return NULL;
	}
	return body;
}

static struct db_conn *reader_or_reply(struct http_request *req)
{
	struct api_env *env = req->app;
	struct db_conn *c = store_reader(env->store);
	if (c == NULL)
		api_reply_store_error(req, FBD_ESTORAGE);
	return c;
}

void api_dashboard_summary(struct http_request *req)
{
	const char *p[QUERY_MAX_PARAMS];
	struct validation v = {0};
	struct dash_query q = {0};
	query_collect(req, summary_params, p, &v);
	parse_period(p, req->received_at, &q, &v);
	parse_filters(p, &q, &v);
	if (v.n > 0) {
		http_reply_problem(req, 422, "invalid query parameters", &v);
		return;
	}
	struct db_conn *c = reader_or_reply(req);
	if (c == NULL)
		return;
	struct dash_summary s;
	int err = dash_summary(c, &q.filter, q.since, q.until, &s);
	if (err != 0)
		api_reply_store_error(req, err);
	else
		http_reply_json(req, 200, summary_body(&q, &s));
}

static bool point_value(int metric, const struct stats_counts *n, double *value, int64_t *count)
{
	switch (metric) {
	case M_NPS:
		*count = n->nps_count;
		return stats_nps(n, value);
	case M_CSAT:
		*count = n->csat_count;
		return stats_csat_score(n, value);
	case M_EFFORT:
		*count = n->effort_count;
		return stats_effort_mean(n, value);
	default:
		*count = n->responses;
		*value = (double)n->responses;
		return n->responses > 0;
	}
}

static cJSON *trend_point(int metric, const struct dash_point *pt)
{
	double value = 0, moe = 0;
	int64_t count = 0;
	cJSON *o = cJSON_CreateObject();
	bool has = point_value(metric, &pt->counts, &value, &count);
	bool ok = add_time(o, "start", pt->start_day * STATS_DAY_SECONDS) &&
	          add_opt(o, "value", has, value) && add_num(o, "count", (double)count);
	if (ok && metric == M_NPS) {
		bool has_moe = stats_nps_margin(pt->counts.promoters, pt->counts.detractors,
		                                pt->counts.nps_count, &moe);
		ok = add_opt(o, "margin_of_error", has_moe, moe);
	}
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *trend_body(const struct dash_query *q, const struct dash_point *pts, size_t n)
{
	cJSON *body = cJSON_CreateObject();
	bool ok = body && cJSON_AddStringToObject(body, "metric", metric_names[q->metric]) &&
	          cJSON_AddStringToObject(body, "interval", interval_names[q->interval]) &&
	          add_time(body, "since", q->since) && add_time(body, "until", q->until);
	cJSON *arr = ok ? cJSON_AddArrayToObject(body, "points") : NULL;
	ok = arr != NULL;
	for (size_t i = 0; ok && i < n; i++) {
		cJSON *pt = trend_point(q->metric, &pts[i]);
		ok = pt && cJSON_AddItemToArray(arr, pt);
		if (!ok)
			cJSON_Delete(pt);
	}
	if (!ok) {
		cJSON_Delete(body);
		return NULL;
	}
	return body;
}

static void parse_trend(struct http_request *req, struct dash_query *q, struct validation *v)
{
	const char *p[QUERY_MAX_PARAMS];
	collect(req, trend_params, 7, p, v);
	parse_period(p, req->received_at, q, v);
	parse_filters(p, q, v);
	q->metric = -1;
	if (p[D_METRIC])
		q->metric = query_enum(p[D_METRIC], "metric", metric_names, v);
	else
		validation_add(v, "metric", "is required: one of nps, csat, effort, responses");
	q->interval =
	    p[D_INTERVAL] ? query_enum(p[D_INTERVAL], "interval", interval_names, v) : STATS_DAY;
	if (v->n == 0 && dash_trend_points(q->interval, q->since, q->until) > MAX_TREND_POINTS)
		validation_add(v, "interval",
		               "the period has more than %d intervals; use a longer interval or a"
		               " shorter period",
		               MAX_TREND_POINTS);
}

void api_dashboard_trend(struct http_request *req)
{
	struct validation v = {0};
	struct dash_query q = {0};
	parse_trend(req, &q, &v);
	if (v.n > 0) {
		http_reply_problem(req, 422, "invalid query parameters", &v);
		return;
	}
	struct db_conn *c = reader_or_reply(req);
	if (c == NULL)
		return;
	size_t n = (size_t)dash_trend_points(q.interval, q.since, q.until);
	struct dash_point *pts = calloc(n, sizeof(*pts));
	if (pts == NULL) {
		api_reply_store_error(req, FBD_ENOMEM);
		return;
	}
	int err = dash_trend(c, &q.filter, q.since, q.until, q.interval, pts, n);
	if (err != 0)
		api_reply_store_error(req, err);
	else
		http_reply_json(req, 200, trend_body(&q, pts, n));
	free(pts);
}

static cJSON *breakdown_row(const struct dash_row *r)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = o &&
	          (r->key ? cJSON_AddStringToObject(o, "key", r->key)
	                  : cJSON_AddNullToObject(o, "key")) &&
	          add_num(o, "count", (double)r->counts.responses) &&
	          add_nps_fields(add_object(o, "nps"), &r->counts) &&
	          add_csat_fields(add_object(o, "csat"), &r->counts);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *breakdown_body(const struct dash_query *q, const struct dash_row *rows, size_t n)
{
	cJSON *body = cJSON_CreateObject();
	bool ok = body && cJSON_AddStringToObject(body, "by", by_names[q->by]) &&
	          add_time(body, "since", q->since) && add_time(body, "until", q->until);
	cJSON *arr = ok ? cJSON_AddArrayToObject(body, "data") : NULL;
	ok = arr != NULL;
	for (size_t i = 0; ok && i < n; i++) {
		cJSON *row = breakdown_row(&rows[i]);
		ok = row && cJSON_AddItemToArray(arr, row);
		if (!ok)
			cJSON_Delete(row);
	}
	if (!ok) {
		cJSON_Delete(body);
		return NULL;
	}
	return body;
}

void api_dashboard_breakdown(struct http_request *req)
{
	const char *p[QUERY_MAX_PARAMS];
	struct validation v = {0};
	struct dash_query q = {0};
	collect(req, breakdown_params, 8, p, &v);
	parse_period(p, req->received_at, &q, &v);
	q.by = -1;
	if (p[D_BY])
		q.by = query_enum(p[D_BY], "by", by_names, &v);
	else
		validation_add(&v, "by", "is required: one of channel, agent, segment");
	if (v.n > 0) {
		http_reply_problem(req, 422, "invalid query parameters", &v);
		return;
	}
	struct db_conn *c = reader_or_reply(req);
	if (c == NULL)
		return;
	struct dash_row *rows = NULL;
	size_t n = 0;
	int err = dash_breakdown(c, (enum dash_by)q.by, q.since, q.until, &rows, &n);
	if (err != 0)
		api_reply_store_error(req, err);
	else
		http_reply_json(req, 200, breakdown_body(&q, rows, n));
	dash_rows_free(rows, n);
}
