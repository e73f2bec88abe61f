/* Dashboard arithmetic: counters of submissions, the figures derived from
 * them (NPS, CSAT, means, shares, the NPS margin of error), and UTC
 * calendar intervals (days, ISO weeks, months) over day numbers.
 *
 * Pure: no I/O, no logging, no allocation. docs/metrics.md states every
 * formula and rounding rule used here. */
#ifndef FEEDBACKD_STATS_H
#define FEEDBACKD_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "feedbackd/model.h"

#define STATS_DAY_SECONDS 86400

/* Everything the dashboards need from a set of submissions; sums of these
 * are the counters of the union (distinct customers are counted apart). */
struct stats_counts {
	int64_t responses;
	int64_t nps_count, promoters, passives, detractors;
	int64_t csat_count, csat_positive, csat_sum;
	int64_t effort_count, effort_sum;
	int64_t exp_below, exp_met, exp_exceeded;
	int64_t resolved_count, resolved_yes;
};

/* Add one submission (absent values are -1, as in struct submission). */
void stats_add_submission(struct stats_counts *c, const struct submission *s);
/* dst += src, field by field. */
void stats_merge(struct stats_counts *dst, const struct stats_counts *src);

/* Each returns false (value undefined: report null) when there is no rating.
 * Results are already rounded: scores to one decimal, means to two, shares
 * to three, halves away from zero, computed from the integer counts. */
bool stats_nps(const struct stats_counts *c, double *score);
bool stats_csat_score(const struct stats_counts *c, double *score);
bool stats_csat_mean(const struct stats_counts *c, double *mean);
bool stats_effort_mean(const struct stats_counts *c, double *mean);
bool stats_resolved_rate(const struct stats_counts *c, double *rate);

/* Half-width of the 95 % adjusted-Wald interval of the NPS, in NPS points,
 * rounded to one decimal: with n' = n + 3, p = (promoters + 3/4) / n',
 * d = (detractors + 3/4) / n', 1.959964 * 100 * sqrt((p + d - (p - d)^2) / n').
 * False when there is no rating. */
bool stats_nps_margin(int64_t promoters, int64_t detractors, int64_t count, double *margin);

/* round(num / den, decimals) for den > 0, halves away from zero, computed
 * exactly in integers (num * 10^decimals must fit in int64). */
double stats_round_ratio(int64_t num, int64_t den, int decimals);

/* Day numbers: floor(t / 86400), so days start at UTC midnight. */
int64_t stats_day_of(int64_t t);

enum stats_interval { STATS_DAY = 0, STATS_WEEK = 1, STATS_MONTH = 2 };

/* The day number on which the interval containing `day` starts (the day
 * itself, its ISO week's Monday, the first of its month). */
int64_t stats_interval_start(enum stats_interval iv, int64_t day);
/* The first day of the interval after the one starting at `start`. */
int64_t stats_interval_next(enum stats_interval iv, int64_t start);
/* How many intervals from the one containing first_day to the one
 * containing last_day, both included (first_day <= last_day). */
int64_t stats_interval_count(enum stats_interval iv, int64_t first_day, int64_t last_day);

/* Civil date of a day number (proleptic Gregorian) and back. */
void stats_civil_from_day(int64_t day, int64_t *year, int *month, int *mday);
int64_t stats_day_from_civil(int64_t year, int month, int mday);

#endif
