/* API keys and scopes.
 *
 * Only SHA-256 digests of keys are kept. A key given in plain text in the
 * configuration is hashed while parsing; "scope:sha256:<hex>" lets operators
 * avoid putting the plain key into the configuration at all.
 *
 * Timing: auth_lookup() hashes the presented key once and then compares the
 * digest with every configured digest using nettle's memeql_sec(), folding
 * the scopes of a match in with a mask instead of a branch. The work done is
 * therefore the same whether the key matches the first entry, the last one or
 * none; only the number of configured keys (not a secret) shows.
 *
 * Error messages name the entry by its position ("entry 2"), never by its
 * text: a mistyped entry may well be a key with its scope missing. */
#include "feedbackd/auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <nettle/base16.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>

#include "feedbackd/error.h"

#define AUTH_SHA256_PREFIX "sha256:"
#define AUTH_SHA256_PREFIX_LEN (sizeof(AUTH_SHA256_PREFIX) - 1)


static bool auth_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Narrow [*s, *s + *n) to exclude surrounding spaces and tabs. */
static void auth_trim(const char **s, size_t *n)
{
	while (*n > 0 && auth_is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && auth_is_space((*s)[*n - 1]))
		(*n)--;
}

static void auth_sha256(const char *data, size_t len, uint8_t digest[AUTH_DIGEST_LEN])
{
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, len, (const uint8_t *)data);
	sha256_digest(&ctx, AUTH_DIGEST_LEN, digest);
	/* The context has seen the plain key; do not leave it on the stack. */
	explicit_bzero(&ctx, sizeof(ctx));
}

/* The scope bits for a scope name; admin carries ingest and read with it so
 * that a plain bit test is enough for callers that forget auth_allows(). */
static unsigned auth_scope_parse(const char *s, size_t n)
{
	if (n == 6 && strncasecmp(s, "ingest", n) == 0)
		return AUTH_SCOPE_INGEST;
	if (n == 4 && strncasecmp(s, "read", n) == 0)
		return AUTH_SCOPE_READ;
	if (n == 5 && strncasecmp(s, "admin", n) == 0)
		return AUTH_SCOPE_ADMIN | AUTH_SCOPE_INGEST | AUTH_SCOPE_READ;
	return AUTH_SCOPE_NONE;
}

/* 64 hex digits (either case) into the 32-byte digest. */
static int auth_hex_digest(const char *hex, size_t n, uint8_t digest[AUTH_DIGEST_LEN])
{
	struct base16_decode_ctx ctx;
	size_t len = AUTH_DIGEST_LEN;
	if (n != 2 * AUTH_DIGEST_LEN || strspn(hex, "0123456789abcdefABCDEF") < n)
		return FBD_EINVAL;
	base16_decode_init(&ctx);
	if (!base16_decode_update(&ctx, &len, digest, n, hex) || !base16_decode_final(&ctx) ||
	    len != AUTH_DIGEST_LEN)
		return FBD_EINVAL;
	return 0;
}

static int auth_key_check(const char *key, size_t n, unsigned entry, char *err, size_t err_len)
{
	if (n == 0) {
		fbd_errorf(err, err_len, "entry %u: the key is empty", entry);
		return FBD_EINVAL;
	}
	if (n > AUTH_MAX_KEY_LEN) {
		fbd_errorf(err, err_len, "entry %u: the key is longer than %d characters", entry,
		         AUTH_MAX_KEY_LEN);
		return FBD_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)key[i];

		if (c <= 0x20 || c >= 0x7f) {
			fbd_errorf(err, err_len,
			         "entry %u: the key must be printable ASCII without spaces", entry);
			return FBD_EINVAL;
		}
	}
	return 0;
}

/* The digest for the key part of an entry: given as sha256:<hex>, or hashed. */
static int auth_entry_digest(const char *key, size_t n, unsigned entry,
                             uint8_t digest[AUTH_DIGEST_LEN], char *err, size_t err_len)
{
	int rc;

	if (n >= AUTH_SHA256_PREFIX_LEN &&
	    memcmp(key, AUTH_SHA256_PREFIX, AUTH_SHA256_PREFIX_LEN) == 0) {
		rc = auth_hex_digest(key + AUTH_SHA256_PREFIX_LEN, n - AUTH_SHA256_PREFIX_LEN,
		                     digest);
		if (rc < 0)
			fbd_errorf(err, err_len, "entry %u: a sha256: key must be 64 hex digits",
			         entry);
		return rc;
	}
	rc = auth_key_check(key, n, entry, err, err_len);
	if (rc < 0)
		return rc;
	auth_sha256(key, n, digest);
	return 0;
}

/* Add a digest, merging scopes when the same key is listed twice (so that
 * "ingest:k,read:k" grants both and uses one slot). */
static int auth_ring_add(struct auth_keyring *ring, unsigned scopes,
                         const uint8_t digest[AUTH_DIGEST_LEN], char *err, size_t err_len)
{
	for (size_t i = 0; i < ring->n; i++) {
		if (memcmp(ring->keys[i].digest, digest, AUTH_DIGEST_LEN) == 0) {
			ring->keys[i].scopes |= scopes;
			return 0;
		}
	}
	if (ring->n >= AUTH_MAX_KEYS) {
		fbd_errorf(err, err_len, "too many API keys (at most %d)", AUTH_MAX_KEYS);
		return FBD_EINVAL;
	}
	ring->keys[ring->n].scopes = scopes;
	memcpy(ring->keys[ring->n].digest, digest, AUTH_DIGEST_LEN);
	ring->n++;
	return 0;
}

static int auth_ring_add_entry(struct auth_keyring *ring, const char *s, size_t n, unsigned entry,
                               char *err, size_t err_len)
{
	uint8_t digest[AUTH_DIGEST_LEN];
	const char *colon, *end;
	const char *key;
	size_t scope_len, key_len;
	unsigned scopes;
	int rc;

	auth_trim(&s, &n);
	if (n == 0) {
		fbd_errorf(err, err_len, "entry %u is empty", entry);
		return FBD_EINVAL;
	}
	end = s + n;
	colon = memchr(s, ':', n);
	if (colon == NULL) {
		fbd_errorf(err, err_len, "entry %u: expected scope:key", entry);
		return FBD_EINVAL;
	}
	scope_len = (size_t)(colon - s);
	auth_trim(&s, &scope_len);
	scopes = auth_scope_parse(s, scope_len);
	if (scopes == AUTH_SCOPE_NONE) {
		fbd_errorf(err, err_len, "entry %u: unknown scope (expected ingest, read or admin)",
		         entry);
		return FBD_EINVAL;
	}
	key = colon + 1;
	key_len = (size_t)(end - key);
	auth_trim(&key, &key_len);
	rc = auth_entry_digest(key, key_len, entry, digest, err, err_len);
	if (rc == 0)
		rc = auth_ring_add(ring, scopes, digest, err, err_len);
	return rc;
}

int auth_keyring_parse(struct auth_keyring *ring, const char *spec, char *err, size_t err_len)
{
	struct auth_keyring tmp;
	const char *p = spec;
	unsigned entry = 0;
	size_t n;
	int rc = 0;

	if (ring == NULL || spec == NULL) {
		fbd_errorf(err, err_len, "no key list given");
		return FBD_EINVAL;
	}
	n = strlen(spec);
	auth_trim(&p, &n);
	if (n == 0)
		return 0; /* an empty list configures no keys */

	/* Work on a copy so that a bad entry leaves the ring as it was. */
	tmp = *ring;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);

		rc = auth_ring_add_entry(&tmp, p, len, ++entry, err, err_len);
		if (rc < 0)
			goto out;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*ring = tmp;
out:
	explicit_bzero(&tmp, sizeof(tmp));
	return rc;
}

unsigned auth_lookup(const struct auth_keyring *ring, const char *key, size_t key_len,
                     uint8_t digest_out[AUTH_DIGEST_LEN])
{
	uint8_t digest[AUTH_DIGEST_LEN];
	unsigned granted = AUTH_SCOPE_NONE;

	/* No configured key is empty or longer than the limit, and refusing
	 * these early only reveals the length the client chose itself. */
	if (key == NULL || key_len == 0 || key_len > AUTH_MAX_KEY_LEN) {
		if (digest_out != NULL)
			memset(digest_out, 0, AUTH_DIGEST_LEN);
		return AUTH_SCOPE_NONE;
	}
	auth_sha256(key, key_len, digest);
	for (size_t i = 0; ring != NULL && i < ring->n; i++) {
		unsigned match =
		    (unsigned)(memeql_sec(digest, ring->keys[i].digest, AUTH_DIGEST_LEN) != 0);

		/* No early exit and no branch on the result: see the note on top. */
		granted |= ring->keys[i].scopes * match;
	}
	if (digest_out != NULL)
		memcpy(digest_out, digest, AUTH_DIGEST_LEN);
	return granted;
}

const char *auth_bearer_token(const char *header, size_t *len)
{
	const char *p = header;
	size_t n = 0;

	if (len != NULL)
		*len = 0;
	if (p == NULL)
		return NULL;
	while (auth_is_space(*p))
		p++;
	/* The scheme name is case-insensitive (RFC 9110, 11.1). */
	if (strncasecmp(p, "Bearer", 6) != 0 || !auth_is_space(p[6]))
		return NULL;
	p += 6;
	while (auth_is_space(*p))
		p++;
	while ((unsigned char)p[n] > 0x20 && (unsigned char)p[n] < 0x7f)
		n++;
	if (n == 0)
		return NULL;
	for (const char *q = p + n; *q != '\0'; q++) {
		/* A second word or a control byte: not a single token. */
		if (!auth_is_space(*q))
			return NULL;
	}
	if (len != NULL)
		*len = n;
	return p;
}

bool auth_allows(unsigned granted, enum auth_scope required)
{
	if (granted & AUTH_SCOPE_ADMIN)
		return true;
	return (granted & (unsigned)required) == (unsigned)required;
}
