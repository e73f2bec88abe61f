/* Connections, pragmas, the statement cache and migrations.
 *
 * WAL mode lets readers run beside the single writer. Each thread that reads
 * gets its own connection through a pthread key whose destructor closes it
 * when the thread exits (the HTTP thread pool's threads come and go with the
 * daemon). Statements are cached per connection in a small open-addressing
 * table keyed by their SQL text, so handlers can build a WHERE clause at run
 * time and still pay for compiling it only once per thread. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "feedbackd/error.h"
#include "feedbackd/store.h"
#include "store/checkpointer.h"
#include "store/migrations.h"

#define STMT_CACHE_SLOTS 256 /* power of two; the responses list alone may build 128 texts */
#define BUSY_TIMEOUT_MS 5000
/* A snapshot is used again for at most this long, so that writes by other
 * processes (which store_note_commit does not see) show within it. */
#define SNAPSHOT_MAX_MS 100

struct db_stmt_slot {
	char *sql_copy;
	uint64_t hash;
	sqlite3_stmt *stmt;
};

struct store {
	struct store_options opt;
	char *path;
	int schema_version;
	pthread_key_t reader_key;
	/* every reader ever opened, so store_close() can close what threads left */
	pthread_mutex_t readers_lock;
	struct reader_node *readers;
	/* taken around every write transaction of this process (store.h): a
	 * ticket lock, so the writer and the checkpointer take turns in
	 * arrival order (a plain mutex lets the thread that just released it
	 * take it again before a waiter is scheduled, starving the waiter for
	 * seconds) */
	pthread_mutex_t write_gate;
	pthread_cond_t write_turn;
	uint64_t next_ticket, now_serving; /* guarded by write_gate */
	atomic_uint_fast64_t commits;      /* write transactions committed (store_note_commit) */
	struct checkpointer *ckpt;         /* started by the first store_route_checkpoints() */
};

/* A reader's snapshot outlives the read that began it (store.h): while no
 * write of this process has committed since, the next read on the thread
 * uses it again, which saves beginning and ending a WAL read transaction
 * (a mutex and two fcntl() calls on the shared-memory file, the largest
 * cost of a profile read). The lease lets the committing thread end a
 * snapshot its owner left open while idle (store_end_idle_snapshots). */
enum reader_lease { LEASE_FREE, LEASE_OWNER, LEASE_RELEASER };

struct reader_node {
	struct reader_node *next;
	struct store *st;
	struct db_conn *conn;
	atomic_int lease;       /* enum reader_lease */
	bool keeps;             /* owner thread only: it releases, so snapshots are kept */
	bool held;              /* owner thread only: inside store_reader() .. release */
	uint64_t commits;       /* st->commits when the snapshot began */
	struct timespec began;  /* when it began (CLOCK_MONOTONIC_COARSE) */
};

int db_error(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_FULL:
	case SQLITE_READONLY:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return FBD_ESTORAGE;
	case SQLITE_NOMEM:
		return FBD_ENOMEM;
	default:
		return FBD_EDB;
	}
}

int db_conn_error(struct db_conn *c)
{
	int err = db_error(sqlite3_errcode(c->db));
	return err != 0 ? err : FBD_EDB;
}

/* Eight bytes per step: the writer looks up half a dozen statements of a
 * few hundred characters per submission, and a byte-wise hash of their text
 * was 6 % of its instructions. Collisions only cost a strcmp. */
static uint64_t sql_hash(const char *s)
{
	size_t len = strlen(s), i = 0;
	uint64_t h = 1469598103934665603ULL ^ len;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

sqlite3_stmt *db_stmt(struct db_conn *c, const char *sql)
{
	uint64_t h = sql_hash(sql);
	size_t mask = c->n_slots - 1;
	for (size_t i = 0; i < c->n_slots; i++) {
		struct db_stmt_slot *s = &c->slots[(h + i) & mask];
		if (s->stmt == NULL) {
			s->sql_copy = strdup(sql);
			if (s->sql_copy == NULL)
				return NULL;
			if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt,
					       NULL) != SQLITE_OK) {
				free(s->sql_copy);
				s->sql_copy = NULL;
				s->stmt = NULL;
				return NULL;
			}
			s->hash = h;
			return s->stmt;
		}
		if (s->hash == h && strcmp(s->sql_copy, sql) == 0) {
			sqlite3_reset(s->stmt);
			sqlite3_clear_bindings(s->stmt);
			return s->stmt;
		}
	}
	return NULL; /* cache full: a caller builds too many distinct texts */
}

int db_step_done(struct db_conn *c, sqlite3_stmt *stmt)
{
	if (stmt == NULL)
		return db_conn_error(c);
	int rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? 0 : db_error(rc);
}

int db_exec(struct db_conn *c, const char *sql)
{
	sqlite3_stmt *stmt = db_stmt(c, sql);
	if (stmt == NULL)
		return db_conn_error(c);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		;
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? 0 : db_error(rc);
}

static int exec_plain(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : db_error(rc);
}

static int apply_pragmas(sqlite3 *db, const struct store_options *opt, bool write)
{
	char sql[160];
	int rc = sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK)
		return db_error(rc);
	/* negative cache_size is in KiB */
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d; PRAGMA foreign_keys = ON;",
		 opt->cache_mb * 1024);
	if ((rc = exec_plain(db, sql)) != 0)
		return rc;
	if (!write)
		return 0;
	/* secure_delete: what a write deletes or replaces is overwritten with
	 * zeros, so an erased customer (erasure.h) leaves no copy in the
	 * file's free space. Debian's SQLite has it on by default; said here
	 * so the promise holds with any build. */
	snprintf(sql, sizeof(sql),
		 "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s; PRAGMA secure_delete = ON;",
		 opt->sync == FBD_SYNC_FULL ? "FULL" : "NORMAL");
	if ((rc = exec_plain(db, sql)) != 0 || opt->max_pages <= 0)
		return rc;
	/* A size cap (operators, and the disk-full tests): past it a write
	 * fails with SQLITE_FULL exactly as on a full disk. */
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %d;", opt->max_pages);
	return exec_plain(db, sql);
}

/* SQLite counts every allocation under one process-wide mutex unless told
 * not to. Nothing here reads those counts (sqlite3_memory_used() and the
 * heap limits), and the HTTP threads reading profiles met at that mutex
 * several times a request. The setting must come before the library's
 * first use; SQLITE_MISUSE means something in the process used it earlier
 * (a test that opened a database itself) and the default stays: slower,
 * not wrong, so the result is not an error. */
static void sqlite_configure(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static pthread_once_t sqlite_configured = PTHREAD_ONCE_INIT;

int db_conn_open(struct db_conn **out, const struct store_options *opt, bool write)
{
	int err = FBD_ENOMEM;
	*out = NULL;
	if (pthread_once(&sqlite_configured, sqlite_configure) != 0)
		return FBD_ESTORAGE;
	struct db_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->n_slots = STMT_CACHE_SLOTS;
	c->slots = calloc(c->n_slots, sizeof(*c->slots));
	if (c->slots == NULL)
		goto fail;
	int flags = (write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY) |
		    SQLITE_OPEN_NOMUTEX;
	int rc = sqlite3_open_v2(opt->path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		err = FBD_EIO;
		goto fail;
	}
	sqlite3_extended_result_codes(c->db, 1);
	if ((err = apply_pragmas(c->db, opt, write)) != 0)
		goto fail;
	*out = c;
	return 0;
fail:
	db_conn_close(c);
	*out = NULL;
	return err;
}

void db_conn_close(struct db_conn *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; c->slots && i < c->n_slots; i++) {
		sqlite3_finalize(c->slots[i].stmt);
		free(c->slots[i].sql_copy);
	}
	free(c->slots);
	/* close_v2 defers the close if a statement is still somehow alive */
	sqlite3_close_v2(c->db);
	free(c);
}

/* Create the folder that holds the database (one level, like mkdir -p for
 * the common "./data/feedback.db" case, and deeper paths too). */
static int make_parent_dirs(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	if (len >= sizeof(buf))
		return FBD_EINVAL;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST)
			return FBD_EIO;
		*p = '/';
	}
	return 0;
}

static int read_schema_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_migrations",
				    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return db_error(rc);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? 0 : db_error(rc);
}

static int record_migration(sqlite3 *db, const struct migration *m)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(
		db, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", -1,
		&stmt, NULL);
	if (rc != SQLITE_OK)
		return db_error(rc);
	sqlite3_bind_int(stmt, 1, m->version);
	sqlite3_bind_text(stmt, 2, m->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : db_error(rc);
}

/* Each migration runs in its own transaction together with its record, so a
 * crash mid-way leaves the database at the previous version. */
static int migrate(sqlite3 *db, int *version)
{
	int err = exec_plain(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
				 " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
				 " applied_at INTEGER NOT NULL)");
	if (err != 0)
		return err;
	if ((err = read_schema_version(db, version)) != 0)
		return err;
	if (*version > store_latest_version())
		return FBD_EVERSION;
	for (int i = 0; i < migrations_count; i++) {
		const struct migration *m = &migrations[i];
		if (m->version <= *version)
			continue;
		if ((err = exec_plain(db, "BEGIN IMMEDIATE")) != 0)
			return err;
		err = exec_plain(db, m->sql);
		if (err == 0)
			err = record_migration(db, m);
		if (err == 0)
			err = exec_plain(db, "COMMIT");
		if (err != 0) {
			(void)exec_plain(db, "ROLLBACK");
			return err;
		}
		*version = m->version;
	}
	return 0;
}

static void reader_destroy(void *arg)
{
	struct reader_node *node = arg;
	struct store *st = node->st;
	pthread_mutex_lock(&st->readers_lock);
	for (struct reader_node **p = &st->readers; *p; p = &(*p)->next) {
		if (*p == node) {
			*p = node->next;
			break;
		}
	}
	pthread_mutex_unlock(&st->readers_lock);
	db_conn_close(node->conn);
	free(node);
}

int store_open(struct store **out, const struct store_options *opt)
{
	int err = FBD_ENOMEM;
	struct db_conn *conn = NULL;
	struct store *st = calloc(1, sizeof(*st));
	*out = NULL;
	if (st == NULL)
		return FBD_ENOMEM;
	atomic_init(&st->commits, 0);
	st->path = strdup(opt->path);
	if (st->path == NULL)
		goto fail_free;
	st->opt = *opt;
	st->opt.path = st->path;
	if (pthread_key_create(&st->reader_key, reader_destroy) != 0)
		goto fail_free;
	if (pthread_mutex_init(&st->readers_lock, NULL) != 0)
		goto fail_key;
	if (pthread_mutex_init(&st->write_gate, NULL) != 0)
		goto fail_mutex;
	if (pthread_cond_init(&st->write_turn, NULL) != 0) {
		pthread_mutex_destroy(&st->write_gate);
		goto fail_mutex;
	}
	if ((err = make_parent_dirs(st->path)) != 0)
		goto fail_gate;
	if ((err = db_conn_open(&conn, &st->opt, true)) != 0)
		goto fail_gate;
	err = migrate(conn->db, &st->schema_version);
	db_conn_close(conn);
	if (err != 0)
		goto fail_gate;
	*out = st;
	return 0;
fail_gate:
	pthread_cond_destroy(&st->write_turn);
	pthread_mutex_destroy(&st->write_gate);
fail_mutex:
	pthread_mutex_destroy(&st->readers_lock);
fail_key:
	pthread_key_delete(st->reader_key);
fail_free:
	free(st->path);
	free(st);
	return err;
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	checkpointer_stop(st->ckpt);
	/* Threads that still hold readers have stopped by now (HTTP and worker
	 * are shut down first); close what they left behind. */
	pthread_mutex_lock(&st->readers_lock);
	struct reader_node *node = st->readers;
	st->readers = NULL;
	pthread_mutex_unlock(&st->readers_lock);
	while (node) {
		struct reader_node *next = node->next;
		db_conn_close(node->conn);
		free(node);
		node = next;
	}
	pthread_setspecific(st->reader_key, NULL);
	pthread_key_delete(st->reader_key);
	pthread_mutex_destroy(&st->readers_lock);
	pthread_cond_destroy(&st->write_turn);
	pthread_mutex_destroy(&st->write_gate);
	free(st->path);
	free(st);
}

void store_write_lock(struct store *st)
{
	pthread_mutex_lock(&st->write_gate);
	uint64_t ticket = st->next_ticket++;
	while (st->now_serving != ticket)
		pthread_cond_wait(&st->write_turn, &st->write_gate);
	pthread_mutex_unlock(&st->write_gate);
}

void store_write_unlock(struct store *st)
{
	pthread_mutex_lock(&st->write_gate);
	st->now_serving++;
	pthread_cond_broadcast(&st->write_turn);
	pthread_mutex_unlock(&st->write_gate);
}

/* The first call starts the thread; later writers (tests start several,
 * one after another) share it. Under the gate, so that two calls at once
 * would still start one. */
int store_route_checkpoints(struct store *st, struct db_conn *c)
{
	int err = 0;
	store_write_lock(st);
	if (st->ckpt == NULL)
		err = checkpointer_start(&st->ckpt, st);
	if (err == 0)
		checkpointer_attach(st->ckpt, c);
	store_write_unlock(st);
	return err;
}

const struct store_options *store_options(const struct store *st)
{
	return &st->opt;
}

int store_schema_version(const struct store *st)
{
	return st->schema_version;
}

int store_latest_version(void)
{
	return migrations_count > 0 ? migrations[migrations_count - 1].version : 0;
}

static struct reader_node *reader_open(struct store *st)
{
	struct reader_node *node = calloc(1, sizeof(*node));
	if (node == NULL)
		return NULL;
	node->st = st;
	/* Until its thread first releases it, the node is its own (not keeps). */
	atomic_init(&node->lease, LEASE_OWNER);
	if (db_conn_open(&node->conn, &st->opt, false) != 0 ||
	    pthread_setspecific(st->reader_key, node) != 0) {
		db_conn_close(node->conn);
		free(node);
		return NULL;
	}
	pthread_mutex_lock(&st->readers_lock);
	node->next = st->readers;
	st->readers = node;
	pthread_mutex_unlock(&st->readers_lock);
	return node;
}

static bool in_snapshot(const struct db_conn *c)
{
	return !sqlite3_get_autocommit(c->db);
}

static void end_snapshot(struct db_conn *c)
{
	if (db_exec(c, "COMMIT") != 0 && in_snapshot(c))
		(void)db_exec(c, "ROLLBACK");
}

static int64_t elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	return (int64_t)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* Keep the open snapshot if nothing was committed since it began, else
 * begin a new one. BEGIN only marks the transaction: the snapshot is taken
 * by its first read, after commits was loaded, so it holds at least what
 * that count says. Should BEGIN fail, reads go on in autocommit mode. */
static void refresh_snapshot(struct reader_node *node)
{
	struct store *st = node->st;
	uint64_t commits = atomic_load_explicit(&st->commits, memory_order_acquire);
	if (in_snapshot(node->conn) &&
	    (node->commits != commits || elapsed_ms(&node->began) >= SNAPSHOT_MAX_MS))
		end_snapshot(node->conn);
	if (in_snapshot(node->conn) || db_exec(node->conn, "BEGIN") != 0)
		return;
	node->commits = commits;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &node->began);
}

struct db_conn *store_reader(struct store *st)
{
	struct reader_node *node = pthread_getspecific(st->reader_key);
	if (node == NULL && (node = reader_open(st)) == NULL)
		return NULL;
	if (node->keeps && !node->held) {
		int free_lease = LEASE_FREE;
		/* A releaser holds it for one COMMIT at most. */
		while (!atomic_compare_exchange_weak(&node->lease, &free_lease, LEASE_OWNER)) {
			free_lease = LEASE_FREE;
			sched_yield();
		}
		node->held = true;
		refresh_snapshot(node);
	}
	return node->conn;
}

void store_reader_release(struct store *st)
{
	struct reader_node *node = pthread_getspecific(st->reader_key);
	if (node == NULL)
		return;
	if (!node->keeps) {
		/* A thread that never calls this (a test, a benchmark) reads in
		 * autocommit mode as SQLite does by default, and its node stays
		 * its own: nothing would end its snapshot, and a releaser must
		 * never touch a connection that may be in use. One that does
		 * keeps snapshots from its next read on. */
		node->keeps = true;
		atomic_store_explicit(&node->lease, LEASE_FREE, memory_order_release);
		return;
	}
	if (!node->held)
		return;
	/* A snapshot already outdated is of no further use, and holding it
	 * would keep the WAL from being checkpointed past it and restarted. */
	if (in_snapshot(node->conn) &&
	    node->commits != atomic_load_explicit(&st->commits, memory_order_acquire))
		end_snapshot(node->conn);
	node->held = false;
	atomic_store_explicit(&node->lease, LEASE_FREE, memory_order_release);
}

/* Ends the snapshots of readers not in use: after a commit they are
 * outdated, and an idle thread's would hold back the WAL's checkpoint and
 * restart until its next request. */
void store_end_idle_snapshots(struct store *st)
{
	pthread_mutex_lock(&st->readers_lock);
	for (struct reader_node *node = st->readers; node; node = node->next) {
		int free_lease = LEASE_FREE;
		if (!atomic_compare_exchange_strong(&node->lease, &free_lease, LEASE_RELEASER))
			continue;
		if (in_snapshot(node->conn))
			end_snapshot(node->conn);
		atomic_store_explicit(&node->lease, LEASE_FREE, memory_order_release);
	}
	pthread_mutex_unlock(&st->readers_lock);
}

void store_note_commit(struct store *st)
{
	atomic_fetch_add_explicit(&st->commits, 1, memory_order_release);
	store_end_idle_snapshots(st);
}

bool store_ready(struct store *st)
{
	struct db_conn *c = store_reader(st);
	if (c == NULL)
		return false;
	sqlite3_stmt *stmt = db_stmt(c, "SELECT coalesce(max(version), 0) FROM schema_migrations");
	if (stmt == NULL)
		return false;
	bool ok = sqlite3_step(stmt) == SQLITE_ROW &&
		  sqlite3_column_int(stmt, 0) == store_latest_version();
	sqlite3_reset(stmt);
	return ok;
}
