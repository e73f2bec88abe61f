/* Unit tests for src/http/auth.c: bearer parsing, key parsing, lookup and
 * scope implication. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "feedbackd/auth.h"
#include "feedbackd/error.h"

#include "check.h"

/* SHA-256("abc"), FIPS 180-2 appendix B.1. */
#define ABC_HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define ABC_HEX_UPPER "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"

static const uint8_t abc_digest[AUTH_DIGEST_LEN] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};

static unsigned lookup(const struct auth_keyring *ring, const char *key)
{
	return auth_lookup(ring, key, strlen(key), NULL);
}

/* The token of header as a string ("" when there is none). */
static const char *token(const char *header)
{
	static char buf[AUTH_MAX_KEY_LEN + 1];
	size_t len = 99;
	const char *t = auth_bearer_token(header, &len);

	if (t == NULL) {
		CHECK_INT(len, 0);
		return "";
	}
	if (len > AUTH_MAX_KEY_LEN)
		return "(too long)";
	memcpy(buf, t, len);
	buf[len] = '\0';
	return buf;
}

static void test_bearer(void)
{
	const char *h = "Bearer abc";
	size_t len = 0;

	CHECK(auth_bearer_token(h, &len) == h + 7);
	CHECK_INT(len, 3);
	CHECK_STR(token("Bearer abc"), "abc");
	CHECK_STR(token("bearer abc"), "abc");
	CHECK_STR(token("BEARER abc"), "abc");
	CHECK_STR(token("bEaReR abc"), "abc");
	CHECK_STR(token("Bearer    abc"), "abc");
	CHECK_STR(token("Bearer abc   "), "abc");
	CHECK_STR(token("  Bearer\tabc\t"), "abc");
	CHECK_STR(token("Bearer pk_live:1/2+3=="), "pk_live:1/2+3==");

	/* Missing, empty or malformed: no token. */
	CHECK(auth_bearer_token(NULL, &len) == NULL);
	CHECK_INT(len, 0);
	CHECK_STR(token(""), "");
	CHECK_STR(token("Bearer"), "");
	CHECK_STR(token("Bearer "), "");
	CHECK_STR(token("Bearer     "), "");
	CHECK_STR(token("Bearerabc"), "");
	CHECK_STR(token("Basic YWxhZGRpbjpvcGVuc2VzYW1l"), "");
	CHECK_STR(token("abc"), "");
	CHECK_STR(token("Bearer abc def"), "");
	CHECK_STR(token("Bearer abc\x01"), "");
	CHECK_STR(token("Bearer ab\x7f"), "");
	CHECK_STR(token("Bearer \xc3\xa9t\xc3\xa9"), "");
	CHECK(auth_bearer_token("Bearer abc", NULL) != NULL);
}

static void test_parse_and_lookup(void)
{
	struct auth_keyring ring = {0};
	char err[256] = "";
	uint8_t digest[AUTH_DIGEST_LEN];

	CHECK_INT(auth_keyring_parse(&ring, "ingest:pk_1,read:rk_2,admin:ak_3", err, sizeof(err)),
	          0);
	CHECK_INT(ring.n, 3);
	CHECK_INT(lookup(&ring, "pk_1"), AUTH_SCOPE_INGEST);
	CHECK_INT(lookup(&ring, "rk_2"), AUTH_SCOPE_READ);
	CHECK_INT(lookup(&ring, "ak_3"), AUTH_SCOPE_ADMIN | AUTH_SCOPE_INGEST | AUTH_SCOPE_READ);

	/* Misses: unknown, prefix, extension, case, empty, NULL. */
	CHECK_INT(lookup(&ring, "pk_2"), AUTH_SCOPE_NONE);
	CHECK_INT(lookup(&ring, "pk_"), AUTH_SCOPE_NONE);
	CHECK_INT(lookup(&ring, "pk_11"), AUTH_SCOPE_NONE);
	CHECK_INT(lookup(&ring, "PK_1"), AUTH_SCOPE_NONE);
	CHECK_INT(lookup(&ring, ""), AUTH_SCOPE_NONE);
	CHECK_INT(auth_lookup(&ring, NULL, 0, NULL), AUTH_SCOPE_NONE);
	/* key_len, not the terminator, bounds the key. */
	CHECK_INT(auth_lookup(&ring, "pk_1x", 4, NULL), AUTH_SCOPE_INGEST);
	CHECK_INT(auth_lookup(NULL, "pk_1", 4, NULL), AUTH_SCOPE_NONE);

	/* digest_out receives SHA-256 of the presented key, hit or miss. */
	CHECK_INT(lookup(&ring, "abc"), AUTH_SCOPE_NONE);
	CHECK_INT(auth_lookup(&ring, "abc", 3, digest), AUTH_SCOPE_NONE);
	CHECK(memcmp(digest, abc_digest, AUTH_DIGEST_LEN) == 0);

	/* Appends to what the ring holds. */
	CHECK_INT(auth_keyring_parse(&ring, "read:abc", err, sizeof(err)), 0);
	CHECK_INT(ring.n, 4);
	CHECK_INT(auth_lookup(&ring, "abc", 3, digest), AUTH_SCOPE_READ);
	CHECK(memcmp(digest, abc_digest, AUTH_DIGEST_LEN) == 0);
	CHECK(memcmp(ring.keys[3].digest, abc_digest, AUTH_DIGEST_LEN) == 0);
	CHECK_INT(lookup(&ring, "pk_1"), AUTH_SCOPE_INGEST);
}

static void test_sha256_form(void)
{
	struct auth_keyring ring = {0};
	char err[256] = "";

	CHECK_INT(auth_keyring_parse(&ring, "ingest:sha256:" ABC_HEX, err, sizeof(err)), 0);
	CHECK_INT(ring.n, 1);
	CHECK(memcmp(ring.keys[0].digest, abc_digest, AUTH_DIGEST_LEN) == 0);
	CHECK_INT(lookup(&ring, "abc"), AUTH_SCOPE_INGEST);
	/* The digest itself is not a key. */
	CHECK_INT(lookup(&ring, ABC_HEX), AUTH_SCOPE_NONE);
	CHECK_INT(lookup(&ring, "sha256:" ABC_HEX), AUTH_SCOPE_NONE);

	memset(&ring, 0, sizeof(ring));
	CHECK_INT(auth_keyring_parse(&ring, "admin:sha256:" ABC_HEX_UPPER, err, sizeof(err)), 0);
	CHECK_INT(lookup(&ring, "abc"), AUTH_SCOPE_ADMIN | AUTH_SCOPE_INGEST | AUTH_SCOPE_READ);
}

static void test_parse_forms(void)
{
	struct auth_keyring ring = {0};
	char err[256] = "";

	/* Surrounding spaces are trimmed; scope names are case-insensitive. */
	CHECK_INT(auth_keyring_parse(&ring, " ingest : pk_1 , READ:rk_2 ", err, sizeof(err)), 0);
	CHECK_INT(ring.n, 2);
	CHECK_INT(lookup(&ring, "pk_1"), AUTH_SCOPE_INGEST);
	CHECK_INT(lookup(&ring, "rk_2"), AUTH_SCOPE_READ);

	/* A key may contain ':'; only the first one separates the scope. */
	memset(&ring, 0, sizeof(ring));
	CHECK_INT(auth_keyring_parse(&ring, "read:a:b", err, sizeof(err)), 0);
	CHECK_INT(lookup(&ring, "a:b"), AUTH_SCOPE_READ);
	CHECK_INT(lookup(&ring, "b"), AUTH_SCOPE_NONE);

	/* The same key twice merges its scopes into one slot. */
	memset(&ring, 0, sizeof(ring));
	CHECK_INT(auth_keyring_parse(&ring, "ingest:k,read:k", err, sizeof(err)), 0);
	CHECK_INT(ring.n, 1);
	CHECK_INT(lookup(&ring, "k"), AUTH_SCOPE_INGEST | AUTH_SCOPE_READ);
	CHECK_INT(auth_keyring_parse(&ring, "read:sha256:" ABC_HEX ",ingest:abc", err, sizeof(err)),
	          0);
	CHECK_INT(ring.n, 2);
	CHECK_INT(lookup(&ring, "abc"), AUTH_SCOPE_INGEST | AUTH_SCOPE_READ);

	/* An empty list adds nothing. */
	memset(&ring, 0, sizeof(ring));
	CHECK_INT(auth_keyring_parse(&ring, "", err, sizeof(err)), 0);
	CHECK_INT(auth_keyring_parse(&ring, "   ", err, sizeof(err)), 0);
	CHECK_INT(ring.n, 0);
}

/* Parse spec into a ring holding one key; check that it fails with exactly
 * the message want, leaves the ring as it was and does not echo secret. */
static void check_bad(const char *spec, const char *want, const char *secret)
{
	struct auth_keyring ring = {0};
	char err[256] = "";

	CHECK_INT(auth_keyring_parse(&ring, "admin:keep", err, sizeof(err)), 0);
	CHECK_INT(auth_keyring_parse(&ring, spec, err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, want);
	if (secret != NULL)
		CHECK(strstr(err, secret) == NULL);
	CHECK_INT(ring.n, 1);
	CHECK_INT(lookup(&ring, "keep"), AUTH_SCOPE_ADMIN | AUTH_SCOPE_INGEST | AUTH_SCOPE_READ);
}

static void test_parse_errors(void)
{
	char err[64] = "";

	check_bad("pk_secret", "entry 1: expected scope:key", "pk_secret");
	check_bad("read:ok,owner:pk_secret",
	          "entry 2: unknown scope (expected ingest, read or admin)", "pk_secret");
	check_bad("pk:secret", "entry 1: unknown scope (expected ingest, read or admin)", "pk");
	check_bad("ingest:", "entry 1: the key is empty", NULL);
	check_bad("ingest:   ", "entry 1: the key is empty", NULL);
	check_bad("ingest:pk secret", "entry 1: the key must be printable ASCII without spaces",
	          "secret");
	check_bad("ingest:pk\tsecret", "entry 1: the key must be printable ASCII without spaces",
	          "secret");
	check_bad("ingest:s\xc3\xa9"
	          "cret",
	          "entry 1: the key must be printable ASCII without spaces", "cret");
	check_bad("ingest:a,,read:b", "entry 2 is empty", NULL);
	check_bad("ingest:a,", "entry 2 is empty", NULL);
	check_bad(",ingest:a", "entry 1 is empty", NULL);
	check_bad("ingest:sha256:abc", "entry 1: a sha256: key must be 64 hex digits", NULL);
	check_bad("ingest:sha256:", "entry 1: a sha256: key must be 64 hex digits", NULL);
	check_bad("ingest:sha256:" ABC_HEX "0", "entry 1: a sha256: key must be 64 hex digits",
	          NULL);
	check_bad("ingest:sha256:ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	          "entry 1: a sha256: key must be 64 hex digits", NULL);

	/* NULL arguments. */
	CHECK_INT(auth_keyring_parse(NULL, "read:x", err, sizeof(err)), FBD_EINVAL);
	CHECK_INT(auth_keyring_parse(NULL, "read:x", NULL, 0), FBD_EINVAL);
}

static void test_limits(void)
{
	struct auth_keyring ring = {0};
	char spec[AUTH_MAX_KEYS * 16 + 64], key[AUTH_MAX_KEY_LEN + 2];
	char entry[AUTH_MAX_KEY_LEN + 16], err[256] = "";
	size_t n = 0;

	for (int i = 0; i < AUTH_MAX_KEYS; i++)
		n += (size_t)snprintf(spec + n, sizeof(spec) - n, "%sread:k%d", i ? "," : "", i);
	CHECK_INT(auth_keyring_parse(&ring, spec, err, sizeof(err)), 0);
	CHECK_INT(ring.n, AUTH_MAX_KEYS);
	CHECK_INT(lookup(&ring, "k0"), AUTH_SCOPE_READ);
	CHECK_INT(lookup(&ring, "k63"), AUTH_SCOPE_READ);
	CHECK_INT(auth_keyring_parse(&ring, "read:one-more", err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "too many API keys (at most 64)");
	/* A key already present still merges when the ring is full. */
	CHECK_INT(auth_keyring_parse(&ring, "ingest:k5", err, sizeof(err)), 0);
	CHECK_INT(lookup(&ring, "k5"), AUTH_SCOPE_READ | AUTH_SCOPE_INGEST);

	memset(key, 'k', sizeof(key));
	key[AUTH_MAX_KEY_LEN] = '\0';
	memset(&ring, 0, sizeof(ring));
	(void)snprintf(entry, sizeof(entry), "read:%s", key);
	CHECK_INT(auth_keyring_parse(&ring, entry, err, sizeof(err)), 0);
	CHECK_INT(lookup(&ring, key), AUTH_SCOPE_READ);
	key[AUTH_MAX_KEY_LEN] = 'k';
	key[AUTH_MAX_KEY_LEN + 1] = '\0';
	(void)snprintf(entry, sizeof(entry), "read:%s", key);
	CHECK_INT(auth_keyring_parse(&ring, entry, err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "entry 1: the key is longer than 512 characters");
	/* Too long to be any configured key. */
	CHECK_INT(lookup(&ring, key), AUTH_SCOPE_NONE);
}

static void test_allows(void)
{
	const unsigned admin = AUTH_SCOPE_ADMIN | AUTH_SCOPE_INGEST | AUTH_SCOPE_READ;

	CHECK(auth_allows(AUTH_SCOPE_INGEST, AUTH_SCOPE_INGEST));
	CHECK(!auth_allows(AUTH_SCOPE_INGEST, AUTH_SCOPE_READ));
	CHECK(!auth_allows(AUTH_SCOPE_INGEST, AUTH_SCOPE_ADMIN));
	CHECK(auth_allows(AUTH_SCOPE_READ, AUTH_SCOPE_READ));
	CHECK(!auth_allows(AUTH_SCOPE_READ, AUTH_SCOPE_INGEST));
	CHECK(!auth_allows(AUTH_SCOPE_READ, AUTH_SCOPE_ADMIN));
	CHECK(auth_allows(AUTH_SCOPE_INGEST | AUTH_SCOPE_READ, AUTH_SCOPE_READ));
	CHECK(!auth_allows(AUTH_SCOPE_INGEST | AUTH_SCOPE_READ, AUTH_SCOPE_ADMIN));
	CHECK(auth_allows(admin, AUTH_SCOPE_INGEST));
	CHECK(auth_allows(admin, AUTH_SCOPE_READ));
	CHECK(auth_allows(admin, AUTH_SCOPE_ADMIN));
	/* The admin bit alone implies the others. */
	CHECK(auth_allows(AUTH_SCOPE_ADMIN, AUTH_SCOPE_INGEST));
	CHECK(auth_allows(AUTH_SCOPE_ADMIN, AUTH_SCOPE_READ));
	CHECK(!auth_allows(AUTH_SCOPE_NONE, AUTH_SCOPE_INGEST));
	CHECK(!auth_allows(AUTH_SCOPE_NONE, AUTH_SCOPE_READ));
	CHECK(!auth_allows(AUTH_SCOPE_NONE, AUTH_SCOPE_ADMIN));
}

int main(void)
{
	test_bearer();
	test_parse_and_lookup();
	test_sha256_form();
	test_parse_forms();
	test_parse_errors();
	test_limits();
	test_allows();
	return check_report("auth");
}
