/* Storage: the SQLite database, its migrations and the read side.
 *
 * One write connection belongs to the writer thread (writer.h); every other
 * thread that reads gets its own connection, opened lazily and closed when
 * the thread exits. Prepared statements are cached per connection. */
#ifndef FEEDBACKD_STORE_H
#define FEEDBACKD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "feedbackd/config.h"
#include "feedbackd/model.h"

struct store_options {
	const char *path;        /* database file; its folder is created */
	enum fbd_sync_mode sync; /* PRAGMA synchronous for the write connection */
	int cache_mb;            /* page cache per connection */
	int max_pages;           /* PRAGMA max_page_count for writes; 0: unlimited */
};

struct store;

/* A connection with its statement cache. Owned by the store (readers) or the
 * writer; never shared between threads. */
struct db_conn {
	sqlite3 *db;
	struct db_stmt_slot *slots; /* statement cache, keyed by SQL text */
	size_t n_slots;
};

/* Open (creating it and its folder if needed) and migrate the database.
 * Returns FBD_EVERSION if the file was written by a newer binary, FBD_EIO if
 * it cannot be opened or created. *out is owned by the caller: store_close(). */
int store_open(struct store **out, const struct store_options *opt);

/* Closes every reader connection that is still open. NULL is accepted. */
void store_close(struct store *st);

const struct store_options *store_options(const struct store *st);

/* Schema version applied to the database, and the newest this binary knows. */
int store_schema_version(const struct store *st);
int store_latest_version(void);

/* This thread's read connection (opened on first use); NULL on failure.
 * Owned by the store; valid until the thread exits or store_close().
 *
 * A thread that ends each use with store_reader_release() (the HTTP
 * threads: the server calls it after every handler, app.c) gets it inside a
 * read transaction, a snapshot kept from one use to the next while no write
 * transaction of this process has committed since it began
 * (store_note_commit) and it is younger than 100 ms; otherwise a new one
 * begins. So a read never misses what was committed before it started, the
 * reads of one use (a dashboard's several statements) agree with each
 * other, and most reads skip beginning and ending a WAL read transaction.
 * On any other thread each statement reads on its own, as by default. */
struct db_conn *store_reader(struct store *st);

/* Ends this thread's use of its reader (nothing when it has none): an
 * outdated snapshot is ended, a current one kept for the next call. */
void store_reader_release(struct store *st);

/* Called after every committed write transaction of the writer (the
 * process's one write connection; the scoring worker's writes run on it),
 * before it is acknowledged:
 * the readers' next snapshots include it, and the snapshots idle readers
 * keep are ended here, so none holds back the WAL's checkpoint or restart
 * (which a reader in the middle of a read already does, as before). */
void store_note_commit(struct store *st);

/* Ends the snapshots that idle readers keep (store_note_commit does it after
 * a commit; the checkpointer when the WAL is about to start again). */
void store_end_idle_snapshots(struct store *st);

/* Open a new connection with the project's pragmas (used by the writer, the
 * worker and the checkpointer). Caller owns it: db_conn_close(). */
int db_conn_open(struct db_conn **out, const struct store_options *opt, bool write);
void db_conn_close(struct db_conn *c);

/* This connection's prepared statement for sql (prepared on first use and
 * cached; the cache is keyed by the text, so sql may be built at run time as
 * long as the number of distinct texts stays small). Returned reset and with
 * bindings cleared; NULL if it cannot be prepared. Do not finalize it. */
sqlite3_stmt *db_stmt(struct db_conn *c, const char *sql);

/* Step stmt (from db_stmt(); NULL means preparing it failed) to its end and
 * reset it: 0, or the project error code of the failure. */
int db_step_done(struct db_conn *c, sqlite3_stmt *stmt);

/* Run sql (no results) on c. Returns 0, FBD_ESTORAGE (disk full, read-only,
 * I/O error) or FBD_EDB. */
int db_exec(struct db_conn *c, const char *sql);

/* Map a SQLite result code to a project error code. */
int db_error(int rc);

/* The project error code for c's last failure (never 0). */
int db_conn_error(struct db_conn *c);

/* Serialises the writer's transactions with the checkpointer's last step of
 * a cycle (checkpointer.h), which must not let a commit in before the WAL
 * starts again. A ticket lock: waiters are served in arrival order, so the
 * writer's back-to-back commits cannot starve the checkpointer.
 * Take it before BEGIN IMMEDIATE, release it after COMMIT or ROLLBACK. */
void store_write_lock(struct store *st);
void store_write_unlock(struct store *st);

/* Hands the checkpoints of c, a write connection, to the store's
 * checkpointer thread (store/checkpointer.h), started on the first call,
 * instead of SQLite's automatic checkpoint inside c's commits. c must be
 * closed before store_close(). Returns 0 or the error of starting it. */
int store_route_checkpoints(struct store *st, struct db_conn *c);

/* Readiness: the database answers a query and migrations are applied. */
bool store_ready(struct store *st);

/* One submission by id. FBD_ENOTFOUND if absent. out must be initialised. */
int store_get_submission(struct store *st, const char *id, struct submission *out);

struct submission_query {
	const char *customer_id; /* NULL: any */
	int type;                /* enum submission_type, or -1 */
	int channel;             /* enum channel, or -1 */
	const char *agent_id;
	const char *segment;
	bool has_since, has_until;
	int64_t since, until;    /* [since, until) on submitted_at */
	int limit;               /* 1..500 */
	bool has_cursor;         /* continue after (cursor_at, cursor_id) */
	int64_t cursor_at;
	char cursor_id[MODEL_ID_LEN + 1];
};

/* Newest first (submitted_at, then id, descending). Fills rows[0..*n) (the
 * array has room for q->limit; each row initialised here, released by the
 * caller) and sets *more when further rows exist. */
int store_list_submissions(struct store *st, const struct submission_query *q,
			   struct submission *rows, size_t *n, bool *more);

/* Read one row of the submissions table selected with SUBMISSION_COLUMNS. */
int store_row_to_submission(sqlite3_stmt *stmt, struct submission *out);

#endif
