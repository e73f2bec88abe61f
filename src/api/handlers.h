/* Handlers of the route table, and helpers they share. */
#ifndef FEEDBACKD_API_HANDLERS_H
#define FEEDBACKD_API_HANDLERS_H

#include <stdbool.h>

#include "feedbackd/http.h"
#include "feedbackd/writer.h"

void api_post_survey(struct http_request *req);
void api_post_nps(struct http_request *req);
void api_post_batch(struct http_request *req);
void api_get_response(struct http_request *req);
void api_list_responses(struct http_request *req);
void api_get_customer(struct http_request *req);
void api_list_customers(struct http_request *req);
void api_erase_customer(struct http_request *req);
void api_erase_customer_by_query(struct http_request *req);
void api_healthz(struct http_request *req);
void api_readyz(struct http_request *req);
void api_metrics(struct http_request *req);
void api_openapi(struct http_request *req);
void api_dashboard_summary(struct http_request *req);
void api_dashboard_trend(struct http_request *req);
void api_dashboard_breakdown(struct http_request *req);

/* A customer_id as the API accepts it on input (SPEC 3): 1..128 characters. */
#define API_CUSTOMER_ID_MAX_CHARS 128
/* The {customer_id} of a path that takes no query parameters, or NULL after
 * replying 422 (a query parameter) or 404 (an id no customer can have). */
const char *api_customer_from_path(struct http_request *req);

/* Shared by the POST handlers. */
bool api_idempotency_key_valid(const char *key);
/* Checks request headers common to POSTs; replies 400 and returns false on error. */
bool api_check_headers(struct http_request *req);
/* The body as strict JSON, or NULL after replying 400/422. Caller frees. */
cJSON *api_parse_body(struct http_request *req);
/* 201/200/409/503 for a stored item. */
void api_reply_stored(struct http_request *req, const struct write_item *item, int submit_err);
/* 503 (with Retry-After) or 500 for a storage error code on a read path. */
void api_reply_store_error(struct http_request *req, int err);

#endif
