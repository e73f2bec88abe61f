/* WAL checkpoints off the commit path.
 *
 * SQLite's default auto-checkpoint runs inside the COMMIT that pushes the WAL
 * past 1000 pages, on the writer thread: every group waiting behind that
 * commit also waits for the copy of the WAL into the database file and its
 * fsync. With a large database that copy is random I/O and dominates ingest
 * (measured in docs/performance.md). The checkpointer moves it to a thread
 * of its own with its own connection: the writer's WAL hook wakes it once
 * the WAL holds CHECKPOINT_SOFT_FRAMES, and it runs a PASSIVE checkpoint,
 * which in WAL mode proceeds beside the writer. Should the thread fall behind
 * under sustained load, the hook checkpoints inline once the WAL reaches
 * CHECKPOINT_HARD_FRAMES, so the WAL stays bounded as before. */
#ifndef FEEDBACKD_STORE_CHECKPOINTER_H
#define FEEDBACKD_STORE_CHECKPOINTER_H

#include "feedbackd/store.h"

/* Each checkpoint cycle ends with a copy and two fsyncs on the writer's
 * thread (checkpointer.c), and a page written by many commits of a cycle is
 * copied once: with 1 000 000 stored submissions, waking the thread at
 * 16 000 frames instead of 2 000 made single-survey ingest 25-35 % faster
 * (docs/performance.md). The WAL then peaks near 21 000 frames (about
 * 90 MB) under sustained load; SQLite reuses the file, it does not shrink. */
#define CHECKPOINT_SOFT_FRAMES 16000 /* ~64 MB of 4 KiB pages: wake the thread */
#define CHECKPOINT_HARD_FRAMES 64000 /* ~256 MB: checkpoint inline, bound the WAL */

struct checkpointer;

/* Open a connection to opt->path and start the thread. *out is owned by the
 * caller: checkpointer_stop(). */
int checkpointer_start(struct checkpointer **out, const struct store_options *opt);

/* Route the write connection's checkpoints to cp (replaces SQLite's
 * auto-checkpoint on c). cp must stay alive until c is closed. */
void checkpointer_attach(struct checkpointer *cp, struct db_conn *c);

/* Stop the thread and close its connection. NULL is accepted. */
void checkpointer_stop(struct checkpointer *cp);

#endif
