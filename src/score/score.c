/* The scoring model of SPEC 5.
 *
 * A customer is scored from two windows of their history: the current one,
 * (now - window, now], and the same window 30 days ago, which only serves
 * loyalty_delta_30d. Each window keeps its newest max_items submissions.
 *
 * Everything is counted in integers and every threshold is compared on exact
 * fractions, so a customer at exactly 0.8 met is at level 1 whatever the
 * floating-point representation of 0.8 is, and a loyalty score of exactly
 * 72.5 rounds to 73. The weights, being configuration doubles, are taken to
 * six decimals; the loyalty score is then one exact fraction, rounded once.
 *
 * next_rescore_at lets the worker rescore customers when time alone changes
 * their profile, without scanning every customer on every tick: each
 * submission can change the result only at the four moments it enters or
 * leaves one of the two windows. */
#include "feedbackd/score.h"

#include <math.h>
#include <string.h>

#include "feedbackd/error.h"
#include "feedbackd/model.h"

#define WEIGHT_UNITS 1000000.0 /* weights are used to six decimals */

/* Counts over the newest max_items submissions of one window. */
struct window_stats {
	int n_outcomes; /* surveys with an outcome: the n of SPEC 5 */
	int n_met;      /* met or exceeded */
	int n_exceeded;
	int n_delighted;    /* exceeded and csat 5 */
	int outcome_halves; /* sum of outcome values in halves: below 0, met 1, exceeded 2 */
	int newest_outcome; /* enum expectation or SCORE_NONE */
	int n_nps;
	int nps_sum;
	int newest_nps; /* SCORE_NONE when no rating */
	int n_csat;
	int csat_sum; /* sum of csat - 1 */
};

void score_params_from_config(struct score_params *p, const struct fbd_config *cfg)
{
	*p = (struct score_params){
	    .window = (int64_t)cfg->window_days * SCORE_DAY,
	    .max_items = cfg->max_items,
	    .level_met_share = cfg->level_met_share,
	    .level_exceeded_share = cfg->level_exceeded_share,
	    .level_delighted_share = cfg->level_delighted_share,
	    .loyal_min_surveys = cfg->loyal_min_surveys,
	    .weight_nps = cfg->weight_nps,
	    .weight_expectation = cfg->weight_expectation,
	    .weight_csat = cfg->weight_csat,
	    .declining_delta = cfg->declining_delta,
	};
}

int64_t score_round_div(int64_t num, int64_t den)
{
	if (num < 0)
		return -score_round_div(-num, den);
	return (2 * num + den) / (2 * den);
}

/* SPEC 5: expectation if given, else csat 1-2 below and 3-5 met, else none. */
static int outcome_of(const struct score_item *it)
{
	if (!it->survey)
		return SCORE_NONE;
	if (it->expectation >= EXP_BELOW && it->expectation <= EXP_EXCEEDED)
		return it->expectation;
	if (it->csat >= 1 && it->csat <= 2)
		return EXP_BELOW;
	if (it->csat >= 3 && it->csat <= 5)
		return EXP_MET;
	return SCORE_NONE;
}

static void add_item(struct window_stats *w, const struct score_item *it)
{
	int outcome = outcome_of(it);
	if (outcome != SCORE_NONE) {
		if (w->n_outcomes == 0)
			w->newest_outcome = outcome;
		w->n_outcomes++;
		w->n_met += outcome != EXP_BELOW;
		w->n_exceeded += outcome == EXP_EXCEEDED;
		w->n_delighted += outcome == EXP_EXCEEDED && it->csat == 5;
		w->outcome_halves += outcome;
	}
	if (it->nps >= 0 && it->nps <= 10) {
		if (w->n_nps == 0)
			w->newest_nps = it->nps;
		w->n_nps++;
		w->nps_sum += it->nps;
	}
	if (it->survey && it->csat >= 1 && it->csat <= 5) {
		w->n_csat++;
		w->csat_sum += it->csat - 1;
	}
}

/* The stats of the window that ends at `end`. */
static void window_collect(const struct score_item *items, size_t n, int64_t end,
                           const struct score_params *p, struct window_stats *w)
{
	*w = (struct window_stats){.newest_outcome = SCORE_NONE, .newest_nps = SCORE_NONE};
	int taken = 0;
	for (size_t i = 0; i < n && taken < p->max_items; i++) {
		int64_t t = items[i].submitted_at;
		if (t > end)
			continue;
		if (t <= end - p->window)
			break;
		add_item(w, &items[i]);
		taken++;
	}
}

/* k/n >= share, decided on the exact fraction k/n: a correctly rounded
 * division equals the double nearest to the threshold whenever k/n and the
 * threshold are the same number, so a share of exactly 0.8 meets 0.8. */
static bool share_at_least(int k, int n, double share)
{
	return (double)k / (double)n >= share;
}

static int level_of(const struct window_stats *w, const struct score_params *p)
{
	if (w->n_outcomes == 0)
		return LEVEL_UNRATED;
	int n = w->n_outcomes;
	if (!share_at_least(w->n_met, n, p->level_met_share) || w->newest_outcome == EXP_BELOW)
		return LEVEL_BELOW_EXPECTATIONS;
	if (!share_at_least(w->n_exceeded, n, p->level_exceeded_share))
		return LEVEL_EXPECTED;
	if (!share_at_least(w->n_delighted, n, p->level_delighted_share))
		return LEVEL_EXCEEDED;
	if (w->newest_nps < 9 || n < p->loyal_min_surveys)
		return LEVEL_DELIGHTED;
	return LEVEL_LOYAL;
}

/* round(100 * sum(w_i * sum_i / den_i) / sum(w_i)) over present components,
 * as one exact fraction. Magnitudes: den_i <= 10 * 1000, weights <= 10^6,
 * so numerator and denominator stay far inside 128 bits. */
static int loyalty_of(const struct window_stats *w, const struct score_params *p)
{
	int64_t weight[3] = {llround(p->weight_nps * WEIGHT_UNITS),
	                     llround(p->weight_expectation * WEIGHT_UNITS),
	                     llround(p->weight_csat * WEIGHT_UNITS)};
	int64_t sum[3] = {w->nps_sum, w->outcome_halves, w->csat_sum};
	int64_t den[3] = {10 * (int64_t)w->n_nps, 2 * (int64_t)w->n_outcomes,
	                  4 * (int64_t)w->n_csat};
	__int128 num = 0, total = 1, weights = 0;
	for (int i = 0; i < 3; i++) {
		if (den[i] == 0)
			continue;
		/* bring num/total to the common denominator total * den[i] */
		num = num * den[i] + (__int128)weight[i] * sum[i] * total;
		total *= den[i];
		weights += weight[i];
	}
	if (weights == 0)
		return SCORE_NONE;
	__int128 n2 = 2 * 100 * num, d2 = total * weights;
	return (int)((n2 + d2) / (2 * d2));
}

static int nps_category_of(int nps)
{
	if (nps == SCORE_NONE)
		return NPS_NONE;
	return nps >= 9 ? NPS_PROMOTER : nps >= 7 ? NPS_PASSIVE : NPS_DETRACTOR;
}

static int milli(int k, int n)
{
	return (int)score_round_div(1000 * (int64_t)k, n);
}

static void consider(int64_t *best, int64_t t, int64_t now)
{
	if (t > now && t < *best)
		*best = t;
}

/* The moments each submission enters or leaves either window. */
static int64_t next_event(const struct score_item *items, size_t n, int64_t now,
                          const struct score_params *p)
{
	int64_t best = SCORE_NEVER;
	for (size_t i = 0; i < n; i++) {
		int64_t t = items[i].submitted_at;
		consider(&best, t, now);
		consider(&best, t + p->window, now);
		consider(&best, t + SCORE_DELTA_SECONDS, now);
		consider(&best, t + SCORE_DELTA_SECONDS + p->window, now);
	}
	return best;
}

int score_customer(const struct score_item *items, size_t n, int64_t now,
                   const struct score_params *p, struct score_profile *out)
{
	for (size_t i = 1; i < n; i++)
		if (items[i].submitted_at > items[i - 1].submitted_at)
			return FBD_EINVAL;
	struct window_stats cur, past;
	window_collect(items, n, now, p, &cur);
	window_collect(items, n, now - SCORE_DELTA_SECONDS, p, &past);

	memset(out, 0, sizeof(*out));
	out->level = level_of(&cur, p);
	out->loyalty_score = loyalty_of(&cur, p);
	int past_score = loyalty_of(&past, p);
	out->has_delta = out->loyalty_score != SCORE_NONE && past_score != SCORE_NONE;
	out->loyalty_delta_30d = out->has_delta ? out->loyalty_score - past_score : 0;
	out->latest_nps = cur.newest_nps;
	out->nps_category = nps_category_of(cur.newest_nps);
	out->has_shares = cur.n_outcomes > 0;
	if (out->has_shares) {
		out->share_met_milli = milli(cur.n_met, cur.n_outcomes);
		out->share_exceeded_milli = milli(cur.n_exceeded, cur.n_outcomes);
		out->share_delighted_milli = milli(cur.n_delighted, cur.n_outcomes);
	}
	if (out->nps_category == NPS_DETRACTOR)
		out->risk_reasons |= RISK_DETRACTOR;
	if (cur.newest_outcome == EXP_BELOW)
		out->risk_reasons |= RISK_BELOW_EXPECTATIONS;
	if (out->has_delta && out->loyalty_delta_30d <= p->declining_delta)
		out->risk_reasons |= RISK_DECLINING;
	out->next_rescore_at = next_event(items, n, now, p);
	return 0;
}

static const char *const level_names[] = {"below_expectations", "expected", "exceeded", "delighted",
                                          "loyal"};
static const char *const nps_names[] = {"detractor", "passive", "promoter"};

const char *score_level_name(int level)
{
	return level >= 0 && level <= LEVEL_LOYAL ? level_names[level] : NULL;
}

int score_level_parse(const char *s)
{
	for (int i = 0; s && i <= LEVEL_LOYAL; i++)
		if (strcmp(level_names[i], s) == 0)
			return i;
	return -1;
}

const char *score_nps_category_name(int category)
{
	return category >= 0 && category <= NPS_PROMOTER ? nps_names[category] : NULL;
}

int score_nps_category_parse(const char *s)
{
	for (int i = 0; s && i <= NPS_PROMOTER; i++)
		if (strcmp(nps_names[i], s) == 0)
			return i;
	return -1;
}

const char *score_risk_name(enum score_risk bit)
{
	switch (bit) {
	case RISK_DETRACTOR:
		return "detractor";
	case RISK_BELOW_EXPECTATIONS:
		return "below_expectations";
	case RISK_DECLINING:
		return "declining";
	}
	return NULL;
}
