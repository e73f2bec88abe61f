/* Time-ordered ids: UUID version 7 (a 48-bit millisecond Unix timestamp
 * followed by 74 random bits from the kernel's CSPRNG), so ids generated one
 * after another sort by time and index inserts append instead of landing at
 * random places. Thread-safe. */
#ifndef FEEDBACKD_UUID7_H
#define FEEDBACKD_UUID7_H

#include <stdint.h>

/* Write a new lowercase canonical UUIDv7 (36 chars + NUL) into out. */
void uuid7_generate(char out[static 37]);

/* Same, for a given time in milliseconds (tests). */
void uuid7_generate_at(char out[static 37], uint64_t unix_ms);

#endif
