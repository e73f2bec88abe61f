/* The single writer: group commit of submissions.
 *
 * One thread owns the write connection. Request threads hand it jobs (one
 * submission, or a batch) through a bounded queue and are told, through a
 * callback run on the writer thread, once the transaction that holds their
 * rows has committed. Every job that arrived while the previous commit ran
 * goes into the next transaction, so the cost of a durable fsync is shared.
 * In that transaction each submission also updates its customer's counters
 * and the dashboard counters; the row itself is the scoring worker's
 * pending work (its seq is after the worker's cursor, worker.h). */
#ifndef FEEDBACKD_WRITER_H
#define FEEDBACKD_WRITER_H

#include <stddef.h>

#include "feedbackd/model.h"
#include "feedbackd/store.h"

enum write_status {
	WRITE_PENDING = 0,
	WRITE_CREATED = 201,   /* stored now */
	WRITE_EXISTS = 200,    /* client id already stored with the same body: sub holds the stored record */
	WRITE_CONFLICT = 409,  /* client id already stored with a different body */
	WRITE_FAILED = 503,    /* not stored (storage error or shutdown) */
};

struct write_item {
	struct submission sub; /* in: validated; out: as stored (id, received_at, segment) */
	enum write_status status;
	bool segment_resolved; /* writer-private: segment was taken from the customer */
};

struct write_job;
typedef void (*write_done_fn)(struct write_job *job, void *arg);

/* Owned by the submitter, who must keep it alive until done() runs.
 * done() runs once the job's commit is durable (with sync = full on the
 * syncer thread, after its fdatasync of the WAL) or has failed, on the
 * writer thread otherwise (and for a derived job, see below); it must not
 * block and must not touch the writer. */
struct write_job {
	struct write_item *items;
	size_t n;
	write_done_fn done;
	void *arg;
	/* Optional: runs on the writer thread inside the transaction, after the
	 * job's items were applied, to write rows that must commit with them
	 * (an idempotency record, a purge, the health probe). A non-zero return
	 * fails the whole group. May run although the group then fails to
	 * commit: result tells. NULL: nothing to do. */
	int (*in_tx)(struct db_conn *c, struct write_job *job);
	/* in_tx only rewrites derived rows in place (the scoring worker's
	 * profiles, which it writes again should a commit be lost): done()
	 * runs on the writer thread as soon as the group committed, without
	 * waiting for its fdatasync; and since a rewrite fits where a new row
	 * may not, its commit does not make writer_healthy() true after a
	 * full disk (its failure does make it false). */
	bool derived;
	int result;             /* out, set before done(): 0 when the group committed */
	struct write_job *next; /* writer-private */
};

struct writer;

struct writer_options {
	size_t capacity; /* bounds the number of submissions waiting (not jobs) */
	/* Called on the writer thread after each successful commit with the
	 * number of submissions it stored (e.g. to wake the scoring worker).
	 * Must not block. May be NULL. */
	void (*on_commit)(void *arg, size_t stored);
	void *on_commit_arg;
};

int writer_start(struct writer **out, struct store *st, const struct writer_options *opt);

/* Queue a job. FBD_EFULL when the queue is full (answer 503); a job without
 * submissions (n = 0: the worker's profiles, a probe, an erasure) is never
 * refused for that, since it adds nothing to what the capacity bounds and
 * each of its senders has at most one in flight per thread or request.
 * FBD_ESHUTDOWN once stopping. done() is not called when it fails. */
int writer_submit(struct writer *w, struct write_job *job);

/* Submissions waiting now (metrics). */
size_t writer_queue_depth(struct writer *w);

/* True while the writer thread runs, its last commit did not fail and no
 * fdatasync of the WAL ever failed (that one is final until a restart). */
bool writer_healthy(struct writer *w);

/* Commit what is queued, stop the thread, close the connection, free w.
 * NULL is accepted. */
void writer_stop(struct writer *w);

#endif
