/* Idempotency-Key handling shared by the POST handlers (SPEC 3).
 *
 * A keyed request goes: api_idem_begin (in-flight set, then stored record:
 * replay / 422 / 409 / 503) -> validate -> writer job whose in_tx hook
 * renders the reply and stores it with api_idem_store, in the transaction of
 * the submissions -> the resume function replies with exactly the stored
 * bytes (api_idem_reply) -> api_idem_end. A request without the header
 * passes through untouched (active stays false). */
#ifndef FEEDBACKD_API_IDEM_H
#define FEEDBACKD_API_IDEM_H

#include <stdbool.h>

#include "feedbackd/http.h"
#include "feedbackd/idempotency.h"

/* Embedded in a handler's async state; zero-initialised means inactive. */
struct api_idem {
	bool active;   /* the request holds its key in the in-flight set */
	bool rendered; /* rec holds the reply rendered in the transaction */
	struct inflight *set;
	char key[IDEM_MAX_KEY + 1];
	uint8_t api_digest[AUTH_DIGEST_LEN];
	uint8_t fp[IDEM_DIGEST_LEN];
	struct idem_record rec; /* request_digest set by begin; the rest by the hook */
};

/* Returns true when the handler goes on (no key, or a new key now held);
 * false once it replied: the stored reply replayed, 422 (key used with
 * another request), 409 (in progress), 503 (set full or storage error). */
bool api_idem_begin(struct http_request *req, struct api_idem *st);

/* For the writer's in_tx hook: keep status and the rendered body (taken
 * over: freed here on error too) as this key's outcome. Returns 0 or an
 * error code that fails the group. No-op returning 0 when inactive. */
int api_idem_store(struct db_conn *c, struct api_idem *st, int status, char *body,
                   const char *location);

/* Reply with the rendered record (after a successful commit). */
void api_idem_reply(struct http_request *req, const struct idem_record *rec, bool replayed);

/* Leave the in-flight set and free the record. Safe to call twice. */
void api_idem_end(struct api_idem *st);

#endif
