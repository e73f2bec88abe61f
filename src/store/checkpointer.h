/* WAL checkpoints off the commit path.
 *
 * SQLite's default auto-checkpoint runs inside the COMMIT that pushes the WAL
 * past 1000 pages, on the committing thread: every group waiting behind that
 * commit also waits for the copy of the WAL into the database file and its
 * fsync. With a large database that copy is random I/O and dominates ingest
 * (measured in docs/performance.md). The checkpointer moves it to a thread
 * of its own with its own connection: the WAL hook of every write connection
 * routed to it (the writer's, which also runs the scoring worker's writes)
 * wakes it once the WAL holds CHECKPOINT_SOFT_FRAMES. Should the thread fall behind, the committing
 * connection copies the WAL inline once it reaches CHECKPOINT_HARD_FRAMES.
 * That bounds the WAL only loosely: a bulk import at full speed (bench/
 * load_db, 500-item jobs, eight at a time) took it to 84 000 frames, and to
 * 79 000 before this thread's cycles ended under the write gate. */
#ifndef FEEDBACKD_STORE_CHECKPOINTER_H
#define FEEDBACKD_STORE_CHECKPOINTER_H

#include "feedbackd/store.h"

/* A page written by many commits of a cycle is copied once: with 1 000 000
 * stored submissions, waking the thread at 16 000 frames instead of 2 000
 * made single-survey ingest 25-35 % faster (docs/performance.md). Under
 * sustained load the WAL then peaks near 30 000-35 000 frames (about 120-
 * 135 MB; checkpointer.c tells why it is not 16 000); SQLite reuses the
 * file, it does not shrink. (Waking it at 8 000 did not lower the peak.) */
#define CHECKPOINT_SOFT_FRAMES 16000 /* ~64 MB of 4 KiB pages: wake the thread */
#define CHECKPOINT_HARD_FRAMES 64000 /* ~256 MB: checkpoint inline, bound the WAL */

struct checkpointer;

/* Open a connection to st's database and start the thread. st must outlive
 * it (the thread takes st's write gate). *out is owned by the caller:
 * checkpointer_stop(). */
int checkpointer_start(struct checkpointer **out, struct store *st);

/* Route the write connection c's checkpoints to cp (replaces SQLite's
 * auto-checkpoint on c). cp must stay alive until c is closed. */
void checkpointer_attach(struct checkpointer *cp, struct db_conn *c);

/* Stop the thread and close its connection. NULL is accepted. */
void checkpointer_stop(struct checkpointer *cp);

#endif
