/* Upkeep: the background chores around the writer.
 *
 * - Health probe: at start, and every second while the writer's last commit
 *   failed, a small write (store_probe_write) goes through the writer. Its
 *   success marks the writer healthy again, so /readyz recovers when space
 *   returns even if no client writes; its failure says why (logged once).
 * - Idempotency purge: keys older than 24 h are deleted in bounded passes
 *   (at most UPKEEP_PURGE_BATCH rows each), every minute, or every second
 *   while a backlog remains. Never while writes fail, since deleting would
 *   make the writer look healthy while inserts still cannot grow the file.
 *
 * Both run as writer jobs (one transaction each, the same door as every
 * write). This module logs the transitions between writable and failing.
 * - Every tick (250 ms) it also writes out the gathered access-log lines
 *   (log_flush), so a server gone quiet does not hold them back. */
#ifndef FEEDBACKD_UPKEEP_H
#define FEEDBACKD_UPKEEP_H

#include "feedbackd/writer.h"

#define UPKEEP_PURGE_BATCH 1000

struct upkeep;

/* Start the thread. *out owned by the caller: upkeep_stop(), which must run
 * before writer_stop(). Returns 0 or FBD_ENOMEM. */
int upkeep_start(struct upkeep **out, struct writer *w);

/* Stop the thread, waiting for a job it has with the writer. NULL accepted. */
void upkeep_stop(struct upkeep *u);

#endif
