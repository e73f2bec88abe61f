/* json_parse_strict: every rule it adds on top of cJSON. Bodies are copied
 * into buffers of exactly their length, without a terminating NUL, as the
 * HTTP layer hands them over, so that ASan catches any read past the end. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "feedbackd/model.h"

static enum json_status parse_len(const char *text, size_t len, cJSON **out)
{
	char *buf = malloc(len ? len : 1);
	const char *detail = NULL;
	enum json_status st;

	if (buf == NULL)
		abort();
	memcpy(buf, text, len);
	st = json_parse_strict(buf, len, out, &detail);
	free(buf);
	/* Every failure explains itself; success leaves detail NULL. */
	CHECK(st == JSON_OK ? detail == NULL : detail != NULL);
	CHECK(st == JSON_OK ? *out != NULL : *out == NULL);
	return st;
}

/* Status of parsing text (a C string, length without the NUL). */
static enum json_status status(const char *text)
{
	cJSON *tree = NULL;
	enum json_status st = parse_len(text, strlen(text), &tree);

	cJSON_Delete(tree);
	return st;
}

static void test_well_formed(void)
{
	CHECK_INT(status("{}"), JSON_OK);
	CHECK_INT(status("[]"), JSON_OK);
	CHECK_INT(status(" \t\r\n{\"a\": [1, -2.5e+3, true, false, null, \"x\"]} \n"), JSON_OK);
	CHECK_INT(status("0"), JSON_OK);
	CHECK_INT(status("-0.0e-0"), JSON_OK);
	CHECK_INT(status("\"\""), JSON_OK);
	CHECK_INT(status("null"), JSON_OK);
	CHECK_INT(status("{\"a\":{\"b\":{}},\"b\":[[],{}]}"), JSON_OK);
	CHECK_INT(status("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\ude00\""), JSON_OK);
	CHECK_INT(status("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""), JSON_OK);
	CHECK_INT(status("1e-400"), JSON_OK); /* underflows to 0: finite */
}

static void test_decoded_values(void)
{
	cJSON *tree = NULL;
	const char *text = "{\"a\":\"\\u00e9\\ud83d\\ude00\",\"b\":12}";

	CHECK_INT(parse_len(text, strlen(text), &tree), JSON_OK);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tree, "a")),
		  "\xc3\xa9\xf0\x9f\x98\x80");
	CHECK_DBL(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(tree, "b")), 12, 0);
	cJSON_Delete(tree);

	/* A number that ends exactly at the end of the buffer. */
	CHECK_INT(parse_len("12345", 5, &tree), JSON_OK);
	CHECK_DBL(cJSON_GetNumberValue(tree), 12345, 0);
	cJSON_Delete(tree);
}

static void test_empty_and_trailing(void)
{
	CHECK_INT(status(""), JSON_MALFORMED);
	CHECK_INT(status("   \n\t "), JSON_MALFORMED);
	CHECK_INT(status("{} x"), JSON_MALFORMED);
	CHECK_INT(status("{}{}"), JSON_MALFORMED);
	CHECK_INT(status("1 2"), JSON_MALFORMED);
	CHECK_INT(status("[1] ,"), JSON_MALFORMED);
	CHECK_INT(status("truex"), JSON_MALFORMED);
	CHECK_INT(status("{\"a\":1}garbage"), JSON_MALFORMED);
	CHECK_INT(status("{\"a\":1"), JSON_MALFORMED);
	CHECK_INT(status("[1,2"), JSON_MALFORMED);
	CHECK_INT(status("\"abc"), JSON_MALFORMED);
}

static void test_embedded_nul_byte(void)
{
	cJSON *tree = NULL;

	/* A raw NUL byte after the value, inside a string, and as the body. */
	CHECK_INT(parse_len("{}\0", 3, &tree), JSON_MALFORMED);
	CHECK_INT(parse_len("\"a\0b\"", 5, &tree), JSON_MALFORMED);
	CHECK_INT(parse_len("\0", 1, &tree), JSON_MALFORMED);
	CHECK_INT(parse_len("{\"a\":1\0}", 8, &tree), JSON_MALFORMED);
}

static void test_grammar(void)
{
	/* cJSON accepts all of these; JSON does not. */
	CHECK_INT(status("01"), JSON_MALFORMED);
	CHECK_INT(status("1."), JSON_MALFORMED);
	CHECK_INT(status("-.5"), JSON_MALFORMED);
	CHECK_INT(status(".5"), JSON_MALFORMED);
	CHECK_INT(status("+1"), JSON_MALFORMED);
	CHECK_INT(status("1e"), JSON_MALFORMED);
	CHECK_INT(status("1e+"), JSON_MALFORMED);
	CHECK_INT(status("-"), JSON_MALFORMED);
	CHECK_INT(status("0x10"), JSON_MALFORMED);
	CHECK_INT(status("NaN"), JSON_MALFORMED);
	CHECK_INT(status("Infinity"), JSON_MALFORMED);
	CHECK_INT(status("\x0b{}"), JSON_MALFORMED);      /* vertical tab is not whitespace */
	CHECK_INT(status("{}\x0c"), JSON_MALFORMED);      /* nor form feed */
	CHECK_INT(status("\xef\xbb\xbf{}"), JSON_MALFORMED); /* byte order mark */
	CHECK_INT(status("[1,]"), JSON_MALFORMED);
	CHECK_INT(status("[,1]"), JSON_MALFORMED);
	CHECK_INT(status("{\"a\":1,}"), JSON_MALFORMED);
	CHECK_INT(status("{\"a\" 1}"), JSON_MALFORMED);
	CHECK_INT(status("{\"a\":}"), JSON_MALFORMED);
	CHECK_INT(status("{a:1}"), JSON_MALFORMED);
	CHECK_INT(status("{'a':1}"), JSON_MALFORMED);
	CHECK_INT(status("{1:1}"), JSON_MALFORMED);
	CHECK_INT(status("[}"), JSON_MALFORMED);
	CHECK_INT(status("{]"), JSON_MALFORMED);
	CHECK_INT(status("]"), JSON_MALFORMED);
	CHECK_INT(status("nul"), JSON_MALFORMED);
	CHECK_INT(status("True"), JSON_MALFORMED);
	CHECK_INT(status("\"\\x41\""), JSON_MALFORMED);
	CHECK_INT(status("\"\\u12\""), JSON_MALFORMED);
	CHECK_INT(status("\"\\uZZZZ\""), JSON_MALFORMED); /* cJSON reads this as U+0000 */
	CHECK_INT(status("\"\\"), JSON_MALFORMED);
}

static void test_long_numbers(void)
{
	char num[80];

	/* 63 characters is cJSON's limit; beyond it the scanner refuses. */
	memset(num, '1', 63);
	num[63] = '\0';
	CHECK_INT(status(num), JSON_OK);
	memset(num, '1', 64);
	num[64] = '\0';
	CHECK_INT(status(num), JSON_MALFORMED);
}

static void test_non_finite(void)
{
	/* well-formed; the field rules reject infinity (422) */
	CHECK_INT(status("1e999"), JSON_OK);
	CHECK_INT(status("-1e999"), JSON_OK);
	CHECK_INT(status("{\"a\":[1,{\"b\":1e400}]}"), JSON_OK);
	CHECK_INT(status("1.7976931348623157e308"), JSON_OK);
}

static void test_control_characters(void)
{
	CHECK_INT(status("\"a\tb\""), JSON_MALFORMED);
	CHECK_INT(status("\"a\nb\""), JSON_MALFORMED);
	CHECK_INT(status("\"\x01\""), JSON_MALFORMED);
	CHECK_INT(status("\"\x1f\""), JSON_MALFORMED);
	CHECK_INT(status("{\"k\x1f\":1}"), JSON_MALFORMED);
	CHECK_INT(status("\"\x7f\""), JSON_OK); /* DEL is not a control character in JSON */
	CHECK_INT(status("\"a\\tb\""), JSON_OK);
}

static void test_utf8(void)
{
	CHECK_INT(status("\"\xff\""), JSON_MALFORMED);
	CHECK_INT(status("\"\x80\""), JSON_MALFORMED);         /* lone continuation */
	CHECK_INT(status("\"\xc3\""), JSON_MALFORMED);         /* truncated 2-byte */
	CHECK_INT(status("\"\xe2\x82\""), JSON_MALFORMED);     /* truncated 3-byte */
	CHECK_INT(status("\"\xf0\x9f\x98\""), JSON_MALFORMED); /* truncated 4-byte */
	CHECK_INT(status("\"\xc0\xaf\""), JSON_MALFORMED);     /* overlong '/' */
	CHECK_INT(status("\"\xc1\xbf\""), JSON_MALFORMED);     /* overlong */
	CHECK_INT(status("\"\xe0\x80\xaf\""), JSON_MALFORMED); /* overlong 3-byte */
	CHECK_INT(status("\"\xf0\x80\x80\xaf\""), JSON_MALFORMED); /* overlong 4-byte */
	CHECK_INT(status("\"\xed\xa0\x80\""), JSON_MALFORMED); /* U+D800 encoded */
	CHECK_INT(status("\"\xed\xbf\xbf\""), JSON_MALFORMED); /* U+DFFF encoded */
	CHECK_INT(status("\"\xf4\x90\x80\x80\""), JSON_MALFORMED); /* U+110000 */
	CHECK_INT(status("\"\xf5\x80\x80\x80\""), JSON_MALFORMED);
	CHECK_INT(status("{\"\xfe\":1}"), JSON_MALFORMED);
	CHECK_INT(status("\xc3\xa9"), JSON_MALFORMED); /* valid UTF-8, not JSON */
	/* The edges that are valid. */
	CHECK_INT(status("\"\xed\x9f\xbf\""), JSON_OK);         /* U+D7FF */
	CHECK_INT(status("\"\xee\x80\x80\""), JSON_OK);         /* U+E000 */
	CHECK_INT(status("\"\xf4\x8f\xbf\xbf\""), JSON_OK);     /* U+10FFFF */
	CHECK_INT(status("\"\xc2\x80\""), JSON_OK);             /* U+0080 */
	CHECK_INT(status("\"\xe0\xa0\x80\""), JSON_OK);         /* U+0800 */
	CHECK_INT(status("\"\xf0\x90\x80\x80\""), JSON_OK);     /* U+10000 */
}

static void test_surrogate_escapes(void)
{
	CHECK_INT(status("\"\\ud800\""), JSON_MALFORMED);
	CHECK_INT(status("\"\\udbff x\""), JSON_MALFORMED);
	CHECK_INT(status("\"\\udc00\""), JSON_MALFORMED);
	CHECK_INT(status("\"\\udfff\\ud800\""), JSON_MALFORMED);
	CHECK_INT(status("\"\\ud800\\u0041\""), JSON_MALFORMED);
	CHECK_INT(status("\"\\ud800\\ud800\""), JSON_MALFORMED);
	CHECK_INT(status("\"\\ud800\\\""), JSON_MALFORMED);
	CHECK_INT(status("\"\\ud800\\n\""), JSON_MALFORMED);
	CHECK_INT(status("\"\\ud800"), JSON_MALFORMED);
	CHECK_INT(status("\"\\uDBFF\\uDFFF\""), JSON_OK);
}

static void test_nul_escape(void)
{
	cJSON *tree = NULL;

	CHECK_INT(status("\"\\u0000\""), JSON_HAS_NUL);
	CHECK_INT(status("{\"a\":\"x\\u0000y\"}"), JSON_HAS_NUL);
	CHECK_INT(status("{\"a\\u0000\":1}"), JSON_HAS_NUL);
	CHECK_INT(status("[\"\\\\\\u0000\"]"), JSON_HAS_NUL); /* \\ then \u0000 */
	/* An escaped backslash followed by the text u0000 is not U+0000. */
	CHECK_INT(status("\"\\\\u0000\""), JSON_OK);
	CHECK_INT(parse_len("\"\\\\u0000\"", 9, &tree), JSON_OK);
	CHECK_STR(cJSON_GetStringValue(tree), "\\u0000");
	cJSON_Delete(tree);
	CHECK_INT(status("\"\\u0001\""), JSON_OK);
	/* Malformed wins over U+0000: only an otherwise valid body is a 422. */
	CHECK_INT(status("\"\\u0000\" x"), JSON_MALFORMED);
	CHECK_INT(status("{\"a\":\"\\u0000\",\"a\":1}"), JSON_MALFORMED);
	CHECK_INT(status("[\"\\u0000\", 1e999]"), JSON_HAS_NUL);
}

static void test_duplicates(void)
{
	CHECK_INT(status("{\"a\":1,\"a\":1}"), JSON_MALFORMED);
	CHECK_INT(status("{\"a\":1,\"b\":2,\"a\":3}"), JSON_MALFORMED);
	CHECK_INT(status("{\"a\":1,\"\\u0061\":2}"), JSON_MALFORMED); /* same after unescaping */
	CHECK_INT(status("{\"x\":{\"a\":1,\"a\":2}}"), JSON_MALFORMED);
	CHECK_INT(status("[{\"a\":1},{\"b\":[{\"c\":1,\"c\":1}]}]"), JSON_MALFORMED);
	CHECK_INT(status("{\"\":1,\"\":2}"), JSON_MALFORMED);
	/* Names are compared exactly: case matters. */
	CHECK_INT(status("{\"a\":1,\"A\":2}"), JSON_OK);
	CHECK_INT(status("{\"a\":{\"a\":{\"a\":1}}}"), JSON_OK);
	CHECK_INT(status("[{\"a\":1},{\"a\":1}]"), JSON_OK);
	CHECK_INT(status("{\"\":1}"), JSON_OK);
}

/* An object with n members "k0".."k<n-1>", plus a repeat of member dup if
 * dup >= 0, placed last. */
static char *big_object(int n, int dup)
{
	size_t cap = (size_t)n * 24 + 64, len = 0;
	char *buf = malloc(cap);

	if (buf == NULL)
		abort();
	buf[len++] = '{';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s\"k%d\":%d", i ? "," : "", i, i);
	if (dup >= 0)
		len += (size_t)snprintf(buf + len, cap - len, ",\"k%d\":0", dup);
	snprintf(buf + len, cap - len, "}");
	return buf;
}

static void test_big_objects(void)
{
	char *ok = big_object(5000, -1), *dup_first = big_object(5000, 0),
	     *dup_mid = big_object(1500, 777);

	CHECK_INT(status(ok), JSON_OK);
	CHECK_INT(status(dup_first), JSON_MALFORMED);
	CHECK_INT(status(dup_mid), JSON_MALFORMED);
	free(ok);
	free(dup_first);
	free(dup_mid);
}

/* depth open brackets of kind open, a 1 inside, and the matching closes. */
static char *nested(int depth, char open, char close)
{
	char *buf = malloc((size_t)depth * 6 + 8);
	size_t len = 0;

	if (buf == NULL)
		abort();
	for (int i = 0; i < depth; i++) {
		if (open == '{') {
			memcpy(buf + len, "{\"a\":", 5);
			len += 5;
		} else {
			buf[len++] = open;
		}
	}
	buf[len++] = '1';
	for (int i = 0; i < depth; i++)
		buf[len++] = close;
	buf[len] = '\0';
	return buf;
}

static void test_depth(void)
{
	char *arr_ok = nested(MODEL_MAX_DEPTH, '[', ']');
	char *arr_deep = nested(MODEL_MAX_DEPTH + 1, '[', ']');
	char *obj_ok = nested(MODEL_MAX_DEPTH, '{', '}');
	char *obj_deep = nested(MODEL_MAX_DEPTH + 1, '{', '}');
	char *very_deep = nested(100000, '[', ']');

	CHECK_INT(status(arr_ok), JSON_OK);
	CHECK_INT(status(arr_deep), JSON_TOO_DEEP);
	CHECK_INT(status(obj_ok), JSON_OK);
	CHECK_INT(status(obj_deep), JSON_TOO_DEEP);
	CHECK_INT(status(very_deep), JSON_TOO_DEEP);
	/* Brackets inside strings do not nest. */
	CHECK_INT(status("[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"]"),
		  JSON_OK);
	/* Depth counts open containers, not how many were opened in total. */
	CHECK_INT(status("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"
			 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
		  JSON_OK);
	free(arr_ok);
	free(arr_deep);
	free(obj_ok);
	free(obj_deep);
	free(very_deep);
}

static void test_detail_optional(void)
{
	cJSON *tree = (cJSON *)1;

	CHECK_INT(json_parse_strict("{} x", 4, &tree, NULL), JSON_MALFORMED);
	CHECK(tree == NULL);
	CHECK_INT(json_parse_strict("{}", 2, &tree, NULL), JSON_OK);
	cJSON_Delete(tree);
}

static void test_utf8_helpers(void)
{
	CHECK(utf8_valid("", 0));
	CHECK(utf8_valid("abc", 3));
	CHECK(!utf8_valid("a\xc3", 2));
	CHECK(utf8_valid("a\xc3\xa9", 3));
	CHECK_INT(utf8_length(""), 0);
	CHECK_INT(utf8_length("abc"), 3);
	CHECK_INT(utf8_length("caf\xc3\xa9"), 4);
	CHECK_INT(utf8_length("\xe2\x82\xac\xf0\x9f\x98\x80"), 2);
	CHECK(uuid_is_valid("123e4567-e89b-12d3-a456-426614174000"));
	CHECK(uuid_is_valid("123E4567-E89B-12D3-A456-426614174000"));
	CHECK(!uuid_is_valid("123e4567-e89b-12d3-a456-42661417400"));
	CHECK(!uuid_is_valid("123e4567-e89b-12d3-a456-4266141740000"));
	CHECK(!uuid_is_valid("123e4567e89b-12d3-a456-4266141740000"));
	CHECK(!uuid_is_valid("123e4567-e89b-12d3-a456-42661417400g"));
	CHECK(!uuid_is_valid("{23e4567-e89b-12d3-a456-426614174000"));
	CHECK(!uuid_is_valid(""));
	CHECK(!uuid_is_valid(NULL));
}

/* What cJSON itself prints for value: the reference for our own text. */
static void cjson_text(double value, char *buf, size_t len)
{
	cJSON *n = cJSON_CreateNumber(value);
	char *text = n ? cJSON_PrintUnformatted(n) : NULL;
	snprintf(buf, len, "%s", text ? text : "?");
	cJSON_free(text);
	cJSON_Delete(n);
}

/* Ours is cJSON's text whenever we write one. */
static void check_same_as_cjson(double v)
{
	char ours[JSON_NUMBER_MAX], theirs[64];
	if (!json_number_text(v, ours))
		return;
	cjson_text(v, theirs, sizeof(theirs));
	CHECK_STR(ours, theirs);
}

static const char *text_of(double v, char buf[JSON_NUMBER_MAX])
{
	return json_number_text(v, buf) ? buf : "(cJSON)";
}

static void test_numbers(void)
{
	char b[JSON_NUMBER_MAX];
	CHECK_STR(text_of(0, b), "0");
	CHECK_STR(text_of(7, b), "7");
	CHECK_STR(text_of(-15, b), "-15");
	CHECK_STR(text_of(12.5, b), "12.5");
	CHECK_STR(text_of(-12.5, b), "-12.5");
	CHECK_STR(text_of(0.714, b), "0.714");
	CHECK_STR(text_of(0.01, b), "0.01");
	CHECK_STR(text_of(3.25, b), "3.25");
	CHECK_STR(text_of(1795428900, b), "1795428900");
	CHECK_STR(text_of(999999999999.999, b), "999999999999.999");
	CHECK_STR(text_of(0.0005, b), "(cJSON)"); /* four decimals */
	CHECK_STR(text_of(1.0 / 3, b), "(cJSON)");
	CHECK_STR(text_of(1e12, b), "(cJSON)");
	CHECK_STR(text_of(-0.0, b), "(cJSON)");
	CHECK_STR(text_of(NAN, b), "(cJSON)");
	CHECK_STR(text_of(INFINITY, b), "(cJSON)");
	/* every value the API computes: stats_round_ratio() gives q / 10^d */
	for (int64_t q = -20000; q <= 20000; q++) {
		check_same_as_cjson((double)q);
		check_same_as_cjson((double)q / 10);
		check_same_as_cjson((double)q / 100);
		check_same_as_cjson((double)q / 1000);
	}
	for (double v = 1; v < 1e12; v = v * 7 + 0.125)
		check_same_as_cjson(v);
	for (int64_t q = 20011; q < 1000000000000000; q = q * 3 + 7) {
		check_same_as_cjson((double)q / 1000);
		check_same_as_cjson((double)-q / 100);
	}
	/* through the object helper, and what it leaves to cJSON */
	cJSON *o = cJSON_CreateObject();
	CHECK(json_add_number(o, "a", 0.571) != NULL);
	CHECK(json_add_number(o, "b", 42) != NULL);
	CHECK(json_add_number(o, "c", 0.0625) != NULL);
	char *text = cJSON_PrintUnformatted(o);
	CHECK_STR(text, "{\"a\":0.571,\"b\":42,\"c\":0.0625}");
	cJSON_free(text);
	cJSON_Delete(o);
}

int main(void)
{
	test_well_formed();
	test_decoded_values();
	test_empty_and_trailing();
	test_embedded_nul_byte();
	test_grammar();
	test_long_numbers();
	test_non_finite();
	test_control_characters();
	test_utf8();
	test_surrogate_escapes();
	test_nul_escape();
	test_duplicates();
	test_big_objects();
	test_depth();
	test_detail_optional();
	test_utf8_helpers();
	test_numbers();
	return check_report("json");
}
