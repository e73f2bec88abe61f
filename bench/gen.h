/* Synthetic submissions shared by the benchmark's C programs, with the same
 * distribution as the wrk scripts (bench/wrk/common.lua): customers
 * "c-<n>" over a fixed population, every channel, scores spread over their
 * whole ranges, times over the last two years (the scale of issue 4's
 * dashboards: 1 000 000 submissions are about 1 400 a day). Deterministic for a seed, so a
 * loaded database is the same on every machine. Header-only: each program
 * includes it once. */
#ifndef FEEDBACKD_BENCH_GEN_H
#define FEEDBACKD_BENCH_GEN_H

#include <stdint.h>
#include <stdio.h>

#include "feedbackd/model.h"

#define GEN_SPAN_SECONDS (730 * 86400)
#define GEN_AGENTS 200

struct gen {
	uint64_t state;
	uint32_t customers; /* population size */
};

static inline void gen_init(struct gen *g, uint64_t seed, uint32_t customers)
{
	g->state = seed * 0x9e3779b97f4a7c15ULL + 1;
	g->customers = customers ? customers : 1;
}

/* xorshift64*: plenty for load shaping, and cheap next to SQLite */
static inline uint32_t gen_next(struct gen *g)
{
	g->state ^= g->state >> 12;
	g->state ^= g->state << 25;
	g->state ^= g->state >> 27;
	return (uint32_t)((g->state * 0x2545f4914f6cdd1dULL) >> 32);
}

static inline uint32_t gen_below(struct gen *g, uint32_t n)
{
	return (uint32_t)(((uint64_t)gen_next(g) * n) >> 32);
}

/* The plain fields of one survey (strings into caller buffers). Scores are
 * -1 when the survey leaves them out, as struct submission has it. */
struct gen_row {
	char customer_id[24];
	char agent_id[24];
	enum channel channel;
	int64_t submitted_at;
	int expectation, csat, effort, resolved, nps;
};

static inline void gen_row(struct gen *g, int64_t now, struct gen_row *r)
{
	snprintf(r->customer_id, sizeof(r->customer_id), "c-%u", gen_below(g, g->customers));
	snprintf(r->agent_id, sizeof(r->agent_id), "agent-%u", gen_below(g, GEN_AGENTS));
	r->channel = (enum channel)gen_below(g, CH_COUNT);
	r->submitted_at = now - (int64_t)gen_below(g, GEN_SPAN_SECONDS);
	r->expectation = (int)gen_below(g, 3);
	r->csat = 1 + (int)gen_below(g, 5);
	r->effort = gen_below(g, 4) == 0 ? -1 : 1 + (int)gen_below(g, 7);
	r->resolved = (int)gen_below(g, 2);
	r->nps = gen_below(g, 2) == 0 ? -1 : (int)gen_below(g, 11);
}

#endif
