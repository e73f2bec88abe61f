/* Replies: JSON bodies and RFC 9457 problem details.
 *
 * This is the one place that maps a status to a problem type and title, so
 * every error the service sends has the same shape. 5xx details are fixed
 * texts chosen by the caller; nothing from SQLite or the file system goes in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feedbackd/http.h"

struct problem_kind {
	int status;
	const char *slug;
	const char *title;
};

static const struct problem_kind problem_kinds[] = {
	{400, "malformed-request", "Malformed request"},
	{401, "unauthorized", "Missing or unknown API key"},
	{403, "forbidden", "API key lacks the required scope"},
	{404, "not-found", "Not found"},
	{405, "method-not-allowed", "Method not allowed"},
	{408, "request-timeout", "Request not received in time"},
	{409, "conflict", "Conflict"},
	{413, "payload-too-large", "Request body too large"},
	{415, "unsupported-media-type", "Unsupported media type"},
	{422, "validation-failed", "Validation failed"},
	{429, "rate-limited", "Too many requests"},
	{500, "internal-error", "Internal error"},
	{503, "unavailable", "Service unavailable"},
};

static const struct problem_kind *problem_kind_for(int status)
{
	for (size_t i = 0; i < sizeof(problem_kinds) / sizeof(problem_kinds[0]); i++)
		if (problem_kinds[i].status == status)
			return &problem_kinds[i];
	return status >= 500 ? &problem_kinds[11] : &problem_kinds[0];
}

static void reply_clear(struct http_request *req)
{
	free(req->reply_body);
	req->reply_body = NULL;
	req->reply_len = 0;
}

static void reply_set_text(struct http_request *req, int status, char *text, bool problem)
{
	reply_clear(req);
	req->status = status;
	req->reply_is_problem = problem;
	if (text == NULL) {
		/* Out of memory while building the reply: an empty 503 is all that
		 * can honestly be said. */
		req->status = 503;
		return;
	}
	req->reply_body = text;
	req->reply_len = strlen(text);
}

/* Most replies (a profile, a submission, a problem) are well under this:
 * printed into a stack buffer and copied once, they cost one allocation
 * instead of cJSON's growing buffer (256, 512, 1024... bytes, reallocated
 * as it goes). Larger ones fall back to cJSON_PrintUnformatted. */
#define REPLY_STACK_PRINT 4096

static char *print_json(cJSON *body)
{
	char buf[REPLY_STACK_PRINT];
	if (!cJSON_PrintPreallocated(body, buf, sizeof(buf), false))
		return cJSON_PrintUnformatted(body);
	size_t len = strlen(buf);
	char *text = malloc(len + 1);
	if (text)
		memcpy(text, buf, len + 1);
	return text;
}

void http_reply_json(struct http_request *req, int status, cJSON *body)
{
	char *text = body ? print_json(body) : NULL;
	cJSON_Delete(body);
	reply_set_text(req, status, text, false);
}

static cJSON *errors_array(const struct validation *v)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; arr && i < v->n; i++) {
		cJSON *e = cJSON_CreateObject();
		if (e == NULL || !cJSON_AddItemToArray(arr, e) ||
		    !cJSON_AddStringToObject(e, "field", v->errors[i].field) ||
		    !cJSON_AddStringToObject(e, "message", v->errors[i].message)) {
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

cJSON *http_problem_json(int status, const char *detail, const struct validation *v)
{
	const struct problem_kind *kind = problem_kind_for(status);
	char type[80];
	snprintf(type, sizeof(type), "urn:feedbackd:problem:%s", kind->slug);
	cJSON *p = cJSON_CreateObject();
	bool ok = p && cJSON_AddStringToObject(p, "type", type) &&
		  cJSON_AddStringToObject(p, "title", kind->title) &&
		  json_add_number(p, "status", status) &&
		  cJSON_AddStringToObject(p, "detail", detail ? detail : kind->title);
	if (ok && v && v->n > 0) {
		cJSON *errs = errors_array(v);
		ok = errs && cJSON_AddItemToObject(p, "errors", errs);
		if (!ok)
			cJSON_Delete(errs);
	}
	if (!ok) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

void http_reply_problem_ex(struct http_request *req, int status, const char *detail,
			   const struct validation *v, cJSON *extra)
{
	cJSON *p = http_problem_json(status, detail, v);
	bool ok = p != NULL;
	for (cJSON *it = extra ? extra->child : NULL; ok && it;) {
		cJSON *next = it->next;
		cJSON *moved = cJSON_DetachItemViaPointer(extra, it);
		ok = cJSON_AddItemToObject(p, moved->string, moved);
		it = next;
	}
	cJSON_Delete(extra);
	char *text = ok ? cJSON_PrintUnformatted(p) : NULL;
	cJSON_Delete(p);
	reply_set_text(req, status, text, true);
}

void http_reply_problem(struct http_request *req, int status, const char *detail,
			const struct validation *v)
{
	http_reply_problem_ex(req, status, detail, v, NULL);
}

void http_reply_raw(struct http_request *req, int status, const char *content_type,
		    const char *body, size_t len)
{
	char *copy = malloc(len + 1);
	if (copy) {
		memcpy(copy, body, len);
		copy[len] = '\0';
	}
	reply_set_text(req, status, copy, false);
	if (copy) {
		req->reply_len = len;
		http_add_header(req, "Content-Type", content_type);
	}
}

void http_add_header(struct http_request *req, const char *name, const char *value)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		if (strcasecmp(req->header_names[i], name) == 0) {
			char *copy = strdup(value);
			if (copy) {
				free(req->header_values[i]);
				req->header_values[i] = copy;
			}
			return;
		}
	}
	if (req->n_headers == HTTP_MAX_HEADERS)
		return;
	char *copy = strdup(value);
	if (copy == NULL)
		return;
	req->header_names[req->n_headers] = name;
	req->header_values[req->n_headers++] = copy;
}
