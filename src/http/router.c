/* Method + path pattern matching over a static route table.
 *
 * Tables are small (tens of routes), so a linear scan beats anything
 * cleverer. A path that matches some pattern under another method yields 405
 * with the methods that would have matched, as RFC 9110 asks for Allow. */
#include <stdio.h>
#include <string.h>

#include "feedbackd/http.h"

/* Match pattern against path, segment by segment. On success params[] point
 * into path (its '/' separators after captures are overwritten with NULs,
 * so the caller passes a scratch copy and only does this once it matched). */
static bool pattern_matches(const char *pattern, const char *path)
{
	const char *p = pattern, *s = path;
	while (*p && *s) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			size_t seg = strcspn(s, "/");
			if (close == NULL || seg == 0)
				return false;
			p = close + 1;
			s += seg;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

static void capture_params(const char *pattern, char *path, const char *params[HTTP_MAX_PARAMS])
{
	size_t n = 0;
	const char *p = pattern;
	char *s = path;
	while (*p && *s) {
		if (*p == '{') {
			size_t seg = strcspn(s, "/");
			if (n < HTTP_MAX_PARAMS)
				params[n++] = s;
			p = strchr(p, '}') + 1;
			s += seg;
			if (*s == '/') {
				*s = '\0';
				/* the pattern's '/' is consumed here too */
				if (*p == '/')
					p++;
				s++;
			}
			continue;
		}
		p++;
		s++;
	}
}

static bool method_is(const struct http_route *r, const char *method)
{
	if (strcmp(r->method, method) == 0)
		return true;
	return strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0;
}

static void allow_add(char *allow, size_t allow_len, const char *method)
{
	if (strstr(allow, method))
		return;
	size_t used = strlen(allow);
	snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", method);
}

enum route_result router_match(const struct http_route *routes, size_t n, const char *method,
			       char *path_buf, const struct http_route **out,
			       const char *params[HTTP_MAX_PARAMS], char *allow, size_t allow_len)
{
	bool path_known = false;
	if (allow_len)
		allow[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!pattern_matches(routes[i].pattern, path_buf))
			continue;
		if (method_is(&routes[i], method)) {
			*out = &routes[i];
			capture_params(routes[i].pattern, path_buf, params);
			return ROUTE_FOUND;
		}
		path_known = true;
		allow_add(allow, allow_len, routes[i].method);
		if (strcmp(routes[i].method, "GET") == 0)
			allow_add(allow, allow_len, "HEAD");
	}
	return path_known ? ROUTE_METHOD_NOT_ALLOWED : ROUTE_NOT_FOUND;
}
