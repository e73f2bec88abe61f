#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>

#include "api/query.h"

struct collect_ctx {
	const char *const *allowed;
	const char **values;
	struct validation *v;
};

static int collect_one(void *arg, const char *key, const char *value)
{
	struct collect_ctx *c = arg;
	for (size_t i = 0; c->allowed[i]; i++) {
		if (strcmp(c->allowed[i], key) != 0)
			continue;
		if (c->values[i])
			validation_add(c->v, key, "given more than once");
		else
			c->values[i] = value;
		return 0;
	}
	char field[64];
	snprintf(field, sizeof(field), "%.60s", key);
	validation_add(c->v, field, "unknown query parameter");
	return 0;
}

void query_collect(struct http_request *req, const char *const allowed[],
		   const char *values[QUERY_MAX_PARAMS], struct validation *v)
{
	struct collect_ctx c = {allowed, values, v};
	for (size_t i = 0; i < QUERY_MAX_PARAMS; i++)
		values[i] = NULL;
	(void)http_query_each(req, collect_one, &c);
}

bool query_reject_any(struct http_request *req)
{
	static const char *const none[] = {NULL};
	const char *values[QUERY_MAX_PARAMS];
	struct validation v = {0};
	query_collect(req, none, values, &v);
	if (v.n == 0)
		return false;
	http_reply_problem(req, 422, "this endpoint takes no query parameters", &v);
	return true;
}

bool query_int(const char *value, const char *name, long min, long max, long *out,
	       struct validation *v)
{
	char *end = NULL;
	errno = 0;
	long n = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || value[0] == '+' || value[0] == ' ' ||
	    n < min || n > max) {
		validation_add(v, name, "must be an integer between %ld and %ld", min, max);
		return false;
	}
	*out = n;
	return true;
}


bool query_time(const char *value, const char *name, int64_t *out, struct validation *v)
{
	/* An offset's '+' left unencoded in a query string arrives as a space
	 * (form encoding); no valid timestamp has a space, so read it as '+'. */
	char fixed[QUERY_TIME_MAX + 1];
	size_t len = strlen(value);
	if (len <= QUERY_TIME_MAX && memchr(value, ' ', len) != NULL) {
		memcpy(fixed, value, len + 1);
		for (char *sp = strchr(fixed, ' '); sp != NULL; sp = strchr(sp, ' '))
			*sp = '+';
		value = fixed;
	}
	if (rfc3339_parse(value, out) != 0) {
		validation_add(v, name, "must be an RFC 3339 timestamp, e.g. 2026-11-23T10:15:00Z");
		return false;
	}
	return true;
}

bool query_text(const char *value, const char *name, size_t max_chars, struct validation *v)
{
	size_t len = strlen(value);
	if (len == 0 || !utf8_valid(value, len) || utf8_length(value) > max_chars) {
		validation_add(v, name, "must be 1 to %zu characters of UTF-8", max_chars);
		return false;
	}
	return true;
}

int query_enum(const char *value, const char *name, const char *const names[],
	       struct validation *v)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], value) == 0)
			return i;
	char allowed[256] = "";
	size_t used = 0;
	for (int i = 0; names[i] && used < sizeof(allowed); i++)
		used += (size_t)snprintf(allowed + used, sizeof(allowed) - used, "%s%s",
					 i ? ", " : "", names[i]);
	validation_add(v, name, "must be one of: %s", allowed);
	return -1;
}

bool query_page_cursor(cJSON *body, const char *cursor)
{
	return cursor ? cJSON_AddStringToObject(body, "next_cursor", cursor) != NULL
		      : cJSON_AddNullToObject(body, "next_cursor") != NULL;
}

void cursor_encode(const char *payload, char out[static CURSOR_MAX])
{
	struct base64_encode_ctx ctx;
	size_t len = strlen(payload);
	if (BASE64_ENCODE_LENGTH(len) + BASE64_ENCODE_FINAL_LENGTH >= CURSOR_MAX)
		len = (CURSOR_MAX - BASE64_ENCODE_FINAL_LENGTH - 1) * 6 / 8;
	base64url_encode_init(&ctx);
	size_t n = base64_encode_update(&ctx, out, len, (const uint8_t *)payload);
	n += base64_encode_final(&ctx, out + n);
	/* padding carries no information in a URL parameter */
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
}

bool cursor_decode(const char *cursor, char out[static CURSOR_MAX])
{
	size_t len = strlen(cursor);
	if (len == 0 || len >= CURSOR_MAX || len % 4 == 1)
		return false;
	struct base64_decode_ctx ctx;
	base64url_decode_init(&ctx);
	size_t n = CURSOR_MAX - 1;
	if (!base64_decode_update(&ctx, &n, (uint8_t *)out, len, cursor))
		return false;
	/* no padding was sent, so the decoder may still hold a partial quantum;
	 * that is fine as long as the bits form whole bytes, checked above */
	out[n] = '\0';
	if (memchr(out, '\0', n) != NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
			return false;
	return true;
}
