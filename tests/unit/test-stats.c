/* Dashboard arithmetic: every expected value below was computed by hand
 * (the working is in the comments), not by the code under test. */
#include <string.h>

#include "check.h"
#include "feedbackd/stats.h"

static struct stats_counts nps_counts(int64_t promoters, int64_t passives, int64_t detractors)
{
	struct stats_counts c;
	memset(&c, 0, sizeof(c));
	c.promoters = promoters;
	c.passives = passives;
	c.detractors = detractors;
	c.nps_count = promoters + passives + detractors;
	return c;
}

static void test_nps_score(void)
{
	double v = -1;
	struct stats_counts c = nps_counts(0, 0, 0);
	CHECK(!stats_nps(&c, &v));
	c = nps_counts(50, 30, 20); /* 100 * 30 / 100 */
	CHECK(stats_nps(&c, &v));
	CHECK_DBL(v, 30.0, 1e-12);
	c = nps_counts(1, 2, 0); /* 100 / 3 = 33.33.. */
	CHECK(stats_nps(&c, &v));
	CHECK_DBL(v, 33.3, 1e-12);
	c = nps_counts(2, 1, 0); /* 200 / 3 = 66.66.. */
	CHECK(stats_nps(&c, &v));
	CHECK_DBL(v, 66.7, 1e-12);
	c = nps_counts(1, 15, 0); /* 100 / 16 = 6.25: half away from zero */
	CHECK(stats_nps(&c, &v));
	CHECK_DBL(v, 6.3, 1e-12);
	c = nps_counts(0, 15, 1); /* -6.25 */
	CHECK(stats_nps(&c, &v));
	CHECK_DBL(v, -6.3, 1e-12);
	c = nps_counts(0, 0, 4);
	CHECK(stats_nps(&c, &v));
	CHECK_DBL(v, -100.0, 1e-12);
}

static void test_csat_and_means(void)
{
	struct stats_counts c;
	double v = -1;
	memset(&c, 0, sizeof(c));
	CHECK(!stats_csat_score(&c, &v));
	CHECK(!stats_csat_mean(&c, &v));
	CHECK(!stats_effort_mean(&c, &v));
	CHECK(!stats_resolved_rate(&c, &v));
	/* csat 5, 4, 3: 2 of 3 positive = 66.7; mean 12 / 3 = 4.00 */
	c.csat_count = 3;
	c.csat_positive = 2;
	c.csat_sum = 12;
	CHECK(stats_csat_score(&c, &v));
	CHECK_DBL(v, 66.7, 1e-12);
	CHECK(stats_csat_mean(&c, &v));
	CHECK_DBL(v, 4.0, 1e-12);
	/* effort 1, 2, 2, 1, 1, 1, 1, 1: 10 / 8 = 1.25 exactly */
	c.effort_count = 8;
	c.effort_sum = 10;
	CHECK(stats_effort_mean(&c, &v));
	CHECK_DBL(v, 1.25, 1e-12);
	/* 10 / 3 = 3.333 -> 3.33 */
	c.effort_count = 3;
	CHECK(stats_effort_mean(&c, &v));
	CHECK_DBL(v, 3.33, 1e-12);
	/* 5 / 8 = 0.625 -> 0.63 (half away from zero) */
	c.effort_count = 8;
	c.effort_sum = 5;
	CHECK(stats_effort_mean(&c, &v));
	CHECK_DBL(v, 0.63, 1e-12);
	/* resolved 1 of 16 = 0.0625 -> 0.063; 2 of 3 -> 0.667 */
	c.resolved_count = 16;
	c.resolved_yes = 1;
	CHECK(stats_resolved_rate(&c, &v));
	CHECK_DBL(v, 0.063, 1e-12);
	c.resolved_count = 3;
	c.resolved_yes = 2;
	CHECK(stats_resolved_rate(&c, &v));
	CHECK_DBL(v, 0.667, 1e-12);
}

static void test_round_ratio(void)
{
	CHECK_DBL(stats_round_ratio(1, 8, 2), 0.13, 1e-12); /* 0.125 */
	CHECK_DBL(stats_round_ratio(-1, 8, 2), -0.13, 1e-12);
	CHECK_DBL(stats_round_ratio(1, 3, 3), 0.333, 1e-12);
	CHECK_DBL(stats_round_ratio(7, 7, 1), 1.0, 1e-12);
	CHECK_DBL(stats_round_ratio(0, 5, 1), 0.0, 1e-12);
}

/* Adjusted Wald, by hand: n' = n + 3, p = (P + .75) / n', d = (D + .75) / n',
 * moe = 1.959964 * 100 * sqrt((p + d - (p - d)^2) / n'). */
static void test_nps_margin(void)
{
	double m = -1;
	CHECK(!stats_nps_margin(0, 0, 0, &m));
	/* n=1, P=1: n'=4, p=.4375, d=.1875, p-d=.25, var=(.625-.0625)/4=.140625,
	 * sqrt=.375, *195.9964 = 73.499 -> 73.5 */
	CHECK(stats_nps_margin(1, 0, 1, &m));
	CHECK_DBL(m, 73.5, 1e-9);
	/* symmetric: a lone detractor has the same width */
	CHECK(stats_nps_margin(0, 1, 1, &m));
	CHECK_DBL(m, 73.5, 1e-9);
	/* n=100, P=50, D=20: n'=103, p=.492718, d=.201456, p-d=.291262,
	 * var=(.694175-.084834)/103=.0059159, sqrt=.076915, *195.9964=15.075 -> 15.1 */
	CHECK(stats_nps_margin(50, 20, 100, &m));
	CHECK_DBL(m, 15.1, 1e-9);
	/* n=97, all promoters: n'=100, p=.9775, d=.0075, p-d=.97,
	 * var=(.985-.9409)/100=.000441, sqrt=.021, *195.9964=4.116 -> 4.1 */
	CHECK(stats_nps_margin(97, 0, 97, &m));
	CHECK_DBL(m, 4.1, 1e-9);
	/* n=10, P=D=5: n'=13, p=d=.442308, var=.884615/13=.068047,
	 * sqrt=.260859, *195.9964=51.127 -> 51.1 */
	CHECK(stats_nps_margin(5, 5, 10, &m));
	CHECK_DBL(m, 51.1, 1e-9);
}

static void test_add_submission(void)
{
	struct stats_counts c;
	memset(&c, 0, sizeof(c));
	struct submission s;
	submission_init(&s);
	s.nps = 9;
	s.csat = 4;
	s.effort = 3;
	s.expectation = EXP_EXCEEDED;
	s.resolved = 1;
	stats_add_submission(&c, &s);
	s.nps = 7;
	s.csat = 2;
	s.effort = -1;
	s.expectation = EXP_NONE;
	s.resolved = 0;
	stats_add_submission(&c, &s);
	s.nps = 6;
	s.csat = -1;
	s.resolved = -1;
	s.expectation = EXP_BELOW;
	stats_add_submission(&c, &s);
	CHECK_INT(c.responses, 3);
	CHECK_INT(c.nps_count, 3);
	CHECK_INT(c.promoters, 1);
	CHECK_INT(c.passives, 1);
	CHECK_INT(c.detractors, 1);
	CHECK_INT(c.csat_count, 2);
	CHECK_INT(c.csat_positive, 1);
	CHECK_INT(c.csat_sum, 6);
	CHECK_INT(c.effort_count, 1);
	CHECK_INT(c.effort_sum, 3);
	CHECK_INT(c.exp_below, 1);
	CHECK_INT(c.exp_met, 0);
	CHECK_INT(c.exp_exceeded, 1);
	CHECK_INT(c.resolved_count, 2);
	CHECK_INT(c.resolved_yes, 1);
	struct stats_counts sum;
	memset(&sum, 0, sizeof(sum));
	stats_merge(&sum, &c);
	stats_merge(&sum, &c);
	CHECK_INT(sum.responses, 6);
	CHECK_INT(sum.csat_sum, 12);
	CHECK_INT(sum.resolved_yes, 2);
	submission_release(&s);
}

/* Day numbers: 2026-11-23 is day 20780 (a Monday), 2026-01-01 day 20454 (a
 * Thursday), 2025-12-29 day 20451 (a Monday), 2024-02-29 day 19782,
 * 1969-12-31 day -1 (a Wednesday). */
static void test_days(void)
{
	CHECK_INT(stats_day_of(0), 0);
	CHECK_INT(stats_day_of(86399), 0);
	CHECK_INT(stats_day_of(86400), 1);
	CHECK_INT(stats_day_of(-1), -1);
	CHECK_INT(stats_day_of(-86400), -1);
	CHECK_INT(stats_day_of(-86401), -2);
	CHECK_INT(stats_day_from_civil(2026, 11, 23), 20780);
	CHECK_INT(stats_day_from_civil(2024, 2, 29), 19782);
	CHECK_INT(stats_day_from_civil(1969, 12, 31), -1);
	int64_t y;
	int m, d;
	stats_civil_from_day(19782, &y, &m, &d);
	CHECK_INT(y, 2024);
	CHECK_INT(m, 2);
	CHECK_INT(d, 29);
	stats_civil_from_day(-1, &y, &m, &d);
	CHECK_INT(y, 1969);
	CHECK_INT(m, 12);
	CHECK_INT(d, 31);
}

static void test_intervals(void)
{
	/* ISO weeks start on Monday */
	CHECK_INT(stats_interval_start(STATS_WEEK, 20780), 20780); /* Monday itself */
	CHECK_INT(stats_interval_start(STATS_WEEK, 20779), 20773); /* Sunday 22nd -> Mon 16th */
	CHECK_INT(stats_interval_start(STATS_WEEK, 20454), 20451); /* 2026-01-01 -> 2025-12-29 */
	CHECK_INT(stats_interval_start(STATS_WEEK, -1), -3);       /* Wed 1969-12-31 -> Mon 29th */
	CHECK_INT(stats_interval_count(STATS_WEEK, 20779, 20780), 2); /* Sun, Mon */
	CHECK_INT(stats_interval_count(STATS_WEEK, 20780, 20786), 1); /* Mon .. Sun */
	CHECK_INT(stats_interval_next(STATS_WEEK, 20451), 20458);
	/* months: 2024-02-29 -> 2024-02-01 (day 19754); next 2024-03-01 (19783) */
	CHECK_INT(stats_interval_start(STATS_MONTH, 19782), 19754);
	CHECK_INT(stats_interval_next(STATS_MONTH, 19754), 19783);
	/* December rolls into January: 2025-12-01 is day 20423, 2026-01-01 20454 */
	CHECK_INT(stats_interval_next(STATS_MONTH, 20423), 20454);
	/* Jan 31 .. Mar 1 2024 spans three months */
	CHECK_INT(stats_interval_count(STATS_MONTH, stats_day_from_civil(2024, 1, 31), 19783), 3);
	CHECK_INT(stats_interval_count(STATS_MONTH, 19754, 19782), 1);
	/* days */
	CHECK_INT(stats_interval_start(STATS_DAY, 123), 123);
	CHECK_INT(stats_interval_next(STATS_DAY, 123), 124);
	CHECK_INT(stats_interval_count(STATS_DAY, 100, 129), 30);
}

int main(void)
{
	test_nps_score();
	test_csat_and_means();
	test_round_ratio();
	test_nps_margin();
	test_add_submission();
	test_days();
	test_intervals();
	return check_report("stats");
}
