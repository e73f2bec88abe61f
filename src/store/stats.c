/* Monitoring figures read from the database and the file system. */
#include <stdio.h>
#include <sys/stat.h>

#include "feedbackd/error.h"
#include "feedbackd/store_stats.h"

static int query_int64_pair(struct db_conn *c, const char *sql, int64_t *a, int64_t *b)
{
	sqlite3_stmt *stmt = db_stmt(c, sql);
	if (stmt == NULL)
		return db_conn_error(c);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*a = sqlite3_column_int64(stmt, 0);
		if (b)
			*b = sqlite3_column_int64(stmt, 1); /* NULL reads as 0 */
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? 0 : db_error(rc);
}

/* The WAL file's size; 0 when there is none (checkpointed and removed). */
static int64_t wal_bytes(const char *db_path)
{
	char wal[4096];
	struct stat sb;
	int n = snprintf(wal, sizeof(wal), "%s-wal", db_path);
	if (n < 0 || (size_t)n >= sizeof(wal) || stat(wal, &sb) != 0)
		return 0;
	return (int64_t)sb.st_size;
}

int store_stats(struct store *st, struct store_stats *out)
{
	*out = (struct store_stats){0};
	struct db_conn *c = store_reader(st);
	if (c == NULL)
		return FBD_ESTORAGE;
	int64_t pages = 0, page_size = 0;
	/* seq only grows (migration 006, and the writer's numbering): the
	 * pending submissions are the range after the cursor, counted and
	 * dated in two seeks. An erasure of the newest rows can leave the
	 * cursor past the largest seq: nothing is pending then. */
	int err = query_int64_pair(c,
	                           "SELECT max(0, (SELECT coalesce(max(seq), 0) FROM submissions)"
	                           " - c.seq),"
	                           " (SELECT received_at FROM submissions s WHERE s.seq > c.seq"
	                           "  ORDER BY s.seq LIMIT 1) FROM scoring_cursor c",
	                           &out->pending_submissions, &out->oldest_pending_at);
	if (err == 0)
		err = query_int64_pair(c, "SELECT * FROM pragma_page_count, pragma_page_size",
		                       &pages, &page_size);
	if (err != 0) {
		*out = (struct store_stats){0};
		return err;
	}
	out->database_bytes = pages * page_size + wal_bytes(store_options(st)->path);
	return 0;
}
