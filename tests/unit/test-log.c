/* The JSON-lines logger: what reaches stderr, when, and in which order.
 * stderr is pointed at a temporary file around each case and read back. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "feedbackd/log.h"

static int saved_stderr = -1;
static FILE *captured;

static void capture_begin(void)
{
	fflush(stderr);
	captured = tmpfile();
	saved_stderr = dup(STDERR_FILENO);
	if (captured == NULL || saved_stderr < 0 || dup2(fileno(captured), STDERR_FILENO) < 0) {
		perror("capture");
		exit(2);
	}
}

/* What was written to stderr since capture_begin(), without ending it. */
static char *captured_text(void)
{
	static char text[1 << 20];
	rewind(captured);
	size_t n = fread(text, 1, sizeof(text) - 1, captured);
	text[n] = '\0';
	return text;
}

static void capture_end(void)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	fclose(captured);
	captured = NULL;
}

static size_t count(const char *text, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_access_lines_wait_for_flush(void)
{
	capture_begin();
	log_request("rid-1", "GET", "/v1/customers/{customer_id}", 200, 1.234);
	CHECK_STR(captured_text(), ""); /* gathered, not written yet */
	log_flush();
	const char *text = captured_text();
	CHECK(strstr(text, "\"msg\":\"request\",\"request_id\":\"rid-1\",\"method\":\"GET\","
	                   "\"route\":\"/v1/customers/{customer_id}\",\"status\":200,"
	                   "\"duration_ms\":1.23}\n") != NULL);
	CHECK_INT(count(text, "\n"), 1);
	log_flush(); /* nothing twice */
	CHECK_INT(count(captured_text(), "\n"), 1);
	capture_end();
}

static void test_other_lines_go_out_at_once_in_order(void)
{
	capture_begin();
	log_request("rid-a", "POST", "/v1/surveys", 201, 0.5);
	log_warn("disk %s", "slow");
	const char *text = captured_text();
	const char *req = strstr(text, "rid-a"), *warn = strstr(text, "disk slow");
	CHECK(req != NULL && warn != NULL && req < warn);
	CHECK(strstr(text, "\"level\":\"warn\"") != NULL);
	capture_end();
}

static void test_full_buffer_is_written(void)
{
	capture_begin();
	/* far more than the 32 KiB buffer: the first lines go out unasked */
	for (int i = 0; i < 2000; i++)
		log_request("rid-many", "GET", "/v1/responses", 200, 0.25);
	size_t before_flush = count(captured_text(), "rid-many");
	CHECK(before_flush > 0);
	log_flush();
	CHECK_INT(count(captured_text(), "rid-many"), 2000);
	capture_end();
}

static void test_values_are_escaped_and_bounded(void)
{
	char long_route[1000];
	memset(long_route, 'r', sizeof(long_route) - 1);
	long_route[sizeof(long_route) - 1] = '\0';
	capture_begin();
	log_request("q\"b\\c\n\x01", "G\xff", long_route, 404, -3);
	log_flush();
	const char *text = captured_text();
	CHECK(strstr(text, "\"request_id\":\"q\\\"b\\\\c\\n\\u0001\"") != NULL);
	CHECK(strstr(text, "\"method\":\"G\\ufffd\"") != NULL);
	CHECK(strstr(text, "\"duration_ms\":0.00}") != NULL); /* negative: 0 */
	/* the route is cut to 256 bytes with its quotes, status still there */
	const char *route = strstr(text, "\"route\":\"");
	CHECK(route != NULL && strspn(route + 9, "r") == 254 && route[9 + 254] == '"');
	CHECK(strstr(text, "\"status\":404") != NULL);
	capture_end();
}

static void test_durations_are_rounded(void)
{
	capture_begin();
	log_request("d1", "GET", "/", 200, 12.345678);
	log_request("d2", "GET", "/", 200, 0.004);
	log_request("d3", "GET", "/", 200, 1500);
	log_flush();
	const char *text = captured_text();
	CHECK(strstr(text, "\"duration_ms\":12.35}") != NULL);
	CHECK(strstr(text, "\"duration_ms\":0.00}") != NULL);
	CHECK(strstr(text, "\"duration_ms\":1500.00}") != NULL);
	capture_end();
}

/* Each line starts with its UTC time to the millisecond, the second as
 * gmtime_r() gives it (formatted once a second per thread). */
static void test_time_is_rfc3339_utc(void)
{
	capture_begin();
	/* the clock the logger reads: time() may lag it by a tick */
	struct timespec before, after;
	clock_gettime(CLOCK_REALTIME, &before);
	log_request("t1", "GET", "/", 200, 1);
	log_warn("tick");
	clock_gettime(CLOCK_REALTIME, &after);
	const char *text = captured_text();
	int lines = 0;
	for (const char *line = text; *line; line = strchr(line, '\n') + 1, lines++) {
		int y, mo, d, h, mi, sec, ms, used = 0;
		CHECK(sscanf(line, "{\"time\":\"%4d-%2d-%2dT%2d:%2d:%2d.%3dZ\",\"level\":%n", &y,
		             &mo, &d, &h, &mi, &sec, &ms, &used) == 7 &&
		      used == 43);
		struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
		                .tm_min = mi, .tm_sec = sec};
		time_t t = timegm(&tm);
		CHECK(t >= before.tv_sec && t <= after.tv_sec && ms >= 0 && ms <= 999);
	}
	CHECK_INT(lines, 2);
	capture_end();
}

static void *log_from_thread(void *arg)
{
	for (int i = 0; i < 10; i++)
		log_request(arg, "GET", "/", 200, 1);
	return NULL;
}

/* Threads gather into buffers of their own: a flush and any other line
 * still bring out every access line gathered before, whoever gathered it. */
static void test_lines_of_other_threads(void)
{
	pthread_t t[3];
	char *names[3] = {"thread-a", "thread-b", "thread-c"};
	capture_begin();
	for (int i = 0; i < 3; i++)
		CHECK(pthread_create(&t[i], NULL, log_from_thread, names[i]) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	log_warn("after the threads");
	const char *text = captured_text();
	const char *warn = strstr(text, "after the threads");
	CHECK(warn != NULL);
	for (int i = 0; i < 3; i++) {
		char needle[40];
		snprintf(needle, sizeof(needle), "\"request_id\":\"%s\"", names[i]);
		CHECK_INT(count(text, needle), 10);
		const char *last = NULL;
		for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
			last = p;
		CHECK(last != NULL && warn != NULL && last < warn);
	}
	capture_end();
}

int main(void)
{
	test_time_is_rfc3339_utc();
	test_lines_of_other_threads();
	test_access_lines_wait_for_flush();
	test_other_lines_go_out_at_once_in_order();
	test_full_buffer_is_written();
	test_values_are_escaped_and_bounded();
	test_durations_are_rounded();
	return check_report("log");
}
