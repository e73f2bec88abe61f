/* rfc3339_parse / rfc3339_format: exact epoch values (checked against
 * Python's calendar.timegm), offsets, calendar edges, and what is refused. */
#include <stdint.h>

#include "check.h"
#include "feedbackd/error.h"
#include "feedbackd/model.h"

/* Parsed value of s, or INT64_MIN when it is refused. */
static int64_t parsed(const char *s)
{
	int64_t t = 12345;

	if (rfc3339_parse(s, &t) != 0) {
		CHECK_INT(t, 12345); /* untouched on error */
		return INT64_MIN;
	}
	return t;
}

static void test_known_values(void)
{
	CHECK_INT(parsed("1970-01-01T00:00:00Z"), 0);
	CHECK_INT(parsed("1969-12-31T23:59:59Z"), -1);
	CHECK_INT(parsed("2000-01-01T00:00:00Z"), 946684800);
	CHECK_INT(parsed("2026-11-23T10:15:00Z"), 1795428900);
	CHECK_INT(parsed("2024-02-29T12:00:00Z"), 1709208000);
	CHECK_INT(parsed("2000-02-29T00:00:00Z"), 951782400);
	CHECK_INT(parsed("2100-03-01T00:00:00Z"), 4107542400LL);
	CHECK_INT(parsed("1900-03-01T00:00:00Z"), -2203891200LL);
	CHECK_INT(parsed("1600-02-29T23:59:59Z"), -11670912001LL);
	CHECK_INT(parsed("2026-03-01T00:00:00Z"), 1772323200);
	CHECK_INT(parsed("0001-01-01T00:00:00Z"), -62135596800LL);
	CHECK_INT(parsed("9999-12-31T23:59:59Z"), 253402300799LL);
}

static void test_offsets(void)
{
	CHECK_INT(parsed("2026-11-23T12:15:00+02:00"), 1795428900);
	CHECK_INT(parsed("2026-11-23T04:45:00-05:30"), 1795428900);
	CHECK_INT(parsed("2026-11-23T10:15:00+00:00"), 1795428900);
	CHECK_INT(parsed("2026-11-23T10:15:00-00:00"), 1795428900);
	CHECK_INT(parsed("2026-11-24T10:14:00+23:59"), 1795428900);
	/* Crossing a day, a month and a year boundary. */
	CHECK_INT(parsed("2027-01-01T01:00:00+01:00"), parsed("2026-12-31T00:00:00Z") + 86400);
	CHECK_INT(parsed("2024-02-28T23:00:00-01:00"), 1709208000 - 12 * 3600);
}

static void test_fraction_and_case(void)
{
	CHECK_INT(parsed("2026-11-23T10:15:00.5Z"), 1795428900);
	CHECK_INT(parsed("2026-11-23T10:15:00.999999999Z"), 1795428900);
	CHECK_INT(parsed("2026-11-23T10:15:00.123+02:00"), 1795428900 - 7200);
	CHECK_INT(parsed("2026-11-23t10:15:00z"), 1795428900);
	CHECK_INT(parsed("2026-11-23T10:15:00.1234567890Z"), INT64_MIN); /* 10 digits */
	CHECK_INT(parsed("2026-11-23T10:15:00.Z"), INT64_MIN);
	CHECK_INT(parsed("2026-11-23T10:15:00,5Z"), INT64_MIN);
}

static void test_leap_second(void)
{
	CHECK_INT(parsed("2016-12-31T23:59:60Z"), 1483228799);
	CHECK_INT(parsed("2016-12-31T23:59:61Z"), INT64_MIN);
}

static void test_invalid(void)
{
	static const char *const bad[] = {
		"",
		"2026-02-29T00:00:00Z", /* not a leap year */
		"1900-02-29T00:00:00Z", /* centuries are not, */
		"2026-13-01T00:00:00Z",
		"2026-00-10T00:00:00Z",
		"2026-04-31T00:00:00Z",
		"2026-01-32T00:00:00Z",
		"2026-01-00T00:00:00Z",
		"0000-01-01T00:00:00Z",
		"2026-11-23T24:00:00Z",
		"2026-11-23T23:60:00Z",
		"2026-11-23T10:15:00", /* no zone */
		"2026-11-23 10:15:00Z",
		"2026-11-23",
		"2026-11-23T10:15Z",
		"2026-11-23T10:15:00ZZ",
		"2026-11-23T10:15:00Z ",
		" 2026-11-23T10:15:00Z",
		"2026-11-23T10:15:00+0200",
		"2026-11-23T10:15:00+02",
		"2026-11-23T10:15:00+24:00",
		"2026-11-23T10:15:00+01:60",
		"2026-11-23T10:15:00UTC",
		"2026-1-23T10:15:00Z",
		"26-11-23T10:15:00Z",
		"+2026-11-23T10:15:00Z",
		"2026-11-23T1:15:00Z",
		"2026-11-23T10:15:0aZ",
		"20261123T101500Z",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 0;

		if (rfc3339_parse(bad[i], &t) != FBD_EINVAL)
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
		CHECK_INT(rfc3339_parse(bad[i], &t), FBD_EINVAL);
	}
	CHECK(parsed("2000-02-29T00:00:00Z") != INT64_MIN); /* but 400-year centuries are */
	CHECK_INT(rfc3339_parse(NULL, &(int64_t){0}), FBD_EINVAL);
}

static const char *fmt(int64_t t)
{
	static char buf[21];

	rfc3339_format(t, buf);
	return buf;
}

static void test_format(void)
{
	CHECK_STR(fmt(0), "1970-01-01T00:00:00Z");
	CHECK_STR(fmt(-1), "1969-12-31T23:59:59Z");
	CHECK_STR(fmt(1795428900), "2026-11-23T10:15:00Z");
	CHECK_STR(fmt(1709208000), "2024-02-29T12:00:00Z");
	CHECK_STR(fmt(951782400 - 1), "2000-02-28T23:59:59Z");
	CHECK_STR(fmt(-11670912001LL), "1600-02-29T23:59:59Z");
	CHECK_STR(fmt(-62135596800LL), "0001-01-01T00:00:00Z");
	CHECK_STR(fmt(253402300799LL), "9999-12-31T23:59:59Z");
	/* Out of range: clamped so the shape stays fixed. */
	CHECK_STR(fmt(INT64_MIN), "0001-01-01T00:00:00Z");
	CHECK_STR(fmt(INT64_MAX), "9999-12-31T23:59:59Z");
}

static void test_round_trip(void)
{
	/* Every day from 1899 to 2101, at a time of day that varies. */
	for (int64_t t = -2240524800LL; t < 4133980800LL; t += 86400 + 3607) {
		char buf[21];
		int64_t back = 0;

		rfc3339_format(t, buf);
		if (rfc3339_parse(buf, &back) != 0 || back != t) {
			CHECK_INT(back, t);
			break;
		}
	}
	CHECK(1);
}

int main(void)
{
	test_known_values();
	test_offsets();
	test_fraction_and_case();
	test_leap_second();
	test_invalid();
	test_format();
	test_round_trip();
	return check_report("rfc3339");
}
