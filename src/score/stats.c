/* Dashboard arithmetic (see include/feedbackd/stats.h and docs/metrics.md).
 *
 * Scores are computed from integer counts and rounded once, in integers, so
 * a figure never depends on how floating point happened to represent an
 * intermediate value: 100 * (P - D) / n to one decimal is the integer
 * 1000 * (P - D) / n rounded half away from zero, then divided by 10. */
#include <math.h>
#include <stdlib.h>

#include "feedbackd/stats.h"

/* 97.5th percentile of the standard normal distribution. */
#define Z_95 1.959963984540054

void stats_add_submission(struct stats_counts *c, const struct submission *s)
{
	c->responses++;
	if (s->nps >= 0) {
		c->nps_count++;
		c->promoters += s->nps >= 9;
		c->passives += s->nps == 7 || s->nps == 8;
		c->detractors += s->nps <= 6;
	}
	if (s->csat >= 0) {
		c->csat_count++;
		c->csat_positive += s->csat >= 4;
		c->csat_sum += s->csat;
	}
	if (s->effort >= 0) {
		c->effort_count++;
		c->effort_sum += s->effort;
	}
	c->exp_below += s->expectation == EXP_BELOW;
	c->exp_met += s->expectation == EXP_MET;
	c->exp_exceeded += s->expectation == EXP_EXCEEDED;
	if (s->resolved >= 0) {
		c->resolved_count++;
		c->resolved_yes += s->resolved == 1;
	}
}

void stats_merge(struct stats_counts *dst, const struct stats_counts *src)
{
	dst->responses += src->responses;
	dst->nps_count += src->nps_count;
	dst->promoters += src->promoters;
	dst->passives += src->passives;
	dst->detractors += src->detractors;
	dst->csat_count += src->csat_count;
	dst->csat_positive += src->csat_positive;
	dst->csat_sum += src->csat_sum;
	dst->effort_count += src->effort_count;
	dst->effort_sum += src->effort_sum;
	dst->exp_below += src->exp_below;
	dst->exp_met += src->exp_met;
	dst->exp_exceeded += src->exp_exceeded;
	dst->resolved_count += src->resolved_count;
	dst->resolved_yes += src->resolved_yes;
}

double stats_round_ratio(int64_t num, int64_t den, int decimals)
{
	int64_t scale = 1;
	for (int i = 0; i < decimals; i++)
		scale *= 10;
	int64_t scaled = num * scale;
	int64_t q = scaled / den, r = scaled % den;
	/* C division truncates toward zero; push the quotient away from zero
	 * when the remainder is at least half the divisor. */
	if (2 * llabs(r) >= den)
		q += scaled < 0 ? -1 : 1;
	return (double)q / (double)scale;
}

bool stats_nps(const struct stats_counts *c, double *score)
{
	if (c->nps_count <= 0)
		return false;
	*score = stats_round_ratio(100 * (c->promoters - c->detractors), c->nps_count, 1);
	return true;
}

bool stats_csat_score(const struct stats_counts *c, double *score)
{
	if (c->csat_count <= 0)
		return false;
	*score = stats_round_ratio(100 * c->csat_positive, c->csat_count, 1);
	return true;
}

bool stats_csat_mean(const struct stats_counts *c, double *mean)
{
	if (c->csat_count <= 0)
		return false;
	*mean = stats_round_ratio(c->csat_sum, c->csat_count, 2);
	return true;
}

bool stats_effort_mean(const struct stats_counts *c, double *mean)
{
	if (c->effort_count <= 0)
		return false;
	*mean = stats_round_ratio(c->effort_sum, c->effort_count, 2);
	return true;
}

bool stats_resolved_rate(const struct stats_counts *c, double *rate)
{
	if (c->resolved_count <= 0)
		return false;
	*rate = stats_round_ratio(c->resolved_yes, c->resolved_count, 3);
	return true;
}

bool stats_nps_margin(int64_t promoters, int64_t detractors, int64_t count, double *margin)
{
	if (count <= 0)
		return false;
	double n = (double)count + 3.0;
	double p = ((double)promoters + 0.75) / n;
	double d = ((double)detractors + 0.75) / n;
	double var = (p + d - (p - d) * (p - d)) / n;
	double half = Z_95 * 100.0 * sqrt(var > 0 ? var : 0);
	/* one decimal, halves away from zero (half is never negative) */
	*margin = floor(half * 10.0 + 0.5) / 10.0;
	return true;
}

int64_t stats_day_of(int64_t t)
{
	int64_t d = t / STATS_DAY_SECONDS;
	return t % STATS_DAY_SECONDS < 0 ? d - 1 : d;
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t stats_day_from_civil(int64_t year, int month, int mday)
{
	year -= month <= 2;
	int64_t era = (year >= 0 ? year : year - 399) / 400;
	int64_t yoe = year - era * 400;
	int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + mday - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void stats_civil_from_day(int64_t day, int64_t *year, int *month, int *mday)
{
	int64_t z = day + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = yoe + era * 400 + (*month <= 2);
}

/* 0 for Monday .. 6 for Sunday; day 0 (1970-01-01) was a Thursday. */
static int64_t weekday(int64_t day)
{
	int64_t r = (day + 3) % 7;
	return r < 0 ? r + 7 : r;
}

static int64_t month_index(int64_t day)
{
	int64_t y;
	int m, d;
	stats_civil_from_day(day, &y, &m, &d);
	return y * 12 + (m - 1);
}

int64_t stats_interval_start(enum stats_interval iv, int64_t day)
{
	switch (iv) {
	case STATS_WEEK:
		return day - weekday(day);
	case STATS_MONTH: {
		int64_t y;
		int m, d;
		stats_civil_from_day(day, &y, &m, &d);
		return day - (d - 1);
	}
	case STATS_DAY:
	default:
		return day;
	}
}

int64_t stats_interval_next(enum stats_interval iv, int64_t start)
{
	switch (iv) {
	case STATS_WEEK:
		return start + 7;
	case STATS_MONTH: {
		int64_t y;
		int m, d;
		stats_civil_from_day(start, &y, &m, &d);
		return m == 12 ? stats_day_from_civil(y + 1, 1, 1)
		               : stats_day_from_civil(y, m + 1, 1);
	}
	case STATS_DAY:
	default:
		return start + 1;
	}
}

int64_t stats_interval_count(enum stats_interval iv, int64_t first_day, int64_t last_day)
{
	switch (iv) {
	case STATS_WEEK:
		return (stats_interval_start(iv, last_day) - stats_interval_start(iv, first_day)) /
		           7 +
		       1;
	case STATS_MONTH:
		return month_index(last_day) - month_index(first_day) + 1;
	case STATS_DAY:
	default:
		return last_day - first_day + 1;
	}
}
