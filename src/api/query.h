/* Query strings: allowed names, duplicates, typed values, opaque cursors.
 * Every problem is added to a struct validation and reported as 422, so a
 * typo never silently returns unfiltered data. */
#ifndef FEEDBACKD_API_QUERY_H
#define FEEDBACKD_API_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feedbackd/http.h"
#include "feedbackd/model.h"

#define QUERY_MAX_PARAMS 16
#define QUERY_MAX_VALUE 512
#define CURSOR_MAX 256
/* Longest timestamp text query_time reads spaces in ("+" sent unencoded). */
#define QUERY_TIME_MAX 36

/* values[i] receives the value of allowed[i] (NULL when absent). allowed is
 * NULL-terminated. Unknown and repeated names are validation errors. */
void query_collect(struct http_request *req, const char *const allowed[],
		   const char *values[QUERY_MAX_PARAMS], struct validation *v);

/* For endpoints that take no query parameters: true, after a 422 reply
 * naming them, when the request has any. */
bool query_reject_any(struct http_request *req);

/* Typed parsers: each returns false (and adds an error) on a bad value. */
bool query_int(const char *value, const char *name, long min, long max, long *out,
	       struct validation *v);
bool query_time(const char *value, const char *name, int64_t *out, struct validation *v);
bool query_text(const char *value, const char *name, size_t max_chars, struct validation *v);
/* Index of value in names (NULL-terminated), or -1 with an error. */
int query_enum(const char *value, const char *name, const char *const names[],
	       struct validation *v);

/* Finish a list reply {"data": [...], "next_cursor": ...}: next_cursor is
 * the given string, or null when cursor is NULL (the last page). */
bool query_page_cursor(cJSON *body, const char *cursor);

/* Opaque cursors: base64url of a printable payload. */
void cursor_encode(const char *payload, char out[static CURSOR_MAX]);
/* Decodes into out (at most CURSOR_MAX bytes, NUL-terminated); false if not a cursor. */
bool cursor_decode(const char *cursor, char out[static CURSOR_MAX]);

#endif
