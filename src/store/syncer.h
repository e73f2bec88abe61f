/* Durable commits off the writer thread (sync = full).
 *
 * With synchronous = FULL SQLite ends every commit with an fdatasync of the
 * WAL, and the writer thread waits for it before it can start the next
 * group: on the development machine about a third of the writer's time per
 * group (docs/performance.md). Instead the writer commits with
 * synchronous = NORMAL, which writes the WAL but does not sync it, and hands
 * the committed group to this thread, which runs one fdatasync of the WAL
 * for every group handed over since its last one and only then tells the
 * groups' submitters (write_job.done). An acknowledged submission is thus
 * exactly as durable as with FULL, and the writer builds the next group
 * while the disk syncs the previous ones. SQLite's documentation of this
 * technique: the forum thread "Switching pragma synchronous to upgrade
 * durability" (sqlite.org/forum/forumpost/d1a6bc7c4cd2baca): an fsync of the
 * WAL makes previously committed NORMAL transactions durable.
 *
 * The thread syncs the WAL through a descriptor of its own: fsync flushes
 * the file, whichever descriptor names it, and SQLite's own file handle is
 * not safe to use from another thread. The WAL file keeps its inode while
 * any connection is open (SQLite deletes it only when the last one closes),
 * and the writer's stays open for the syncer's whole life.
 *
 * A failed fdatasync leaves the state of everything written since the last
 * good one unknown (Linux may drop the unwritten pages), so it is final:
 * the groups waiting get FBD_ESTORAGE (503) and syncer_healthy() stays
 * false, so the writer refuses every later group until a restart, as
 * PostgreSQL does. */
#ifndef FEEDBACKD_STORE_SYNCER_H
#define FEEDBACKD_STORE_SYNCER_H

#include <stdbool.h>

#include "feedbackd/writer.h"

struct syncer;

/* Start the thread for the database at db_path (its WAL is db_path-wal).
 * *out is owned by the caller: syncer_stop(). Returns 0 or FBD_ENOMEM. */
int syncer_start(struct syncer **out, const char *db_path);

/* Hand over committed jobs (a list linked by next, every one with result
 * 0): done() runs on the syncer thread once an fdatasync of the WAL that
 * began after this call has succeeded, or with result FBD_ESTORAGE and
 * every item WRITE_FAILED when it failed. */
void syncer_submit(struct syncer *s, struct write_job *jobs);

/* False once an fdatasync failed: the writer must not commit any more. */
bool syncer_healthy(struct syncer *s);

/* Sync and tell what was handed over, stop the thread, free s. NULL is
 * accepted. */
void syncer_stop(struct syncer *s);

#endif
