/* Configuration.
 *
 * Every key is one row of config_keys[]: its name in the file, its type, the
 * field it fills, its range, its default as text and a line of help. Adding a
 * key is adding a row (and a field in struct fbd_config). Defaults go through
 * the same parser as every other value, so a default can never be one the
 * file would reject, and the unit test that checks every default catches a
 * row whose default is out of its own range.
 *
 * Sources are applied in order of precedence, each overwriting the previous:
 * defaults, the file, FEEDBACKD_* environment variables, command-line flags.
 * A value replaces the previous one whole (api_keys and cors_origins too: a
 * list from the environment is not appended to the file's list).
 *
 * Every error names the key and where the value came from, so that the
 * operator reading "exit 2" knows what to edit. Values are echoed (shortened,
 * with unprintable bytes replaced) except api_keys, which is never echoed.
 *
 * This module does not log: config_load runs before logging is set up, and
 * the caller decides how to report. */
#include "feedbackd/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "feedbackd/error.h"
#include "feedbackd/log.h"

#define CONFIG_DEFAULT_PATH "config/feedbackd.conf"
#define CONFIG_ENV_PREFIX "FEEDBACKD_"
#define CONFIG_ENV_FILE "FEEDBACKD_CONFIG"
#define CONFIG_MAX_LINE 4096
#define CONFIG_MAX_FILE (1024 * 1024)
#define CONFIG_MAX_STRING 4096
#define CONFIG_MAX_ORIGIN 256
#define CONFIG_MAX_BATCH_BODY ((size_t)1024 * 1024)
#define CONFIG_BATCH_FACTOR 16
#define CONFIG_MAX_THREADS 256
#define CONFIG_WHY_LEN 256
#define CONFIG_WHERE_LEN 512
#define CONFIG_ECHO_LEN 64

enum config_type {
	CONFIG_STRING, /* char *, non-empty */
	CONFIG_INT,    /* int in [min, max] */
	CONFIG_SIZE,   /* size_t in [min, max] */
	CONFIG_DOUBLE, /* finite double in [min, max] */
	CONFIG_BOOL,   /* on/off, true/false, yes/no, 1/0 */
	CONFIG_CUSTOM, /* parsed by the row's own setter */
};

struct config_key {
	const char *name;
	enum config_type type;
	size_t offset;
	/* CONFIG_CUSTOM only: parse value into cfg, or explain in why (without
	 * naming the key; the caller adds it) and return a negative code. */
	int (*set)(struct fbd_config *cfg, const char *value, char *why, size_t why_len);
	double min;
	double max;
	const char *def; /* NULL: computed by config_init */
	const char *help;
};

static int config_set_api_keys(struct fbd_config *cfg, const char *value, char *why,
                               size_t why_len);
static int config_set_cors(struct fbd_config *cfg, const char *value, char *why, size_t why_len);
static int config_set_log_level(struct fbd_config *cfg, const char *value, char *why,
                                size_t why_len);
static int config_set_sync(struct fbd_config *cfg, const char *value, char *why, size_t why_len);

/* Compile-time check that a row's type matches its field: comparing pointers
 * to different types is a constraint violation, which the compiler reports
 * (an error under the project's werror). */
#define CONFIG_FIELD(field, ctype)                                                                 \
	(offsetof(struct fbd_config, field) +                                                      \
	 0 * sizeof((ctype *)0 == &((struct fbd_config *)0)->field))

/* Kept as a table by hand: one row per key reads best. */
/* clang-format off */
#define KEY_STR(name, field, def, help) \
	{ name, CONFIG_STRING, CONFIG_FIELD(field, char *), NULL, 0, 0, def, help }
#define KEY_INT(name, field, min, max, def, help) \
	{ name, CONFIG_INT, CONFIG_FIELD(field, int), NULL, min, max, def, help }
#define KEY_SIZE(name, field, min, max, def, help) \
	{ name, CONFIG_SIZE, CONFIG_FIELD(field, size_t), NULL, min, max, def, help }
#define KEY_DBL(name, field, min, max, def, help) \
	{ name, CONFIG_DOUBLE, CONFIG_FIELD(field, double), NULL, min, max, def, help }
#define KEY_BOOL(name, field, def, help) \
	{ name, CONFIG_BOOL, CONFIG_FIELD(field, bool), NULL, 0, 1, def, help }
#define KEY_CUSTOM(name, setter, def, help) \
	{ name, CONFIG_CUSTOM, 0, setter, 0, 0, def, help }

static const struct config_key config_keys[] = {
	KEY_STR("host", host, "0.0.0.0", "address to bind"),
	KEY_INT("port", port, 0, 65535, "8080", "TCP port (0: any free port)"),
	KEY_STR("db", db, "./data/feedback.db", "SQLite database file"),
	KEY_CUSTOM("api_keys", config_set_api_keys, "", "scope:key list (ingest, read, admin)"),
	KEY_BOOL("auth", auth, "on", "off serves /v1 anonymously (development only)"),
	KEY_CUSTOM("cors_origins", config_set_cors, "", "allowed browser origins, or *"),
	KEY_INT("threads", threads, 1, CONFIG_MAX_THREADS, NULL, "HTTP threads (default: CPUs)"),
	KEY_SIZE("max_body", max_body, 1024, 1048576, "65536", "body limit in bytes"),
	KEY_INT("window_days", window_days, 1, 3650, "365", "scoring window in days"),
	KEY_INT("max_items", max_items, 1, 1000, "50", "newest submissions scored"),
	KEY_INT("max_age_days", max_age_days, 1, 36500, "730", "oldest submitted_at accepted"),
	KEY_CUSTOM("log_level", config_set_log_level, "info", "debug, info, warn or error"),
	KEY_INT("idle_timeout", idle_timeout_s, 1, 3600, "30", "idle connection timeout (s)"),
	KEY_INT("request_timeout", request_timeout_s, 1, 3600, "30", "whole-request deadline (s)"),
	KEY_INT("max_connections", max_connections, 16, 100000, "4096", "connections in total"),
	KEY_INT("max_per_ip", max_per_ip, 1, 100000, "1024", "connections per client address"),
	KEY_INT("rate_limit", rate_limit, 0, 1000000, "20000", "requests/s per API key (0: off)"),
	KEY_INT("rate_burst", rate_burst, 1, 10000000, "40000", "requests a key may burst"),
	KEY_INT("queue_capacity", queue_capacity, 16, 1000000, "8192", "submissions queued"),
	KEY_CUSTOM("sync", config_set_sync, "full", "SQLite synchronous: normal or full"),
	KEY_INT("cache_mb", cache_mb, 1, 4096, "10", "SQLite page cache per connection (MiB)"),
	KEY_INT("max_db_pages", max_db_pages, 0, 2147483647, "0", "database size cap in pages (0: none)"),
	KEY_DBL("level_met_share", level_met_share, 0, 1, "0.8", "level 1 threshold"),
	KEY_DBL("level_exceeded_share", level_exceeded_share, 0, 1, "0.5", "level 2 threshold"),
	KEY_DBL("level_delighted_share", level_delighted_share, 0, 1, "0.5", "level 3 threshold"),
	KEY_INT("loyal_min_surveys", loyal_min_surveys, 1, 1000, "3", "surveys needed for loyal"),
	KEY_DBL("weight_nps", weight_nps, 0, 1, "0.5", "loyalty weight of NPS"),
	KEY_DBL("weight_expectation", weight_expectation, 0, 1, "0.3", "loyalty weight of outcome"),
	KEY_DBL("weight_csat", weight_csat, 0, 1, "0.2", "loyalty weight of CSAT"),
	KEY_INT("declining_delta", declining_delta, -100, 0, "-15", "30-day drop that is at risk"),
};
/* clang-format on */

#define CONFIG_N_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* Command-line flags: the few keys people change by hand, and actions. */
struct config_flag {
	const char *name;
	const char *key; /* NULL: not a key (--config or an action) */
	bool takes_value;
	enum fbd_config_action action;
};

static const struct config_flag config_flags[] = {
    {"--config", NULL, true, FBD_ACTION_RUN},
    {"--host", "host", true, FBD_ACTION_RUN},
    {"--port", "port", true, FBD_ACTION_RUN},
    {"--db", "db", true, FBD_ACTION_RUN},
    {"--log-level", "log_level", true, FBD_ACTION_RUN},
    {"--threads", "threads", true, FBD_ACTION_RUN},
    {"--auth", "auth", true, FBD_ACTION_RUN},
    {"--help", NULL, false, FBD_ACTION_HELP},
    {"-h", NULL, false, FBD_ACTION_HELP},
    {"--version", NULL, false, FBD_ACTION_VERSION},
    {"--healthcheck", NULL, false, FBD_ACTION_HEALTHCHECK},
};

#define CONFIG_N_FLAGS (sizeof(config_flags) / sizeof(config_flags[0]))


/* A short, printable copy of untrusted text for an error message. */
static const char *config_echo(char *out, size_t out_len, const char *s, size_t max)
{
	size_t i, o = 0;

	for (i = 0; s[i] != '\0' && i < max && o + 1 < out_len; i++) {
		unsigned char c = (unsigned char)s[i];

		out[o++] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
	}
	if (s[i] != '\0' && o + 3 < out_len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static char *config_trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static const struct config_key *config_key_find(const char *name)
{
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	}
	return NULL;
}

/* ---- value parsers: each writes the reason for a rejection into why ---- */

static int config_parse_ll(const char *value, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	/* strtoll would skip leading spaces and accept "12abc" as 12. */
	if (!isdigit((unsigned char)value[0]) && value[0] != '-' && value[0] != '+')
		return FBD_EINVAL;
	errno = 0;
	v = strtoll(value, &end, 10);
	if (end == value || *end != '\0' || errno == ERANGE || v < min || v > max)
		return FBD_EINVAL;
	*out = v;
	return 0;
}

static int config_parse_number(const struct config_key *k, const char *value, long long *out,
                               char *why, size_t why_len)
{
	char echo[CONFIG_ECHO_LEN + 4];
	int rc = config_parse_ll(value, (long long)k->min, (long long)k->max, out);

	if (rc < 0)
		fbd_errorf(why, why_len, "must be an integer between %lld and %lld (got \"%s\")",
		           (long long)k->min, (long long)k->max,
		           config_echo(echo, sizeof(echo), value, CONFIG_ECHO_LEN));
	return rc;
}

static int config_parse_double(const struct config_key *k, const char *value, double *out,
                               char *why, size_t why_len)
{
	char echo[CONFIG_ECHO_LEN + 4];
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	/* strtod accepts "nan", "inf" and leading spaces; none is a setting. */
	if (value[0] == '\0' || isspace((unsigned char)value[0]) || *end != '\0' ||
	    errno == ERANGE || !isfinite(v) || v < k->min || v > k->max) {
		fbd_errorf(why, why_len, "must be a number between %g and %g (got \"%s\")", k->min,
		           k->max, config_echo(echo, sizeof(echo), value, CONFIG_ECHO_LEN));
		return FBD_EINVAL;
	}
	*out = v;
	return 0;
}

static int config_parse_bool(const char *value, bool *out, char *why, size_t why_len)
{
	static const char *const yes[] = {"on", "true", "yes", "1"};
	static const char *const no[] = {"off", "false", "no", "0"};
	char echo[CONFIG_ECHO_LEN + 4];

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
			*out = strcasecmp(value, yes[i]) == 0;
			return 0;
		}
	}
	fbd_errorf(why, why_len, "must be on or off (got \"%s\")",
	           config_echo(echo, sizeof(echo), value, CONFIG_ECHO_LEN));
	return FBD_EINVAL;
}

static int config_parse_string(const char *value, char **field, char *why, size_t why_len)
{
	char *copy;

	if (value[0] == '\0') {
		fbd_errorf(why, why_len, "must not be empty");
		return FBD_EINVAL;
	}
	if (strlen(value) > CONFIG_MAX_STRING) {
		fbd_errorf(why, why_len, "must be at most %d bytes", CONFIG_MAX_STRING);
		return FBD_EINVAL;
	}
	for (const char *p = value; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			fbd_errorf(why, why_len, "must not contain control characters");
			return FBD_EINVAL;
		}
	}
	copy = strdup(value);
	if (copy == NULL) {
		fbd_errorf(why, why_len, "out of memory");
		return FBD_ENOMEM;
	}
	free(*field);
	*field = copy;
	return 0;
}

static int config_set_value(struct fbd_config *cfg, const struct config_key *k, const char *value,
                            char *why, size_t why_len)
{
	void *field = (char *)cfg + k->offset;
	long long ll;
	int rc;

	switch (k->type) {
	case CONFIG_STRING:
		return config_parse_string(value, field, why, why_len);
	case CONFIG_INT:
		rc = config_parse_number(k, value, &ll, why, why_len);
		if (rc == 0)
			*(int *)field = (int)ll;
		return rc;
	case CONFIG_SIZE:
		rc = config_parse_number(k, value, &ll, why, why_len);
		if (rc == 0)
			*(size_t *)field = (size_t)ll;
		return rc;
	case CONFIG_DOUBLE:
		return config_parse_double(k, value, field, why, why_len);
	case CONFIG_BOOL:
		return config_parse_bool(value, field, why, why_len);
	case CONFIG_CUSTOM:
		return k->set(cfg, value, why, why_len);
	}
	fbd_errorf(why, why_len, "has no parser");
	return FBD_EINVAL;
}

/* ---- custom setters ---- */

static int config_set_api_keys(struct fbd_config *cfg, const char *value, char *why, size_t why_len)
{
	struct auth_keyring ring;
	int rc;

	/* A new list replaces the old one whole: the environment overrides the
	 * file's keys rather than adding to them. */
	memset(&ring, 0, sizeof(ring));
	rc = auth_keyring_parse(&ring, value, why, why_len);
	if (rc == 0)
		cfg->keys = ring;
	explicit_bzero(&ring, sizeof(ring));
	return rc;
}

static int config_set_log_level(struct fbd_config *cfg, const char *value, char *why,
                                size_t why_len)
{
	char echo[CONFIG_ECHO_LEN + 4];

	if (log_level_parse(value, &cfg->log_level) == 0)
		return 0;
	fbd_errorf(why, why_len, "must be debug, info, warn or error (got \"%s\")",
	           config_echo(echo, sizeof(echo), value, CONFIG_ECHO_LEN));
	return FBD_EINVAL;
}

static int config_set_sync(struct fbd_config *cfg, const char *value, char *why, size_t why_len)
{
	char echo[CONFIG_ECHO_LEN + 4];

	if (strcasecmp(value, "normal") == 0) {
		cfg->sync = FBD_SYNC_NORMAL;
		return 0;
	}
	if (strcasecmp(value, "full") == 0) {
		cfg->sync = FBD_SYNC_FULL;
		return 0;
	}
	fbd_errorf(why, why_len, "must be normal or full (got \"%s\")",
	           config_echo(echo, sizeof(echo), value, CONFIG_ECHO_LEN));
	return FBD_EINVAL;
}

/* An origin as browsers send it: scheme://host[:port], no path. Schemes
 * other than http(s) are allowed for app web views (capacitor://localhost). */
static int config_origin_check(const char *s, size_t n, char *why, size_t why_len)
{
	const char *sep = strstr(s, "://");
	size_t i;

	if (n > CONFIG_MAX_ORIGIN) {
		fbd_errorf(why, why_len, "an origin is longer than %d bytes", CONFIG_MAX_ORIGIN);
		return FBD_EINVAL;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '*') {
			fbd_errorf(why, why_len,
			           "origins must not contain spaces, control "
			           "characters, non-ASCII bytes or '*' ('*' must stand alone)");
			return FBD_EINVAL;
		}
	}
	if (!isalpha((unsigned char)s[0]) || sep == NULL || sep[3] == '\0' ||
	    strchr(sep + 3, '/') != NULL) {
		char echo[CONFIG_ECHO_LEN + 4];

		fbd_errorf(why, why_len,
		           "origin \"%s\" must look like https://example.com "
		           "(scheme and host, no path or trailing slash)",
		           config_echo(echo, sizeof(echo), s, CONFIG_ECHO_LEN));
		return FBD_EINVAL;
	}
	return 0;
}

static void config_origins_free(char **origins, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(origins[i]);
		origins[i] = NULL;
	}
}

/* One origin of a comma-separated list (already trimmed) into origins[*n]. */
static int config_origin_add(char **origins, size_t *n, char *s, char *why, size_t why_len)
{
	int rc;

	if (*s == '\0') {
		fbd_errorf(why, why_len, "empty entry in the list of origins");
		return FBD_EINVAL;
	}
	if (*n >= FBD_CONFIG_MAX_ORIGINS) {
		fbd_errorf(why, why_len, "at most %d origins", FBD_CONFIG_MAX_ORIGINS);
		return FBD_EINVAL;
	}
	rc = config_origin_check(s, strlen(s), why, why_len);
	if (rc < 0)
		return rc;
	/* Browsers serialize scheme and host in lower case; store them so. */
	for (char *p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	origins[*n] = strdup(s);
	if (origins[*n] == NULL) {
		fbd_errorf(why, why_len, "out of memory");
		return FBD_ENOMEM;
	}
	(*n)++;
	return 0;
}

static int config_set_cors(struct fbd_config *cfg, const char *value, char *why, size_t why_len)
{
	char *origins[FBD_CONFIG_MAX_ORIGINS] = {NULL};
	char *copy = strdup(value);
	char *list, *next;
	size_t n = 0;
	bool any = false;
	int rc = 0;

	if (copy == NULL) {
		fbd_errorf(why, why_len, "out of memory");
		return FBD_ENOMEM;
	}
	list = config_trim(copy);
	if (strcmp(list, "*") == 0)
		any = true;
	for (char *s = list; !any && *list != '\0' && s != NULL; s = next) {
		next = strchr(s, ',');
		if (next != NULL)
			*next++ = '\0';
		rc = config_origin_add(origins, &n, config_trim(s), why, why_len);
		if (rc < 0)
			goto out;
	}
	config_origins_free(cfg->cors_origins, cfg->n_cors_origins);
	memcpy(cfg->cors_origins, origins, sizeof(origins));
	cfg->n_cors_origins = n;
	cfg->cors_any = any;
	n = 0; /* now owned by cfg */
out:
	config_origins_free(origins, n);
	free(copy);
	return rc;
}

/* ---- setting keys ---- */

static void config_derive(struct fbd_config *cfg)
{
	size_t batch = cfg->max_body * CONFIG_BATCH_FACTOR;

	cfg->max_batch_body = batch < CONFIG_MAX_BATCH_BODY ? batch : CONFIG_MAX_BATCH_BODY;
}

/* Set a key; where (may be "") says where the value came from in messages. */
static int config_set_from(struct fbd_config *cfg, const char *key, const char *value,
                           const char *where, char *err, size_t err_len)
{
	const struct config_key *k = config_key_find(key);
	char why[CONFIG_WHY_LEN];
	char echo[CONFIG_ECHO_LEN + 4];
	int rc;

	if (k == NULL) {
		fbd_errorf(err, err_len, "config: unknown key \"%s\"%s",
		           config_echo(echo, sizeof(echo), key, CONFIG_ECHO_LEN), where);
		return FBD_EINVAL;
	}
	if (value == NULL) {
		fbd_errorf(err, err_len, "config: %s: no value%s", k->name, where);
		return FBD_EINVAL;
	}
	rc = config_set_value(cfg, k, value, why, sizeof(why));
	if (rc < 0) {
		fbd_errorf(err, err_len, "config: %s: %s%s", k->name, why, where);
		return rc;
	}
	config_derive(cfg);
	return 0;
}

int config_set(struct fbd_config *cfg, const char *key, const char *value, char *err,
               size_t err_len)
{
	if (cfg == NULL || key == NULL) {
		fbd_errorf(err, err_len, "config: no key given");
		return FBD_EINVAL;
	}
	return config_set_from(cfg, key, value, "", err, err_len);
}

static int config_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > CONFIG_MAX_THREADS ? CONFIG_MAX_THREADS : (int)n;
}

void config_init(struct fbd_config *cfg)
{
	char why[CONFIG_WHY_LEN];

	memset(cfg, 0, sizeof(*cfg));
	/* Defaults are valid by construction (the unit test checks each), so the
	 * only possible failure is strdup; config_validate reports a NULL
	 * string, since this function cannot. */
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		if (config_keys[i].def != NULL)
			(void)config_set_value(cfg, &config_keys[i], config_keys[i].def, why,
			                       sizeof(why));
	}
	cfg->threads = config_default_threads();
	config_derive(cfg);
}

void config_release(struct fbd_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->host);
	free(cfg->db);
	config_origins_free(cfg->cors_origins, cfg->n_cors_origins);
	/* The struct holds key digests; do not leave them in freed memory. */
	explicit_bzero(cfg, sizeof(*cfg));
}

/* ---- the file ---- */

/* Cut a value at its comment and remove its quotes. A '#' at the start of the
 * value or after whitespace starts a comment; quote values that need one. */
static int config_value_unquote(char *v, char **out, char *why, size_t why_len)
{
	char *rest;

	if (*v == '"') {
		rest = strchr(v + 1, '"');
		if (rest == NULL) {
			fbd_errorf(why, why_len, "unterminated quoted value");
			return FBD_EINVAL;
		}
		*rest++ = '\0';
		while (isspace((unsigned char)*rest))
			rest++;
		if (*rest != '\0' && *rest != '#') {
			fbd_errorf(why, why_len, "unexpected text after the closing quote");
			return FBD_EINVAL;
		}
		*out = v + 1;
		return 0;
	}
	for (char *c = v; *c != '\0'; c++) {
		if (*c == '#' && (c == v || isspace((unsigned char)c[-1]))) {
			*c = '\0';
			break;
		}
	}
	*out = config_trim(v);
	return 0;
}

struct config_file_state {
	const char *source;
	unsigned lineno;
	unsigned first_line[CONFIG_N_KEYS]; /* where each key was set, to refuse repeats */
};

static int config_parse_line(struct fbd_config *cfg, struct config_file_state *st, char *line,
                             char *err, size_t err_len)
{
	char where[CONFIG_WHERE_LEN], why[CONFIG_WHY_LEN], echo[CONFIG_ECHO_LEN + 4];
	const struct config_key *k;
	char *s = config_trim(line), *eq, *key, *value;
	size_t idx;
	int rc;

	if (*s == '\0' || *s == '#')
		return 0;
	(void)snprintf(where, sizeof(where), " (%s:%u)", st->source, st->lineno);
	eq = strchr(s, '=');
	if (eq == NULL || eq == s) {
		fbd_errorf(err, err_len, "config: expected \"key = value\"%s", where);
		return FBD_EINVAL;
	}
	*eq = '\0';
	key = config_trim(s);
	k = config_key_find(key);
	if (k == NULL) {
		fbd_errorf(err, err_len, "config: unknown key \"%s\"%s",
		           config_echo(echo, sizeof(echo), key, CONFIG_ECHO_LEN), where);
		return FBD_EINVAL;
	}
	idx = (size_t)(k - config_keys);
	if (st->first_line[idx] != 0) {
		fbd_errorf(err, err_len, "config: %s: set twice%s, first on line %u", k->name,
		           where, st->first_line[idx]);
		return FBD_EINVAL;
	}
	st->first_line[idx] = st->lineno;
	rc = config_value_unquote(config_trim(eq + 1), &value, why, sizeof(why));
	if (rc < 0) {
		fbd_errorf(err, err_len, "config: %s: %s%s", k->name, why, where);
		return rc;
	}
	return config_set_from(cfg, k->name, value, where, err, err_len);
}

int config_parse_text(struct fbd_config *cfg, const char *text, const char *source, char *err,
                      size_t err_len)
{
	struct config_file_state st = {.source = source != NULL ? source : "config"};
	char line[CONFIG_MAX_LINE + 1];
	const char *p = text;
	int rc = 0;

	if (cfg == NULL || text == NULL) {
		fbd_errorf(err, err_len, "config: no text given");
		return FBD_EINVAL;
	}
	/* Some editors start UTF-8 files with a byte order mark. */
	if (strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (*p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t n = eol != NULL ? (size_t)(eol - p) : strlen(p);

		st.lineno++;
		if (n > CONFIG_MAX_LINE) {
			fbd_errorf(err, err_len, "config: line longer than %d bytes (%s:%u)",
			           CONFIG_MAX_LINE, st.source, st.lineno);
			rc = FBD_EINVAL;
			break;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		rc = config_parse_line(cfg, &st, line, err, err_len);
		if (rc < 0)
			break;
		p += n + (eol != NULL);
	}
	/* The line may have held API keys in plain text. */
	explicit_bzero(line, sizeof(line));
	return rc;
}

/* Read a whole file of at most CONFIG_MAX_FILE bytes into *out (NUL-terminated).
 * A missing file that was not asked for explicitly is not an error: *out
 * stays NULL. */
static int config_read_file(const char *path, bool must_exist, char **out, size_t *out_len,
                            char *err, size_t err_len)
{
	char echo[CONFIG_WHERE_LEN];
	char *buf = NULL;
	size_t n;
	FILE *f;
	int rc = FBD_EINVAL;

	*out = NULL;
	f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		fbd_errorf(err, err_len, "config: cannot open config file \"%s\": %s",
		           config_echo(echo, sizeof(echo), path, 256), strerror(errno));
		return FBD_EINVAL;
	}
	buf = malloc(CONFIG_MAX_FILE + 2);
	if (buf == NULL) {
		fbd_errorf(err, err_len, "config: out of memory");
		rc = FBD_ENOMEM;
		goto out;
	}
	n = fread(buf, 1, CONFIG_MAX_FILE + 1, f);
	if (ferror(f)) {
		fbd_errorf(err, err_len, "config: cannot read config file \"%s\": %s",
		           config_echo(echo, sizeof(echo), path, 256), strerror(errno));
		goto out;
	}
	if (n > CONFIG_MAX_FILE || memchr(buf, '\0', n) != NULL) {
		fbd_errorf(err, err_len, "config: config file \"%s\" is %s",
		           config_echo(echo, sizeof(echo), path, 256),
		           n > CONFIG_MAX_FILE ? "larger than 1 MiB" : "not text (NUL byte)");
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	(void)fclose(f);
	return rc;
}

/* ---- environment ---- */

static const char *config_env_find(char **envp, const char *name)
{
	size_t n = strlen(name);

	for (char **e = envp; e != NULL && *e != NULL; e++) {
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	}
	return NULL;
}

/* FEEDBACKD_<KEY>; unknown FEEDBACKD_* variables are ignored, since other
 * tools (the test scripts, the image's entry point) may set their own. */
static int config_apply_env(struct fbd_config *cfg, char **envp, char *err, size_t err_len)
{
	char name[128], where[160];

	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		size_t plen = strlen(CONFIG_ENV_PREFIX), j;
		const char *value;
		int rc;

		memcpy(name, CONFIG_ENV_PREFIX, plen);
		for (j = 0; config_keys[i].name[j] != '\0' && plen + j + 1 < sizeof(name); j++)
			name[plen + j] = (char)toupper((unsigned char)config_keys[i].name[j]);
		name[plen + j] = '\0';
		value = config_env_find(envp, name);
		if (value == NULL)
			continue;
		(void)snprintf(where, sizeof(where), " (environment %s)", name);
		rc = config_set_from(cfg, config_keys[i].name, value, where, err, err_len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- flags ---- */

struct config_flags_state {
	const char *config_path;
	enum fbd_config_action action;
};

static const struct config_flag *config_flag_find(const char *arg, size_t n)
{
	for (size_t i = 0; i < CONFIG_N_FLAGS; i++) {
		if (strlen(config_flags[i].name) == n && strncmp(config_flags[i].name, arg, n) == 0)
			return &config_flags[i];
	}
	return NULL;
}

/* One flag at argv[*i] (advancing *i past a separate value). With cfg NULL
 * the flag is only checked and recorded in st; with cfg it is applied. */
static int config_flag_one(struct fbd_config *cfg, struct config_flags_state *st, int argc,
                           char **argv, int *i, char *err, size_t err_len)
{
	char echo[CONFIG_ECHO_LEN + 4], where[64];
	const char *arg = argv[*i], *eq = strchr(arg, '='), *value = NULL;
	const struct config_flag *f = config_flag_find(arg, eq ? (size_t)(eq - arg) : strlen(arg));

	if (f == NULL || arg[0] != '-') {
		fbd_errorf(err, err_len, "config: unknown %s \"%s\" (see --help)",
		           arg[0] == '-' ? "flag" : "argument",
		           config_echo(echo, sizeof(echo), arg, CONFIG_ECHO_LEN));
		return FBD_EINVAL;
	}
	if (!f->takes_value) {
		if (eq != NULL) {
			fbd_errorf(err, err_len, "config: %s takes no value", f->name);
			return FBD_EINVAL;
		}
		/* --help wins over any other action, wherever it stands. */
		if (st->action != FBD_ACTION_HELP)
			st->action = f->action;
		return 0;
	}
	if (eq != NULL)
		value = eq + 1;
	else if (*i + 1 < argc)
		value = argv[++*i];
	if (value == NULL || (f->key == NULL && value[0] == '\0')) {
		fbd_errorf(err, err_len, "config: %s needs a value", f->name);
		return FBD_EINVAL;
	}
	if (f->key == NULL) {
		st->config_path = value;
		return 0;
	}
	if (cfg == NULL)
		return 0;
	(void)snprintf(where, sizeof(where), " (flag %s)", f->name);
	return config_set_from(cfg, f->key, value, where, err, err_len);
}

static int config_flags_walk(struct fbd_config *cfg, struct config_flags_state *st, int argc,
                             char **argv, char *err, size_t err_len)
{
	for (int i = 1; i < argc && argv[i] != NULL; i++) {
		int rc = config_flag_one(cfg, st, argc, argv, &i, err, err_len);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- loading ---- */

static int config_load_file(struct fbd_config *cfg, const char *flag_path, char **envp, char *err,
                            size_t err_len)
{
	const char *path = flag_path;
	bool must_exist = true;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (path == NULL) {
		path = config_env_find(envp, CONFIG_ENV_FILE);
		if (path != NULL && path[0] == '\0')
			path = NULL; /* FEEDBACKD_CONFIG= means "not set" */
	}
	if (path == NULL) {
		path = CONFIG_DEFAULT_PATH;
		must_exist = false;
	}
	rc = config_read_file(path, must_exist, &text, &len, err, err_len);
	if (rc < 0 || text == NULL)
		return rc;
	rc = config_parse_text(cfg, text, path, err, err_len);
	/* The file may hold API keys in plain text. */
	explicit_bzero(text, len);
	free(text);
	return rc;
}

int config_load(struct fbd_config *cfg, enum fbd_config_action *action, int argc, char **argv,
                char **envp, char *err, size_t err_len)
{
	struct config_flags_state st = {NULL, FBD_ACTION_RUN};
	int rc;

	config_init(cfg);
	*action = FBD_ACTION_RUN;
	if (cfg->host == NULL || cfg->db == NULL) {
		fbd_errorf(err, err_len, "config: out of memory");
		rc = FBD_ENOMEM;
		goto fail;
	}
	/* Flags are read twice: first for --config and the action, then, after
	 * the file and the environment, to apply their values on top. */
	rc = config_flags_walk(NULL, &st, argc, argv, err, err_len);
	if (rc < 0)
		goto fail;
	*action = st.action;
	if (st.action == FBD_ACTION_HELP || st.action == FBD_ACTION_VERSION)
		return 0; /* must work even with a broken configuration */
	rc = config_load_file(cfg, st.config_path, envp, err, err_len);
	if (rc == 0)
		rc = config_apply_env(cfg, envp, err, err_len);
	if (rc == 0)
		rc = config_flags_walk(cfg, &st, argc, argv, err, err_len);
	/* A health probe only needs host and port; the server checks the rest. */
	if (rc == 0 && st.action == FBD_ACTION_RUN)
		rc = config_validate(cfg, err, err_len);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	config_release(cfg);
	return rc;
}

int config_validate(const struct fbd_config *cfg, char *err, size_t err_len)
{
	if (cfg->host == NULL || cfg->db == NULL) {
		fbd_errorf(err, err_len, "config: %s: out of memory", cfg->host ? "db" : "host");
		return FBD_ENOMEM;
	}
	if (cfg->auth && cfg->keys.n == 0) {
		fbd_errorf(err, err_len,
		           "config: auth is on but no API keys are configured: set api_keys "
		           "(FEEDBACKD_API_KEYS=ingest:<key>,read:<key>,admin:<key>) or "
		           "auth = off for development");
		return FBD_EINVAL;
	}
	if (cfg->weight_nps + cfg->weight_expectation + cfg->weight_csat <= 0) {
		fbd_errorf(err, err_len,
		           "config: weight_nps: weight_nps, weight_expectation and weight_csat "
		           "are all 0; at least one must be positive");
		return FBD_EINVAL;
	}
	return 0;
}

const char *config_usage(void)
{
	return "Usage: feedbackd [options]\n"
	       "\n"
	       "Options (also as --name=value):\n"
	       "  --config PATH    configuration file (default: $FEEDBACKD_CONFIG, else\n"
	       "                   config/feedbackd.conf if it exists)\n"
	       "  --host ADDR      address to bind (key host)\n"
	       "  --port N         TCP port, 0 for any free port (key port)\n"
	       "  --db PATH        SQLite database file (key db)\n"
	       "  --log-level L    debug, info, warn or error (key log_level)\n"
	       "  --threads N      HTTP worker threads (key threads)\n"
	       "  --auth on|off    require API keys on /v1 (key auth)\n"
	       "  --healthcheck    probe GET /healthz on host:port; exit 0 if healthy, else 1\n"
	       "  --version        print the version and exit\n"
	       "  -h, --help       print this help and exit\n"
	       "\n"
	       "Every key can be set in the configuration file (key = value) or by the\n"
	       "environment variable FEEDBACKD_<KEY>, e.g. FEEDBACKD_API_KEYS=ingest:<key>.\n"
	       "Flags override the environment, which overrides the file. The sample\n"
	       "config/feedbackd.conf documents every key with its default.\n";
}
