/* SQL shared by the store's modules. */
#ifndef FEEDBACKD_STORE_SQL_H
#define FEEDBACKD_STORE_SQL_H

/* Column list read by store_row_to_submission(), in this order. */
#define SUBMISSION_COLUMNS                                                                      \
	"id, type, customer_id, contact_id, channel, agent_id, segment, submitted_at,"          \
	" submitted_given, received_at, expectation, csat, effort, resolved, nps, comment, tags," \
	" metadata, digest"

#endif
