/* Unit tests for src/util/inflight.c: membership, the capacity bound, and
 * deletion inside a collision cluster (backward shift). */
#include <stdint.h>
#include <string.h>

#include "feedbackd/error.h"
#include "feedbackd/inflight.h"

#include "check.h"

/* A fingerprint whose slot hash (first 8 bytes) is home and whose tail is tag. */
static void fp_make(uint8_t fp[INFLIGHT_FP_LEN], uint64_t home, uint8_t tag)
{
	memset(fp, 0, INFLIGHT_FP_LEN);
	for (int i = 0; i < 8; i++)
		fp[i] = (uint8_t)(home >> (56 - 8 * i));
	fp[31] = tag;
}

static void test_basic(void)
{
	struct inflight *set = NULL;
	uint8_t a[INFLIGHT_FP_LEN], b[INFLIGHT_FP_LEN];
	fp_make(a, 1, 1);
	fp_make(b, 2, 2);
	CHECK_INT(inflight_new(&set, 2), 0);
	CHECK_INT(inflight_enter(set, a), 0);
	CHECK_INT(inflight_enter(set, a), FBD_ECONFLICT);
	CHECK_INT(inflight_enter(set, b), 0);
	CHECK_INT(inflight_count(set), 2);
	inflight_leave(set, a);
	CHECK_INT(inflight_count(set), 1);
	CHECK_INT(inflight_enter(set, a), 0);
	inflight_leave(set, a);
	inflight_leave(set, a); /* absent: no effect */
	CHECK_INT(inflight_count(set), 1);
	inflight_free(set);
	inflight_free(NULL);
}

static void test_capacity(void)
{
	struct inflight *set = NULL;
	uint8_t fp[INFLIGHT_FP_LEN];
	CHECK_INT(inflight_new(&set, 0), FBD_EINVAL);
	CHECK(set == NULL);
	CHECK_INT(inflight_new(&set, 3), 0);
	for (uint8_t i = 0; i < 3; i++) {
		fp_make(fp, i * 7, i);
		CHECK_INT(inflight_enter(set, fp), 0);
	}
	fp_make(fp, 100, 100);
	CHECK_INT(inflight_enter(set, fp), FBD_EFULL);
	/* a present one is still reported as present, not as full */
	fp_make(fp, 0, 0);
	CHECK_INT(inflight_enter(set, fp), FBD_ECONFLICT);
	inflight_leave(set, fp);
	fp_make(fp, 100, 100);
	CHECK_INT(inflight_enter(set, fp), 0);
	CHECK_INT(inflight_count(set), 3);
	inflight_free(set);
}

/* Capacity 4 gives 8 slots. Entries with homes 6, 6, 7, 6 fill slots 6, 7,
 * 0, 1 (wrapping). Removing the first must keep the other three findable
 * and the table consistent for later entries. */
static void test_cluster_wraps_and_shifts(void)
{
	struct inflight *set = NULL;
	uint8_t e[4][INFLIGHT_FP_LEN];
	fp_make(e[0], 6, 0);
	fp_make(e[1], 6, 1);
	fp_make(e[2], 7, 2);
	fp_make(e[3], 6, 3);
	CHECK_INT(inflight_new(&set, 4), 0);
	for (int i = 0; i < 4; i++)
		CHECK_INT(inflight_enter(set, e[i]), 0);
	inflight_leave(set, e[0]);
	for (int i = 1; i < 4; i++)
		CHECK_INT(inflight_enter(set, e[i]), FBD_ECONFLICT);
	inflight_leave(set, e[2]);
	CHECK_INT(inflight_enter(set, e[1]), FBD_ECONFLICT);
	CHECK_INT(inflight_enter(set, e[3]), FBD_ECONFLICT);
	CHECK_INT(inflight_count(set), 2);
	CHECK_INT(inflight_enter(set, e[0]), 0);
	CHECK_INT(inflight_enter(set, e[2]), 0);
	CHECK_INT(inflight_count(set), 4);
	for (int i = 0; i < 4; i++)
		inflight_leave(set, e[i]);
	CHECK_INT(inflight_count(set), 0);
	inflight_free(set);
}

int main(void)
{
	test_basic();
	test_capacity();
	test_cluster_wraps_and_shifts();
	return check_report("inflight");
}
