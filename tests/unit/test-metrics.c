/* util/metrics.c: counting and the exact text of the exposition. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "feedbackd/metrics.h"

static void noop(struct http_request *req)
{
	(void)req;
}

/* Two methods share "/v1/things": one series. */
static const struct http_route routes[] = {
    {"POST", "/v1/things", noop, 0, HTTP_BODY_SINGLE},
    {"GET", "/v1/things", noop, 0, HTTP_BODY_NONE},
    {"GET", "/v1/things/{id}", noop, 0, HTTP_BODY_NONE},
};

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static size_t count_prefix(const char *text, const char *prefix)
{
	size_t count = 0, n = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, n) == 0)
			count++;
	return count;
}

static void test_requests_and_histogram(void)
{
	struct metrics *m = NULL;
	CHECK_INT(metrics_new(&m, routes, 3), 0);
	/* pattern pointer from the table, and an equal string from elsewhere */
	metrics_observe_request(m, routes[0].pattern, 201, 0.0004); /* bucket 0.0005 */
	char copy[] = "/v1/things";
	metrics_observe_request(m, copy, 201, 0.003);            /* bucket 0.005 */
	metrics_observe_request(m, "/v1/things", 422, 0.0005);   /* le is inclusive: 0.0005 */
	metrics_observe_request(m, "/v1/things/{id}", 404, 7.0); /* only +Inf */
	metrics_observe_request(m, "unmatched", 404, 0.02);
	metrics_observe_request(m, "/nowhere", 1000, -1.0); /* unmatched, status 599, 0 s */
	metrics_add_stored(m, 2);
	metrics_add_stored(m, 3);

	char *text = NULL;
	size_t len = 0;
	CHECK_INT(metrics_render(m, NULL, &text, &len), 0);
	CHECK(text != NULL && strlen(text) == len);
	if (text == NULL)
		goto out;
	CHECK(has_line(text, "# TYPE feedbackd_http_requests_total counter"));
	CHECK(
	    has_line(text, "feedbackd_http_requests_total{route=\"/v1/things\",status=\"201\"} 2"));
	CHECK(
	    has_line(text, "feedbackd_http_requests_total{route=\"/v1/things\",status=\"422\"} 1"));
	CHECK(has_line(
	    text, "feedbackd_http_requests_total{route=\"/v1/things/{id}\",status=\"404\"} 1"));
	CHECK(
	    has_line(text, "feedbackd_http_requests_total{route=\"unmatched\",status=\"404\"} 1"));
	CHECK(
	    has_line(text, "feedbackd_http_requests_total{route=\"unmatched\",status=\"599\"} 1"));
	/* zero counters are not listed */
	CHECK(!has_line(text,
	                "feedbackd_http_requests_total{route=\"/v1/things\",status=\"200\"} 0"));
	CHECK_INT(count_prefix(text, "feedbackd_http_requests_total{"), 5);

	/* /v1/things: 0.0004, 0.0005, 0.003 -> cumulative 2,2,2,3,... */
	const char *b = "feedbackd_http_request_duration_seconds_bucket{route=\"/v1/things\",le=";
	char line[160];
	const char *les[] = {"0.0005", "0.001", "0.0025", "0.005", "5", "+Inf"};
	const int want[] = {2, 2, 2, 3, 3, 3};
	for (size_t i = 0; i < 6; i++) {
		snprintf(line, sizeof(line), "%s\"%s\"} %d", b, les[i], want[i]);
		CHECK(has_line(text, line));
	}
	CHECK(has_line(text,
	               "feedbackd_http_request_duration_seconds_count{route=\"/v1/things\"} 3"));
	CHECK(has_line(
	    text, "feedbackd_http_request_duration_seconds_sum{route=\"/v1/things\"} 0.003900000"));
	CHECK(has_line(text, "feedbackd_http_request_duration_seconds_bucket{route=\"/v1/things/"
	                     "{id}\",le=\"5\"} 0"));
	CHECK(has_line(text, "feedbackd_http_request_duration_seconds_bucket{route=\"/v1/things/"
	                     "{id}\",le=\"+Inf\"} 1"));
	CHECK(has_line(
	    text,
	    "feedbackd_http_request_duration_seconds_sum{route=\"/v1/things/{id}\"} 7.000000000"));
	/* 3 series (two patterns + unmatched) x (12 bounds + +Inf) */
	CHECK_INT(count_prefix(text, "feedbackd_http_request_duration_seconds_bucket{"), 3 * 13);
	CHECK(has_line(text, "feedbackd_submissions_stored_total 5"));
	/* gauges left out without a sample */
	CHECK(strstr(text, "feedbackd_writer_queue_depth") == NULL);
out:
	free(text);
	metrics_free(m);
}

static void test_gauges(void)
{
	struct metrics *m = NULL;
	CHECK_INT(metrics_new(&m, routes, 0), 0);
	struct metrics_gauges g = {
	    .writer_queue_depth = 16,
	    .writer_queue_capacity = 8192,
	    .rescore_queue_depth = 3,
	    .rescore_lag_seconds = 0,
	    .database_bytes = 4096 + 32992,
	    .process_resident_bytes = -1,
	    .process_cpu_seconds = 1.25,
	    .process_open_fds = -1,
	    .process_max_fds = -1,
	    .process_start_time = 1795462883.5,
	};
	char *text = NULL;
	size_t len = 0;
	CHECK_INT(metrics_render(m, &g, &text, &len), 0);
	if (text == NULL)
		goto out;
	CHECK(has_line(text, "feedbackd_writer_queue_depth 16"));
	CHECK(has_line(text, "feedbackd_writer_queue_capacity 8192"));
	CHECK(has_line(text, "feedbackd_rescore_queue_depth 3"));
	CHECK(has_line(text, "feedbackd_rescore_lag_seconds 0"));
	CHECK(has_line(text, "feedbackd_database_size_bytes 37088"));
	CHECK(has_line(text, "# TYPE process_cpu_seconds_total counter"));
	CHECK(has_line(text, "process_cpu_seconds_total 1.25"));
	CHECK(has_line(text, "process_start_time_seconds 1795462883.5"));
	CHECK(strstr(text, "process_resident_memory_bytes") == NULL); /* -1: unknown */
	/* with no routes, only the unmatched series */
	CHECK_INT(count_prefix(text, "feedbackd_http_request_duration_seconds_count{"), 1);
	CHECK(
	    has_line(text, "feedbackd_http_request_duration_seconds_count{route=\"unmatched\"} 0"));
out:
	free(text);
	metrics_free(m);
}

static void test_process_sample(void)
{
	struct metrics_gauges g = {0};
	metrics_sample_process(&g);
	CHECK(g.process_resident_bytes > 0);
	CHECK(g.process_cpu_seconds >= 0);
	CHECK(g.process_open_fds >= 3); /* stdin, stdout, stderr */
	CHECK(g.process_max_fds >= g.process_open_fds);
	CHECK(g.process_start_time > 1.6e9);
}

int main(void)
{
	test_requests_and_histogram();
	test_gauges();
	test_process_sample();
	metrics_free(NULL);
	return check_report("metrics");
}
