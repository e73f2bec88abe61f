/* Read queries over submissions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feedbackd/error.h"
#include "feedbackd/store.h"
#include "store/sql.h"

static int column_int_or_absent(sqlite3_stmt *stmt, int col)
{
	return sqlite3_column_type(stmt, col) == SQLITE_NULL ? -1 : sqlite3_column_int(stmt, col);
}

/* A copy of a nullable text column into *dst; 0 or FBD_ENOMEM. */
static int column_strdup(sqlite3_stmt *stmt, int col, char **dst)
{
	const unsigned char *text = sqlite3_column_text(stmt, col);
	*dst = NULL;
	if (text == NULL)
		return sqlite3_errcode(sqlite3_db_handle(stmt)) == SQLITE_NOMEM ? FBD_ENOMEM : 0;
	*dst = strdup((const char *)text);
	return *dst ? 0 : FBD_ENOMEM;
}

int store_row_to_submission(sqlite3_stmt *stmt, struct submission *out)
{
	const unsigned char *id = sqlite3_column_text(stmt, 0);
	if (id == NULL || strlen((const char *)id) != MODEL_ID_LEN)
		return FBD_EDB;
	memcpy(out->id, id, MODEL_ID_LEN + 1);
	out->type = sqlite3_column_int(stmt, 1) == SUB_NPS ? SUB_NPS : SUB_SURVEY;
	out->channel = (enum channel)sqlite3_column_int(stmt, 4);
	if (out->channel >= CH_COUNT)
		out->channel = CH_OTHER;
	out->submitted_at = sqlite3_column_int64(stmt, 7);
	out->submitted_given = sqlite3_column_int(stmt, 8) != 0;
	out->received_at = sqlite3_column_int64(stmt, 9);
	out->expectation = column_int_or_absent(stmt, 10);
	out->csat = column_int_or_absent(stmt, 11);
	out->effort = column_int_or_absent(stmt, 12);
	out->resolved = column_int_or_absent(stmt, 13);
	out->nps = column_int_or_absent(stmt, 14);
	const void *digest = sqlite3_column_blob(stmt, 18);
	if (digest && sqlite3_column_bytes(stmt, 18) == (int)sizeof(out->digest))
		memcpy(out->digest, digest, sizeof(out->digest));
	if (column_strdup(stmt, 2, &out->customer_id) || column_strdup(stmt, 3, &out->contact_id) ||
	    column_strdup(stmt, 5, &out->agent_id) || column_strdup(stmt, 6, &out->segment) ||
	    column_strdup(stmt, 15, &out->comment) || column_strdup(stmt, 16, &out->tags_json) ||
	    column_strdup(stmt, 17, &out->metadata_json))
		return FBD_ENOMEM;
	return out->customer_id ? 0 : FBD_EDB;
}

int store_get_submission(struct store *st, const char *id, struct submission *out)
{
	struct db_conn *c = store_reader(st);
	if (c == NULL)
		return FBD_ESTORAGE;
	sqlite3_stmt *stmt = db_stmt(c, "SELECT " SUBMISSION_COLUMNS " FROM submissions WHERE id = ?");
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	int err = rc == SQLITE_ROW ? store_row_to_submission(stmt, out)
		  : rc == SQLITE_DONE ? FBD_ENOTFOUND
				      : db_error(rc);
	sqlite3_reset(stmt);
	return err;
}

/* Builds the WHERE clause for q into sql; the bind order is fixed by
 * bind_list_query() below, which walks the same fields in the same order.
 * At most 2^7 distinct texts exist, well inside the statement cache. */
static void build_list_sql(const struct submission_query *q, char *sql, size_t len)
{
	size_t n = (size_t)snprintf(sql, len, "SELECT " SUBMISSION_COLUMNS
				   " FROM submissions WHERE 1");
	if (q->customer_id)
		n += (size_t)snprintf(sql + n, len - n, " AND customer_id = ?");
	if (q->type >= 0)
		n += (size_t)snprintf(sql + n, len - n, " AND type = ?");
	if (q->channel >= 0)
		n += (size_t)snprintf(sql + n, len - n, " AND channel = ?");
	if (q->agent_id)
		n += (size_t)snprintf(sql + n, len - n, " AND agent_id = ?");
	if (q->segment)
		n += (size_t)snprintf(sql + n, len - n, " AND segment = ?");
	if (q->has_since)
		n += (size_t)snprintf(sql + n, len - n, " AND submitted_at >= ?");
	if (q->has_until)
		n += (size_t)snprintf(sql + n, len - n, " AND submitted_at < ?");
	if (q->has_cursor)
		n += (size_t)snprintf(sql + n, len - n, " AND (submitted_at, id) < (?, ?)");
	snprintf(sql + n, len - n, " ORDER BY submitted_at DESC, id DESC LIMIT ?");
}

static void bind_list_query(sqlite3_stmt *stmt, const struct submission_query *q)
{
	int i = 1;
	if (q->customer_id)
		sqlite3_bind_text(stmt, i++, q->customer_id, -1, SQLITE_STATIC);
	if (q->type >= 0)
		sqlite3_bind_int(stmt, i++, q->type);
	if (q->channel >= 0)
		sqlite3_bind_int(stmt, i++, q->channel);
	if (q->agent_id)
		sqlite3_bind_text(stmt, i++, q->agent_id, -1, SQLITE_STATIC);
	if (q->segment)
		sqlite3_bind_text(stmt, i++, q->segment, -1, SQLITE_STATIC);
	if (q->has_since)
		sqlite3_bind_int64(stmt, i++, q->since);
	if (q->has_until)
		sqlite3_bind_int64(stmt, i++, q->until);
	if (q->has_cursor) {
		sqlite3_bind_int64(stmt, i++, q->cursor_at);
		sqlite3_bind_text(stmt, i++, q->cursor_id, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int(stmt, i, q->limit + 1); /* one more tells whether a next page exists */
}

int store_list_submissions(struct store *st, const struct submission_query *q,
			   struct submission *rows, size_t *n, bool *more)
{
	char sql[1024];
	*n = 0;
	*more = false;
	struct db_conn *c = store_reader(st);
	if (c == NULL)
		return FBD_ESTORAGE;
	build_list_sql(q, sql, sizeof(sql));
	sqlite3_stmt *stmt = db_stmt(c, sql);
	if (stmt == NULL)
		return db_conn_error(c);
	bind_list_query(stmt, q);
	int rc, err = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (*n == (size_t)q->limit) {
			*more = true;
			break;
		}
		submission_init(&rows[*n]);
		err = store_row_to_submission(stmt, &rows[*n]);
		(*n)++;
		if (err != 0)
			break;
	}
	if (err == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = db_error(rc);
	sqlite3_reset(stmt);
	return err;
}
