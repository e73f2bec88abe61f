/* Unit tests for the deadline policy of src/http/conntrack.c (pure part),
 * and a start/stop of the table with its reaper thread. */
#include <stddef.h>
#include <stdint.h>

#include "feedbackd/conntrack.h"
#include "feedbackd/error.h"

#include "check.h"

static void test_deadlines(void)
{
	/* request_timeout 30 s, idle_timeout 60 s, now = 1000 ms */
	CHECK_INT(conntrack_deadline(CONNTRACK_HEADERS, 1000, 30, 60), 31000);
	/* the body gets the request timeout plus 1 s, so that the server's own
	 * 408 (on a late chunk) wins over a silent cut */
	CHECK_INT(conntrack_deadline(CONNTRACK_BODY, 1000, 30, 60), 32000);
	CHECK_INT(conntrack_deadline(CONNTRACK_HANDLING, 1000, 30, 60), 0);
	/* keep-alive: up to idle_timeout of silence, then a whole request */
	CHECK_INT(conntrack_deadline(CONNTRACK_IDLE, 1000, 30, 60), 91000);
	CHECK_INT(conntrack_deadline(CONNTRACK_IDLE, 0, 1, 1), 2000);
	/* the largest configurable values do not overflow */
	CHECK_INT(conntrack_deadline(CONNTRACK_IDLE, INT64_C(1) << 40, 3600, 3600),
	          (INT64_C(1) << 40) + 7200000);
}

static void test_lifecycle(void)
{
	struct conntrack *ct = NULL;
	CHECK_INT(conntrack_new(&ct, 0, 30, 30), FBD_EINVAL);
	CHECK(ct == NULL);
	CHECK_INT(conntrack_new(&ct, 16, 0, 30), FBD_EINVAL);
	CHECK_INT(conntrack_new(&ct, 16, 30, 30), 0);
	CHECK(ct != NULL);
	CHECK_INT(conntrack_reaped(ct), 0);
	conntrack_free(ct);
	conntrack_free(NULL);
}

int main(void)
{
	test_deadlines();
	test_lifecycle();
	return check_report("conntrack");
}
