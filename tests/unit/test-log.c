/* The JSON-lines logger: what reaches stderr, when, and in which order.
 * stderr is pointed at a temporary file around each case and read back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
	test_access_lines_wait_for_flush();
	test_other_lines_go_out_at_once_in_order();
	test_full_buffer_is_written();
	test_values_are_escaped_and_bounded();
	test_durations_are_rounded();
	return check_report("log");
}
