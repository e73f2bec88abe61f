/* Erasure of one customer: DELETE /v1/customers/{customer_id}.
 *
 * Everything stored about the customer goes in one transaction: every
 * submission (taken out of the dashboard aggregates as it goes, so every
 * figure stays exact), the stored replies of keyed requests that hold a copy
 * of one of them (migration 008), and the customer row with its profile
 * (the profile counts follow by trigger). It runs on the writer's connection
 * inside a group's transaction (a write_job's in_tx), so it is ordered with
 * the submissions around it: one that commits after it starts the customer
 * anew. */
#ifndef FEEDBACKD_ERASURE_H
#define FEEDBACKD_ERASURE_H

#include <stdbool.h>
#include <stdint.h>

#include "feedbackd/store.h"

struct erasure_result {
	bool found;          /* the customer had a row or a submission */
	int64_t submissions; /* submissions deleted */
};

/* Erase customer_id inside c's open write transaction. Returns 0 (with *out
 * set; found false when there was nothing to erase) or a negative FBD_*
 * code, after which the caller must roll back. */
int erasure_run(struct db_conn *c, const char *customer_id, struct erasure_result *out);

#endif
