/* libFuzzer target: what a URL carries before any handler logic.
 *
 * The input's first byte picks a method; the rest, up to the first NUL, is
 * used as a path for router_match over the real route table (api_routes)
 * and as a value for each query-string parser: cursor_decode, rfc3339_parse,
 * query_int, query_text, query_enum, and auth_bearer_token for the
 * Authorization header. Each result is checked for the invariants the
 * handlers rely on; a violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"
#include "feedbackd/api.h"
#include "feedbackd/auth.h"
#include "feedbackd/http.h"
#include "feedbackd/model.h"

#define FUZZ_MAX_TEXT 4096

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static const char *const methods[] = {"GET", "POST", "HEAD", "OPTIONS", "DELETE", "PUT"};

static void fuzz_router(const char *method, const char *text)
{
	char path[FUZZ_MAX_TEXT + 1];
	size_t len = strlen(text);
	memcpy(path, text, len + 1);
	const struct http_route *route = NULL;
	const char *params[HTTP_MAX_PARAMS] = {NULL};
	char allow[96];
	enum route_result r = router_match(api_routes, api_routes_count, method, path, &route,
	                                   params, allow, sizeof(allow));
	if (r == ROUTE_FOUND) {
		REQUIRE(route >= api_routes && route < api_routes + api_routes_count);
		for (size_t i = 0; i < HTTP_MAX_PARAMS && params[i]; i++) {
			/* captures point into the caller's buffer, are non-empty,
			 * hold no '/' */
			REQUIRE(params[i] >= path && params[i] <= path + len);
			REQUIRE(params[i][0] != '\0' && strchr(params[i], '/') == NULL);
		}
	} else if (r == ROUTE_METHOD_NOT_ALLOWED) {
		REQUIRE(allow[0] != '\0' && strlen(allow) < sizeof(allow));
	} else {
		REQUIRE(r == ROUTE_NOT_FOUND);
	}
}

static void fuzz_cursor(const char *text)
{
	char out[CURSOR_MAX], enc[CURSOR_MAX], again[CURSOR_MAX];
	if (!cursor_decode(text, out))
		return;
	size_t n = strlen(out);
	REQUIRE(n < CURSOR_MAX);
	for (size_t i = 0; i < n; i++)
		REQUIRE(out[i] >= 0x20 && out[i] <= 0x7e);
	/* payloads short enough to encode whole come back unchanged */
	if (n <= 180) {
		cursor_encode(out, enc);
		REQUIRE(cursor_decode(enc, again) || n == 0);
		REQUIRE(n == 0 || strcmp(out, again) == 0);
	}
}

static void fuzz_time(const char *text)
{
	int64_t t = 0, back = 0;
	char buf[21], plus[QUERY_TIME_MAX + 1];
	struct validation v = {0};
	/* query_time reads a space as the '+' that form encoding turned into
	 * one (only in values short enough to be a timestamp) */
	const char *expect = text;
	size_t len = strlen(text);
	if (len <= QUERY_TIME_MAX) {
		for (size_t i = 0; i <= len; i++)
			plus[i] = text[i] == ' ' ? '+' : text[i];
		expect = plus;
	}
	bool ok = rfc3339_parse(expect, &t) == 0;
	REQUIRE(query_time(text, "since", &back, &v) == ok);
	REQUIRE(ok == (v.n == 0));
	REQUIRE(!ok || back == t);
	if (!ok)
		return;
	/* years 0001..9999 format and parse back to the same second */
	if (t >= -62135596800LL && t <= 253402300799LL) {
		rfc3339_format(t, buf);
		REQUIRE(rfc3339_parse(buf, &back) == 0 && back == t);
	}
}

static void fuzz_scalars(const char *text)
{
	static const char *const types[] = {"survey", "nps", NULL};
	struct validation v = {0};
	long n = 0;
	if (query_int(text, "limit", 1, 500, &n, &v))
		REQUIRE(n >= 1 && n <= 500 && v.n == 0);
	else
		REQUIRE(v.n == 1);
	v.n = 0;
	if (query_text(text, "customer_id", 128, &v))
		REQUIRE(utf8_valid(text, strlen(text)) && utf8_length(text) <= 128);
	v.n = 0;
	int e = query_enum(text, "type", types, &v);
	REQUIRE(e == -1 ? v.n == 1 : strcmp(types[e], text) == 0);
}

static void fuzz_bearer(const char *text)
{
	size_t len = 99;
	const char *key = auth_bearer_token(text, &len);
	if (key == NULL) {
		REQUIRE(len == 0);
		return;
	}
	REQUIRE(key >= text && key + len <= text + strlen(text) && len > 0);
	for (size_t i = 0; i < len; i++)
		REQUIRE((unsigned char)key[i] > 0x20 && (unsigned char)key[i] < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > FUZZ_MAX_TEXT)
		return 0;
	const char *method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	char text[FUZZ_MAX_TEXT + 1];
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	fuzz_router(method, text);
	fuzz_cursor(text);
	fuzz_time(text);
	fuzz_scalars(text);
	fuzz_bearer(text);
	return 0;
}
