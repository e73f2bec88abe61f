/* Idempotency keys (SPEC 3): the stored outcome of a successful request,
 * keyed by the caller's API key and its Idempotency-Key header.
 *
 * What counts as "the same request": the request digest is SHA-256 over the
 * method, the path and the body bytes exactly as sent (each length-prefixed).
 * A retry must resend the same bytes; a body that means the same but is
 * spelled differently (other whitespace or member order) is a different
 * request and gets 422. That is the IETF draft's "fingerprint" read strictly:
 * it never calls two different requests equal, and clients retry by resending
 * the bytes they kept.
 *
 * Rows are written only by the writer thread, inside the transaction that
 * stores the request's submissions, and read through any reader connection.
 * Pure: no logging. */
#ifndef FEEDBACKD_IDEMPOTENCY_H
#define FEEDBACKD_IDEMPOTENCY_H

#include <stddef.h>
#include <stdint.h>

#include "feedbackd/auth.h"
#include "feedbackd/store.h"

#define IDEM_DIGEST_LEN 32
#define IDEM_MAX_KEY 255
/* Keys are honoured for at least this long, then purged. */
#define IDEM_TTL_S (24 * 3600)

/* A stored outcome. Strings are malloc'd and owned by the record. */
struct idem_record {
	int status;
	char *location; /* Location header of the original reply, or NULL */
	char *reply;    /* body, NUL-terminated */
	size_t reply_len;
	uint8_t request_digest[IDEM_DIGEST_LEN];
};

void idem_record_release(struct idem_record *r);

/* The in-progress fingerprint of (API key, Idempotency-Key). */
void idem_fingerprint(const uint8_t api_digest[AUTH_DIGEST_LEN], const char *key,
                      uint8_t out[IDEM_DIGEST_LEN]);

/* The request digest described above. body may be NULL when len is 0. */
void idem_request_digest(const char *method, const char *path, const char *body, size_t len,
                         uint8_t out[IDEM_DIGEST_LEN]);

/* The record stored for (api_digest, key) no earlier than now - IDEM_TTL_S.
 * Returns 0 and fills *out (caller releases it), FBD_ENOTFOUND, or a storage
 * error code. *out is zeroed first. */
int idem_lookup(struct db_conn *c, const uint8_t api_digest[AUTH_DIGEST_LEN], const char *key,
                int64_t now, struct idem_record *out);

/* Store r for (api_digest, key) at time now, replacing an expired row that
 * was not purged yet. For the writer's transaction. */
int idem_store(struct db_conn *c, const uint8_t api_digest[AUTH_DIGEST_LEN], const char *key,
               const struct idem_record *r, int64_t now);

/* Delete at most limit rows created before cutoff, oldest first; *deleted
 * receives how many went. Bounded so one pass never holds the writer long. */
int idem_purge(struct db_conn *c, int64_t cutoff, int limit, int *deleted);

/* The writer's health probe: one committed-sized write that needs
 * PROBE_BYTES of free pages (taken and given back in the same transaction),
 * so it fails while the database cannot grow. On failure *db_code receives
 * SQLite's extended result code (for the log). */
#define STORE_PROBE_BYTES 65536
int store_probe_write(struct db_conn *c, int64_t now, int *db_code);

#endif
