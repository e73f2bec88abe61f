#include <time.h>
#include <uuid/uuid.h>

#include "feedbackd/uuid7.h"

void uuid7_generate_at(char out[static 37], uint64_t unix_ms)
{
	uuid_t u;
	uuid_generate_random(u); /* random bits; the layout below overwrites the rest */
	for (int i = 0; i < 6; i++)
		u[i] = (unsigned char)(unix_ms >> (40 - 8 * i));
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
