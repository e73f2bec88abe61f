/* submission_from_json / submission_to_json: every field rule of SPEC 3 at
 * its bounds (exactly at the limit passes, one more fails, multi-byte
 * characters count as one), wrong types, unknown fields, error collection,
 * the batch and nps types, the digest and the reply shape. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "feedbackd/error.h"
#include "feedbackd/model.h"

#define NOW 1795428900LL /* 2026-11-23T10:15:00Z */
#define MAX_AGE_DAYS 730
#define UUID "0b1e9d2c-5f3a-4c7e-9a61-2d8f4b7c1e05"

static struct submission sub;
static struct validation val;

/* printf into one of a few rotating static buffers, so that a test can
 * build a body from several generated pieces. */
static const char *fmt(const char *format, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *format, ...)
{
	static char bufs[4][40000];
	static int next;
	char *buf = bufs[next++ % 4];
	va_list ap;

	va_start(ap, format);
	vsnprintf(buf, sizeof(bufs[0]), format, ap);
	va_end(ap);
	return buf;
}

/* unit repeated n times. */
static const char *rep(const char *unit, int n)
{
	static char bufs[4][20000];
	static int next;
	char *buf = bufs[next++ % 4];
	size_t len = strlen(unit);

	for (int i = 0; i < n; i++)
		memcpy(buf + (size_t)i * len, unit, len);
	buf[(size_t)n * len] = '\0';
	return buf;
}

/* Validate a parsed tree (taken over). */
static int run_tree(enum submission_type type, cJSON *obj, int max_age_days)
{
	int rc = submission_from_json(obj, type, NOW, max_age_days, &sub, &val);

	cJSON_Delete(obj);
	CHECK(rc == 0 || rc == FBD_EINVAL);
	CHECK(rc == 0 ? val.n == 0 : val.n > 0);
	return rc;
}

static int run(enum submission_type type, const char *text)
{
	cJSON *obj = NULL;

	if (json_parse_strict(text, strlen(text), &obj, NULL) != JSON_OK) {
		fprintf(stderr, "test body does not parse: %s\n", text);
		CHECK(0);
	}
	return run_tree(type, obj, MAX_AGE_DAYS);
}

static void dump(const char *text)
{
	fprintf(stderr, "  body: %.200s\n", text);
	for (size_t i = 0; i < val.n; i++)
		fprintf(stderr, "  error: \"%s\": %s\n", val.errors[i].field, val.errors[i].message);
}

static bool accepted(enum submission_type type, const char *text)
{
	if (run(type, text) == 0)
		return true;
	dump(text);
	return false;
}

/* Rejected with exactly one error, on field. */
static bool rejected_on(enum submission_type type, const char *text, const char *field)
{
	if (run(type, text) == FBD_EINVAL && val.n == 1 && strcmp(val.errors[0].field, field) == 0)
		return true;
	fprintf(stderr, "expected exactly one error on \"%s\"\n", field);
	dump(text);
	return false;
}

static bool survey_ok(const char *text)
{
	return accepted(SUB_SURVEY, text);
}

static bool survey_bad(const char *text, const char *field)
{
	return rejected_on(SUB_SURVEY, text, field);
}

/* A valid survey with one extra member "name": value (raw JSON). */
static const char *with(const char *name, const char *value)
{
	return fmt("{\"customer_id\":\"c-1\",\"csat\":4,\"%s\":%s}", name, value);
}

static const char *quoted(const char *s)
{
	return fmt("\"%s\"", s);
}

static void test_minimal_defaults(void)
{
	CHECK(survey_ok("{\"customer_id\":\"c-1\",\"csat\":5}"));
	CHECK_STR(sub.id, "");
	CHECK(!sub.client_id);
	CHECK_INT(sub.type, SUB_SURVEY);
	CHECK_STR(sub.customer_id, "c-1");
	CHECK(sub.contact_id == NULL && sub.agent_id == NULL && sub.segment == NULL);
	CHECK(sub.comment == NULL && sub.tags_json == NULL && sub.metadata_json == NULL);
	CHECK_INT(sub.channel, CH_OTHER);
	CHECK_INT(sub.submitted_at, NOW);
	CHECK(!sub.submitted_given);
	CHECK_INT(sub.received_at, NOW);
	CHECK_INT(sub.expectation, EXP_NONE);
	CHECK_INT(sub.csat, 5);
	CHECK_INT(sub.effort, -1);
	CHECK_INT(sub.resolved, -1);
	CHECK_INT(sub.nps, -1);
}

static const char *const full_survey =
	"{\"id\":\"0B1E9D2C-5F3A-4C7E-9A61-2D8F4B7C1E05\",\"customer_id\":\"c-42\","
	"\"contact_id\":\"t-9\",\"channel\":\"chat\",\"agent_id\":\"a-7\",\"segment\":\"vip\","
	"\"submitted_at\":\"2026-11-23T11:00:00+01:00\",\"expectation\":\"exceeded\","
	"\"csat\":5,\"effort\":2,\"resolved\":true,\"nps\":9,\"comment\":\"Tr\\u00e8s bien\","
	"\"tags\":[\"billing\", \"fast\"],\"metadata\":{\"app\":\"ios\", \"v\":\"1.2\"}}";

static void test_full_survey(void)
{
	CHECK(survey_ok(full_survey));
	CHECK_STR(sub.id, UUID); /* lowercased */
	CHECK(sub.client_id);
	CHECK_STR(sub.customer_id, "c-42");
	CHECK_STR(sub.contact_id, "t-9");
	CHECK_INT(sub.channel, CH_CHAT);
	CHECK_STR(sub.agent_id, "a-7");
	CHECK_STR(sub.segment, "vip");
	CHECK_INT(sub.submitted_at, NOW - 900);
	CHECK(sub.submitted_given);
	CHECK_INT(sub.expectation, EXP_EXCEEDED);
	CHECK_INT(sub.csat, 5);
	CHECK_INT(sub.effort, 2);
	CHECK_INT(sub.resolved, 1);
	CHECK_INT(sub.nps, 9);
	CHECK_STR(sub.comment, "Tr\xc3\xa8s bien");
	CHECK_STR(sub.tags_json, "[\"billing\",\"fast\"]");
	CHECK_STR(sub.metadata_json, "{\"app\":\"ios\",\"v\":\"1.2\"}");
}

static void test_customer_id(void)
{
	CHECK(survey_bad("{\"csat\":4}", "customer_id"));
	CHECK_STR(val.errors[0].message, "is required");
	CHECK(survey_bad("{\"customer_id\":null,\"csat\":4}", "customer_id"));
	CHECK_STR(val.errors[0].message, "is required");
	CHECK(survey_bad("{\"customer_id\":\"\",\"csat\":4}", "customer_id"));
	CHECK_STR(val.errors[0].message, "must be a string of 1..128 characters");
	CHECK(survey_bad("{\"customer_id\":42,\"csat\":4}", "customer_id"));
	CHECK(survey_bad("{\"customer_id\":[\"a\"],\"csat\":4}", "customer_id"));
	CHECK(survey_ok(fmt("{\"customer_id\":\"%s\",\"csat\":4}", rep("x", 128))));
	CHECK(survey_bad(fmt("{\"customer_id\":\"%s\",\"csat\":4}", rep("x", 129)), "customer_id"));
	/* 128 two-byte and four-byte characters are 128 characters. */
	CHECK(survey_ok(fmt("{\"customer_id\":\"%s\",\"csat\":4}", rep("\xc3\xa9", 128))));
	CHECK_INT(strlen(sub.customer_id), 256);
	CHECK(survey_ok(fmt("{\"customer_id\":\"%s\",\"csat\":4}", rep("\xf0\x9f\x98\x80", 128))));
	CHECK(survey_bad(fmt("{\"customer_id\":\"%s\",\"csat\":4}", rep("\xc3\xa9", 129)),
			 "customer_id"));
	/* Escapes count as the character they stand for. */
	CHECK(survey_ok(fmt("{\"customer_id\":\"%s\",\"csat\":4}", rep("\\u00e9", 128))));
}

/* name is an optional string of 1..max characters. */
static void check_optional_string(const char *name, int max)
{
	CHECK(survey_ok(with(name, quoted("a"))));
	CHECK(survey_ok(with(name, quoted(rep("x", max)))));
	CHECK(survey_ok(with(name, quoted(rep("\xe2\x82\xac", max)))));
	CHECK(survey_ok(with(name, "null")));
	CHECK(survey_bad(with(name, quoted(rep("x", max + 1))), name));
	CHECK(survey_bad(with(name, quoted(rep("\xe2\x82\xac", max + 1))), name));
	CHECK(survey_bad(with(name, "\"\""), name));
	CHECK(survey_bad(with(name, "7"), name));
	CHECK(survey_bad(with(name, "true"), name));
	CHECK(survey_bad(with(name, "{}"), name));
}

static void test_optional_strings(void)
{
	check_optional_string("contact_id", 128);
	check_optional_string("agent_id", 128);
	check_optional_string("segment", 64);
	CHECK(survey_ok(with("segment", "\"vip\"")));
	CHECK_STR(sub.segment, "vip");
}

static void test_comment(void)
{
	CHECK(survey_ok(with("comment", "\"\"")));
	CHECK_STR(sub.comment, "");
	CHECK(survey_ok(with("comment", quoted(rep("x", 4000)))));
	CHECK(survey_ok(with("comment", quoted(rep("\xe2\x82\xac", 4000)))));
	CHECK_INT(strlen(sub.comment), 12000);
	CHECK(survey_bad(with("comment", quoted(rep("x", 4001))), "comment"));
	CHECK_STR(val.errors[0].message, "must be a string of at most 4000 characters");
	CHECK(survey_bad(with("comment", quoted(rep("\xe2\x82\xac", 4001))), "comment"));
	CHECK(survey_bad(with("comment", "5"), "comment"));
	CHECK(survey_ok(with("comment", "\"line\\nbreak \\\"quoted\\\"\"")));
	CHECK_STR(sub.comment, "line\nbreak \"quoted\"");
}

static void test_channel(void)
{
	static const char *const names[] = {"phone", "email", "chat", "in_person",
					    "web", "mobile", "social", "other"};

	for (int i = 0; i < 8; i++) {
		CHECK(survey_ok(with("channel", quoted(names[i]))));
		CHECK_INT(sub.channel, i);
	}
	CHECK(survey_ok(with("channel", "null")));
	CHECK_INT(sub.channel, CH_OTHER);
	CHECK(survey_bad(with("channel", "\"Phone\""), "channel"));
	CHECK_STR(val.errors[0].message,
		  "must be one of phone, email, chat, in_person, web, mobile, social, other");
	CHECK(survey_bad(with("channel", "\"fax\""), "channel"));
	CHECK(survey_bad(with("channel", "\"\""), "channel"));
	CHECK(survey_bad(with("channel", "1"), "channel"));
}

static void test_expectation(void)
{
	CHECK(survey_ok("{\"customer_id\":\"c\",\"expectation\":\"below\"}"));
	CHECK_INT(sub.expectation, EXP_BELOW);
	CHECK(survey_ok("{\"customer_id\":\"c\",\"expectation\":\"met\"}"));
	CHECK_INT(sub.expectation, EXP_MET);
	CHECK(survey_ok("{\"customer_id\":\"c\",\"expectation\":\"exceeded\"}"));
	CHECK_INT(sub.expectation, EXP_EXCEEDED);
	CHECK(survey_bad(with("expectation", "\"Met\""), "expectation"));
	CHECK_STR(val.errors[0].message, "must be one of below, met, exceeded");
	CHECK(survey_bad(with("expectation", "2"), "expectation"));
}

/* name is an integer field of a survey, lo..hi, with csat given or not. */
static void check_int_field(const char *name, int lo, int hi)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "must be an integer between %d and %d", lo, hi);
	CHECK(survey_ok(with(name, fmt("%d", lo))));
	CHECK(survey_ok(with(name, fmt("%d", hi))));
	CHECK(survey_ok(with(name, fmt("%d.0", hi))));
	CHECK(survey_ok(with(name, "null")));
	CHECK(survey_bad(with(name, fmt("%d", lo - 1)), name));
	CHECK_STR(val.errors[0].message, msg);
	CHECK(survey_bad(with(name, fmt("%d", hi + 1)), name));
	CHECK(survey_bad(with(name, fmt("%d.5", lo)), name));
	CHECK(survey_bad(with(name, fmt("\"%d\"", lo)), name));
	CHECK_STR(val.errors[0].message, msg);
	CHECK(survey_bad(with(name, "true"), name));
	CHECK(survey_bad(with(name, "1e300"), name));
	CHECK(survey_bad(with(name, "-1e300"), name));
	CHECK(survey_bad(with(name, "4294967301"), name)); /* 5 mod 2^32 */
	CHECK(survey_bad(with(name, "[3]"), name));
}

static void test_integers(void)
{
	/* "csat" replaces the csat of with(); the others add to it. */
	CHECK(survey_ok("{\"customer_id\":\"c\",\"csat\":1}"));
	CHECK(survey_ok("{\"customer_id\":\"c\",\"csat\":5}"));
	CHECK(survey_bad("{\"customer_id\":\"c\",\"csat\":0}", "csat"));
	CHECK(survey_bad("{\"customer_id\":\"c\",\"csat\":6}", "csat"));
	CHECK(survey_bad("{\"customer_id\":\"c\",\"csat\":10.5}", "csat"));
	CHECK(survey_bad("{\"customer_id\":\"c\",\"csat\":\"3\"}", "csat"));
	CHECK(survey_bad("{\"customer_id\":\"c\",\"csat\":true}", "csat"));
	CHECK(survey_ok("{\"customer_id\":\"c\",\"csat\":5e0}"));
	CHECK_INT(sub.csat, 5);
	check_int_field("effort", 1, 7);
	check_int_field("nps", 0, 10);
	CHECK(survey_ok(with("nps", "-0")));
	CHECK_INT(sub.nps, 0);
	CHECK(survey_ok(with("effort", "7")));
	CHECK_INT(sub.effort, 7);
}

static void test_non_finite_numbers(void)
{
	/* json_parse_strict refuses these, but a tree built by other means
	 * must not slip through: valueint saturates for them. */
	cJSON *obj = cJSON_Parse("{\"customer_id\":\"c\"}");

	cJSON_AddItemToObject(obj, "csat", cJSON_CreateNumber(INFINITY));
	CHECK_INT(run_tree(SUB_SURVEY, obj, MAX_AGE_DAYS), FBD_EINVAL);
	CHECK_STR(val.errors[0].field, "csat");
	obj = cJSON_Parse("{\"customer_id\":\"c\"}");
	cJSON_AddItemToObject(obj, "nps", cJSON_CreateNumber(NAN));
	CHECK_INT(run_tree(SUB_SURVEY, obj, MAX_AGE_DAYS), FBD_EINVAL);
	CHECK_STR(val.errors[0].field, "nps");
}

static void test_resolved(void)
{
	CHECK(survey_ok(with("resolved", "true")));
	CHECK_INT(sub.resolved, 1);
	CHECK(survey_ok(with("resolved", "false")));
	CHECK_INT(sub.resolved, 0);
	CHECK(survey_ok(with("resolved", "null")));
	CHECK_INT(sub.resolved, -1);
	CHECK(survey_bad(with("resolved", "1"), "resolved"));
	CHECK_STR(val.errors[0].message, "must be a boolean");
	CHECK(survey_bad(with("resolved", "\"true\""), "resolved"));
}

static void test_id(void)
{
	CHECK(survey_ok(with("id", "\"" UUID "\"")));
	CHECK_STR(sub.id, UUID);
	CHECK(sub.client_id);
	CHECK(survey_ok(with("id", "null")));
	CHECK_STR(sub.id, "");
	CHECK(!sub.client_id);
	CHECK(survey_bad(with("id", "\"0b1e9d2c5f3a4c7e9a612d8f4b7c1e05\""), "id"));
	CHECK_STR(val.errors[0].message, "must be a UUID (8-4-4-4-12 hexadecimal digits)");
	CHECK(survey_bad(with("id", "\"{0b1e9d2c-5f3a-4c7e-9a61-2d8f4b7c1e05}\""), "id"));
	CHECK(survey_bad(with("id", "\"0b1e9d2c-5f3a-4c7e-9a61-2d8f4b7c1e0\""), "id"));
	CHECK(survey_bad(with("id", "\"0b1e9d2c-5f3a-4c7e-9a61-2d8f4b7c1e05 \""), "id"));
	CHECK(survey_bad(with("id", "\"\""), "id"));
	CHECK(survey_bad(with("id", "12"), "id"));
	CHECK(!sub.client_id && sub.customer_id == NULL); /* released on error */
}

static void test_submitted_at(void)
{
	char t[21];

	CHECK(survey_ok(with("submitted_at", "\"2026-11-23T10:00:00Z\"")));
	CHECK_INT(sub.submitted_at, NOW - 900);
	CHECK(sub.submitted_given);
	/* Five minutes ahead is accepted (clock skew), one second more is not. */
	rfc3339_format(NOW + 300, t);
	CHECK(survey_ok(with("submitted_at", quoted(t))));
	rfc3339_format(NOW + 301, t);
	CHECK(survey_bad(with("submitted_at", quoted(t)), "submitted_at"));
	CHECK_STR(val.errors[0].message, "must not be more than 5 minutes in the future");
	/* The maximum age, exactly and one second beyond. */
	rfc3339_format(NOW - MAX_AGE_DAYS * 86400LL, t);
	CHECK(survey_ok(with("submitted_at", quoted(t))));
	rfc3339_format(NOW - MAX_AGE_DAYS * 86400LL - 1, t);
	CHECK(survey_bad(with("submitted_at", quoted(t)), "submitted_at"));
	CHECK_STR(val.errors[0].message, "must not be more than 730 days in the past");
	CHECK(survey_ok(with("submitted_at", "\"2026-11-23T07:00:00.999-03:00\"")));
	CHECK_INT(sub.submitted_at, NOW - 900);
	CHECK(survey_ok(with("submitted_at", "null")));
	CHECK_INT(sub.submitted_at, NOW);
	CHECK(!sub.submitted_given);
	CHECK(survey_bad(with("submitted_at", "\"2026-11-23\""), "submitted_at"));
	CHECK_STR(val.errors[0].message,
		  "must be an RFC 3339 date-time such as 2026-11-23T10:15:00Z");
	CHECK(survey_bad(with("submitted_at", "\"yesterday\""), "submitted_at"));
	CHECK(survey_bad(with("submitted_at", "1795428900"), "submitted_at"));
	/* max_age_days <= 0: no lower bound. */
	CHECK_INT(run_tree(SUB_SURVEY, cJSON_Parse(with("submitted_at", "\"1990-01-01T00:00:00Z\"")),
			   0),
		  0);
	CHECK_INT(sub.submitted_at, 631152000);
}

static void test_tags(void)
{
	const char *twenty = fmt("[%s\"t\"]", rep("\"t\",", 19));

	CHECK(survey_ok(with("tags", twenty)));
	CHECK(survey_bad(with("tags", fmt("[%s\"t\"]", rep("\"t\",", 20))), "tags"));
	CHECK_STR(val.errors[0].message, "must be an array of at most 20 strings");
	CHECK(survey_ok(with("tags", "[]")));
	CHECK_STR(sub.tags_json, "[]");
	CHECK(survey_ok(with("tags", "null")));
	CHECK(sub.tags_json == NULL);
	CHECK(survey_ok(with("tags", fmt("[\"%s\"]", rep("\xc3\xa9", 64)))));
	CHECK(survey_bad(with("tags", fmt("[\"a\",\"%s\"]", rep("\xc3\xa9", 65))), "tags[1]"));
	CHECK_STR(val.errors[0].message, "must be a string of 1..64 characters");
	CHECK(survey_bad(with("tags", "[\"\"]"), "tags[0]"));
	CHECK(survey_bad(with("tags", "[\"a\",null]"), "tags[1]"));
	CHECK(survey_bad(with("tags", "[\"a\",[\"b\"]]"), "tags[1]"));
	CHECK(survey_bad(with("tags", "\"billing\""), "tags"));
	CHECK(survey_bad(with("tags", "{\"a\":\"b\"}"), "tags"));
	CHECK_INT(run(SUB_SURVEY, with("tags", "[1,\"ok\",\"\",2]")), FBD_EINVAL);
	CHECK_INT(val.n, 3);
	CHECK_STR(val.errors[0].field, "tags[0]");
	CHECK_STR(val.errors[1].field, "tags[2]");
	CHECK_STR(val.errors[2].field, "tags[3]");
	CHECK(survey_ok(with("tags", "[ \"a\\u0062\" , \"c\" ]")));
	CHECK_STR(sub.tags_json, "[\"ab\",\"c\"]");
}

/* An object with n members k0..k<n-1>. */
static const char *members(int n)
{
	static char buf[1024];
	size_t len = 0;

	buf[len++] = '{';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s\"k%d\":\"v\"",
					i ? "," : "", i);
	snprintf(buf + len, sizeof(buf) - len, "}");
	return buf;
}

static void test_metadata(void)
{
	CHECK(survey_ok(with("metadata", members(20))));
	CHECK(survey_bad(with("metadata", members(21)), "metadata"));
	CHECK_STR(val.errors[0].message, "must be an object with at most 20 members");
	CHECK(survey_ok(with("metadata", "{}")));
	CHECK_STR(sub.metadata_json, "{}");
	CHECK(survey_ok(with("metadata", "null")));
	CHECK(sub.metadata_json == NULL);
	CHECK(survey_ok(with("metadata", fmt("{\"%s\":\"\"}", rep("\xc3\xa9", 64)))));
	CHECK(survey_bad(with("metadata", fmt("{\"%s\":\"v\"}", rep("k", 65))), "metadata"));
	CHECK_STR(val.errors[0].message, "member names must be 1..64 characters");
	CHECK(survey_bad(with("metadata", "{\"\":\"v\"}"), "metadata"));
	CHECK(survey_ok(with("metadata", fmt("{\"k\":\"%s\"}", rep("\xe2\x82\xac", 256)))));
	CHECK(survey_bad(with("metadata", fmt("{\"k\":\"%s\"}", rep("x", 257))), "metadata.k"));
	CHECK_STR(val.errors[0].message, "must be a string of at most 256 characters");
	CHECK(survey_bad(with("metadata", "{\"n\":1}"), "metadata.n"));
	CHECK(survey_bad(with("metadata", "{\"n\":null}"), "metadata.n"));
	CHECK(survey_bad(with("metadata", "{\"n\":{\"a\":\"b\"}}"), "metadata.n"));
	CHECK(survey_bad(with("metadata", "[\"a\"]"), "metadata"));
	CHECK(survey_bad(with("metadata", "\"a=b\""), "metadata"));
	CHECK(survey_ok(with("metadata", "{ \"z\" : \"1\" , \"a\" : \"\\u00e9\" }")));
	CHECK_STR(sub.metadata_json, "{\"z\":\"1\",\"a\":\"\xc3\xa9\"}"); /* order as sent */
}

static void test_unknown_fields(void)
{
	CHECK(survey_bad(with("foo", "1"), "foo"));
	CHECK_STR(val.errors[0].message, "unknown field");
	CHECK(survey_bad(with("Csat", "4"), "Csat")); /* names are case-sensitive */
	CHECK(survey_bad(with("type", "\"survey\""), "type"));
	CHECK(survey_bad(with("score", "9"), "score"));
	CHECK(survey_bad(with("received_at", "\"2026-11-23T10:00:00Z\""), "received_at"));
	CHECK(survey_bad(with("foo", "null"), "foo")); /* null does not excuse a typo */
	CHECK(survey_bad(with("", "1"), ""));
	/* A long name with multi-byte characters is cut on a character
	 * boundary, so that the problem document stays valid UTF-8. */
	CHECK_INT(run(SUB_SURVEY, with(rep("\xe2\x82\xac", 100), "1")), FBD_EINVAL);
	CHECK(utf8_valid(val.errors[0].field, strlen(val.errors[0].field)));
	CHECK_INT(strlen(val.errors[0].field), 69);
}

static void test_many_errors(void)
{
	const char *body = "{\"customer_id\":\"\",\"channel\":\"fax\",\"csat\":9,\"nps\":11,"
			   "\"resolved\":\"yes\",\"tags\":[\"\"],\"extra\":1,\"metadata\":[]}";

	CHECK_INT(run(SUB_SURVEY, body), FBD_EINVAL);
	CHECK_INT(val.n, 8);
	if (val.n == 8) {
		/* Table order first, then unknown names in member order. */
		CHECK_STR(val.errors[0].field, "customer_id");
		CHECK_STR(val.errors[1].field, "channel");
		CHECK_STR(val.errors[2].field, "csat");
		CHECK_STR(val.errors[3].field, "resolved");
		CHECK_STR(val.errors[4].field, "nps");
		CHECK_STR(val.errors[5].field, "tags[0]");
		CHECK_STR(val.errors[6].field, "metadata");
		CHECK_STR(val.errors[7].field, "extra");
	}
	CHECK(sub.customer_id == NULL);

	/* At most MODEL_MAX_ERRORS are kept. */
	char big[4096];
	size_t len = (size_t)snprintf(big, sizeof(big), "{\"customer_id\":\"c\",\"csat\":1");

	for (int i = 0; i < 50; i++)
		len += (size_t)snprintf(big + len, sizeof(big) - len, ",\"x%d\":1", i);
	snprintf(big + len, sizeof(big) - len, "}");
	CHECK_INT(run(SUB_SURVEY, big), FBD_EINVAL);
	CHECK_INT(val.n, MODEL_MAX_ERRORS);
	CHECK_STR(val.errors[MODEL_MAX_ERRORS - 1].field, "x31");
}

static void test_at_least_one(void)
{
	const char *msg = "at least one of expectation, csat, nps is required";

	CHECK(survey_bad("{\"customer_id\":\"c\"}", ""));
	CHECK_STR(val.errors[0].message, msg);
	CHECK(survey_bad("{\"customer_id\":\"c\",\"effort\":2,\"resolved\":true}", ""));
	CHECK(survey_bad("{\"customer_id\":\"c\",\"csat\":null,\"nps\":null}", ""));
	CHECK(survey_ok("{\"customer_id\":\"c\",\"expectation\":\"met\"}"));
	CHECK(survey_ok("{\"customer_id\":\"c\",\"nps\":0}"));
	/* A given but invalid value is reported for itself only. */
	CHECK(survey_bad("{\"customer_id\":\"c\",\"csat\":0}", "csat"));
	/* Both a missing customer_id and no rating. */
	CHECK_INT(run(SUB_SURVEY, "{}"), FBD_EINVAL);
	CHECK_INT(val.n, 2);
	CHECK_STR(val.errors[0].field, "customer_id");
	CHECK_STR(val.errors[1].field, "");
}

static void test_not_an_object(void)
{
	static const char *const bodies[] = {"[]", "\"x\"", "42", "null", "true",
					     "[{\"customer_id\":\"c\",\"csat\":1}]"};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		CHECK(rejected_on(SUB_SURVEY, bodies[i], ""));
		CHECK_STR(val.errors[0].message, "must be a JSON object");
		CHECK(rejected_on(SUB_ANY, bodies[i], ""));
	}
	CHECK_INT(submission_from_json(NULL, SUB_NPS, NOW, MAX_AGE_DAYS, &sub, &val), FBD_EINVAL);
	CHECK_INT(val.n, 1);
}

static void test_nps_type(void)
{
	CHECK(accepted(SUB_NPS, "{\"customer_id\":\"c\",\"score\":9}"));
	CHECK_INT(sub.type, SUB_NPS);
	CHECK_INT(sub.nps, 9);
	CHECK_INT(sub.csat, -1);
	CHECK(accepted(SUB_NPS, "{\"customer_id\":\"c\",\"score\":0,\"comment\":\"meh\","
				"\"channel\":\"email\",\"segment\":\"smb\",\"id\":\"" UUID "\","
				"\"submitted_at\":\"2026-11-23T10:00:00Z\",\"tags\":[\"q4\"],"
				"\"metadata\":{\"campaign\":\"x\"}}"));
	CHECK_INT(sub.nps, 0);
	CHECK_INT(sub.channel, CH_EMAIL);
	CHECK(rejected_on(SUB_NPS, "{\"customer_id\":\"c\"}", "score"));
	CHECK_STR(val.errors[0].message, "is required");
	CHECK(rejected_on(SUB_NPS, "{\"customer_id\":\"c\",\"score\":null}", "score"));
	CHECK(rejected_on(SUB_NPS, "{\"customer_id\":\"c\",\"score\":11}", "score"));
	CHECK_STR(val.errors[0].message, "must be an integer between 0 and 10");
	CHECK(rejected_on(SUB_NPS, "{\"customer_id\":\"c\",\"score\":-1}", "score"));
	CHECK(rejected_on(SUB_NPS, "{\"customer_id\":\"c\",\"score\":7.5}", "score"));
	CHECK(rejected_on(SUB_NPS, "{\"score\":7}", "customer_id"));
	/* Survey-only fields are unknown here. */
	CHECK(rejected_on(SUB_NPS, "{\"customer_id\":\"c\",\"score\":7,\"nps\":7}", "nps"));
	CHECK(rejected_on(SUB_NPS, "{\"customer_id\":\"c\",\"score\":7,\"csat\":4}", "csat"));
	CHECK(rejected_on(SUB_NPS, "{\"customer_id\":\"c\",\"score\":7,\"agent_id\":\"a\"}",
			  "agent_id"));
	CHECK(rejected_on(SUB_NPS, "{\"customer_id\":\"c\",\"score\":7,\"type\":\"nps\"}",
			  "type"));
}

static void test_batch_items(void)
{
	CHECK(accepted(SUB_ANY, "{\"type\":\"survey\",\"customer_id\":\"c\",\"csat\":3}"));
	CHECK_INT(sub.type, SUB_SURVEY);
	CHECK_INT(sub.csat, 3);
	CHECK(accepted(SUB_ANY, "{\"customer_id\":\"c\",\"score\":10,\"type\":\"nps\"}"));
	CHECK_INT(sub.type, SUB_NPS);
	CHECK_INT(sub.nps, 10);
	CHECK(rejected_on(SUB_ANY, "{\"customer_id\":\"c\",\"csat\":3}", "type"));
	CHECK_STR(val.errors[0].message, "is required");
	CHECK(rejected_on(SUB_ANY, "{\"type\":null,\"customer_id\":\"c\",\"csat\":3}", "type"));
	CHECK(rejected_on(SUB_ANY, "{\"type\":\"Survey\",\"customer_id\":\"c\",\"csat\":3}", "type"));
	CHECK_STR(val.errors[0].message, "must be one of survey, nps");
	CHECK(rejected_on(SUB_ANY, "{\"type\":1,\"customer_id\":\"c\",\"csat\":3}", "type"));
	/* The type selects the rules. */
	CHECK_INT(run(SUB_ANY, "{\"type\":\"nps\",\"customer_id\":\"c\",\"csat\":3}"), FBD_EINVAL);
	CHECK_INT(val.n, 2);
	CHECK_STR(val.errors[0].field, "score");
	CHECK_STR(val.errors[1].field, "csat");
	CHECK(rejected_on(SUB_ANY, "{\"type\":\"survey\",\"customer_id\":\"c\"}", ""));
}

/* Digest of a valid body. */
static void digest_of(enum submission_type type, const char *text, uint8_t out[32])
{
	memset(out, 0, 32);
	if (accepted(type, text))
		memcpy(out, sub.digest, 32);
}

static bool same_digest(enum submission_type ta, const char *a, enum submission_type tb,
			const char *b)
{
	uint8_t da[32], db[32];

	digest_of(ta, a, da);
	digest_of(tb, b, db);
	return memcmp(da, db, 32) == 0;
}

static bool same(const char *a, const char *b)
{
	return same_digest(SUB_SURVEY, a, SUB_SURVEY, b);
}

static void test_digest_equal(void)
{
	const char *base = "{\"customer_id\":\"c\",\"csat\":4,\"comment\":\"caf\xc3\xa9\","
			   "\"tags\":[\"a\",\"b\"],\"metadata\":{\"x\":\"1\",\"y\":\"2\"},"
			   "\"submitted_at\":\"2026-11-23T10:00:00Z\"}";
	uint8_t zero[32] = {0}, d[32];

	digest_of(SUB_SURVEY, base, d);
	CHECK(memcmp(d, zero, 32) != 0);
	/* Member order, whitespace, escapes. */
	CHECK(same(base, " { \"submitted_at\" : \"2026-11-23T10:00:00Z\", \"metadata\":{\"y\":\"2\","
			 "\"x\":\"1\"}, \"tags\":[ \"a\", \"b\" ], \"comment\":\"caf\\u00e9\", "
			 "\"csat\":4, \"customer_id\":\"\\u0063\" }\n"));
	/* Explicit nulls and the default channel. */
	CHECK(same(base, "{\"customer_id\":\"c\",\"csat\":4,\"comment\":\"caf\xc3\xa9\","
			 "\"tags\":[\"a\",\"b\"],\"metadata\":{\"x\":\"1\",\"y\":\"2\"},"
			 "\"submitted_at\":\"2026-11-23T10:00:00Z\",\"nps\":null,\"effort\":null,"
			 "\"agent_id\":null,\"channel\":\"other\",\"resolved\":null,"
			 "\"expectation\":null,\"segment\":null,\"contact_id\":null,\"id\":null}"));
	/* The same instant written with an offset and a fraction. */
	CHECK(same(base, "{\"customer_id\":\"c\",\"csat\":4,\"comment\":\"caf\xc3\xa9\","
			 "\"tags\":[\"a\",\"b\"],\"metadata\":{\"x\":\"1\",\"y\":\"2\"},"
			 "\"submitted_at\":\"2026-11-23T12:00:00.25+02:00\"}"));
	/* The id is not part of it, nor is its case. */
	CHECK(same(base, "{\"id\":\"" UUID "\",\"customer_id\":\"c\",\"csat\":4,"
			 "\"comment\":\"caf\xc3\xa9\",\"tags\":[\"a\",\"b\"],"
			 "\"metadata\":{\"x\":\"1\",\"y\":\"2\"},"
			 "\"submitted_at\":\"2026-11-23T10:00:00Z\"}"));
	/* A batch item and a single submission of the same survey. */
	CHECK(same_digest(SUB_SURVEY, "{\"customer_id\":\"c\",\"csat\":4}", SUB_ANY,
			  "{\"type\":\"survey\",\"csat\":4,\"customer_id\":\"c\"}"));
	CHECK(same_digest(SUB_NPS, "{\"customer_id\":\"c\",\"score\":4}", SUB_ANY,
			  "{\"type\":\"nps\",\"score\":4.0,\"customer_id\":\"c\"}"));
	/* Absent submitted_at stands for "when received", not for a value. */
	CHECK(same("{\"customer_id\":\"c\",\"csat\":4}", "{\"customer_id\":\"c\",\"csat\":4}"));
}

static void test_digest_different(void)
{
	const char *base = "{\"customer_id\":\"c\",\"csat\":4}";

	CHECK(!same(base, "{\"customer_id\":\"c\",\"csat\":5}"));
	CHECK(!same(base, "{\"customer_id\":\"d\",\"csat\":4}"));
	CHECK(!same(base, "{\"customer_id\":\"c\",\"csat\":4,\"nps\":4}"));
	CHECK(!same(base, "{\"customer_id\":\"c\",\"csat\":4,\"effort\":4}"));
	CHECK(!same(base, "{\"customer_id\":\"c\",\"csat\":4,\"comment\":\"\"}"));
	CHECK(!same(base, "{\"customer_id\":\"c\",\"csat\":4,\"channel\":\"web\"}"));
	CHECK(!same(base, "{\"customer_id\":\"c\",\"csat\":4,\"resolved\":false}"));
	CHECK(!same(base, "{\"customer_id\":\"c\",\"csat\":4,\"expectation\":\"met\"}"));
	CHECK(!same(base, "{\"customer_id\":\"c\",\"csat\":4,\"tags\":[]}"));
	CHECK(!same(base, "{\"customer_id\":\"c\",\"csat\":4,\"metadata\":{}}"));
	CHECK(!same(base, "{\"customer_id\":\"c\",\"csat\":4,\"submitted_at\":"
			  "\"2026-11-23T10:15:00Z\"}"));
	CHECK(!same("{\"customer_id\":\"c\",\"csat\":4,\"tags\":[\"a\",\"b\"]}",
		    "{\"customer_id\":\"c\",\"csat\":4,\"tags\":[\"b\",\"a\"]}"));
	CHECK(!same("{\"customer_id\":\"c\",\"csat\":4,\"tags\":[\"a,b\"]}",
		    "{\"customer_id\":\"c\",\"csat\":4,\"tags\":[\"a\",\"b\"]}"));
	CHECK(!same("{\"customer_id\":\"c\",\"csat\":4,\"metadata\":{\"a\":\"1\"}}",
		    "{\"customer_id\":\"c\",\"csat\":4,\"metadata\":{\"a\":\"2\"}}"));
	CHECK(!same("{\"customer_id\":\"c\",\"csat\":4,\"metadata\":{\"a\":\"b\",\"c\":\"\"}}",
		    "{\"customer_id\":\"c\",\"csat\":4,\"metadata\":{\"a\":\"\",\"bc\":\"\"}}"));
	/* Adjacent strings cannot trade characters. */
	CHECK(!same("{\"customer_id\":\"c\",\"csat\":4,\"contact_id\":\"ab\",\"agent_id\":\"c\"}",
		    "{\"customer_id\":\"c\",\"csat\":4,\"contact_id\":\"a\",\"agent_id\":\"bc\"}"));
	CHECK(!same("{\"customer_id\":\"c\",\"csat\":4,\"contact_id\":\"x\"}",
		    "{\"customer_id\":\"c\",\"csat\":4,\"agent_id\":\"x\"}"));
	/* A survey's nps and an nps rating's score are different things. */
	CHECK(!same_digest(SUB_SURVEY, "{\"customer_id\":\"c\",\"nps\":4}", SUB_NPS,
			   "{\"customer_id\":\"c\",\"score\":4}"));
}

static char *to_text(void)
{
	cJSON *o = submission_to_json(&sub);
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	return text;
}

static void test_to_json(void)
{
	char *text;

	CHECK(survey_ok(full_survey));
	sub.received_at = NOW + 1;
	text = to_text();
	CHECK_STR(text, "{\"id\":\"" UUID "\",\"type\":\"survey\",\"customer_id\":\"c-42\","
			"\"contact_id\":\"t-9\",\"channel\":\"chat\",\"agent_id\":\"a-7\","
			"\"segment\":\"vip\",\"submitted_at\":\"2026-11-23T10:00:00Z\","
			"\"received_at\":\"2026-11-23T10:15:01Z\",\"expectation\":\"exceeded\","
			"\"csat\":5,\"effort\":2,\"resolved\":true,\"nps\":9,"
			"\"comment\":\"Tr\xc3\xa8s bien\",\"tags\":[\"billing\",\"fast\"],"
			"\"metadata\":{\"app\":\"ios\",\"v\":\"1.2\"}}");
	free(text);

	CHECK(survey_ok("{\"customer_id\":\"c\",\"nps\":0,\"resolved\":false}"));
	memcpy(sub.id, UUID, sizeof(UUID));
	text = to_text();
	CHECK_STR(text, "{\"id\":\"" UUID "\",\"type\":\"survey\",\"customer_id\":\"c\","
			"\"contact_id\":null,\"channel\":\"other\",\"agent_id\":null,"
			"\"segment\":null,\"submitted_at\":\"2026-11-23T10:15:00Z\","
			"\"received_at\":\"2026-11-23T10:15:00Z\",\"expectation\":null,"
			"\"csat\":null,\"effort\":null,\"resolved\":false,\"nps\":0,"
			"\"comment\":null,\"tags\":null,\"metadata\":null}");
	free(text);

	CHECK(accepted(SUB_NPS, "{\"customer_id\":\"c\",\"score\":10,\"segment\":\"vip\","
				"\"tags\":[],\"metadata\":{\"k\":\"\\\"\"}}"));
	text = to_text();
	CHECK_STR(text, "{\"id\":null,\"type\":\"nps\",\"customer_id\":\"c\",\"score\":10,"
			"\"channel\":\"other\",\"segment\":\"vip\","
			"\"submitted_at\":\"2026-11-23T10:15:00Z\","
			"\"received_at\":\"2026-11-23T10:15:00Z\",\"comment\":null,\"tags\":[],"
			"\"metadata\":{\"k\":\"\\\"\"}}");
	free(text);

	/* A corrupted stored text fails the reply instead of hiding it. */
	free(sub.tags_json);
	sub.tags_json = strdup("[\"a\"");
	CHECK(submission_to_json(&sub) == NULL);
	sub.type = SUB_ANY;
	CHECK(submission_to_json(&sub) == NULL);
	submission_release(&sub);
}

static void test_names(void)
{
	for (int c = 0; c < CH_COUNT; c++)
		CHECK_INT(channel_parse(channel_name((enum channel)c)), c);
	CHECK(channel_name(CH_COUNT) == NULL);
	CHECK_INT(channel_parse("nope"), -1);
	CHECK_INT(channel_parse(NULL), -1);
	CHECK_STR(channel_name(CH_IN_PERSON), "in_person");
	CHECK_STR(expectation_name(EXP_MET), "met");
	CHECK(expectation_name(EXP_NONE) == NULL);
	CHECK_INT(expectation_parse("exceeded"), EXP_EXCEEDED);
	CHECK_INT(expectation_parse("Exceeded"), -1);
	CHECK_STR(submission_type_name(SUB_SURVEY), "survey");
	CHECK_STR(submission_type_name(SUB_NPS), "nps");
	CHECK(submission_type_name(SUB_ANY) == NULL);
}

static void test_validation_add(void)
{
	struct validation v = {.n = 0};

	validation_add(&v, "csat", "must be %d", 5);
	CHECK_INT(v.n, 1);
	CHECK_STR(v.errors[0].field, "csat");
	CHECK_STR(v.errors[0].message, "must be 5");
	for (int i = 0; i < 40; i++)
		validation_add(&v, "x", "n");
	CHECK_INT(v.n, MODEL_MAX_ERRORS);
	/* A message cut inside a character loses the whole character. */
	v.n = 0;
	validation_add(&v, "", "%s", rep("\xf0\x9f\x98\x80", 50));
	CHECK_INT(strlen(v.errors[0].message), 156);
	CHECK(utf8_valid(v.errors[0].message, strlen(v.errors[0].message)));
}

int main(void)
{
	submission_init(&sub);
	test_minimal_defaults();
	test_full_survey();
	test_customer_id();
	test_optional_strings();
	test_comment();
	test_channel();
	test_expectation();
	test_integers();
	test_non_finite_numbers();
	test_resolved();
	test_id();
	test_submitted_at();
	test_tags();
	test_metadata();
	test_unknown_fields();
	test_many_errors();
	test_at_least_one();
	test_not_an_object();
	test_nps_type();
	test_batch_items();
	test_digest_equal();
	test_digest_different();
	test_to_json();
	test_names();
	test_validation_add();
	submission_release(&sub);
	return check_report("model");
}
