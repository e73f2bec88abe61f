/* UUIDv7 generation.
 *
 * The random bits come from the kernel's CSPRNG (getrandom(2)) through a
 * small per-thread pool, 10 bytes per id. libuuid's uuid_generate_random()
 * reads getrandom too, but on every call it also reseeds libc's random() to
 * mix in (gettimeofday, getpid, getuid, srandom, up to 31 random() calls):
 * about 6000 instructions and four system calls per id, on a path that made
 * two ids per request (docs/performance.md). libuuid stays the fallback when
 * getrandom fails (an old kernel or a seccomp filter) and does the
 * formatting. The pool is per thread, so no lock; a process that forks must
 * not generate ids in both halves from the same pool (feedbackd never forks). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <uuid/uuid.h>

#include "feedbackd/uuid7.h"

#define UUID7_RANDOM_BYTES 10 /* bytes 6..15; version and variant overwrite 6 bits */
#define POOL_BYTES 250        /* 25 ids; getrandom never shortens reads <= 256 bytes */

static _Thread_local unsigned char pool[POOL_BYTES];
static _Thread_local size_t pool_used = POOL_BYTES;

static bool pool_refill(void)
{
	size_t got = 0;
	while (got < POOL_BYTES) {
		ssize_t n = getrandom(pool + got, POOL_BYTES - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	pool_used = 0;
	return true;
}

static void random_bits(unsigned char out[static UUID7_RANDOM_BYTES])
{
	if (pool_used + UUID7_RANDOM_BYTES > POOL_BYTES && !pool_refill()) {
		uuid_t u;
		uuid_generate_random(u);
		memcpy(out, u, UUID7_RANDOM_BYTES);
		return;
	}
	memcpy(out, pool + pool_used, UUID7_RANDOM_BYTES);
	/* a used byte is never handed out twice, even if memory leaks later */
	memset(pool + pool_used, 0, UUID7_RANDOM_BYTES);
	pool_used += UUID7_RANDOM_BYTES;
}

void uuid7_generate_at(char out[static 37], uint64_t unix_ms)
{
	uuid_t u;
	for (int i = 0; i < 6; i++)
		u[i] = (unsigned char)(unix_ms >> (40 - 8 * i));
	random_bits(u + 6);
	u[6] = (unsigned char)(0x70 | (u[6] & 0x0f)); /* version 7 */
	u[8] = (unsigned char)(0x80 | (u[8] & 0x3f)); /* RFC 9562 variant */
	uuid_unparse_lower(u, out);
}

void uuid7_generate(char out[static 37])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uuid7_generate_at(out, (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}
