/* score_customer: SPEC 5 rung by rung, each expected value computed by hand
 * in the comment beside it. */
#include <stdint.h>

#include "check.h"
#include "feedbackd/error.h"
#include "feedbackd/model.h"
#include "feedbackd/score.h"

#define NOW ((int64_t)1795428900) /* 2026-11-23T10:15:00Z */
#define DAY SCORE_DAY
#define N SCORE_NONE

/* Constructors: a survey (expectation, csat, nps) or a standalone rating,
 * submitted `ago` seconds before NOW. */
static struct score_item survey(int64_t ago, int expectation, int csat, int nps)
{
	return (struct score_item){true, NOW - ago, expectation, csat, nps};
}

static struct score_item rating(int64_t ago, int nps)
{
	return (struct score_item){false, NOW - ago, N, N, nps};
}

static struct score_params defaults(void)
{
	return (struct score_params){
	    .window = 365 * DAY,
	    .max_items = 50,
	    .level_met_share = 0.8,
	    .level_exceeded_share = 0.5,
	    .level_delighted_share = 0.5,
	    .loyal_min_surveys = 3,
	    .weight_nps = 0.5,
	    .weight_expectation = 0.3,
	    .weight_csat = 0.2,
	    .declining_delta = -15,
	};
}

static struct score_profile score(const struct score_item *items, size_t n,
                                  const struct score_params *p)
{
	struct score_profile out;
	CHECK_INT(score_customer(items, n, NOW, p, &out), 0);
	return out;
}

#define SCORE(items, p) score(items, sizeof(items) / sizeof(items[0]), p)

static void test_rounding(void)
{
	CHECK_INT(score_round_div(5, 2), 3);
	CHECK_INT(score_round_div(-5, 2), -3);
	CHECK_INT(score_round_div(7, 2), 4);
	CHECK_INT(score_round_div(4, 2), 2);
	CHECK_INT(score_round_div(1000, 16), 63); /* 62.5 */
	CHECK_INT(score_round_div(1000, 3), 333);
	CHECK_INT(score_round_div(2000, 3), 667);
	CHECK_INT(score_round_div(-1249, 10), -125); /* -124.9 */
	CHECK_INT(score_round_div(0, 7), 0);
}

static void test_empty(void)
{
	struct score_params p = defaults();
	struct score_profile out;
	CHECK_INT(score_customer(NULL, 0, NOW, &p, &out), 0);
	CHECK_INT(out.level, LEVEL_UNRATED);
	CHECK_INT(out.loyalty_score, N);
	CHECK(!out.has_delta);
	CHECK_INT(out.nps_category, NPS_NONE);
	CHECK_INT(out.latest_nps, N);
	CHECK(!out.has_shares);
	CHECK_INT(out.risk_reasons, 0);
	CHECK_INT(out.next_rescore_at, SCORE_NEVER);
}

static void test_nps_only(void)
{
	struct score_params p = defaults();
	/* unrated: no survey has an outcome; loyalty = N only = 90 */
	struct score_item one[] = {rating(DAY, 9)};
	struct score_profile out = SCORE(one, &p);
	CHECK_INT(out.level, LEVEL_UNRATED);
	CHECK(!out.has_shares);
	CHECK_INT(out.loyalty_score, 90);
	CHECK_INT(out.latest_nps, 9);
	CHECK_INT(out.nps_category, NPS_PROMOTER);
	CHECK_INT(out.risk_reasons, 0);
	CHECK(!out.has_delta); /* nothing 30 days ago */
	/* it enters the window of 30 days ago after 29 days */
	CHECK_INT(out.next_rescore_at, NOW + 29 * DAY);

	/* a survey that carries only nps has no outcome either; it is a rating.
	 * ratings 7, 8, 8, 8: mean 7.75 -> 77.5 -> 78 (half away from zero);
	 * newest is 7: passive */
	struct score_item four[] = {survey(10, N, N, 7), rating(20, 8), rating(30, 8),
	                            rating(40, 8)};
	out = SCORE(four, &p);
	CHECK_INT(out.level, LEVEL_UNRATED);
	CHECK_INT(out.loyalty_score, 78);
	CHECK_INT(out.latest_nps, 7);
	CHECK_INT(out.nps_category, NPS_PASSIVE);

	/* newest rating 6: detractor, at risk */
	struct score_item det[] = {rating(10, 6), rating(20, 10)};
	out = SCORE(det, &p);
	CHECK_INT(out.nps_category, NPS_DETRACTOR);
	CHECK_INT(out.risk_reasons, RISK_DETRACTOR);
	CHECK_INT(out.loyalty_score, 80);

	/* a component whose weight is 0 leaves nothing: null score */
	p.weight_nps = 0;
	out = SCORE(one, &p);
	CHECK_INT(out.loyalty_score, N);
}

static void test_csat_only(void)
{
	struct score_params p = defaults();
	/* csat 5, 4, 3 -> outcomes met, met, met: shares 1, 0, 0, level 1.
	 * E = 0.5, S = (4 + 3 + 2) / 12 = 0.75;
	 * score = 100 * (0.3 * 0.5 + 0.2 * 0.75) / 0.5 = 60 */
	struct score_item items[] = {survey(10, N, 5, N), survey(20, N, 4, N), survey(30, N, 3, N)};
	struct score_profile out = SCORE(items, &p);
	CHECK_INT(out.level, LEVEL_EXPECTED);
	CHECK(out.has_shares);
	CHECK_INT(out.share_met_milli, 1000);
	CHECK_INT(out.share_exceeded_milli, 0);
	CHECK_INT(out.share_delighted_milli, 0);
	CHECK_INT(out.loyalty_score, 60);
	CHECK_INT(out.nps_category, NPS_NONE);
	CHECK_INT(out.risk_reasons, 0);

	/* csat 2 alone is below: level 0, E = 0, S = 0.25, score = 100 * 0.05 / 0.5 = 10 */
	struct score_item low[] = {survey(10, N, 2, N)};
	out = SCORE(low, &p);
	CHECK_INT(out.level, LEVEL_BELOW_EXPECTATIONS);
	CHECK_INT(out.share_met_milli, 0);
	CHECK_INT(out.loyalty_score, 10);
	CHECK_INT(out.risk_reasons, RISK_BELOW_EXPECTATIONS);

	/* expectation wins over csat: met with csat 1 is met; S = 0.
	 * score = 100 * (0.3 * 0.5 + 0.2 * 0) / 0.5 = 30 */
	struct score_item wins[] = {survey(10, EXP_MET, 1, N)};
	out = SCORE(wins, &p);
	CHECK_INT(out.level, LEVEL_EXPECTED);
	CHECK_INT(out.loyalty_score, 30);
}

static void test_level_expected_boundary(void)
{
	struct score_params p = defaults();
	/* 4 of 5 met, exactly 0.8, newest met: level 1 */
	struct score_item at[] = {survey(10, EXP_MET, N, N), survey(20, EXP_BELOW, N, N),
	                          survey(30, EXP_MET, N, N), survey(40, EXP_MET, N, N),
	                          survey(50, EXP_MET, N, N)};
	struct score_profile out = SCORE(at, &p);
	CHECK_INT(out.level, LEVEL_EXPECTED);
	CHECK_INT(out.share_met_milli, 800);
	CHECK_INT(out.risk_reasons, 0);

	/* the same with the failure newest: level 0 and at risk */
	struct score_item newest_below[] = {survey(10, EXP_BELOW, N, N), survey(20, EXP_MET, N, N),
	                                    survey(30, EXP_MET, N, N), survey(40, EXP_MET, N, N),
	                                    survey(50, EXP_MET, N, N)};
	out = SCORE(newest_below, &p);
	CHECK_INT(out.level, LEVEL_BELOW_EXPECTATIONS);
	CHECK_INT(out.share_met_milli, 800);
	CHECK_INT(out.risk_reasons, RISK_BELOW_EXPECTATIONS);

	/* 40 of 50 met (0.8 once more, larger n), then 39 of 50 (0.78): 1, then 0 */
	struct score_item many[50];
	for (int i = 0; i < 50; i++)
		many[i] = survey(10 + i, i % 5 == 4 ? EXP_BELOW : EXP_MET, N, N);
	out = score(many, 50, &p);
	CHECK_INT(out.level, LEVEL_EXPECTED);
	many[3].expectation = EXP_BELOW;
	out = score(many, 50, &p);
	CHECK_INT(out.level, LEVEL_BELOW_EXPECTATIONS);
	CHECK_INT(out.share_met_milli, 780);

	/* a stricter threshold from configuration */
	p.level_met_share = 0.9;
	out = SCORE(at, &p);
	CHECK_INT(out.level, LEVEL_BELOW_EXPECTATIONS);
}

static void test_levels_up(void)
{
	struct score_params p = defaults();
	/* exceeded 2 of 4 = 0.5 exactly: level 2; none delighted (csat 4) */
	struct score_item two[] = {survey(10, EXP_EXCEEDED, 4, N), survey(20, EXP_MET, N, N),
	                           survey(30, EXP_EXCEEDED, N, N), survey(40, EXP_MET, N, N)};
	struct score_profile out = SCORE(two, &p);
	CHECK_INT(out.level, LEVEL_EXCEEDED);
	CHECK_INT(out.share_met_milli, 1000);
	CHECK_INT(out.share_exceeded_milli, 500);
	CHECK_INT(out.share_delighted_milli, 0);

	/* one exceeded of 3: 0.333 < 0.5: level 1 */
	struct score_item one[] = {survey(10, EXP_EXCEEDED, N, N), survey(20, EXP_MET, N, N),
	                           survey(30, EXP_MET, N, N)};
	out = SCORE(one, &p);
	CHECK_INT(out.level, LEVEL_EXPECTED);
	CHECK_INT(out.share_exceeded_milli, 333);

	/* delighted 2 of 4 = 0.5 exactly (exceeded with csat 5): level 3.
	 * E = (2 + 2 + 1 + 1) / 8 = 0.75, S = (4 + 4) / 8 = 1, no NPS:
	 * score = 100 * (0.3 * 0.75 + 0.2 * 1) / 0.5 = 85 */
	struct score_item three[] = {survey(10, EXP_EXCEEDED, 5, N), survey(20, EXP_MET, N, N),
	                             survey(30, EXP_EXCEEDED, 5, N), survey(40, EXP_MET, N, N)};
	out = SCORE(three, &p);
	CHECK_INT(out.level, LEVEL_DELIGHTED);
	CHECK_INT(out.share_delighted_milli, 500);
	CHECK_INT(out.loyalty_score, 85);

	/* loyal: level 3, newest rating 9 and n >= 3. The rating is a standalone
	 * one older than the surveys: "newest NPS rating" looks at ratings only */
	struct score_item four[] = {survey(10, EXP_EXCEEDED, 5, N), survey(20, EXP_MET, N, N),
	                            survey(30, EXP_EXCEEDED, 5, N), survey(40, EXP_MET, N, N),
	                            rating(50, 9)};
	out = SCORE(four, &p);
	CHECK_INT(out.level, LEVEL_LOYAL);
	CHECK_INT(out.nps_category, NPS_PROMOTER);
	/* N = 0.9: 100 * (0.45 + 0.225 + 0.2) / 1 = 87.5 -> 88 */
	CHECK_INT(out.loyalty_score, 88);

	/* a newer rating of 8 outweighs an older 10: not loyal, passive */
	struct score_item passive[] = {rating(5, 8), survey(10, EXP_EXCEEDED, 5, 10),
	                               survey(20, EXP_EXCEEDED, 5, N), survey(30, EXP_MET, N, N)};
	out = SCORE(passive, &p);
	CHECK_INT(out.level, LEVEL_DELIGHTED);
	CHECK_INT(out.nps_category, NPS_PASSIVE);
	CHECK_INT(out.latest_nps, 8);

	/* n = 2 < loyal_min_surveys: delighted only; with the key at 2: loyal */
	struct score_item few[] = {survey(10, EXP_EXCEEDED, 5, 10), survey(20, EXP_EXCEEDED, 5, N)};
	out = SCORE(few, &p);
	CHECK_INT(out.level, LEVEL_DELIGHTED);
	p.loyal_min_surveys = 2;
	out = SCORE(few, &p);
	CHECK_INT(out.level, LEVEL_LOYAL);

	/* exceeded without csat 5 is not delighted */
	struct score_item nocsat[] = {survey(10, EXP_EXCEEDED, N, N),
	                              survey(20, EXP_EXCEEDED, 4, N)};
	out = SCORE(nocsat, &p);
	CHECK_INT(out.level, LEVEL_EXCEEDED);
	CHECK_INT(out.share_delighted_milli, 0);

	/* a level counts only when the ones below hold: all delighted but the
	 * newest failed -> 0 */
	struct score_item fall[] = {survey(10, EXP_BELOW, N, 10),   survey(20, EXP_EXCEEDED, 5, N),
	                            survey(30, EXP_EXCEEDED, 5, N), survey(40, EXP_EXCEEDED, 5, N),
	                            survey(50, EXP_EXCEEDED, 5, N), survey(60, EXP_EXCEEDED, 5, N)};
	out = SCORE(fall, &p);
	CHECK_INT(out.level, LEVEL_BELOW_EXPECTATIONS);
	CHECK_INT(out.share_met_milli, 833);
	CHECK_INT(out.share_delighted_milli, 833);
}

static void test_loyalty_rounding_half(void)
{
	struct score_params p = defaults();
	/* N = 0.9, E = (1 + 0.5) / 2 = 0.75, S = (0.75 + 0.75) / 2 = 0.75:
	 * 100 * (0.45 + 0.225 + 0.15) = 82.5 exactly -> 83 */
	struct score_item items[] = {survey(10, EXP_EXCEEDED, 4, 9), survey(20, EXP_MET, 4, N)};
	struct score_profile out = SCORE(items, &p);
	CHECK_INT(out.loyalty_score, 83);
	CHECK_INT(out.level, LEVEL_EXCEEDED);

	/* N = (0 + 1) / 20 = 0.05, E = 0.5, S = (1 + 1) / 8 = 0.25:
	 * 100 * (0.025 + 0.15 + 0.05) = 22.5 exactly -> 23, where the same sum
	 * in doubles is 22.4999... and would round to 22 */
	struct score_item low[] = {survey(10, EXP_MET, 2, 0), survey(20, EXP_MET, 2, 1)};
	out = SCORE(low, &p);
	CHECK_INT(out.loyalty_score, 23);
	CHECK_INT(out.level, LEVEL_EXPECTED);
	CHECK_INT(out.risk_reasons, RISK_DETRACTOR);

	/* shares to three decimals: 4/7 = 0.5714 -> 0.571, 3/7 = 0.4286 -> 0.429 */
	struct score_item seven[7];
	for (int i = 0; i < 7; i++)
		seven[i] = survey(10 + i, i < 3 ? EXP_EXCEEDED : EXP_MET, i < 3 ? 5 : N, N);
	seven[3].expectation = EXP_EXCEEDED;
	out = score(seven, 7, &p);
	CHECK_INT(out.share_met_milli, 1000);
	CHECK_INT(out.share_exceeded_milli, 571);
	CHECK_INT(out.share_delighted_milli, 429);
	CHECK_INT(out.level, LEVEL_EXCEEDED);
}

static void test_window_edges(void)
{
	struct score_params p = defaults();
	int64_t w = 365 * DAY;
	/* exactly window old: outside (the window is (now - window, now]) */
	struct score_item edge[] = {survey(w, EXP_MET, N, N)};
	struct score_profile out = SCORE(edge, &p);
	CHECK_INT(out.level, LEVEL_UNRATED);
	/* it is still in the window of 30 days ago: score 50 then, null now */
	CHECK(!out.has_delta);
	CHECK_INT(out.next_rescore_at, NOW - w + 30 * DAY + w);

	/* one second younger: inside, and it leaves in one second */
	struct score_item inside[] = {survey(w - 1, EXP_MET, N, N)};
	out = SCORE(inside, &p);
	CHECK_INT(out.level, LEVEL_EXPECTED);
	CHECK_INT(out.next_rescore_at, NOW + 1);

	/* submitted exactly now: inside */
	struct score_item at_now[] = {survey(0, EXP_MET, N, N)};
	out = SCORE(at_now, &p);
	CHECK_INT(out.level, LEVEL_EXPECTED);
	CHECK_INT(out.next_rescore_at, NOW + 30 * DAY);

	/* future-dated (clock skew): not yet counted; becomes current at its time */
	struct score_item future[] = {survey(-60, EXP_BELOW, N, N), survey(10, EXP_MET, N, N)};
	out = SCORE(future, &p);
	CHECK_INT(out.level, LEVEL_EXPECTED);
	CHECK_INT(out.next_rescore_at, NOW + 60);

	/* a shorter window from configuration */
	p.window = 7 * DAY;
	struct score_item week[] = {survey(DAY, EXP_MET, N, N), survey(8 * DAY, EXP_BELOW, N, N)};
	out = SCORE(week, &p);
	CHECK_INT(out.level, LEVEL_EXPECTED);
	CHECK_INT(out.share_met_milli, 1000);
	CHECK_INT(out.next_rescore_at, NOW + 6 * DAY); /* DAY-old leaves after 6 days */
}

static void test_max_items(void)
{
	struct score_params p = defaults();
	p.max_items = 3;
	/* the 4th newest (a failure) is not scored */
	struct score_item items[] = {survey(10, EXP_MET, N, N), survey(20, EXP_MET, N, N),
	                             rating(30, 10), survey(40, EXP_BELOW, N, N)};
	struct score_profile out = SCORE(items, &p);
	CHECK_INT(out.level, LEVEL_EXPECTED);
	CHECK_INT(out.share_met_milli, 1000);
	/* N = 1, E = 0.5: 100 * (0.5 + 0.15) / 0.8 = 81.25 -> 81 */
	CHECK_INT(out.loyalty_score, 81);
	p.max_items = 4;
	out = SCORE(items, &p);
	CHECK_INT(out.level, LEVEL_BELOW_EXPECTATIONS);
	CHECK_INT(out.share_met_milli, 667);
	/* E = 1/3: 100 * (0.5 + 0.1) / 0.8 = 75 */
	CHECK_INT(out.loyalty_score, 75);
}

static void test_delta_and_declining(void)
{
	struct score_params p = defaults();
	/* 30 days ago only the 10 counted (100); now 10 and 7: 85; delta -15
	 * exactly: declining. Newest 7 is passive, not a detractor. */
	struct score_item fifteen[] = {rating(DAY, 7), rating(40 * DAY, 10)};
	struct score_profile out = SCORE(fifteen, &p);
	CHECK_INT(out.loyalty_score, 85);
	CHECK(out.has_delta);
	CHECK_INT(out.loyalty_delta_30d, -15);
	CHECK_INT(out.risk_reasons, RISK_DECLINING);
	/* (now - 1 day) + 30 days is the next event */
	CHECK_INT(out.next_rescore_at, NOW + 29 * DAY);

	/* 10, 10 then; 10, 10, 6 now: 26 / 30 -> 86.67 -> 87; delta -13 */
	struct score_item thirteen[] = {rating(DAY, 6), rating(40 * DAY, 10), rating(41 * DAY, 10)};
	out = SCORE(thirteen, &p);
	CHECK_INT(out.loyalty_score, 87);
	CHECK_INT(out.loyalty_delta_30d, -13);
	CHECK_INT(out.risk_reasons, RISK_DETRACTOR);

	/* the threshold is configurable */
	p.declining_delta = -13;
	out = SCORE(thirteen, &p);
	CHECK_INT(out.risk_reasons, RISK_DETRACTOR | RISK_DECLINING);
	p = defaults();

	/* rising: then below (E = 0, score 0), now met too: E = 0.25 -> 25 */
	struct score_item up[] = {survey(DAY, EXP_MET, N, N), survey(31 * DAY, EXP_BELOW, N, N)};
	out = SCORE(up, &p);
	CHECK_INT(out.loyalty_delta_30d, 25);
	CHECK_INT(out.level, LEVEL_BELOW_EXPECTATIONS); /* 0.5 met */

	/* the window 30 days ago also keeps only max_items: with 1, 30 days
	 * ago the 8 (80) is scored, not the older 0; now the 10: delta +20 */
	p.max_items = 1;
	struct score_item capped[] = {rating(DAY, 10), rating(31 * DAY, 8), rating(32 * DAY, 0)};
	out = SCORE(capped, &p);
	CHECK_INT(out.loyalty_score, 100);
	CHECK_INT(out.loyalty_delta_30d, 20);
}

static void test_rejects_unsorted(void)
{
	struct score_params p = defaults();
	struct score_item items[] = {rating(20, 5), rating(10, 5)};
	struct score_profile out;
	CHECK_INT(score_customer(items, 2, NOW, &p, &out), FBD_EINVAL);
}

static void test_names(void)
{
	CHECK_STR(score_level_name(LEVEL_BELOW_EXPECTATIONS), "below_expectations");
	CHECK_STR(score_level_name(LEVEL_LOYAL), "loyal");
	CHECK(score_level_name(LEVEL_UNRATED) == NULL);
	CHECK(score_level_name(5) == NULL);
	CHECK_INT(score_level_parse("delighted"), LEVEL_DELIGHTED);
	CHECK_INT(score_level_parse("unrated"), -1);
	CHECK_INT(score_level_parse("Loyal"), -1);
	CHECK_STR(score_nps_category_name(NPS_PASSIVE), "passive");
	CHECK(score_nps_category_name(NPS_NONE) == NULL);
	CHECK_INT(score_nps_category_parse("promoter"), NPS_PROMOTER);
	CHECK_INT(score_nps_category_parse("none"), -1);
	CHECK_STR(score_risk_name(RISK_DECLINING), "declining");
}

int main(void)
{
	test_rounding();
	test_empty();
	test_nps_only();
	test_csat_only();
	test_level_expected_boundary();
	test_levels_up();
	test_loyalty_rounding_half();
	test_window_edges();
	test_max_items();
	test_delta_and_declining();
	test_rejects_unsorted();
	test_names();
	return check_report("score");
}
