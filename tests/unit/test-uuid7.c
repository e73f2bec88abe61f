/* Unit tests for src/util/uuid7.c: layout (RFC 9562 version 7), time
 * prefix, order, and that the random part changes from id to id, also
 * across refills of the per-thread pool. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "feedbackd/model.h"
#include "feedbackd/uuid7.h"

#include "check.h"

int main(void)
{
	char a[37], b[37];
	/* 0x0189_0a5d_ac96 ms = 2023-06-27T..., written as the first 12 hex digits */
	uuid7_generate_at(a, 0x01890a5dac96ULL);
	CHECK(uuid_is_valid(a));
	CHECK(strncmp(a, "01890a5d-ac96-7", 15) == 0);
	CHECK(strchr("89ab", a[19]) != NULL); /* variant 10xx */
	CHECK_INT(strlen(a), 36);

	/* a later millisecond sorts after, whatever the random bits */
	uuid7_generate_at(b, 0x01890a5dac97ULL);
	CHECK(strcmp(a, b) < 0);

	/* 1000 ids in one millisecond (40 pool refills): all distinct */
	static char ids[1000][37];
	bool distinct = true;
	for (int i = 0; i < 1000; i++) {
		uuid7_generate_at(ids[i], 0x01890a5dac96ULL);
		for (int j = 0; j < i && distinct; j++)
			distinct = strcmp(ids[i], ids[j]) != 0;
	}
	CHECK(distinct);

	uuid7_generate(a);
	CHECK(uuid_is_valid(a));
	CHECK(a[14] == '7');
	return check_report("uuid7");
}
