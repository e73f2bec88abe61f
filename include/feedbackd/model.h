/* The submission model: cJSON <-> struct submission with every field rule of
 * SPEC 3, strict JSON checks that cJSON does not make, and RFC 3339 times.
 *
 * Pure: no I/O, no logging, no global state. */
#ifndef FEEDBACKD_MODEL_H
#define FEEDBACKD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define MODEL_ID_LEN 36
#define MODEL_MAX_ERRORS 32
#define MODEL_MAX_DEPTH 32

enum submission_type {
	SUB_SURVEY = 0,
	SUB_NPS = 1,
	SUB_ANY = 2, /* batch item: read from its "type" member */
};

enum channel {
	CH_PHONE = 0,
	CH_EMAIL,
	CH_CHAT,
	CH_IN_PERSON,
	CH_WEB,
	CH_MOBILE,
	CH_SOCIAL,
	CH_OTHER,
	CH_COUNT
};

enum expectation {
	EXP_NONE = -1,
	EXP_BELOW = 0,
	EXP_MET = 1,
	EXP_EXCEEDED = 2,
};

/* One stored or to-be-stored submission. Absent integers are -1, absent
 * strings NULL. Strings are owned by the struct; release with
 * submission_release(). */
struct submission {
	char id[MODEL_ID_LEN + 1]; /* "" until assigned */
	bool client_id;            /* id was supplied by the client */
	enum submission_type type;
	char *customer_id;
	char *contact_id;
	char *agent_id;
	char *segment;
	char *comment;
	enum channel channel;
	int64_t submitted_at;      /* unix seconds UTC */
	bool submitted_given;      /* false: defaulted to the time received */
	int64_t received_at;       /* unix seconds UTC, set by the store */
	int expectation;           /* enum expectation */
	int csat;                  /* 1..5 or -1 */
	int effort;                /* 1..7 or -1 */
	int resolved;              /* 0, 1 or -1 */
	int nps;                   /* 0..10 or -1 (the "score" of type nps) */
	char *tags_json;           /* compact JSON array text, or NULL */
	char *metadata_json;       /* compact JSON object text, or NULL */
	uint8_t digest[32];        /* SHA-256 of the client-given fields, for duplicate checks */
};

struct field_error {
	char field[72];
	char message[160];
};

struct validation {
	size_t n;
	struct field_error errors[MODEL_MAX_ERRORS];
};

/* Outcome of json_parse_strict. */
enum json_status {
	JSON_OK = 0,
	JSON_MALFORMED = 1, /* 400: not one well-formed value, bad UTF-8, duplicate names, ... */
	JSON_HAS_NUL = 2,   /* 422: a string contains U+0000 */
	JSON_TOO_DEEP = 3,  /* 400: nesting deeper than MODEL_MAX_DEPTH */
	JSON_NOMEM = 4,     /* 5xx: allocation failed (the text itself was valid so far) */
};

/* Parse exactly one JSON value from body[0..len) (need not be
 * NUL-terminated), rejecting what cJSON lets through: invalid UTF-8, raw
 * control characters in strings, trailing data, non-JSON numbers such as 01
 * or 1., a byte order mark, duplicate member names, nesting deeper than
 * MODEL_MAX_DEPTH, number tokens longer than 63 characters (cJSON's limit),
 * lone surrogate escapes, and \u0000 in
 * strings (JSON_HAS_NUL, reported only when nothing else is wrong). On JSON_OK
 * *out is a new tree the caller frees with cJSON_Delete; otherwise *out is
 * NULL and detail (if not NULL) receives a static description. No state of
 * its own (cJSON itself resets a global error pointer on every parse).
 * A number too large for a double (1e999) is well-formed: it parses as
 * infinity and the field rules reject it. */
enum json_status json_parse_strict(const char *body, size_t len, cJSON **out, const char **detail);

/* The JSON text of v when it is exact from integer arithmetic: |v| below
 * 1e12 with at most three decimals ("0", "-3", "12.5", "0.714"), the text
 * cJSON prints for the same double. Returns false, buf untouched, for
 * anything else (more decimals, NaN, infinities, -0, huge values). See
 * src/model/json_number.c. */
#define JSON_NUMBER_MAX 24
bool json_number_text(double v, char buf[JSON_NUMBER_MAX]);

/* cJSON_AddNumberToObject, faster for the numbers json_number_text()
 * writes. name must outlive obj (a string literal, as at every caller): it
 * is added without a copy (cJSON_AddItemToObjectCS). Returns the item or
 * NULL (allocation failure). */
cJSON *json_add_number(cJSON *obj, const char *name, double value);

/* Adds item to obj under name without copying name, which must outlive obj
 * (a string literal). Takes item: it is deleted when it cannot be added.
 * Returns item, or NULL when item is NULL or adding failed. Together with
 * cJSON_CreateStringReference() for values that outlive obj, a response
 * built for one request needs no copy of its names and fixed texts. */
cJSON *json_add_item(cJSON *obj, const char *name, cJSON *item);

void submission_init(struct submission *s);
void submission_release(struct submission *s);

/* The path of a stored submission: its replies' Location header, and so
 * the key by which an erasure finds the stored replies that copy it. */
#define SUBMISSION_LOCATION_SIZE (sizeof("/v1/responses/") + MODEL_ID_LEN)
void submission_location(const struct submission *s, char out[SUBMISSION_LOCATION_SIZE]);

/* Validate obj as a submission of the given type against SPEC 3 and fill *out
 * (which must be initialised; whatever it held is released first). now is the
 * time received: submitted_at defaults to it and received_at is set to it.
 * max_age_days bounds submitted_at in the past (<= 0: no bound). *v is reset.
 * Returns 0, FBD_EINVAL with every violation in *v (at most
 * MODEL_MAX_ERRORS), or FBD_ENOMEM. On error *out is released. All strings
 * of struct submission are malloc'd and freed with free(). */
int submission_from_json(const cJSON *obj, enum submission_type type, int64_t now,
			 int max_age_days, struct submission *out, struct validation *v);

/* The stored record as JSON (SPEC 3 reply shape), absent values as null.
 * Caller owns the result (cJSON_Delete); it refers to s's strings, so s must
 * outlive it. NULL on allocation failure, on unparsable
 * tags_json/metadata_json, or for type SUB_ANY. */
cJSON *submission_to_json(const struct submission *s);

/* Append one error; silently drops errors beyond MODEL_MAX_ERRORS. */
void validation_add(struct validation *v, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Names <-> enums. *_name return NULL for a value out of range (EXP_NONE,
 * SUB_ANY); *_parse return -1 for an unknown name or NULL. */
const char *channel_name(enum channel c);
int channel_parse(const char *s);
const char *expectation_name(enum expectation e);
int expectation_parse(const char *s);
const char *submission_type_name(enum submission_type t);

/* Parse RFC 3339 ("2026-11-23T10:15:00Z", "...T10:15:00.123+02:00"); the
 * fraction is truncated. Returns 0 or FBD_EINVAL. */
int rfc3339_parse(const char *s, int64_t *out);

/* Format as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes). Times
 * outside years 0001..9999 are clamped to that range. */
void rfc3339_format(int64_t t, char buf[static 21]);

/* True if s is a UUID in canonical 8-4-4-4-12 hex form (either case). */
bool uuid_is_valid(const char *s);

/* True if s[0..len) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF). */
bool utf8_valid(const char *s, size_t len);

/* Number of code points in a valid UTF-8 string. */
size_t utf8_length(const char *s);

#endif
