/* GET /healthz (the process answers) and GET /readyz (it can do its job). */
#include "api/handlers.h"
#include "feedbackd/api.h"

void api_healthz(struct http_request *req)
{
	cJSON *body = cJSON_CreateObject();
	if (body && !cJSON_AddStringToObject(body, "status", "ok")) {
		cJSON_Delete(body);
		body = NULL;
	}
	http_reply_json(req, 200, body);
}

void api_readyz(struct http_request *req)
{
	struct api_env *env = req->app;
	const char *problem = NULL;
	if (atomic_load(&env->draining))
		problem = "shutting down";
	else if (!store_ready(env->store))
		problem = "database not readable or migrations not applied";
	else if (!writer_healthy(env->writer))
		problem = "database not writable";
	else if (!worker_alive(env->worker))
		problem = "scoring worker not running";
	if (problem) {
		http_add_header(req, "Retry-After", "1");
		http_reply_problem(req, 503, problem, NULL);
		return;
	}
	cJSON *body = cJSON_CreateObject();
	if (body && !cJSON_AddStringToObject(body, "status", "ready")) {
		cJSON_Delete(body);
		body = NULL;
	}
	http_reply_json(req, 200, body);
}
