/* API keys and scopes.
 *
 * Keys are kept only as SHA-256 digests: plain keys from the configuration
 * are hashed at start-up and then forgotten. A presented key is hashed and
 * compared with every configured digest in constant time, so neither the
 * position of a mismatch nor which key matched leaks through timing. */
#ifndef FEEDBACKD_AUTH_H
#define FEEDBACKD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_MAX_KEYS 64
#define AUTH_DIGEST_LEN 32
#define AUTH_MAX_KEY_LEN 512

enum auth_scope {
	AUTH_SCOPE_NONE = 0,
	AUTH_SCOPE_INGEST = 1,
	AUTH_SCOPE_READ = 2,
	AUTH_SCOPE_ADMIN = 4,
};

struct auth_key {
	unsigned scopes; /* AUTH_SCOPE_* bits; admin implies ingest and read */
	uint8_t digest[AUTH_DIGEST_LEN];
};

struct auth_keyring {
	size_t n;
	struct auth_key keys[AUTH_MAX_KEYS];
};

/* Parse "scope:key,scope:sha256:<64 hex>,..." and append to ring.
 * Returns 0 or FBD_EINVAL with a message in err (which never contains the key). */
int auth_keyring_parse(struct auth_keyring *ring, const char *spec, char *err, size_t err_len);

/* The scopes granted to a presented key (AUTH_SCOPE_NONE if unknown).
 * Runs in time independent of where the key matches. If digest_out is not
 * NULL it receives the key's digest (to scope idempotency keys per API key). */
unsigned auth_lookup(const struct auth_keyring *ring, const char *key, size_t key_len,
		     uint8_t digest_out[AUTH_DIGEST_LEN]);

/* The key from an "Authorization: Bearer <key>" header value, or NULL.
 * *len receives its length. Does not allocate. */
const char *auth_bearer_token(const char *header, size_t *len);

/* True when the granted scopes cover the required one (admin covers all). */
bool auth_allows(unsigned granted, enum auth_scope required);

#endif
