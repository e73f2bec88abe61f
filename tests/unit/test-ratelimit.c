/* Unit tests for src/http/ratelimit.c: token-bucket math on an injected
 * clock with exact values, Retry-After rounding, and the bounded table. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "feedbackd/error.h"
#include "feedbackd/ratelimit.h"

#include "check.h"

#define MS 1000000LL /* nanoseconds */
#define SEC 1000000000LL

static void test_bucket_drains_and_refills(void)
{
	struct token_bucket b;
	int64_t wait = -1;
	/* 10 tokens/s, burst 3: three requests at once, the fourth waits 100 ms */
	token_bucket_init(&b, 3, 0);
	CHECK_INT(b.tokens, 3 * SEC);
	CHECK(token_bucket_take(&b, 10, 3, 0, &wait));
	CHECK(token_bucket_take(&b, 10, 3, 0, &wait));
	CHECK(token_bucket_take(&b, 10, 3, 0, &wait));
	CHECK_INT(b.tokens, 0);
	CHECK(!token_bucket_take(&b, 10, 3, 0, &wait));
	CHECK_INT(wait, 100 * MS);
	CHECK_INT(b.tokens, 0); /* a refused request takes nothing */

	/* 50 ms later half a token has come back: 50 ms more to wait */
	CHECK(!token_bucket_take(&b, 10, 3, 50 * MS, &wait));
	CHECK_INT(b.tokens, SEC / 2);
	CHECK_INT(wait, 50 * MS);

	/* at 100 ms exactly one token */
	CHECK(token_bucket_take(&b, 10, 3, 100 * MS, &wait));
	CHECK_INT(b.tokens, 0);
	CHECK_INT(b.stamp_ns, 100 * MS);

	/* 250 ms later 2.5 tokens: two requests pass, 0.5 left */
	CHECK(token_bucket_take(&b, 10, 3, 350 * MS, &wait));
	CHECK(token_bucket_take(&b, 10, 3, 350 * MS, &wait));
	CHECK_INT(b.tokens, SEC / 2);
}

static void test_bucket_caps_at_burst(void)
{
	struct token_bucket b;
	int64_t wait = -1;
	token_bucket_init(&b, 3, 0);
	CHECK(token_bucket_take(&b, 10, 3, 0, &wait));
	/* a very long quiet spell fills to burst, without overflowing */
	int64_t later = 4000000000LL * SEC; /* ~127 years */
	CHECK(token_bucket_take(&b, 1000000, 3, later, &wait));
	CHECK_INT(b.tokens, 2 * SEC);
	/* a full bucket stays full */
	CHECK(token_bucket_take(&b, 10, 3, later + 10 * SEC, &wait));
	CHECK_INT(b.tokens, 2 * SEC);
}

static void test_bucket_clock_backwards(void)
{
	struct token_bucket b;
	int64_t wait = -1;
	token_bucket_init(&b, 2, 10 * SEC);
	CHECK(token_bucket_take(&b, 1, 2, 10 * SEC, &wait));
	CHECK(token_bucket_take(&b, 1, 2, 10 * SEC, &wait));
	/* an earlier timestamp (another thread's clock read) adds nothing and
	 * does not move the stamp back */
	CHECK(!token_bucket_take(&b, 1, 2, 5 * SEC, &wait));
	CHECK_INT(wait, SEC);
	CHECK_INT(b.stamp_ns, 10 * SEC);
	/* 1 ns later: one billionth of a token, the rest still to wait */
	CHECK(!token_bucket_take(&b, 1, 2, 10 * SEC + 1, &wait));
	CHECK_INT(b.tokens, 1);
	CHECK_INT(wait, SEC - 1);
}

static void test_bucket_rounds_wait_up(void)
{
	struct token_bucket b;
	int64_t wait = -1;
	/* 3 tokens/s: a token takes 333333333.3 ns, announced as 333333334 */
	token_bucket_init(&b, 1, 0);
	CHECK(token_bucket_take(&b, 3, 1, 0, &wait));
	CHECK(!token_bucket_take(&b, 3, 1, 0, &wait));
	CHECK_INT(wait, 333333334);
	CHECK(!token_bucket_take(&b, 3, 1, 333333333, &wait));
	CHECK_INT(b.tokens, 999999999);
	CHECK_INT(wait, 1);
	/* the last billionth arrives and the bucket is full (capped), then used */
	CHECK(token_bucket_take(&b, 3, 1, 333333334, &wait));
	CHECK_INT(b.tokens, 0);
}

static void test_retry_after(void)
{
	CHECK_INT(ratelimit_retry_after(0), 1);
	CHECK_INT(ratelimit_retry_after(1), 1);
	CHECK_INT(ratelimit_retry_after(SEC), 1);
	CHECK_INT(ratelimit_retry_after(SEC + 1), 2);
	CHECK_INT(ratelimit_retry_after(59 * SEC + 1), 60);
}

static void key_of(uint8_t key[RATELIMIT_KEY_LEN], unsigned n)
{
	memset(key, 0, RATELIMIT_KEY_LEN);
	memcpy(key, &n, sizeof(n));
}

static void test_table(void)
{
	struct ratelimit *rl = NULL;
	uint8_t a[RATELIMIT_KEY_LEN], b[RATELIMIT_KEY_LEN];
	int64_t retry = 0;

	CHECK_INT(ratelimit_new(&rl, 0, 2, 16), FBD_EINVAL);
	CHECK(rl == NULL);
	CHECK_INT(ratelimit_new(&rl, 1, 0, 16), FBD_EINVAL);
	CHECK_INT(ratelimit_new(&rl, 1, INT64_MAX / 2, 16), FBD_EINVAL);

	CHECK_INT(ratelimit_new(&rl, 1, 2, 16), 0);
	key_of(a, 1);
	key_of(b, 2);
	CHECK(ratelimit_take(rl, a, 0, &retry));
	CHECK(ratelimit_take(rl, a, 0, &retry));
	CHECK(!ratelimit_take(rl, a, 0, &retry));
	CHECK_INT(retry, 1);
	/* 1 token/s: at 0.5 s half a token, still 1 s announced (rounded up) */
	retry = 0;
	CHECK(!ratelimit_take(rl, a, SEC / 2, &retry));
	CHECK_INT(retry, 1);
	/* another key has its own bucket */
	CHECK(ratelimit_take(rl, b, SEC / 2, &retry));
	CHECK(ratelimit_take(rl, b, SEC / 2, &retry));
	CHECK(!ratelimit_take(rl, b, SEC / 2, &retry));
	/* a's bucket kept its state */
	CHECK(ratelimit_take(rl, a, SEC, &retry));
	ratelimit_free(rl);

	/* far more keys than slots: buckets are recycled, memory stays put,
	 * and a recycled key starts full again (lenient, never stricter) */
	CHECK_INT(ratelimit_new(&rl, 1, 1, 16), 0);
	int allowed = 0;
	for (unsigned i = 0; i < 10000; i++) {
		key_of(a, 1000 + i);
		allowed += ratelimit_take(rl, a, (int64_t)i, &retry);
	}
	CHECK_INT(allowed, 10000);
	ratelimit_free(rl);
	ratelimit_free(NULL);
}

int main(void)
{
	test_bucket_drains_and_refills();
	test_bucket_caps_at_burst();
	test_bucket_clock_backwards();
	test_bucket_rounds_wait_up();
	test_retry_after();
	test_table();
	return check_report("ratelimit");
}
