/* Idempotency-Key: replay, conflicts and the in-flight set (see idem.h).
 *
 * Why the in-flight set is entered before the stored record is looked up:
 * the record appears only when the original commits, and the original
 * leaves the set only after that; so a repeat either finds the key held
 * (409), or finds the committed record (replay), never neither. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/handlers.h"
#include "api/idem.h"
#include "feedbackd/api.h"
#include "feedbackd/error.h"
#include "feedbackd/inflight.h"
#include "feedbackd/log.h"


/* A 422 like every other: the offending input named in errors[]. */
static void reply_key_reused(struct http_request *req)
{
	struct validation v = {0};
	validation_add(&v, "Idempotency-Key", "already used with a different request");
	http_reply_problem(req, 422, "this Idempotency-Key was already used with a different request",
	                   &v);
}

static bool replay_or_refuse(struct http_request *req, struct api_idem *st)
{
	struct api_env *env = req->app;
	struct db_conn *c = store_reader(env->store);
	struct idem_record stored;
	int err = c ? idem_lookup(c, st->api_digest, st->key, (int64_t)time(NULL), &stored)
	            : FBD_ESTORAGE;
	if (err == FBD_ENOTFOUND)
		return true;
	if (err != 0) {
		api_reply_store_error(req, err);
		return false;
	}
	if (memcmp(stored.request_digest, st->rec.request_digest, IDEM_DIGEST_LEN) == 0)
		api_idem_reply(req, &stored, true);
	else
		reply_key_reused(req);
	idem_record_release(&stored);
	return false;
}

bool api_idem_begin(struct http_request *req, struct api_idem *st)
{
	struct api_env *env = req->app;
	const char *key = http_header(req, "Idempotency-Key");
	if (key == NULL)
		return true;
	/* api_check_headers has checked the format (1..255 printable ASCII);
	 * the length is checked again because the copy depends on it. */
	size_t len = strlen(key);
	if (len == 0 || len > IDEM_MAX_KEY) {
		http_reply_problem(
		    req, 400, "Idempotency-Key must be 1 to 255 printable ASCII characters", NULL);
		return false;
	}
	memcpy(st->key, key, len + 1);
	memcpy(st->api_digest, req->key_digest, AUTH_DIGEST_LEN);
	idem_fingerprint(st->api_digest, st->key, st->fp);
	idem_request_digest(req->method, req->path, req->body, req->body_len,
	                    st->rec.request_digest);
	int err = inflight_enter(env->inflight, st->fp);
	if (err == FBD_ECONFLICT) {
		http_reply_problem(
		    req, 409, "a request with this Idempotency-Key is still being processed", NULL);
		return false;
	}
	if (err != 0) {
		http_add_header(req, "Retry-After", "1");
		http_reply_problem(req, 503, "too many requests in progress; retry shortly", NULL);
		return false;
	}
	st->active = true;
	st->set = env->inflight;
	if (replay_or_refuse(req, st))
		return true;
	api_idem_end(st);
	return false;
}

int api_idem_store(struct db_conn *c, struct api_idem *st, int status, char *body,
                   const char *location)
{
	if (!st->active) {
		free(body);
		return 0;
	}
	free(st->rec.reply);
	free(st->rec.location);
	st->rec.reply = body;
	st->rec.reply_len = body ? strlen(body) : 0;
	st->rec.location = location ? strdup(location) : NULL;
	st->rec.status = status;
	st->rendered = false;
	if (body == NULL || (location && st->rec.location == NULL))
		return FBD_ENOMEM;
	int err = idem_store(c, st->api_digest, st->key, &st->rec, (int64_t)time(NULL));
	st->rendered = err == 0;
	return err;
}

void api_idem_reply(struct http_request *req, const struct idem_record *rec, bool replayed)
{
	http_reply_raw(req, rec->status, "application/json", rec->reply, rec->reply_len);
	if (rec->location)
		http_add_header(req, "Location", rec->location);
	if (replayed)
		http_add_header(req, "Idempotent-Replayed", "true");
}

void api_idem_end(struct api_idem *st)
{
	if (st->active)
		inflight_leave(st->set, st->fp);
	st->active = false;
	st->rendered = false;
	idem_record_release(&st->rec);
}
