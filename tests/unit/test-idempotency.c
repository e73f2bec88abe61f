/* Unit tests for src/store/idempotency.c: the digests (expected values from
 * Python's hashlib over the documented length-prefixed encoding), and the
 * rows on a real SQLite database in a temporary folder. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feedbackd/error.h"
#include "feedbackd/idempotency.h"

#include "check.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_digests(void)
{
	uint8_t d[IDEM_DIGEST_LEN], e[IDEM_DIGEST_LEN];
	char text[2 * IDEM_DIGEST_LEN + 1];
	const char *body = "{\"customer_id\":\"c\",\"csat\":5}";
	idem_request_digest("POST", "/v1/surveys", body, strlen(body), d);
	hex(d, sizeof(d), text);
	CHECK_STR(text, "a6208fe782e7da8f92cf66872834c370d7198e6273e4ec4230a4a934e06c20f2");
	idem_request_digest("POST", "/v1/batch", NULL, 0, d);
	hex(d, sizeof(d), text);
	CHECK_STR(text, "fa991dd1b5e34cf73fd2e38b2c92cdc9bc7eb8d05566a900011a9ced16927b09");
	/* length prefixes keep field boundaries apart */
	idem_request_digest("POST", "/v1/ab", "c", 1, d);
	idem_request_digest("POST", "/v1/a", "bc", 2, e);
	CHECK(memcmp(d, e, sizeof(d)) != 0);

	uint8_t api[AUTH_DIGEST_LEN] = {0};
	idem_fingerprint(api, "key-1", d);
	hex(d, sizeof(d), text);
	CHECK_STR(text, "095db6f2ff94c0ea6b7ac59b27ec61362c1395dd18cb2f51c4555ed4ac2f19d8");
	api[0] = 1;
	idem_fingerprint(api, "key-1", e);
	CHECK(memcmp(d, e, sizeof(d)) != 0);
}

static struct idem_record record(int status, const char *reply, const char *location)
{
	struct idem_record r = {.status = status,
	                        .reply = (char *)reply,
	                        .reply_len = strlen(reply),
	                        .location = (char *)location};
	memset(r.request_digest, 0xab, sizeof(r.request_digest));
	return r;
}

static void test_rows(const char *path)
{
	struct store *st = NULL;
	struct store_options opt = {.path = path, .sync = FBD_SYNC_NORMAL, .cache_mb = 1};
	CHECK_INT(store_open(&st, &opt), 0);
	if (st == NULL)
		return;
	struct db_conn *w = NULL;
	CHECK_INT(db_conn_open(&w, &opt, true), 0);
	uint8_t api[AUTH_DIGEST_LEN] = {7};
	struct idem_record r = record(201, "{\"id\":\"x\"}", "/v1/responses/x");
	struct idem_record got;
	CHECK_INT(idem_store(w, api, "k1", &r, 1000), 0);
	r = record(200, "{\"results\":[]}", NULL);
	CHECK_INT(idem_store(w, api, "k2", &r, 2000), 0);

	struct db_conn *rd = store_reader(st);
	CHECK_INT(idem_lookup(rd, api, "k1", 1000 + IDEM_TTL_S, &got), 0);
	CHECK_INT(got.status, 201);
	CHECK_STR(got.reply, "{\"id\":\"x\"}");
	CHECK_INT(got.reply_len, 10);
	CHECK_STR(got.location, "/v1/responses/x");
	CHECK_INT(got.request_digest[31], 0xab);
	idem_record_release(&got);
	CHECK_INT(idem_lookup(rd, api, "k2", 2000, &got), 0);
	CHECK(got.location == NULL);
	idem_record_release(&got);
	/* expired one second past the TTL, other API key, other key */
	CHECK_INT(idem_lookup(rd, api, "k1", 1001 + IDEM_TTL_S, &got), FBD_ENOTFOUND);
	uint8_t other[AUTH_DIGEST_LEN] = {8};
	CHECK_INT(idem_lookup(rd, other, "k1", 1000, &got), FBD_ENOTFOUND);
	CHECK_INT(idem_lookup(rd, api, "K1", 1000, &got), FBD_ENOTFOUND);

	/* an expired row not purged yet is replaced */
	r = record(201, "{\"id\":\"y\"}", "/v1/responses/y");
	CHECK_INT(idem_store(w, api, "k1", &r, 5000 + IDEM_TTL_S), 0);
	CHECK_INT(idem_lookup(rd, api, "k1", 5000 + IDEM_TTL_S, &got), 0);
	CHECK_STR(got.reply, "{\"id\":\"y\"}");
	idem_record_release(&got);

	int deleted = -1;
	for (int i = 0; i < 5; i++) {
		char key[16];
		snprintf(key, sizeof(key), "old-%d", i);
		r = record(201, "{}", NULL);
		CHECK_INT(idem_store(w, api, key, &r, 100 + i), 0);
	}
	CHECK_INT(idem_purge(w, 2001, 3, &deleted), 0);
	CHECK_INT(deleted, 3); /* old-0..old-2, the oldest first */
	CHECK_INT(idem_lookup(rd, api, "old-3", 103, &got), 0);
	idem_record_release(&got);
	CHECK_INT(idem_lookup(rd, api, "old-2", 102, &got), FBD_ENOTFOUND);
	CHECK_INT(idem_purge(w, 2001, 3, &deleted), 0);
	CHECK_INT(deleted, 3); /* old-3, old-4 and k2 (2000) */
	CHECK_INT(idem_purge(w, 2001, 3, &deleted), 0);
	CHECK_INT(deleted, 0);

	int code = -1;
	CHECK_INT(store_probe_write(w, 3000, &code), 0);
	CHECK_INT(code, 0);
	/* Shrink the file to no free pages, then cap it at that size: the
	 * probe's pages cannot be found, as on a full disk. */
	CHECK_INT(db_exec(w, "VACUUM"), 0);
	sqlite3_stmt *stmt = NULL;
	int pages = 0;
	CHECK_INT(sqlite3_prepare_v2(w->db, "PRAGMA page_count", -1, &stmt, NULL), SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		pages = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	db_conn_close(w);
	opt.max_pages = pages;
	CHECK_INT(db_conn_open(&w, &opt, true), 0);
	CHECK_INT(db_exec(w, "BEGIN IMMEDIATE"), 0);
	CHECK_INT(store_probe_write(w, 3001, &code), FBD_ESTORAGE);
	CHECK_INT(code, SQLITE_FULL);
	/* SQLite may already have rolled the transaction back itself */
	if (!sqlite3_get_autocommit(w->db))
		CHECK_INT(db_exec(w, "ROLLBACK"), 0);
	db_conn_close(w);
	store_close(st);
}

int main(void)
{
	char dir[] = "/tmp/fbd-unit-idem-XXXXXX";
	char path[PATH_MAX];
	test_digests();
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/f.db", dir);
	test_rows(path);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_report("idempotency");
}
