/* Idempotency rows and the writer probe (see idempotency.h). */
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "feedbackd/error.h"
#include "feedbackd/idempotency.h"

void idem_record_release(struct idem_record *r)
{
	if (r == NULL)
		return;
	free(r->location);
	free(r->reply);
	memset(r, 0, sizeof(*r));
}

static void hash_len(struct sha256_ctx *h, uint64_t n)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(n >> (56 - 8 * i));
	sha256_update(h, sizeof(b), b);
}

/* Length-prefixed, so that no two field sequences hash alike. */
static void hash_field(struct sha256_ctx *h, const void *data, size_t len)
{
	hash_len(h, len);
	if (len > 0)
		sha256_update(h, len, data);
}

void idem_fingerprint(const uint8_t api_digest[AUTH_DIGEST_LEN], const char *key,
                      uint8_t out[IDEM_DIGEST_LEN])
{
	struct sha256_ctx h;
	sha256_init(&h);
	hash_field(&h, api_digest, AUTH_DIGEST_LEN);
	hash_field(&h, key, strlen(key));
	sha256_digest(&h, IDEM_DIGEST_LEN, out);
}

void idem_request_digest(const char *method, const char *path, const char *body, size_t len,
                         uint8_t out[IDEM_DIGEST_LEN])
{
	struct sha256_ctx h;
	sha256_init(&h);
	hash_field(&h, method, strlen(method));
	hash_field(&h, path, strlen(path));
	hash_field(&h, body, len);
	sha256_digest(&h, IDEM_DIGEST_LEN, out);
}

static char *column_dup(sqlite3_stmt *stmt, int col, size_t *len)
{
	const unsigned char *text = sqlite3_column_text(stmt, col);
	size_t n = (size_t)sqlite3_column_bytes(stmt, col);
	if (text == NULL)
		return NULL;
	char *copy = malloc(n + 1);
	if (copy) {
		memcpy(copy, text, n);
		copy[n] = '\0';
	}
	if (len)
		*len = n;
	return copy;
}

int idem_lookup(struct db_conn *c, const uint8_t api_digest[AUTH_DIGEST_LEN], const char *key,
                int64_t now, struct idem_record *out)
{
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *stmt =
	    db_stmt(c, "SELECT status, location, reply, request_digest"
	               " FROM idempotency_keys"
	               " WHERE key_digest = ? AND idem_key = ? AND created_at >= ?");
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_blob(stmt, 1, api_digest, AUTH_DIGEST_LEN, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, now - IDEM_TTL_S);
	int rc = sqlite3_step(stmt);
	int err = 0;
	if (rc == SQLITE_DONE) {
		err = FBD_ENOTFOUND;
	} else if (rc != SQLITE_ROW) {
		err = db_error(rc);
	} else {
		out->status = sqlite3_column_int(stmt, 0);
		bool has_location = sqlite3_column_type(stmt, 1) != SQLITE_NULL;
		out->location = has_location ? column_dup(stmt, 1, NULL) : NULL;
		out->reply = column_dup(stmt, 2, &out->reply_len);
		const void *d = sqlite3_column_blob(stmt, 3);
		if ((has_location && out->location == NULL) || out->reply == NULL)
			err = FBD_ENOMEM;
		else if (d == NULL || sqlite3_column_bytes(stmt, 3) != IDEM_DIGEST_LEN)
			err = FBD_EDB;
		else
			memcpy(out->request_digest, d, IDEM_DIGEST_LEN);
	}
	sqlite3_reset(stmt);
	if (err != 0)
		idem_record_release(out);
	return err;
}

int idem_store(struct db_conn *c, const uint8_t api_digest[AUTH_DIGEST_LEN], const char *key,
               const struct idem_record *r, int64_t now)
{
	/* REPLACE only ever meets an expired row: while a key is in progress
	 * the in-flight set keeps every other request with it away. */
	sqlite3_stmt *stmt =
	    db_stmt(c, "INSERT OR REPLACE INTO idempotency_keys (key_digest,"
	               " idem_key, request_digest, status, location, reply, created_at)"
	               " VALUES (?, ?, ?, ?, ?, ?, ?)");
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_blob(stmt, 1, api_digest, AUTH_DIGEST_LEN, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 3, r->request_digest, IDEM_DIGEST_LEN, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 4, r->status);
	if (r->location)
		sqlite3_bind_text(stmt, 5, r->location, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, 5);
	sqlite3_bind_text(stmt, 6, r->reply, (int)r->reply_len, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 7, now);
	return db_step_done(c, stmt);
}

int idem_purge(struct db_conn *c, int64_t cutoff, int limit, int *deleted)
{
	*deleted = 0;
	sqlite3_stmt *stmt =
	    db_stmt(c, "DELETE FROM idempotency_keys WHERE (key_digest, idem_key) IN"
	               " (SELECT key_digest, idem_key FROM idempotency_keys"
	               " WHERE created_at < ? ORDER BY created_at LIMIT ?)");
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_int64(stmt, 1, cutoff);
	sqlite3_bind_int(stmt, 2, limit);
	int err = db_step_done(c, stmt);
	if (err == 0)
		*deleted = sqlite3_changes(c->db);
	return err;
}

/* Insert the padding, then drop it: the pages are allocated (and fail with
 * SQLITE_FULL when the file cannot grow) and are back on the free list at
 * commit, ready for the next submissions. */
int store_probe_write(struct db_conn *c, int64_t now, int *db_code)
{
	static const char *const steps[] = {
	    "INSERT INTO writer_probe (id, probed_at, pad) VALUES (1, ?1, zeroblob(?2))"
	    " ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at, pad = excluded.pad",
	    "UPDATE writer_probe SET pad = NULL WHERE id = 1",
	};
	*db_code = 0;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		sqlite3_stmt *stmt = db_stmt(c, steps[i]);
		if (stmt == NULL) {
			*db_code = sqlite3_extended_errcode(c->db);
			return db_conn_error(c);
		}
		if (i == 0) {
			sqlite3_bind_int64(stmt, 1, now);
			sqlite3_bind_int(stmt, 2, STORE_PROBE_BYTES);
		}
		int rc = sqlite3_step(stmt);
		if (rc != SQLITE_DONE)
			*db_code = sqlite3_extended_errcode(c->db);
		sqlite3_reset(stmt);
		if (rc != SQLITE_DONE)
			return db_error(rc);
	}
	return 0;
}
