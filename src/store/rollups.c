/* Write side of the dashboard aggregates (schema: migrations/003).
 *
 * Why views: one table keyed by (day, channel, agent, segment) alone would
 * hold about one row per submission once agents are many, so an unfiltered
 * summary would read nearly as many rows as the submissions table. Each
 * submission therefore goes into five views — no filter, by channel, by
 * agent, by segment, and by all three (for combined filters) — and a query
 * reads the narrowest view that answers it: one row per day when unfiltered.
 *
 * Distinct customers do not add up across days, so for views 0..3 each new
 * (customer, day) also records the customer's previous day in that view
 * (customer_gaps): the customers of days [a, b] are the customer-days in
 * [a, b] whose previous day is before a. A submission that arrives out of
 * order (submitted_at in the past) lands between two days of the customer
 * and re-links the later one. The combined view keeps no customer-days
 * (migration 007): its distinct customers are counted from the submissions'
 * covering index (src/store/dashboard.c). */
#include <stdlib.h>
#include <string.h>

#include "feedbackd/dashboard.h"
#include "feedbackd/error.h"

#define NO_PREV_DAY (-9999999)
#define VIEW_COUNT 5
#define VIEW_ALL 4

struct view_key {
	int kind;
	int channel;
	const char *agent_id;
	const char *segment;
};

static struct view_key view_of(const struct submission *s, int kind)
{
	struct view_key k = {kind, -1, "", ""};
	if (kind == 1 || kind == VIEW_ALL)
		k.channel = (int)s->channel;
	if ((kind == 2 || kind == VIEW_ALL) && s->agent_id)
		k.agent_id = s->agent_id;
	if ((kind == 3 || kind == VIEW_ALL) && s->segment)
		k.segment = s->segment;
	return k;
}

static void bind_key(sqlite3_stmt *stmt, const struct view_key *k)
{
	sqlite3_bind_int(stmt, 1, k->kind);
	sqlite3_bind_int(stmt, 2, k->channel);
	sqlite3_bind_text(stmt, 3, k->agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, k->segment, -1, SQLITE_STATIC);
}

static int add_counts(struct db_conn *c, const struct view_key *k, int64_t day,
                      const struct stats_counts *n)
{
	sqlite3_stmt *stmt = db_stmt(
	    c, "INSERT INTO rollups (kind, channel, agent_id, segment, day, responses,"
	       " nps_count, promoters, passives, detractors, csat_count, csat_positive, csat_sum,"
	       " effort_count, effort_sum, exp_below, exp_met, exp_exceeded, resolved_count,"
	       " resolved_yes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	       " ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
	       " ON CONFLICT (kind, day, channel, agent_id, segment) DO UPDATE SET"
	       " responses = responses + excluded.responses,"
	       " nps_count = nps_count + excluded.nps_count,"
	       " promoters = promoters + excluded.promoters,"
	       " passives = passives + excluded.passives,"
	       " detractors = detractors + excluded.detractors,"
	       " csat_count = csat_count + excluded.csat_count,"
	       " csat_positive = csat_positive + excluded.csat_positive,"
	       " csat_sum = csat_sum + excluded.csat_sum,"
	       " effort_count = effort_count + excluded.effort_count,"
	       " effort_sum = effort_sum + excluded.effort_sum,"
	       " exp_below = exp_below + excluded.exp_below,"
	       " exp_met = exp_met + excluded.exp_met,"
	       " exp_exceeded = exp_exceeded + excluded.exp_exceeded,"
	       " resolved_count = resolved_count + excluded.resolved_count,"
	       " resolved_yes = resolved_yes + excluded.resolved_yes");
	if (stmt == NULL)
		return db_conn_error(c);
	const int64_t v[] = {n->responses,    n->nps_count,      n->promoters,     n->passives,
	                     n->detractors,   n->csat_count,     n->csat_positive, n->csat_sum,
	                     n->effort_count, n->effort_sum,     n->exp_below,     n->exp_met,
	                     n->exp_exceeded, n->resolved_count, n->resolved_yes};
	bind_key(stmt, k);
	sqlite3_bind_int64(stmt, 5, day);
	for (int i = 0; i < (int)(sizeof(v) / sizeof(v[0])); i++)
		sqlite3_bind_int64(stmt, 6 + i, v[i]);
	return db_step_done(c, stmt);
}

/* Inserts the customer-day; *is_new tells whether it was not there yet. */
static int add_customer_day(struct db_conn *c, const struct view_key *k, const char *customer,
                            int64_t day, bool *is_new)
{
	sqlite3_stmt *stmt =
	    db_stmt(c, "INSERT INTO customer_days (kind, channel, agent_id,"
	               " segment, customer_id, day) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	               " ON CONFLICT DO NOTHING");
	if (stmt == NULL)
		return db_conn_error(c);
	bind_key(stmt, k);
	sqlite3_bind_text(stmt, 5, customer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 6, day);
	int err = db_step_done(c, stmt);
	*is_new = err == 0 && sqlite3_changes(c->db) == 1;
	return err;
}

/* The customer's nearest other days in this view before and after day, in
 * one statement (two seeks); *has_prev / *has_next false when there is none. */
static int neighbour_days(struct db_conn *c, const struct view_key *k, const char *customer,
                          int64_t day, int64_t *prev, bool *has_prev, int64_t *next, bool *has_next)
{
	sqlite3_stmt *stmt =
	    db_stmt(c, "SELECT (SELECT max(day) FROM customer_days WHERE kind = ?1 AND channel = ?2"
	               " AND agent_id = ?3 AND segment = ?4 AND customer_id = ?5 AND day < ?6),"
	               " (SELECT min(day) FROM customer_days WHERE kind = ?1 AND channel = ?2"
	               " AND agent_id = ?3 AND segment = ?4 AND customer_id = ?5 AND day > ?6)");
	if (stmt == NULL)
		return db_conn_error(c);
	bind_key(stmt, k);
	sqlite3_bind_text(stmt, 5, customer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 6, day);
	int rc = sqlite3_step(stmt);
	*has_prev = rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL;
	*has_next = rc == SQLITE_ROW && sqlite3_column_type(stmt, 1) != SQLITE_NULL;
	*prev = *has_prev ? sqlite3_column_int64(stmt, 0) : NO_PREV_DAY;
	if (*has_next)
		*next = sqlite3_column_int64(stmt, 1);
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? 0 : db_error(rc);
}

static int add_gap(struct db_conn *c, const struct view_key *k, int64_t day, int64_t prev,
                   int64_t delta)
{
	sqlite3_stmt *stmt =
	    db_stmt(c, "INSERT INTO customer_gaps (kind, channel, agent_id,"
	               " segment, day, prev_day, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	               " ON CONFLICT DO UPDATE SET n = n + excluded.n");
	if (stmt == NULL)
		return db_conn_error(c);
	bind_key(stmt, k);
	sqlite3_bind_int64(stmt, 5, day);
	sqlite3_bind_int64(stmt, 6, prev);
	sqlite3_bind_int64(stmt, 7, delta);
	return db_step_done(c, stmt);
}

/* Group accumulation.
 *
 * Both counter tables only ever receive additions (n = n + delta), and the
 * writer reads neither of them, so the additions of a whole group can be
 * summed in memory and written once per key before COMMIT: the unfiltered
 * and per-channel views of a day then cost one UPSERT per group instead of
 * one per submission. customer_days is different — the neighbour lookups of
 * the next submission read it — so it is still written at once.
 *
 * One delta is either a rollups row (gap == false: counts) or a
 * customer_gaps row (gap == true: prev and n). Strings are borrowed from
 * the submissions, which outlive the group's flush. */
struct delta {
	bool gap;
	struct view_key k;
	int64_t day, prev;
	struct stats_counts n; /* gap: n.responses is the gap count */
	uint64_t hash;
	size_t slot; /* its index slot, once in the group */
};

#define ITEM_DELTAS (VIEW_COUNT + 3 * (VIEW_COUNT - 1))

/* Deltas are kept densely in insertion order (written in that order) and
 * found through an open-addressing index of positions, so emptying the
 * group costs what it holds, not the size the index once grew to. */
struct rollup_group {
	struct delta *deltas; /* [0, used) */
	size_t used, room;
	uint32_t *index;                  /* cap slots: 0 empty, else position + 1 */
	size_t cap;                       /* a power of two, at least twice used */
	struct delta staged[ITEM_DELTAS]; /* the submission being added */
	size_t n_staged;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	return h * 0x100000001b3ULL;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = mix(h, (unsigned char)*s);
	return mix(h, 0xff);
}

static uint64_t delta_hash(const struct delta *d)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	h = mix(h, (uint64_t)d->gap);
	h = mix(h, (uint64_t)d->k.kind);
	h = mix(h, (uint64_t)(int64_t)d->k.channel);
	h = mix(h, (uint64_t)d->day);
	h = mix(h, (uint64_t)d->prev);
	h = mix_str(h, d->k.agent_id);
	h = mix_str(h, d->k.segment);
	return h ^ (h >> 29);
}

static bool same_key(const struct delta *a, const struct delta *b)
{
	return a->hash == b->hash && a->gap == b->gap && a->k.kind == b->k.kind &&
	       a->k.channel == b->k.channel && a->day == b->day && a->prev == b->prev &&
	       strcmp(a->k.agent_id, b->k.agent_id) == 0 && strcmp(a->k.segment, b->k.segment) == 0;
}

/* The slot that holds d's key, or the empty one where it would go. */
static size_t find_slot(const struct rollup_group *g, const struct delta *d)
{
	size_t i = (size_t)d->hash & (g->cap - 1);
	while (g->index[i] != 0 && !same_key(&g->deltas[g->index[i] - 1], d))
		i = (i + 1) & (g->cap - 1);
	return i;
}

/* Room for n more deltas, the index at most half full. */
static int reserve(struct rollup_group *g, size_t n)
{
	if (g->used + n > g->room) {
		size_t room = (g->used + n) * 2;
		struct delta *deltas = realloc(g->deltas, room * sizeof(*deltas));
		if (deltas == NULL)
			return FBD_ENOMEM;
		g->deltas = deltas;
		g->room = room;
	}
	if ((g->used + n) * 2 <= g->cap)
		return 0;
	size_t cap = g->cap ? g->cap : 256;
	while ((g->used + n) * 2 > cap)
		cap *= 2;
	uint32_t *index = calloc(cap, sizeof(*index));
	if (index == NULL)
		return FBD_ENOMEM;
	free(g->index);
	g->index = index;
	g->cap = cap;
	for (size_t i = 0; i < g->used; i++) {
		g->deltas[i].slot = find_slot(g, &g->deltas[i]);
		g->index[g->deltas[i].slot] = (uint32_t)(i + 1);
	}
	return 0;
}

static void stage(struct rollup_group *g, bool gap, const struct view_key *k, int64_t day,
                  int64_t prev, const struct stats_counts *n)
{
	struct delta *d = &g->staged[g->n_staged++];
	d->gap = gap;
	d->k = *k;
	d->day = day;
	d->prev = prev;
	d->n = *n;
	d->hash = delta_hash(d);
}

static void stage_gap(struct rollup_group *g, const struct view_key *k, int64_t day, int64_t prev,
                      int64_t delta)
{
	struct stats_counts n;
	memset(&n, 0, sizeof(n));
	n.responses = delta;
	stage(g, true, k, day, prev, &n);
}

/* Moves the staged deltas into the group (all or, on ENOMEM, none). */
static int merge_staged(struct rollup_group *g)
{
	int err = reserve(g, g->n_staged);
	for (size_t i = 0; err == 0 && i < g->n_staged; i++) {
		size_t slot = find_slot(g, &g->staged[i]);
		if (g->index[slot] == 0) {
			g->staged[i].slot = slot;
			g->deltas[g->used++] = g->staged[i];
			g->index[slot] = (uint32_t)g->used;
		} else {
			stats_merge(&g->deltas[g->index[slot] - 1].n, &g->staged[i].n);
		}
	}
	g->n_staged = 0;
	return err;
}

int rollup_group_new(struct rollup_group **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : FBD_ENOMEM;
}

void rollup_group_free(struct rollup_group *g)
{
	if (g == NULL)
		return;
	free(g->deltas);
	free(g->index);
	free(g);
}

size_t rollup_group_pending(const struct rollup_group *g)
{
	return g->used;
}

void rollup_group_discard(struct rollup_group *g)
{
	/* Clearing by the remembered slots: a lookup would stop at the first
	 * slot already cleared. */
	for (size_t i = 0; i < g->used; i++)
		g->index[g->deltas[i].slot] = 0;
	g->used = 0;
	g->n_staged = 0;
}

int rollup_group_flush(struct db_conn *c, struct rollup_group *g)
{
	int err = 0;
	for (size_t i = 0; err == 0 && i < g->used; i++) {
		const struct delta *d = &g->deltas[i];
		err = d->gap ? add_gap(c, &d->k, d->day, d->prev, d->n.responses)
		             : add_counts(c, &d->k, d->day, &d->n);
	}
	rollup_group_discard(g);
	return err;
}

/* A new customer-day links to the customer's previous day; the customer's
 * next day, if any, now follows this one instead of the previous. */
static int link_customer_day(struct db_conn *c, struct rollup_group *g, const struct view_key *k,
                             const char *customer, int64_t day)
{
	int64_t prev = NO_PREV_DAY, next = 0;
	bool has_prev = false, has_next = false;
	int err = neighbour_days(c, k, customer, day, &prev, &has_prev, &next, &has_next);
	if (err != 0)
		return err;
	stage_gap(g, k, day, prev, 1);
	if (has_next) {
		stage_gap(g, k, next, prev, -1);
		stage_gap(g, k, next, day, 1);
	}
	return 0;
}

int rollup_add(struct db_conn *c, struct rollup_group *g, const struct submission *s)
{
	struct stats_counts n;
	memset(&n, 0, sizeof(n));
	stats_add_submission(&n, s);
	int64_t day = stats_day_of(s->submitted_at);
	int err = 0;
	g->n_staged = 0;
	for (int kind = 0; err == 0 && kind < VIEW_COUNT; kind++) {
		struct view_key k = view_of(s, kind);
		bool is_new = false;
		stage(g, false, &k, day, 0, &n);
		if (kind == VIEW_ALL)
			continue;
		err = add_customer_day(c, &k, s->customer_id, day, &is_new);
		if (err == 0 && is_new)
			err = link_customer_day(c, g, &k, s->customer_id, day);
	}
	if (err != 0) {
		g->n_staged = 0;
		return err;
	}
	return merge_staged(g);
}

int rollup_apply(struct db_conn *c, const struct submission *s)
{
	struct rollup_group *g = NULL;
	int err = rollup_group_new(&g);
	if (err == 0)
		err = rollup_add(c, g, s);
	if (err == 0)
		err = rollup_group_flush(c, g);
	rollup_group_free(g);
	return err;
}

/* Negated counters, for a submission taken away. */
static void negate(struct stats_counts *n)
{
	int64_t *fields[] = {&n->responses,    &n->nps_count,      &n->promoters,     &n->passives,
	                     &n->detractors,   &n->csat_count,     &n->csat_positive, &n->csat_sum,
	                     &n->effort_count, &n->effort_sum,     &n->exp_below,     &n->exp_met,
	                     &n->exp_exceeded, &n->resolved_count, &n->resolved_yes};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		*fields[i] = -*fields[i];
}

/* Whether the customer still has a submission on day in view k of 0..3 (the
 * removed row is already gone). */
static int day_still_used(struct db_conn *c, const struct view_key *k, const char *customer,
                          int64_t day, bool *used)
{
	sqlite3_stmt *stmt =
	    db_stmt(c, "SELECT 1 FROM submissions WHERE customer_id = ?1 AND submitted_at >= ?2"
	               " AND submitted_at < ?3 AND (?4 < 0 OR channel = ?4)"
	               " AND (?5 = 0 OR coalesce(agent_id, '') = ?6)"
	               " AND (?7 = 0 OR coalesce(segment, '') = ?8) LIMIT 1");
	if (stmt == NULL)
		return db_conn_error(c);
	bool by_agent = k->kind == 2;
	bool by_segment = k->kind == 3;
	sqlite3_bind_text(stmt, 1, customer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, day * STATS_DAY_SECONDS);
	sqlite3_bind_int64(stmt, 3, (day + 1) * STATS_DAY_SECONDS);
	sqlite3_bind_int(stmt, 4, k->channel);
	sqlite3_bind_int(stmt, 5, by_agent);
	sqlite3_bind_text(stmt, 6, k->agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 7, by_segment);
	sqlite3_bind_text(stmt, 8, k->segment, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	*used = rc == SQLITE_ROW;
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error(rc);
}

static int delete_customer_day(struct db_conn *c, const struct view_key *k, const char *customer,
                               int64_t day)
{
	sqlite3_stmt *stmt = db_stmt(c, "DELETE FROM customer_days WHERE kind = ?1 AND channel = ?2"
	                                " AND agent_id = ?3 AND segment = ?4 AND customer_id = ?5"
	                                " AND day = ?6");
	if (stmt == NULL)
		return db_conn_error(c);
	bind_key(stmt, k);
	sqlite3_bind_text(stmt, 5, customer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 6, day);
	return db_step_done(c, stmt);
}

/* The inverse of link_customer_day(), once the customer-day is deleted: the
 * next day, if any, follows the previous one again. */
static int unlink_customer_day(struct db_conn *c, const struct view_key *k, const char *customer,
                               int64_t day)
{
	int64_t prev = NO_PREV_DAY, next = 0;
	bool has_prev = false, has_next = false;
	int err = neighbour_days(c, k, customer, day, &prev, &has_prev, &next, &has_next);
	if (err != 0)
		return err;
	if ((err = add_gap(c, k, day, prev, -1)) != 0)
		return err;
	if (!has_next)
		return 0;
	if ((err = add_gap(c, k, next, day, -1)) != 0)
		return err;
	return add_gap(c, k, next, prev, 1);
}

int rollup_remove(struct db_conn *c, const struct submission *s)
{
	struct stats_counts n;
	memset(&n, 0, sizeof(n));
	stats_add_submission(&n, s);
	negate(&n);
	int64_t day = stats_day_of(s->submitted_at);
	for (int kind = 0; kind < VIEW_COUNT; kind++) {
		struct view_key k = view_of(s, kind);
		bool used = true;
		int err = add_counts(c, &k, day, &n);
		if (err == 0 && kind != VIEW_ALL)
			err = day_still_used(c, &k, s->customer_id, day, &used);
		if (err == 0 && !used)
			err = delete_customer_day(c, &k, s->customer_id, day);
		if (err == 0 && !used)
			err = unlink_customer_day(c, &k, s->customer_id, day);
		if (err != 0)
			return err;
	}
	return db_exec(c, "UPDATE dashboard_state SET removals = removals + 1");
}
