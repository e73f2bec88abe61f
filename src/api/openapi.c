/* GET /openapi.json: the OpenAPI 3.1 document, docs/openapi.json, embedded
 * at build time (src/api/embed_openapi.py checks that it is JSON). */
#include "api/handlers.h"
#include "api/openapi.h"

void api_openapi(struct http_request *req)
{
	http_reply_raw(req, 200, "application/json", api_openapi_json, api_openapi_json_len);
}
