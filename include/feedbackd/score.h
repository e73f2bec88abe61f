/* The scoring model of SPEC 5: one customer's service level, loyalty score
 * and risk, from the submissions in their window.
 *
 * Pure: no I/O, no logging, no allocation, no global state. The worker
 * (worker.h) loads a customer's submissions, calls score_customer() and
 * stores the result. */
#ifndef FEEDBACKD_SCORE_H
#define FEEDBACKD_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feedbackd/config.h"

#define SCORE_DAY ((int64_t)86400)
#define SCORE_DELTA_SECONDS (30 * SCORE_DAY) /* loyalty_delta_30d looks back this far */
#define SCORE_NONE (-1)                      /* an absent integer in the structs below */

/* One submission as the model sees it. Absent values are SCORE_NONE. A
 * survey's own nps counts as an NPS rating, like a standalone rating. */
struct score_item {
	bool survey;          /* false: a standalone NPS rating */
	int64_t submitted_at; /* unix seconds */
	int expectation;      /* enum expectation: 0 below, 1 met, 2 exceeded, or SCORE_NONE */
	int csat;             /* 1..5 or SCORE_NONE */
	int nps;              /* 0..10 or SCORE_NONE */
};

/* The model's knobs (SPEC 5 defaults in brackets). */
struct score_params {
	int64_t window;               /* seconds [365 days] */
	int max_items;                /* newest submissions scored per window [50] */
	double level_met_share;       /* [0.8] */
	double level_exceeded_share;  /* [0.5] */
	double level_delighted_share; /* [0.5] */
	int loyal_min_surveys;        /* [3] */
	double weight_nps;            /* [0.5] */
	double weight_expectation;    /* [0.3] */
	double weight_csat;           /* [0.2] */
	int declining_delta;          /* [-15]: a 30-day change at or below this is at risk */
};

enum score_level {
	LEVEL_UNRATED = SCORE_NONE,
	LEVEL_BELOW_EXPECTATIONS = 0,
	LEVEL_EXPECTED = 1,
	LEVEL_EXCEEDED = 2,
	LEVEL_DELIGHTED = 3,
	LEVEL_LOYAL = 4,
};

enum nps_category {
	NPS_NONE = SCORE_NONE,
	NPS_DETRACTOR = 0,
	NPS_PASSIVE = 1,
	NPS_PROMOTER = 2,
};

/* risk_reasons bits, as stored in customers.risk_reasons */
enum score_risk {
	RISK_DETRACTOR = 1,
	RISK_BELOW_EXPECTATIONS = 2,
	RISK_DECLINING = 4,
};

#define SCORE_NEVER INT64_MAX /* next_rescore_at when time alone changes nothing */

struct score_profile {
	int level;             /* enum score_level */
	int loyalty_score;     /* 0..100 or SCORE_NONE */
	bool has_delta;        /* loyalty_delta_30d is defined */
	int loyalty_delta_30d; /* -100..100 when has_delta */
	int nps_category;      /* enum nps_category */
	int latest_nps;        /* 0..10 or SCORE_NONE */
	bool has_shares;       /* false when no survey in the window has an outcome */
	int share_met_milli;   /* shares in thousandths (0..1000), rounded half up */
	int share_exceeded_milli;
	int share_delighted_milli;
	unsigned risk_reasons; /* enum score_risk bits; at_risk is risk_reasons != 0 */
	/* The earliest time after now at which the result may change with no
	 * new submission (one enters or leaves the window at now or at
	 * now - 30 days), or SCORE_NEVER. It can be early (an event that turns
	 * out to change nothing costs one extra rescoring) but never late. */
	int64_t next_rescore_at;
};

/* The params of cfg. */
void score_params_from_config(struct score_params *p, const struct fbd_config *cfg);

/* Score one customer at time now.
 *
 * items[0..n) is newest first: by submitted_at descending, ties in the
 * store's order (id descending), which decides "newest". It may hold any
 * subset of the customer's submissions as long as it has, for both windows
 * ((now - window, now] and the same window 30 days earlier), the newest
 * max_items submissions in it; for next_rescore_at to be exact it must also
 * hold the oldest submission after now - 30 days and the oldest one after
 * now. Others are ignored or only bring next_rescore_at forward.
 * Returns 0, or FBD_EINVAL when items are not newest first. */
int score_customer(const struct score_item *items, size_t n, int64_t now,
                   const struct score_params *p, struct score_profile *out);

/* Round num/den (den > 0) to the nearest integer, halves away from zero. */
int64_t score_round_div(int64_t num, int64_t den);

/* Names for the API; NULL for SCORE_NONE or out of range. */
const char *score_level_name(int level);
int score_level_parse(const char *s); /* -1 (unknown) for anything else */
const char *score_nps_category_name(int category);
int score_nps_category_parse(const char *s); /* -1 for anything else */
const char *score_risk_name(enum score_risk bit);

#endif
