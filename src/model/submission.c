/* cJSON <-> struct submission, with every field rule of SPEC 3.
 *
 * The rules live in one table (field_specs): name, which submission types
 * have the field, whether it is required, its bounds, and the function that
 * checks it and fills the struct. submission_from_json walks the table, then
 * the object's members (to reject unknown names), then the cross-field rule,
 * collecting every violation instead of stopping at the first, so a client
 * can fix a form in one round trip.
 *
 * Lengths are counted in code points, not bytes: "128 characters" is what a
 * client that counts characters in its UI expects. Input strings are valid
 * UTF-8 when the tree came from json_parse_strict; string fields re-check
 * it anyway because this module must not trust its callers' parsers.
 *
 * The digest identifies what the client asked to store, for the duplicate
 * check on a client-supplied id: SHA-256 over a length-prefixed encoding of
 * the validated values in a fixed field order, so member order, whitespace,
 * escapes and null-versus-absent do not change it. The id itself is not part
 * of it (the id is the key the digest is compared under). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "feedbackd/error.h"
#include "feedbackd/model.h"

#define FUTURE_SLACK_SECONDS 300
#define TAGS_MAX_ITEMS 20
#define TAG_MAX_CHARS 64
#define METADATA_MAX_KEYS 20
#define METADATA_KEY_MAX_CHARS 64
#define METADATA_VALUE_MAX_CHARS 256

static const char *const channel_names[CH_COUNT] = {
	"phone", "email", "chat", "in_person", "web", "mobile", "social", "other",
};

static const char *const expectation_names[] = {"below", "met", "exceeded"};

/* ---- names <-> enums ---------------------------------------------------- */

const char *channel_name(enum channel c)
{
	return (unsigned)c < CH_COUNT ? channel_names[c] : NULL;
}

int channel_parse(const char *s)
{
	for (int i = 0; s != NULL && i < CH_COUNT; i++)
		if (strcmp(s, channel_names[i]) == 0)
			return i;
	return -1;
}

const char *expectation_name(enum expectation e)
{
	return e >= EXP_BELOW && e <= EXP_EXCEEDED ? expectation_names[e] : NULL;
}

int expectation_parse(const char *s)
{
	for (int i = EXP_BELOW; s != NULL && i <= EXP_EXCEEDED; i++)
		if (strcmp(s, expectation_names[i]) == 0)
			return i;
	return -1;
}

const char *submission_type_name(enum submission_type t)
{
	switch (t) {
	case SUB_SURVEY:
		return "survey";
	case SUB_NPS:
		return "nps";
	default:
		return NULL;
	}
}

/* ---- lifecycle ------------------------------------------------------------ */

void submission_location(const struct submission *s, char out[SUBMISSION_LOCATION_SIZE])
{
	snprintf(out, SUBMISSION_LOCATION_SIZE, "/v1/responses/%s", s->id);
}

void submission_init(struct submission *s)
{
	memset(s, 0, sizeof(*s));
	s->type = SUB_SURVEY;
	s->channel = CH_OTHER;
	s->expectation = EXP_NONE;
	s->csat = -1;
	s->effort = -1;
	s->resolved = -1;
	s->nps = -1;
}

void submission_release(struct submission *s)
{
	if (s == NULL)
		return;
	free(s->customer_id);
	free(s->contact_id);
	free(s->agent_id);
	free(s->segment);
	free(s->comment);
	free(s->tags_json);
	free(s->metadata_json);
	submission_init(s);
}

/* ---- validation errors ---------------------------------------------------- */

/* snprintf truncates at a byte; cut a code point it split so that the
 * problem document stays valid UTF-8. */
static void utf8_trim_tail(char *s)
{
	size_t len = strlen(s), i = len, need;
	unsigned char lead;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0)
		return;
	lead = (unsigned char)s[i - 1];
	need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	if (len - (i - 1) < need)
		s[i - 1] = '\0';
}

void validation_add(struct validation *v, const char *field, const char *fmt, ...)
{
	struct field_error *e;
	va_list ap;

	if (v->n >= MODEL_MAX_ERRORS)
		return;
	e = &v->errors[v->n++];
	snprintf(e->field, sizeof(e->field), "%s", field);
	utf8_trim_tail(e->field);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	utf8_trim_tail(e->message);
}

/* ---- field rules ---------------------------------------------------------- */

struct parse_ctx {
	struct submission *s;
	struct validation *v;
	int64_t now;
	int max_age_days;
	const cJSON *metadata; /* the validated object, for the digest */
};

struct field_spec;
typedef int field_fn(struct parse_ctx *c, const struct field_spec *f, const cJSON *item);

#define FOR_SURVEY (1u << SUB_SURVEY)
#define FOR_NPS (1u << SUB_NPS)
#define FOR_BOTH (FOR_SURVEY | FOR_NPS)

struct field_spec {
	const char *name;
	unsigned types; /* FOR_* */
	bool required;
	int min, max;  /* characters for strings, values for integers */
	size_t offset; /* of the char * or int member of struct submission */
	field_fn *parse;
};

static char **string_slot(struct submission *s, const struct field_spec *f)
{
	return (char **)(void *)((char *)s + f->offset);
}

static int *int_slot(struct submission *s, const struct field_spec *f)
{
	return (int *)(void *)((char *)s + f->offset);
}

/* A string of min..max code points, or NULL. */
static const char *string_in_range(const cJSON *item, int min, int max)
{
	const char *str = cJSON_GetStringValue(item);
	size_t n;

	if (str == NULL || !utf8_valid(str, strlen(str)))
		return NULL;
	n = utf8_length(str);
	return n >= (size_t)min && n <= (size_t)max ? str : NULL;
}

static void length_error(struct validation *v, const char *field, int min, int max)
{
	if (min == 0)
		validation_add(v, field, "must be a string of at most %d characters", max);
	else
		validation_add(v, field, "must be a string of %d..%d characters", min, max);
}

static int parse_string(struct parse_ctx *c, const struct field_spec *f, const cJSON *item)
{
	const char *str = string_in_range(item, f->min, f->max);
	char *copy;

	if (str == NULL) {
		length_error(c->v, f->name, f->min, f->max);
		return 0;
	}
	copy = strdup(str);
	if (copy == NULL)
		return FBD_ENOMEM;
	*string_slot(c->s, f) = copy;
	return 0;
}

/* A number with an integral value in [min, max]: 10.5, "9", true and
 * 1e999 are all refused, 5.0 is 5. */
static int parse_int(struct parse_ctx *c, const struct field_spec *f, const cJSON *item)
{
	double d = cJSON_IsNumber(item) ? item->valuedouble : NAN;

	if (!isfinite(d) || d != floor(d) || d < f->min || d > f->max) {
		validation_add(c->v, f->name, "must be an integer between %d and %d", f->min,
			       f->max);
		return 0;
	}
	*int_slot(c->s, f) = (int)d;
	return 0;
}

static int parse_bool(struct parse_ctx *c, const struct field_spec *f, const cJSON *item)
{
	if (!cJSON_IsBool(item)) {
		validation_add(c->v, f->name, "must be a boolean");
		return 0;
	}
	*int_slot(c->s, f) = cJSON_IsTrue(item) ? 1 : 0;
	return 0;
}

static int parse_channel(struct parse_ctx *c, const struct field_spec *f, const cJSON *item)
{
	int ch = channel_parse(cJSON_GetStringValue(item));

	if (ch < 0) {
		validation_add(c->v, f->name,
			       "must be one of phone, email, chat, in_person, web, mobile, social, other");
		return 0;
	}
	c->s->channel = (enum channel)ch;
	return 0;
}

static int parse_expectation(struct parse_ctx *c, const struct field_spec *f,
			     const cJSON *item)
{
	int e = expectation_parse(cJSON_GetStringValue(item));

	if (e < 0) {
		validation_add(c->v, f->name, "must be one of below, met, exceeded");
		return 0;
	}
	c->s->expectation = e;
	return 0;
}

static int parse_id(struct parse_ctx *c, const struct field_spec *f, const cJSON *item)
{
	const char *str = cJSON_GetStringValue(item);

	if (!uuid_is_valid(str)) {
		validation_add(c->v, f->name, "must be a UUID (8-4-4-4-12 hexadecimal digits)");
		return 0;
	}
	/* Stored lowercase, so that one id has one spelling. */
	for (size_t i = 0; i < MODEL_ID_LEN; i++)
		c->s->id[i] = str[i] >= 'A' && str[i] <= 'F' ? (char)(str[i] - 'A' + 'a') : str[i];
	c->s->id[MODEL_ID_LEN] = '\0';
	c->s->client_id = true;
	return 0;
}

static int parse_time(struct parse_ctx *c, const struct field_spec *f, const cJSON *item)
{
	const char *str = cJSON_GetStringValue(item);
	int64_t t;

	if (str == NULL || rfc3339_parse(str, &t) != 0) {
		validation_add(c->v, f->name,
			       "must be an RFC 3339 date-time such as 2026-11-23T10:15:00Z");
		return 0;
	}
	if (t > c->now + FUTURE_SLACK_SECONDS) {
		validation_add(c->v, f->name, "must not be more than 5 minutes in the future");
		return 0;
	}
	/* max_age_days <= 0 means no lower bound. */
	if (c->max_age_days > 0 && t < c->now - (int64_t)c->max_age_days * 86400) {
		validation_add(c->v, f->name, "must not be more than %d days in the past",
			       c->max_age_days);
		return 0;
	}
	c->s->submitted_at = t;
	c->s->submitted_given = true;
	return 0;
}

/* Print item compactly into a malloc'd copy: struct submission's strings are
 * freed with free(), whatever allocator hooks cJSON was given. */
static int print_json(const cJSON *item, char **out)
{
	char *text = cJSON_PrintUnformatted(item);

	if (text == NULL)
		return FBD_ENOMEM;
	*out = strdup(text);
	cJSON_free(text);
	return *out == NULL ? FBD_ENOMEM : 0;
}

static int parse_tags(struct parse_ctx *c, const struct field_spec *f, const cJSON *item)
{
	size_t before = c->v->n;
	int i = 0;

	if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) > TAGS_MAX_ITEMS) {
		validation_add(c->v, f->name, "must be an array of at most %d strings",
			       TAGS_MAX_ITEMS);
		return 0;
	}
	for (const cJSON *tag = item->child; tag; tag = tag->next, i++) {
		char field[32];

		if (string_in_range(tag, 1, TAG_MAX_CHARS) != NULL)
			continue;
		snprintf(field, sizeof(field), "%s[%d]", f->name, i);
		length_error(c->v, field, 1, TAG_MAX_CHARS);
	}
	return c->v->n == before ? print_json(item, string_slot(c->s, f)) : 0;
}

static void metadata_member_check(struct parse_ctx *c, const struct field_spec *f,
				  const cJSON *m)
{
	size_t n = utf8_valid(m->string, strlen(m->string)) ? utf8_length(m->string) : 0;

	if (n < 1 || n > METADATA_KEY_MAX_CHARS) {
		/* Not "metadata.<key>": the key itself is what is wrong,
		 * and it may be long. */
		validation_add(c->v, f->name, "member names must be 1..%d characters",
			       METADATA_KEY_MAX_CHARS);
		return;
	}
	if (string_in_range(m, 0, METADATA_VALUE_MAX_CHARS) == NULL) {
		char field[sizeof(c->v->errors[0].field)];

		snprintf(field, sizeof(field), "%s.%s", f->name, m->string);
		length_error(c->v, field, 0, METADATA_VALUE_MAX_CHARS);
	}
}

static int parse_metadata(struct parse_ctx *c, const struct field_spec *f, const cJSON *item)
{
	size_t before = c->v->n;

	if (!cJSON_IsObject(item) || cJSON_GetArraySize(item) > METADATA_MAX_KEYS) {
		validation_add(c->v, f->name, "must be an object with at most %d members",
			       METADATA_MAX_KEYS);
		return 0;
	}
	for (const cJSON *m = item->child; m; m = m->next)
		metadata_member_check(c, f, m);
	if (c->v->n != before)
		return 0;
	c->metadata = item;
	return print_json(item, string_slot(c->s, f));
}

#define STR_FIELD(n, ty, req, lo, hi) \
	{#n, ty, req, lo, hi, offsetof(struct submission, n), parse_string}
#define INT_FIELD(n, ty, req, lo, hi, member) \
	{n, ty, req, lo, hi, offsetof(struct submission, member), parse_int}

/* Checked in this order, so errors come out in it. "score" of type nps is
 * stored in the nps member. */
static const struct field_spec field_specs[] = {
	{"id", FOR_BOTH, false, 0, 0, 0, parse_id},
	STR_FIELD(customer_id, FOR_BOTH, true, 1, 128),
	STR_FIELD(contact_id, FOR_SURVEY, false, 1, 128),
	{"channel", FOR_BOTH, false, 0, 0, 0, parse_channel},
	STR_FIELD(agent_id, FOR_SURVEY, false, 1, 128),
	STR_FIELD(segment, FOR_BOTH, false, 1, 64),
	{"submitted_at", FOR_BOTH, false, 0, 0, 0, parse_time},
	{"expectation", FOR_SURVEY, false, 0, 0, 0, parse_expectation},
	INT_FIELD("csat", FOR_SURVEY, false, 1, 5, csat),
	INT_FIELD("effort", FOR_SURVEY, false, 1, 7, effort),
	{"resolved", FOR_SURVEY, false, 0, 0, offsetof(struct submission, resolved), parse_bool},
	INT_FIELD("nps", FOR_SURVEY, false, 0, 10, nps),
	INT_FIELD("score", FOR_NPS, true, 0, 10, nps),
	STR_FIELD(comment, FOR_BOTH, false, 0, 4000),
	{"tags", FOR_BOTH, false, 0, 0, offsetof(struct submission, tags_json), parse_tags},
	{"metadata", FOR_BOTH, false, 0, 0, offsetof(struct submission, metadata_json),
	 parse_metadata},
};

#define FIELD_COUNT (sizeof(field_specs) / sizeof(field_specs[0]))

static const struct field_spec *field_find(const char *name, enum submission_type type)
{
	for (size_t i = 0; i < FIELD_COUNT; i++)
		if ((field_specs[i].types & (1u << type)) && strcmp(field_specs[i].name, name) == 0)
			return &field_specs[i];
	return NULL;
}

/* JSON null for a field means "not given". */
static bool given(const cJSON *item)
{
	return item != NULL && !cJSON_IsNull(item);
}

static int check_fields(struct parse_ctx *c, const cJSON *obj, enum submission_type type)
{
	for (size_t i = 0; i < FIELD_COUNT; i++) {
		const struct field_spec *f = &field_specs[i];
		const cJSON *item;
		int rc;

		if (!(f->types & (1u << type)))
			continue;
		item = cJSON_GetObjectItemCaseSensitive(obj, f->name);
		if (!given(item)) {
			if (f->required)
				validation_add(c->v, f->name, "is required");
			continue;
		}
		rc = f->parse(c, f, item);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Unknown names are errors, so that a typo never silently drops data. In a
 * batch item "type" is known: it chose the rules. */
static void check_unknown(struct parse_ctx *c, const cJSON *obj, enum submission_type type,
			  bool batch)
{
	for (const cJSON *m = obj->child; m; m = m->next) {
		if (batch && strcmp(m->string, "type") == 0)
			continue;
		if (field_find(m->string, type) == NULL)
			validation_add(c->v, m->string, "unknown field");
	}
}

static void check_at_least_one(struct parse_ctx *c, const cJSON *obj)
{
	if (given(cJSON_GetObjectItemCaseSensitive(obj, "expectation")) ||
	    given(cJSON_GetObjectItemCaseSensitive(obj, "csat")) ||
	    given(cJSON_GetObjectItemCaseSensitive(obj, "nps")))
		return;
	validation_add(c->v, "", "at least one of expectation, csat, nps is required");
}

/* The type of a batch item; SUB_ANY (with an error added) if it has none. */
static enum submission_type item_type(const cJSON *obj, struct validation *v)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, "type");
	const char *str = cJSON_GetStringValue(item);

	if (!given(item))
		validation_add(v, "type", "is required");
	else if (str != NULL && strcmp(str, "survey") == 0)
		return SUB_SURVEY;
	else if (str != NULL && strcmp(str, "nps") == 0)
		return SUB_NPS;
	else
		validation_add(v, "type", "must be one of survey, nps");
	return SUB_ANY;
}

/* ---- digest --------------------------------------------------------------- */

static void hash_u64(struct sha256_ctx *h, uint64_t x)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(x >> (56 - 8 * i));
	sha256_update(h, sizeof(b), b);
}

/* Length-prefixed, so that no two sequences of strings encode alike. */
static void hash_str(struct sha256_ctx *h, const char *s)
{
	size_t n = strlen(s);

	hash_u64(h, n);
	sha256_update(h, n, (const uint8_t *)s);
}

/* A presence marker, then the value. */
static void hash_opt_str(struct sha256_ctx *h, const char *s)
{
	hash_u64(h, s != NULL);
	if (s != NULL)
		hash_str(h, s);
}

static void hash_opt_int(struct sha256_ctx *h, int64_t x, bool present)
{
	hash_u64(h, present);
	if (present)
		hash_u64(h, (uint64_t)x);
}

static int compare_members(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* Metadata with its members sorted by name, so member order does not
 * matter (names are unique: json_parse_strict rejects duplicates). */
static void hash_metadata(struct sha256_ctx *h, const cJSON *metadata)
{
	const cJSON *members[METADATA_MAX_KEYS];
	size_t n = 0;

	hash_u64(h, metadata != NULL);
	if (metadata == NULL)
		return;
	for (const cJSON *m = metadata->child; m && n < METADATA_MAX_KEYS; m = m->next)
		members[n++] = m;
	qsort(members, n, sizeof(members[0]), compare_members);
	hash_u64(h, n);
	for (size_t i = 0; i < n; i++) {
		hash_str(h, members[i]->string);
		hash_str(h, members[i]->valuestring);
	}
}

static void compute_digest(struct submission *s, const cJSON *metadata)
{
	struct sha256_ctx h;

	sha256_init(&h);
	hash_str(&h, "feedbackd submission v1");
	hash_u64(&h, (uint64_t)s->type);
	hash_opt_str(&h, s->customer_id);
	hash_opt_str(&h, s->contact_id);
	/* The effective channel: absent means "other". */
	hash_u64(&h, (uint64_t)s->channel);
	hash_opt_str(&h, s->agent_id);
	hash_opt_str(&h, s->segment);
	/* The instant, not its spelling; absent means "when received",
	 * which differs between retries and so must not count. */
	hash_opt_int(&h, s->submitted_at, s->submitted_given);
	hash_opt_int(&h, s->expectation, s->expectation != EXP_NONE);
	hash_opt_int(&h, s->csat, s->csat >= 0);
	hash_opt_int(&h, s->effort, s->effort >= 0);
	hash_opt_int(&h, s->resolved, s->resolved >= 0);
	hash_opt_int(&h, s->nps, s->nps >= 0);
	hash_opt_str(&h, s->comment);
	/* cJSON's compact print of an array of strings is canonical. */
	hash_opt_str(&h, s->tags_json);
	hash_metadata(&h, metadata);
	sha256_digest(&h, sizeof(s->digest), s->digest);
}

/* ---- from JSON ------------------------------------------------------------ */

static int validate(struct parse_ctx *c, const cJSON *obj, enum submission_type type)
{
	bool batch = type == SUB_ANY;
	int rc;

	if (!cJSON_IsObject(obj)) {
		validation_add(c->v, "", "must be a JSON object");
		return FBD_EINVAL;
	}
	if (batch) {
		type = item_type(obj, c->v);
		if (type == SUB_ANY)
			return FBD_EINVAL;
	}
	c->s->type = type;
	rc = check_fields(c, obj, type);
	if (rc != 0)
		return rc;
	check_unknown(c, obj, type, batch);
	if (type == SUB_SURVEY)
		check_at_least_one(c, obj);
	return c->v->n > 0 ? FBD_EINVAL : 0;
}

int submission_from_json(const cJSON *obj, enum submission_type type, int64_t now,
			 int max_age_days, struct submission *out, struct validation *v)
{
	struct parse_ctx c = {out, v, now, max_age_days, NULL};
	int rc;

	submission_release(out);
	v->n = 0;
	rc = validate(&c, obj, type);
	if (rc != 0)
		goto out;
	if (!out->submitted_given)
		out->submitted_at = now;
	out->received_at = now;
	compute_digest(out, c.metadata);
out:
	if (rc != 0)
		submission_release(out);
	return rc;
}

/* ---- to JSON -------------------------------------------------------------- */

/* Keys are literals and strings are referenced from the submission or from
 * static tables, not copied (json_add_item): every caller prints the tree
 * before it releases the submission. */
static bool add_null(cJSON *o, const char *key)
{
	return json_add_item(o, key, cJSON_CreateNull()) != NULL;
}

static bool add_str(cJSON *o, const char *key, const char *value)
{
	return value ? json_add_item(o, key, cJSON_CreateStringReference(value)) != NULL
		     : add_null(o, key);
}

/* -1 (absent) becomes null. */
static bool add_int(cJSON *o, const char *key, int value)
{
	return value >= 0 ? json_add_number(o, key, value) != NULL : add_null(o, key);
}

static bool add_bool(cJSON *o, const char *key, int value)
{
	return value >= 0 ? json_add_item(o, key, cJSON_CreateBool(value != 0)) != NULL
			  : add_null(o, key);
}

static bool add_time(cJSON *o, const char *key, int64_t t)
{
	char buf[21];

	rfc3339_format(t, buf);
	return json_add_item(o, key, cJSON_CreateString(buf)) != NULL;
}

/* Stored JSON text back into a tree. The text is ours, so a parse failure
 * is an allocation failure or a corrupted row; both fail the whole reply. */
static bool add_json_text(cJSON *o, const char *key, const char *text)
{
	if (text == NULL)
		return add_null(o, key);
	cJSON *value = cJSON_Parse(text);
	return value != NULL && json_add_item(o, key, value) != NULL;
}

static bool add_head(cJSON *o, const struct submission *s)
{
	return add_str(o, "id", s->id[0] ? s->id : NULL) &&
	       add_str(o, "type", submission_type_name(s->type)) &&
	       add_str(o, "customer_id", s->customer_id);
}

static bool add_survey(cJSON *o, const struct submission *s)
{
	return add_head(o, s) && add_str(o, "contact_id", s->contact_id) &&
	       add_str(o, "channel", channel_name(s->channel)) &&
	       add_str(o, "agent_id", s->agent_id) && add_str(o, "segment", s->segment) &&
	       add_time(o, "submitted_at", s->submitted_at) &&
	       add_time(o, "received_at", s->received_at) &&
	       add_str(o, "expectation", expectation_name(s->expectation)) &&
	       add_int(o, "csat", s->csat) && add_int(o, "effort", s->effort) &&
	       add_bool(o, "resolved", s->resolved) && add_int(o, "nps", s->nps) &&
	       add_str(o, "comment", s->comment) && add_json_text(o, "tags", s->tags_json) &&
	       add_json_text(o, "metadata", s->metadata_json);
}

static bool add_nps(cJSON *o, const struct submission *s)
{
	return add_head(o, s) && add_int(o, "score", s->nps) &&
	       add_str(o, "channel", channel_name(s->channel)) &&
	       add_str(o, "segment", s->segment) &&
	       add_time(o, "submitted_at", s->submitted_at) &&
	       add_time(o, "received_at", s->received_at) &&
	       add_str(o, "comment", s->comment) && add_json_text(o, "tags", s->tags_json) &&
	       add_json_text(o, "metadata", s->metadata_json);
}

cJSON *submission_to_json(const struct submission *s)
{
	cJSON *o;
	bool ok;

	if (s->type != SUB_SURVEY && s->type != SUB_NPS)
		return NULL;
	o = cJSON_CreateObject();
	if (o == NULL)
		return NULL;
	ok = s->type == SUB_SURVEY ? add_survey(o, s) : add_nps(o, s);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
