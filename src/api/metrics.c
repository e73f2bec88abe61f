/* GET /metrics: Prometheus text exposition (no auth; restrict by network).
 *
 * Counters are kept lock-free by util/metrics.c as requests complete; the
 * gauges are sampled here, at scrape time, so an idle service costs nothing. */
#include <stdlib.h>
#include <time.h>

#include "api/handlers.h"
#include "feedbackd/api.h"
#include "feedbackd/metrics.h"
#include "feedbackd/store_stats.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static void sample_gauges(struct api_env *env, struct metrics_gauges *g)
{
	struct store_stats ss;
	metrics_sample_process(g);
	g->writer_queue_depth = (double)writer_queue_depth(env->writer);
	g->writer_queue_capacity = (double)env->cfg->queue_capacity;
	g->rescore_queue_depth = -1;
	g->rescore_lag_seconds = -1;
	g->database_bytes = -1;
	/* A database that cannot be read leaves its series out of this scrape:
	 * the counters are still worth serving, and /readyz reports the fault. */
	if (store_stats(env->store, &ss) != 0)
		return;
	g->rescore_queue_depth = (double)ss.pending_submissions;
	int64_t now = (int64_t)time(NULL);
	g->rescore_lag_seconds = ss.pending_submissions > 0 && now > ss.oldest_pending_at
	                             ? (double)(now - ss.oldest_pending_at)
	                             : 0;
	g->database_bytes = (double)ss.database_bytes;
}

void api_metrics(struct http_request *req)
{
	struct api_env *env = req->app;
	struct metrics_gauges g;
	char *text = NULL;
	size_t len = 0;
	sample_gauges(env, &g);
	if (env->metrics == NULL || metrics_render(env->metrics, &g, &text, &len) != 0) {
		http_reply_problem(req, 500, "the metrics could not be rendered", NULL);
		return;
	}
	http_reply_raw(req, 200, METRICS_CONTENT_TYPE, text, len);
	free(text);
}
