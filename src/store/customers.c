/* Read queries over customers (profiles).
 *
 * Pages by loyalty_score are read in index order (migration 002:
 * customers_by_loyalty, ending in customer_id) and the cursor is a row-value
 * bound on that index, so page k costs the same as page 1. Pages by
 * last_seen are a top-N scan of the table (no index, to keep ingest cheap;
 * see the migration). Rows
 * with a null loyalty_score come last whatever the direction: they are a
 * second section read after the first is exhausted. Filters are part of
 * every statement with "not set" values, which keeps the number of distinct
 * SQL texts small (the statement cache is keyed by text). */
#include "feedbackd/customers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feedbackd/error.h"

#define CUSTOMER_COLUMNS                                                                           \
	"customer_id, segment, surveys, nps_ratings, first_seen, last_seen, computed_at,"          \
	" level, loyalty_score, loyalty_delta_30d, nps_category, latest_nps, share_met,"           \
	" share_exceeded, share_delighted, risk_reasons"

#define CUSTOMER_FILTERS                                                                           \
	" (?1 = -2 OR coalesce(level, -1) = ?1) AND (?2 IS NULL OR segment = ?2)"                  \
	" AND (?3 = -2 OR at_risk = ?3) AND (?4 = -2 OR nps_category = ?4)"

void customer_release(struct customer *c)
{
	free(c->customer_id);
	free(c->segment);
	c->customer_id = NULL;
	c->segment = NULL;
}

static int int_or_none(sqlite3_stmt *stmt, int col)
{
	return sqlite3_column_type(stmt, col) == SQLITE_NULL ? SCORE_NONE
	                                                     : sqlite3_column_int(stmt, col);
}

static int dup_text(sqlite3_stmt *stmt, int col, char **dst)
{
	const unsigned char *text = sqlite3_column_text(stmt, col);
	*dst = NULL;
	if (text == NULL)
		return sqlite3_column_type(stmt, col) == SQLITE_NULL ? 0 : FBD_ENOMEM;
	*dst = strdup((const char *)text);
	return *dst ? 0 : FBD_ENOMEM;
}

static int row_to_customer(sqlite3_stmt *stmt, struct customer *c)
{
	memset(c, 0, sizeof(*c));
	c->surveys = sqlite3_column_int64(stmt, 2);
	c->nps_ratings = sqlite3_column_int64(stmt, 3);
	c->first_seen = sqlite3_column_int64(stmt, 4);
	c->last_seen = sqlite3_column_int64(stmt, 5);
	c->computed = sqlite3_column_type(stmt, 6) != SQLITE_NULL;
	c->computed_at = sqlite3_column_int64(stmt, 6);
	c->level = int_or_none(stmt, 7);
	c->loyalty_score = int_or_none(stmt, 8);
	c->has_delta = sqlite3_column_type(stmt, 9) != SQLITE_NULL;
	c->loyalty_delta_30d = sqlite3_column_int(stmt, 9);
	c->nps_category = int_or_none(stmt, 10);
	c->latest_nps = int_or_none(stmt, 11);
	c->has_shares = sqlite3_column_type(stmt, 12) != SQLITE_NULL;
	c->share_met = sqlite3_column_double(stmt, 12);
	c->share_exceeded = sqlite3_column_double(stmt, 13);
	c->share_delighted = sqlite3_column_double(stmt, 14);
	c->risk_reasons = (unsigned)sqlite3_column_int(stmt, 15);
	int err = dup_text(stmt, 0, &c->customer_id);
	if (err == 0)
		err = dup_text(stmt, 1, &c->segment);
	if (err == 0 && c->customer_id == NULL)
		err = FBD_EDB;
	if (err != 0)
		customer_release(c);
	return err;
}

int customers_get(struct store *st, const char *customer_id, struct customer *out)
{
	struct db_conn *c = store_reader(st);
	if (c == NULL)
		return FBD_ESTORAGE;
	sqlite3_stmt *stmt =
	    db_stmt(c, "SELECT " CUSTOMER_COLUMNS " FROM customers WHERE customer_id = ?");
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_text(stmt, 1, customer_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	int err = rc == SQLITE_ROW    ? row_to_customer(stmt, out)
	          : rc == SQLITE_DONE ? FBD_ENOTFOUND
	                              : db_error(rc);
	sqlite3_reset(stmt);
	return err;
}

/* The SQL of one section: the rows whose sort key is non-null (or null),
 * after the cursor if one applies to this section. */
static void section_sql(const struct customer_query *q, bool null_section, bool with_cursor,
                        char *sql, size_t len)
{
	bool loyalty = q->sort <= CUSTOMER_SORT_LOYALTY_DESC;
	bool desc =
	    q->sort == CUSTOMER_SORT_LOYALTY_DESC || q->sort == CUSTOMER_SORT_LAST_SEEN_DESC;
	const char *key = loyalty ? "loyalty_score" : "last_seen";
	const char *dir = desc ? "DESC" : "ASC";
	const char *cmp = desc ? "<" : ">";
	size_t n = (size_t)snprintf(
	    sql, len, "SELECT " CUSTOMER_COLUMNS " FROM customers WHERE" CUSTOMER_FILTERS);
	if (null_section) {
		n += (size_t)snprintf(sql + n, len - n, " AND %s IS NULL", key);
		if (with_cursor)
			n += (size_t)snprintf(sql + n, len - n, " AND customer_id %s ?6", cmp);
		snprintf(sql + n, len - n, " ORDER BY %s, customer_id %s LIMIT ?7", key, dir);
		return;
	}
	if (loyalty)
		n += (size_t)snprintf(sql + n, len - n, " AND %s IS NOT NULL", key);
	if (with_cursor)
		n += (size_t)snprintf(sql + n, len - n, " AND (%s, customer_id) %s (?5, ?6)", key,
		                      cmp);
	snprintf(sql + n, len - n, " ORDER BY %s %s, customer_id %s LIMIT ?7", key, dir, dir);
}

/* Append up to `want` rows of one section to rows[*n..]. */
static int read_section(struct db_conn *c, const struct customer_query *q, bool null_section,
                        bool with_cursor, int want, struct customer *rows, size_t *n)
{
	char sql[1024];
	section_sql(q, null_section, with_cursor, sql, sizeof(sql));
	sqlite3_stmt *stmt = db_stmt(c, sql);
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_int(stmt, 1, q->level);
	if (q->segment)
		sqlite3_bind_text(stmt, 2, q->segment, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 3, q->at_risk);
	sqlite3_bind_int(stmt, 4, q->nps_category);
	if (with_cursor) {
		sqlite3_bind_int64(stmt, 5, q->cursor_key);
		sqlite3_bind_text(stmt, 6, q->cursor_id, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int(stmt, 7, want);
	int rc, err = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((err = row_to_customer(stmt, &rows[*n])) != 0)
			break;
		(*n)++;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = db_error(rc);
	sqlite3_reset(stmt);
	return err;
}

int customers_list(struct store *st, const struct customer_query *q, struct customer *rows,
                   size_t *n, bool *more)
{
	*n = 0;
	*more = false;
	struct db_conn *c = store_reader(st);
	if (c == NULL)
		return FBD_ESTORAGE;
	/* one row beyond the page tells whether there is a next page */
	struct customer *buf = calloc((size_t)q->limit + 1, sizeof(*buf));
	if (buf == NULL)
		return FBD_ENOMEM;
	int want = q->limit + 1, err = 0;
	bool loyalty = q->sort <= CUSTOMER_SORT_LOYALTY_DESC;
	if (!(q->has_cursor && q->cursor_null))
		err = read_section(c, q, false, q->has_cursor, want, buf, n);
	if (err == 0 && loyalty && (int)*n < want)
		err = read_section(c, q, true, q->has_cursor && q->cursor_null, want - (int)*n, buf,
		                   n);
	if (err == 0 && (int)*n > q->limit) {
		*more = true;
		customer_release(&buf[q->limit]);
		*n = (size_t)q->limit;
	}
	if (err != 0) {
		for (size_t i = 0; i < *n; i++)
			customer_release(&buf[i]);
		*n = 0;
	} else {
		memcpy(rows, buf, *n * sizeof(*rows));
	}
	free(buf);
	return err;
}
