/* A minimal test harness for the unit tests: each CHECK prints nothing on
 * success and a located message on failure; main() returns non-zero if any
 * check failed, which is what meson's test runner reads. */
#ifndef FEEDBACKD_TEST_CHECK_H
#define FEEDBACKD_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		check_count++;                                                        \
		if (!(cond)) {                                                        \
			check_failures++;                                             \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
				#cond);                                               \
		}                                                                     \
	} while (0)

#define CHECK_INT(got, want)                                                            \
	do {                                                                            \
		long long g_ = (long long)(got), w_ = (long long)(want);                \
		check_count++;                                                          \
		if (g_ != w_) {                                                         \
			check_failures++;                                               \
			fprintf(stderr, "%s:%d: %s == %lld, want %lld\n", __FILE__, __LINE__, \
				#got, g_, w_);                                          \
		}                                                                       \
	} while (0)

#define CHECK_DBL(got, want, eps)                                                        \
	do {                                                                             \
		double g_ = (double)(got), w_ = (double)(want);                          \
		check_count++;                                                           \
		if (!(fabs(g_ - w_) <= (eps))) {                                         \
			check_failures++;                                                \
			fprintf(stderr, "%s:%d: %s == %.9g, want %.9g\n", __FILE__, __LINE__, \
				#got, g_, w_);                                           \
		}                                                                        \
	} while (0)

#define CHECK_STR(got, want)                                                              \
	do {                                                                              \
		const char *g_ = (got), *w_ = (want);                                     \
		check_count++;                                                            \
		if (g_ == NULL || w_ == NULL ? g_ != w_ : strcmp(g_, w_) != 0) {          \
			check_failures++;                                                 \
			fprintf(stderr, "%s:%d: %s == \"%s\", want \"%s\"\n", __FILE__, __LINE__, \
				#got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");            \
		}                                                                         \
	} while (0)

/* Call at the end of main(). */
static inline int check_report(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
	return check_failures == 0 && check_count > 0 ? 0 : 1;
}

#endif
