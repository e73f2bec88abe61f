/* Strict JSON parsing on top of cJSON.
 *
 * cJSON 1.7.15 is lenient in ways an API must not be (STYLE.md, "Known
 * traps"): it lets invalid UTF-8 and raw control characters through, reads
 * "\uZZZZ" as U+0000, truncates strings at \u0000, accepts numbers such as
 * "01", "1." and "-.5", treats every byte <= 0x20 as whitespace, skips a
 * byte order mark, keeps duplicate member names, and turns 1e999 into
 * infinity. So parsing is done in three passes:
 *
 *  1. scan: a single-pass validator of the whole RFC 8259 grammar over the
 *     raw bytes, with a bounded stack of MODEL_MAX_DEPTH containers. It
 *     decides everything that is about the text: UTF-8, tokens, escapes
 *     (including surrogate pairing), structure, trailing data, depth, and
 *     whether any string contains \u0000.
 *  2. cJSON_ParseWithLengthOpts builds the tree from the now known-good text
 *     (the body is not NUL-terminated, so the length variant; the parse end
 *     is read from return_parse_end, never from the global cJSON_GetErrorPtr).
 *     Since the text is known to be valid, a NULL tree here means that
 *     allocation failed.
 *  3. walk: what needs the decoded tree - duplicate member names (compared
 *     after unescaping, so "a" and "\u0061" collide) and numbers that
 *     overflow a double.
 *
 * A known limit: cJSON copies a number into a 64-byte buffer, so the scanner
 * rejects number tokens longer than 63 characters rather than letting cJSON
 * misread them. RFC 8259 section 9 allows such limits. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "feedbackd/model.h"

#define NUMBER_MAX_CHARS 63

struct scanner {
	const unsigned char *p;
	const unsigned char *end;
	bool has_nul;
	const char *detail;
};

static enum json_status scan_fail(struct scanner *sc, enum json_status st, const char *detail)
{
	sc->detail = detail;
	return st;
}

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(struct scanner *sc)
{
	while (sc->p < sc->end && is_ws(*sc->p))
		sc->p++;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The 4 hex digits of a \u escape at sc->p (just after the 'u'); -1 if they
 * are missing or not hex. */
static long scan_hex4(struct scanner *sc)
{
	long v = 0;

	if (sc->end - sc->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hex_value(sc->p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	sc->p += 4;
	return v;
}

/* A \u escape, sc->p just after the 'u'. A high surrogate must be followed
 * at once by an escaped low surrogate; anything else is a lone surrogate,
 * which cJSON would either reject or mangle. */
static enum json_status scan_unicode_escape(struct scanner *sc)
{
	long cp = scan_hex4(sc);

	if (cp < 0)
		return scan_fail(sc, JSON_MALFORMED, "invalid \\u escape");
	if (cp == 0)
		sc->has_nul = true;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return scan_fail(sc, JSON_MALFORMED, "unpaired surrogate in \\u escape");
	if (cp < 0xD800 || cp > 0xDBFF)
		return JSON_OK;
	if (sc->end - sc->p < 2 || sc->p[0] != '\\' || sc->p[1] != 'u')
		return scan_fail(sc, JSON_MALFORMED, "unpaired surrogate in \\u escape");
	sc->p += 2;
	cp = scan_hex4(sc);
	if (cp < 0xDC00 || cp > 0xDFFF)
		return scan_fail(sc, JSON_MALFORMED, "unpaired surrogate in \\u escape");
	return JSON_OK;
}

/* One escape sequence, sc->p just after the backslash. */
static enum json_status scan_escape(struct scanner *sc)
{
	if (sc->p >= sc->end)
		return scan_fail(sc, JSON_MALFORMED, "unterminated string");
	switch (*sc->p++) {
	case '"':
	case '\\':
	case '/':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't':
		return JSON_OK;
	case 'u':
		return scan_unicode_escape(sc);
	default:
		return scan_fail(sc, JSON_MALFORMED, "invalid escape in string");
	}
}

/* A string, sc->p on the opening quote. UTF-8 validity of the whole body was
 * checked before, so bytes >= 0x80 need no attention here. */
static enum json_status scan_string(struct scanner *sc)
{
	sc->p++;
	while (sc->p < sc->end) {
		unsigned char c = *sc->p++;

		if (c == '"')
			return JSON_OK;
		if (c < 0x20)
			return scan_fail(sc, JSON_MALFORMED, "control character in string");
		if (c == '\\') {
			enum json_status st = scan_escape(sc);

			if (st != JSON_OK)
				return st;
		}
	}
	return scan_fail(sc, JSON_MALFORMED, "unterminated string");
}

static size_t skip_digits(struct scanner *sc)
{
	size_t n = 0;

	while (sc->p < sc->end && is_digit(*sc->p)) {
		sc->p++;
		n++;
	}
	return n;
}

/* number = [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ ("e"/"E") ["+"/"-"] 1*DIGIT ] */
static enum json_status scan_number(struct scanner *sc)
{
	const unsigned char *start = sc->p;

	if (*sc->p == '-')
		sc->p++;
	if (sc->p < sc->end && *sc->p == '0')
		sc->p++;
	else if (skip_digits(sc) == 0)
		return scan_fail(sc, JSON_MALFORMED, "invalid number");
	if (sc->p < sc->end && *sc->p == '.') {
		sc->p++;
		if (skip_digits(sc) == 0)
			return scan_fail(sc, JSON_MALFORMED, "invalid number");
	}
	if (sc->p < sc->end && (*sc->p == 'e' || *sc->p == 'E')) {
		sc->p++;
		if (sc->p < sc->end && (*sc->p == '+' || *sc->p == '-'))
			sc->p++;
		if (skip_digits(sc) == 0)
			return scan_fail(sc, JSON_MALFORMED, "invalid number");
	}
	if (sc->p - start > NUMBER_MAX_CHARS)
		return scan_fail(sc, JSON_MALFORMED, "number too long");
	return JSON_OK;
}

static enum json_status scan_literal(struct scanner *sc, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, word, n) != 0)
		return scan_fail(sc, JSON_MALFORMED, "unexpected character");
	sc->p += n;
	return JSON_OK;
}

/* A scalar value at sc->p. */
static enum json_status scan_scalar(struct scanner *sc)
{
	switch (*sc->p) {
	case '"':
		return scan_string(sc);
	case 't':
		return scan_literal(sc, "true");
	case 'f':
		return scan_literal(sc, "false");
	case 'n':
		return scan_literal(sc, "null");
	default:
		if (*sc->p == '-' || is_digit(*sc->p))
			return scan_number(sc);
		return scan_fail(sc, JSON_MALFORMED, "unexpected character");
	}
}

/* What the grammar allows next. */
enum scan_want {
	WANT_VALUE,          /* after start, ':' or ',' in an array */
	WANT_VALUE_OR_CLOSE, /* after '[' */
	WANT_KEY,            /* after ',' in an object */
	WANT_KEY_OR_CLOSE,   /* after '{' */
	WANT_COLON,          /* after a member name */
	WANT_COMMA_OR_CLOSE, /* after a value inside a container */
	WANT_END,            /* after the top-level value */
};

struct scan_stack {
	unsigned char open[MODEL_MAX_DEPTH]; /* '{' or '[' */
	int depth;
};

static enum scan_want after_value(const struct scan_stack *st)
{
	return st->depth == 0 ? WANT_END : WANT_COMMA_OR_CLOSE;
}

static enum json_status scan_open(struct scanner *sc, struct scan_stack *st, enum scan_want *want)
{
	if (st->depth == MODEL_MAX_DEPTH)
		return scan_fail(sc, JSON_TOO_DEEP, "nesting too deep");
	st->open[st->depth++] = *sc->p;
	*want = *sc->p == '{' ? WANT_KEY_OR_CLOSE : WANT_VALUE_OR_CLOSE;
	sc->p++;
	return JSON_OK;
}

static enum json_status scan_close(struct scanner *sc, struct scan_stack *st, enum scan_want *want)
{
	unsigned char open = *sc->p == '}' ? '{' : '[';

	if (st->depth == 0 || st->open[st->depth - 1] != open)
		return scan_fail(sc, JSON_MALFORMED, "mismatched bracket");
	st->depth--;
	*want = after_value(st);
	sc->p++;
	return JSON_OK;
}

static enum json_status scan_value(struct scanner *sc, struct scan_stack *st, enum scan_want *want)
{
	enum json_status rc;

	if (*sc->p == '{' || *sc->p == '[')
		return scan_open(sc, st, want);
	rc = scan_scalar(sc);
	*want = after_value(st);
	return rc;
}

static enum json_status scan_key(struct scanner *sc, enum scan_want *want)
{
	if (*sc->p != '"')
		return scan_fail(sc, JSON_MALFORMED, "expected a member name");
	*want = WANT_COLON;
	return scan_string(sc);
}

static bool is_close(unsigned char c)
{
	return c == ']' || c == '}';
}

/* One grammar step at a non-whitespace byte. */
static enum json_status scan_step(struct scanner *sc, struct scan_stack *st, enum scan_want *want)
{
	unsigned char c = *sc->p;

	switch (*want) {
	case WANT_VALUE_OR_CLOSE:
		return is_close(c) ? scan_close(sc, st, want) : scan_value(sc, st, want);
	case WANT_VALUE:
		return scan_value(sc, st, want);
	case WANT_KEY_OR_CLOSE:
		return is_close(c) ? scan_close(sc, st, want) : scan_key(sc, want);
	case WANT_KEY:
		return scan_key(sc, want);
	case WANT_COLON:
		if (c != ':')
			return scan_fail(sc, JSON_MALFORMED, "expected ':'");
		sc->p++;
		*want = WANT_VALUE;
		return JSON_OK;
	case WANT_COMMA_OR_CLOSE:
		if (is_close(c))
			return scan_close(sc, st, want);
		if (c != ',')
			return scan_fail(sc, JSON_MALFORMED, "expected ',' or a closing bracket");
		sc->p++;
		*want = st->open[st->depth - 1] == '{' ? WANT_KEY : WANT_VALUE;
		return JSON_OK;
	case WANT_END:
	default:
		return scan_fail(sc, JSON_MALFORMED, "trailing data after the JSON value");
	}
}

static enum json_status scan_text(struct scanner *sc)
{
	struct scan_stack st = {.depth = 0};
	enum scan_want want = WANT_VALUE;

	for (;;) {
		enum json_status rc;

		skip_ws(sc);
		if (sc->p == sc->end)
			break;
		rc = scan_step(sc, &st, &want);
		if (rc != JSON_OK)
			return rc;
	}
	if (want != WANT_END)
		return scan_fail(sc, JSON_MALFORMED,
				 want == WANT_VALUE && st.depth == 0 ? "no JSON value"
								     : "unexpected end of input");
	return JSON_OK;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Duplicate member names of one object, by sorting: objects may have
 * thousands of members, so no quadratic pairwise comparison. cJSON truncates
 * a name at \u0000, so two names that differ only after one would collide
 * here; such a body is rejected either way (400 instead of 422). */
static enum json_status check_duplicates(const cJSON *obj, const char **detail)
{
	size_t n = 0, i = 0;
	const char **names;
	enum json_status rc = JSON_OK;

	for (const cJSON *c = obj->child; c; c = c->next)
		n++;
	if (n < 2)
		return JSON_OK;
	names = malloc(n * sizeof(*names));
	if (names == NULL) {
		*detail = "out of memory";
		return JSON_NOMEM;
	}
	for (const cJSON *c = obj->child; c; c = c->next)
		names[i++] = c->string;
	qsort(names, n, sizeof(*names), compare_names);
	for (i = 1; i < n; i++) {
		if (strcmp(names[i - 1], names[i]) == 0) {
			*detail = "duplicate member name";
			rc = JSON_MALFORMED;
			break;
		}
	}
	free(names);
	return rc;
}

/* Recursion is bounded: the scanner already limited depth to
 * MODEL_MAX_DEPTH. */
static enum json_status walk(const cJSON *item, const char **detail)
{
	/* A number too large for a double (1e999) is well-formed JSON: cJSON
	 * reads it as infinity and the field rules reject it (422). */
	if (cJSON_IsObject(item)) {
		enum json_status rc = check_duplicates(item, detail);

		if (rc != JSON_OK)
			return rc;
	}
	for (const cJSON *c = item->child; c; c = c->next) {
		enum json_status rc = walk(c, detail);

		if (rc != JSON_OK)
			return rc;
	}
	return JSON_OK;
}

enum json_status json_parse_strict(const char *body, size_t len, cJSON **out, const char **detail)
{
	struct scanner sc = {(const unsigned char *)body, (const unsigned char *)body + len, false, NULL};
	const char *dummy, *parse_end = NULL;
	enum json_status rc;
	cJSON *tree = NULL;

	if (detail == NULL)
		detail = &dummy;
	*out = NULL;
	*detail = NULL;
	if (!utf8_valid(body, len)) {
		*detail = "invalid UTF-8";
		return JSON_MALFORMED;
	}
	rc = scan_text(&sc);
	if (rc != JSON_OK) {
		*detail = sc.detail;
		return rc;
	}
	tree = cJSON_ParseWithLengthOpts(body, len, &parse_end, false);
	if (tree == NULL) {
		/* The scanner accepted the text, so this is allocation. */
		*detail = "out of memory";
		return JSON_NOMEM;
	}
	/* The scanner already rejected trailing data; this guards against
	 * cJSON ever stopping early on text the scanner accepted. */
	while (parse_end < body + len && is_ws((unsigned char)*parse_end))
		parse_end++;
	if (parse_end != body + len) {
		*detail = "trailing data after the JSON value";
		rc = JSON_MALFORMED;
		goto out;
	}
	rc = walk(tree, detail);
	if (rc == JSON_OK && sc.has_nul) {
		*detail = "a string contains U+0000";
		rc = JSON_HAS_NUL;
	}
out:
	if (rc == JSON_OK)
		*out = tree;
	else
		cJSON_Delete(tree);
	return rc;
}
