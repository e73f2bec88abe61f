/* libFuzzer target: the request-body validation path.
 *
 * Bytes -> json_parse_strict -> submission_from_json as a survey, an NPS
 * rating and a batch item. Whatever is accepted must survive the reply
 * path: submission_to_json, printed, must parse strictly again, and read
 * back as a submission it must carry the same client-given fields (equal
 * digests). Any violation aborts, which libFuzzer reports as a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "feedbackd/error.h"
#include "feedbackd/model.h"

#define FUZZ_NOW 1795428000 /* 2026-11-23T10:00:00Z */
#define FUZZ_MAX_AGE_DAYS 730
#define FUZZ_MAX_INPUT (64 * 1024)

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/* The reply as a client would send it back: without what the server adds
 * (type, received_at), without an id it generated (none here) and without a
 * submitted_at it defaulted. */
static void strip_server_fields(cJSON *o, const struct submission *s)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, "type");
	cJSON_DeleteItemFromObjectCaseSensitive(o, "received_at");
	if (!s->client_id)
		cJSON_DeleteItemFromObjectCaseSensitive(o, "id");
	if (!s->submitted_given)
		cJSON_DeleteItemFromObjectCaseSensitive(o, "submitted_at");
}

static void round_trip(const struct submission *s)
{
	cJSON *out = submission_to_json(s);
	if (out == NULL)
		return; /* allocation failure */
	char *text = cJSON_PrintUnformatted(out);
	cJSON_Delete(out);
	if (text == NULL)
		return;
	cJSON *again = NULL;
	const char *detail = NULL;
	enum json_status st = json_parse_strict(text, strlen(text), &again, &detail);
	free(text);
	if (st == JSON_NOMEM)
		return;
	REQUIRE(st == JSON_OK && again != NULL);
	strip_server_fields(again, s);

	struct submission back;
	struct validation v;
	submission_init(&back);
	int rc = submission_from_json(again, s->type, FUZZ_NOW, FUZZ_MAX_AGE_DAYS, &back, &v);
	cJSON_Delete(again);
	if (rc != FBD_ENOMEM) {
		REQUIRE(rc == 0);
		REQUIRE(memcmp(back.digest, s->digest, sizeof(s->digest)) == 0);
		REQUIRE(back.type == s->type);
	}
	submission_release(&back);
}

static void validate_as(const cJSON *root, enum submission_type type)
{
	struct submission s;
	struct validation v;
	submission_init(&s);
	int rc = submission_from_json(root, type, FUZZ_NOW, FUZZ_MAX_AGE_DAYS, &s, &v);
	if (rc == 0) {
		REQUIRE(v.n == 0);
		REQUIRE(s.type == SUB_SURVEY || s.type == SUB_NPS);
		REQUIRE(s.customer_id != NULL);
		REQUIRE(utf8_valid(s.customer_id, strlen(s.customer_id)));
		REQUIRE(s.comment == NULL || utf8_valid(s.comment, strlen(s.comment)));
		round_trip(&s);
	} else {
		REQUIRE(rc == FBD_ENOMEM ||
		        (rc == FBD_EINVAL && v.n > 0 && v.n <= MODEL_MAX_ERRORS));
		for (size_t i = 0; i < v.n; i++) {
			REQUIRE(memchr(v.errors[i].field, '\0', sizeof(v.errors[i].field)) != NULL);
			REQUIRE(memchr(v.errors[i].message, '\0', sizeof(v.errors[i].message)) !=
			        NULL);
		}
	}
	submission_release(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	cJSON *root = NULL;
	const char *detail = NULL;
	enum json_status st = json_parse_strict((const char *)data, size, &root, &detail);
	if (st != JSON_OK) {
		REQUIRE(root == NULL);
		REQUIRE(st == JSON_NOMEM || detail != NULL);
		return 0;
	}
	validate_as(root, SUB_SURVEY);
	validate_as(root, SUB_NPS);
	validate_as(root, SUB_ANY);
	cJSON_Delete(root);
	return 0;
}
