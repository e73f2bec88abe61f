/* Per-client token buckets; see include/feedbackd/ratelimit.h.
 *
 * The bucket math is pure integer arithmetic on an injected clock. The
 * table is a fixed array probed linearly from the key's hash over a short
 * window: the keys are few (API keys from the configuration) or, with auth
 * off, client addresses, where the least recently used bucket of the window
 * is recycled so memory never grows. One mutex guards the table; the work
 * under it is a few dozen instructions per request. */
#include "feedbackd/ratelimit.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "feedbackd/error.h"
#include "feedbackd/http.h"

_Static_assert(RATELIMIT_KEY_LEN == AUTH_DIGEST_LEN, "a key digest is a rate-limit key");

#define RATELIMIT_PROBES 8
#define RATELIMIT_MIN_SLOTS 16
#define RATELIMIT_MAX_SLOTS ((size_t)1 << 20)

struct ratelimit_slot {
	bool used;
	uint8_t key[RATELIMIT_KEY_LEN];
	struct token_bucket bucket;
};

struct ratelimit {
	pthread_mutex_t lock;
	int64_t rate;
	int64_t burst;
	size_t mask; /* slots - 1, slots a power of two */
	struct ratelimit_slot *slots;
};

void token_bucket_init(struct token_bucket *b, int64_t burst, int64_t now_ns)
{
	b->tokens = burst * RATELIMIT_NANO;
	b->stamp_ns = now_ns;
}

static void token_bucket_refill(struct token_bucket *b, int64_t rate, int64_t burst, int64_t now_ns)
{
	int64_t full = burst * RATELIMIT_NANO;
	if (now_ns <= b->stamp_ns)
		return;
	int64_t elapsed = now_ns - b->stamp_ns;
	int64_t missing = full - b->tokens;
	b->stamp_ns = now_ns;
	if (missing <= 0)
		return;
	/* Compare times rather than multiply first: elapsed * rate could
	 * overflow after a long quiet spell; below the fill time it cannot. */
	int64_t fill_ns = (missing + rate - 1) / rate;
	if (elapsed >= fill_ns)
		b->tokens = full;
	else
		b->tokens += elapsed * rate;
}

bool token_bucket_take(struct token_bucket *b, int64_t rate, int64_t burst, int64_t now_ns,
                       int64_t *wait_ns)
{
	token_bucket_refill(b, rate, burst, now_ns);
	if (b->tokens >= RATELIMIT_NANO) {
		b->tokens -= RATELIMIT_NANO;
		return true;
	}
	*wait_ns = (RATELIMIT_NANO - b->tokens + rate - 1) / rate;
	return false;
}

int64_t ratelimit_retry_after(int64_t wait_ns)
{
	int64_t s = (wait_ns + RATELIMIT_NANO - 1) / RATELIMIT_NANO;
	return s < 1 ? 1 : s;
}

int ratelimit_new(struct ratelimit **out, int64_t rate, int64_t burst, size_t slots)
{
	*out = NULL;
	if (rate <= 0 || burst <= 0 || burst > INT64_MAX / RATELIMIT_NANO ||
	    slots > RATELIMIT_MAX_SLOTS)
		return FBD_EINVAL;
	size_t n = RATELIMIT_MIN_SLOTS;
	while (n < slots)
		n *= 2;
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	if (rl == NULL)
		return FBD_ENOMEM;
	rl->slots = calloc(n, sizeof(*rl->slots));
	if (rl->slots == NULL || pthread_mutex_init(&rl->lock, NULL) != 0) {
		free(rl->slots);
		free(rl);
		return FBD_ENOMEM;
	}
	rl->rate = rate;
	rl->burst = burst;
	rl->mask = n - 1;
	*out = rl;
	return 0;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl->slots);
	free(rl);
}

/* FNV-1a: keys are digests or addresses, not chosen to collide, and a
 * collision only shares a probe window. */
static uint64_t key_hash(const uint8_t key[RATELIMIT_KEY_LEN])
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < RATELIMIT_KEY_LEN; i++) {
		h ^= key[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* The key's slot: its own, else a free one, else the stalest of the window
 * (reset). Called with the lock held. */
static struct ratelimit_slot *slot_for(struct ratelimit *rl, const uint8_t key[RATELIMIT_KEY_LEN],
                                       int64_t now_ns)
{
	size_t start = (size_t)key_hash(key) & rl->mask;
	struct ratelimit_slot *victim = NULL;
	for (size_t i = 0; i < RATELIMIT_PROBES && i <= rl->mask; i++) {
		struct ratelimit_slot *s = &rl->slots[(start + i) & rl->mask];
		if (s->used && memcmp(s->key, key, RATELIMIT_KEY_LEN) == 0)
			return s;
		if (!s->used) {
			if (victim == NULL || victim->used)
				victim = s;
		} else if (victim == NULL ||
		           (victim->used && s->bucket.stamp_ns < victim->bucket.stamp_ns)) {
			victim = s;
		}
	}
	victim->used = true;
	memcpy(victim->key, key, RATELIMIT_KEY_LEN);
	token_bucket_init(&victim->bucket, rl->burst, now_ns);
	return victim;
}

bool ratelimit_take(struct ratelimit *rl, const uint8_t key[RATELIMIT_KEY_LEN], int64_t now_ns,
                    int64_t *retry_after_s)
{
	int64_t wait_ns = 0;
	pthread_mutex_lock(&rl->lock);
	struct ratelimit_slot *s = slot_for(rl, key, now_ns);
	bool ok = token_bucket_take(&s->bucket, rl->rate, rl->burst, now_ns, &wait_ns);
	pthread_mutex_unlock(&rl->lock);
	if (!ok)
		*retry_after_s = ratelimit_retry_after(wait_ns);
	return ok;
}

/* The client's address as a key: a family tag, then the address bytes. */
static void address_key(struct MHD_Connection *conn, uint8_t key[RATELIMIT_KEY_LEN])
{
	memset(key, 0, RATELIMIT_KEY_LEN);
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (info == NULL || info->client_addr == NULL)
		return;
	const struct sockaddr *sa = info->client_addr;
	key[0] = (uint8_t)sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(key + 1, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(key + 1, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
}

bool ratelimit_admit(struct ratelimit *rl, struct http_request *req)
{
	if (rl == NULL || req->route == NULL || req->route->scope == AUTH_SCOPE_NONE)
		return true;
	uint8_t key[RATELIMIT_KEY_LEN];
	if (req->cfg->auth)
		memcpy(key, req->key_digest, RATELIMIT_KEY_LEN);
	else
		address_key(req->conn, key);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t now_ns = (int64_t)now.tv_sec * RATELIMIT_NANO + now.tv_nsec;
	int64_t retry_after = 0;
	if (ratelimit_take(rl, key, now_ns, &retry_after))
		return true;
	char value[24];
	snprintf(value, sizeof(value), "%lld", (long long)retry_after);
	http_reply_problem(req, 429,
	                   "too many requests for this API key; retry after the time "
	                   "given in Retry-After",
	                   NULL);
	http_add_header(req, "Retry-After", value);
	return false;
}
