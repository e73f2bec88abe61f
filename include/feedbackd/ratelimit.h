/* Per-client rate limiting: one token bucket per API key (per client
 * address when auth is off).
 *
 * A bucket holds at most `burst` tokens and gains `rate` tokens per second;
 * each request takes one. Tokens are counted in billionths so that the math
 * is exact integer arithmetic on nanosecond timestamps (the unit tests inject
 * the clock and check exact values).
 *
 * Memory is bounded: the table has a fixed number of slots chosen at
 * creation. API keys come from the configuration, so with auth on they are
 * few; with auth off client addresses are unbounded, and when a probe window
 * of the table is full the least recently used bucket in it is recycled.
 * Recycling only ever hands a client a fresh (full) bucket, so a flood of
 * addresses can make the limiter more lenient, never stricter. */
#ifndef FEEDBACKD_RATELIMIT_H
#define FEEDBACKD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_KEY_LEN 32
#define RATELIMIT_NANO 1000000000LL

/* One bucket. tokens is in billionths of a token. */
struct token_bucket {
	int64_t tokens;
	int64_t stamp_ns; /* when tokens was last brought up to date */
};

/* A full bucket as of now_ns. */
void token_bucket_init(struct token_bucket *b, int64_t burst, int64_t now_ns);

/* Refill for the time since the last call (a clock that went backwards adds
 * nothing), then take one token. rate > 0 tokens per second, burst >= 1.
 * Returns true when a token was taken; otherwise *wait_ns receives the time
 * until one will be available. */
bool token_bucket_take(struct token_bucket *b, int64_t rate, int64_t burst, int64_t now_ns,
                       int64_t *wait_ns);

/* Whole seconds to announce in Retry-After for a wait: rounded up, at least 1. */
int64_t ratelimit_retry_after(int64_t wait_ns);

struct ratelimit;

/* A table of `slots` buckets (rounded up to a power of two, at least 16)
 * with rate tokens/s and burst tokens each. *out is owned by the caller and
 * freed with ratelimit_free(). Returns 0, FBD_EINVAL or FBD_ENOMEM. */
int ratelimit_new(struct ratelimit **out, int64_t rate, int64_t burst, size_t slots);

/* NULL accepted. */
void ratelimit_free(struct ratelimit *rl);

/* Take one token from key's bucket (creating it full if new). Thread-safe.
 * Returns true when the request may go on; otherwise *retry_after_s receives
 * the whole seconds to wait (>= 1). */
bool ratelimit_take(struct ratelimit *rl, const uint8_t key[RATELIMIT_KEY_LEN], int64_t now_ns,
                    int64_t *retry_after_s);

struct http_request;

/* The HTTP side: admits req or replies 429 problem+json with Retry-After.
 * Routes served without auth (health, metrics) are not limited. The key is
 * the API key's digest, or the client address when auth is off. rl may be
 * NULL (limiting off). Returns false when req was rejected. */
bool ratelimit_admit(struct ratelimit *rl, struct http_request *req);

#endif
