/* Erasure of one customer (erasure.h).
 *
 * The customer's submissions are taken one at a time, each found afresh
 * through submissions_by_customer, instead of deleting under a running
 * SELECT: SQLite leaves it undefined whether a scan sees rows deleted
 * during it. rollup_remove() runs after its row is gone, because it asks
 * whether the customer has another submission that day. */

#include "feedbackd/dashboard.h"
#include "feedbackd/erasure.h"
#include "feedbackd/error.h"
#include "store/sql.h"

/* The customer's next submission into *s (initialised by the caller);
 * *found false when none is left. */
static int next_submission(struct db_conn *c, const char *customer_id, struct submission *s,
                           bool *found)
{
	sqlite3_stmt *stmt = db_stmt(c, "SELECT " SUBMISSION_COLUMNS
	                                " FROM submissions WHERE customer_id = ? LIMIT 1");
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_text(stmt, 1, customer_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	*found = rc == SQLITE_ROW;
	int err = *found ? store_row_to_submission(stmt, s) : db_error(rc);
	sqlite3_reset(stmt);
	return err;
}

/* Deletes exactly one row, or the loop over the customer's submissions
 * could run forever. */
static int delete_submission(struct db_conn *c, const char *id)
{
	sqlite3_stmt *stmt = db_stmt(c, "DELETE FROM submissions WHERE id = ?");
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	int err = db_step_done(c, stmt);
	return err == 0 && sqlite3_changes(c->db) != 1 ? FBD_EDB : err;
}

/* The stored reply of a keyed single submission, found by its Location. */
static int delete_stored_reply(struct db_conn *c, const struct submission *s)
{
	char location[SUBMISSION_LOCATION_SIZE];
	submission_location(s, location);
	sqlite3_stmt *stmt = db_stmt(c, "DELETE FROM idempotency_keys WHERE location = ?");
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_text(stmt, 1, location, -1, SQLITE_TRANSIENT);
	return db_step_done(c, stmt);
}

static int erase_one_submission(struct db_conn *c, const char *customer_id, bool *found)
{
	struct submission s;
	submission_init(&s);
	int err = next_submission(c, customer_id, &s, found);
	if (err == 0 && *found)
		err = delete_submission(c, s.id);
	if (err == 0 && *found)
		err = rollup_remove(c, &s);
	if (err == 0 && *found)
		err = delete_stored_reply(c, &s);
	submission_release(&s);
	return err;
}

static int delete_customer(struct db_conn *c, const char *customer_id, bool *deleted)
{
	sqlite3_stmt *stmt = db_stmt(c, "DELETE FROM customers WHERE customer_id = ?");
	if (stmt == NULL)
		return db_conn_error(c);
	sqlite3_bind_text(stmt, 1, customer_id, -1, SQLITE_STATIC);
	int err = db_step_done(c, stmt);
	*deleted = err == 0 && sqlite3_changes(c->db) == 1;
	return err;
}

int erasure_run(struct db_conn *c, const char *customer_id, struct erasure_result *out)
{
	*out = (struct erasure_result){0};
	bool found = true;
	int err = 0;
	while (err == 0 && found) {
		err = erase_one_submission(c, customer_id, &found);
		if (err == 0 && found)
			out->submissions++;
	}
	bool had_row = false;
	if (err == 0)
		err = delete_customer(c, customer_id, &had_row);
	out->found = had_row || out->submissions > 0;
	return err;
}
