#include "api/handlers.h"
#include "feedbackd/api.h"

const struct http_route api_routes[] = {
	{"POST", "/v1/surveys", api_post_survey, AUTH_SCOPE_INGEST, HTTP_BODY_SINGLE},
	{"POST", "/v1/nps", api_post_nps, AUTH_SCOPE_INGEST, HTTP_BODY_SINGLE},
	{"POST", "/v1/batch", api_post_batch, AUTH_SCOPE_INGEST, HTTP_BODY_BATCH},
	{"GET", "/v1/responses", api_list_responses, AUTH_SCOPE_READ, HTTP_BODY_NONE},
	{"GET", "/v1/responses/{id}", api_get_response, AUTH_SCOPE_READ, HTTP_BODY_NONE},
	{"GET", "/v1/customers", api_list_customers, AUTH_SCOPE_READ, HTTP_BODY_NONE},
	{"DELETE", "/v1/customers", api_erase_customer_by_query, AUTH_SCOPE_ADMIN, HTTP_BODY_NONE},
	{"GET", "/v1/customers/{customer_id}", api_get_customer, AUTH_SCOPE_READ, HTTP_BODY_NONE},
	{"DELETE", "/v1/customers/{customer_id}", api_erase_customer, AUTH_SCOPE_ADMIN, HTTP_BODY_NONE},
	{"GET", "/v1/dashboard/summary", api_dashboard_summary, AUTH_SCOPE_READ, HTTP_BODY_NONE},
	{"GET", "/v1/dashboard/trend", api_dashboard_trend, AUTH_SCOPE_READ, HTTP_BODY_NONE},
	{"GET", "/v1/dashboard/breakdown", api_dashboard_breakdown, AUTH_SCOPE_READ, HTTP_BODY_NONE},
	{"GET", "/healthz", api_healthz, AUTH_SCOPE_NONE, HTTP_BODY_NONE},
	{"GET", "/readyz", api_readyz, AUTH_SCOPE_NONE, HTTP_BODY_NONE},
	{"GET", "/metrics", api_metrics, AUTH_SCOPE_NONE, HTTP_BODY_NONE},
	{"GET", "/openapi.json", api_openapi, AUTH_SCOPE_NONE, HTTP_BODY_NONE},
};

const size_t api_routes_count = sizeof(api_routes) / sizeof(api_routes[0]);
