/* Unit tests for src/config/config.c: defaults, every value type and its
 * errors, the file format, precedence of file < environment < flags, and the
 * shipped sample configuration. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "feedbackd/auth.h"
#include "feedbackd/config.h"
#include "feedbackd/error.h"

#include "check.h"

#define ERR_LEN 512

static char tmpdir[] = "/tmp/feedbackd-test-config-XXXXXX";

static int expected_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

static void check_defaults(const struct fbd_config *c)
{
	CHECK_STR(c->host, "0.0.0.0");
	CHECK_INT(c->port, 8080);
	CHECK_STR(c->db, "./data/feedback.db");
	CHECK(c->auth);
	CHECK_INT(c->keys.n, 0);
	CHECK_INT(c->n_cors_origins, 0);
	CHECK(!c->cors_any);
	CHECK_INT(c->threads, expected_threads());
	CHECK_INT(c->max_body, 65536);
	CHECK_INT(c->max_batch_body, 1048576);
	CHECK_INT(c->window_days, 365);
	CHECK_INT(c->max_items, 50);
	CHECK_INT(c->max_age_days, 730);
	CHECK_INT(c->log_level, FBD_LOG_INFO);
	CHECK_INT(c->idle_timeout_s, 30);
	CHECK_INT(c->request_timeout_s, 30);
	CHECK_INT(c->max_connections, 4096);
	CHECK_INT(c->max_per_ip, 1024);
	CHECK_INT(c->rate_limit, 20000);
	CHECK_INT(c->rate_burst, 40000);
	CHECK_INT(c->queue_capacity, 8192);
	CHECK_INT(c->sync, FBD_SYNC_FULL);
	CHECK_INT(c->cache_mb, 10);
	CHECK_INT(c->max_db_pages, 0);
	CHECK_DBL(c->level_met_share, 0.8, 0);
	CHECK_DBL(c->level_exceeded_share, 0.5, 0);
	CHECK_DBL(c->level_delighted_share, 0.5, 0);
	CHECK_INT(c->loyal_min_surveys, 3);
	CHECK_DBL(c->weight_nps, 0.5, 0);
	CHECK_DBL(c->weight_expectation, 0.3, 0);
	CHECK_DBL(c->weight_csat, 0.2, 0);
	CHECK_INT(c->declining_delta, -15);
}

static void test_defaults(void)
{
	struct fbd_config c;

	config_init(&c);
	check_defaults(&c);
	config_release(&c);
	CHECK(c.host == NULL);
	CHECK_INT(c.port, 0);
	config_release(&c); /* released twice is harmless */
	config_release(NULL);
}

/* Set key to value on a default config and check the exact error message. */
static void check_set_err(const char *key, const char *value, const char *want)
{
	struct fbd_config c;
	char err[ERR_LEN] = "";

	config_init(&c);
	CHECK_INT(config_set(&c, key, value, err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, want);
	check_defaults(&c); /* a rejected value changes nothing */
	config_release(&c);
}

static void test_integers(void)
{
	struct fbd_config c;
	char err[ERR_LEN] = "";
	const char *bad[] = {"abc",    "",    " 80", "80 ",   "0x50",
	                     "8080.0", "1e3", "-1",  "65536", "99999999999999999999",
	                     "-",      "+"};
	char want[ERR_LEN];

	config_init(&c);
	CHECK_INT(config_set(&c, "port", "0", err, sizeof(err)), 0);
	CHECK_INT(c.port, 0);
	CHECK_INT(config_set(&c, "port", "65535", err, sizeof(err)), 0);
	CHECK_INT(c.port, 65535);
	CHECK_INT(config_set(&c, "port", "+443", err, sizeof(err)), 0);
	CHECK_INT(c.port, 443);
	CHECK_INT(config_set(&c, "declining_delta", "-100", err, sizeof(err)), 0);
	CHECK_INT(c.declining_delta, -100);
	CHECK_INT(config_set(&c, "threads", "256", err, sizeof(err)), 0);
	CHECK_INT(c.threads, 256);
	CHECK_INT(config_set(&c, "idle_timeout", "5", err, sizeof(err)), 0);
	CHECK_INT(c.idle_timeout_s, 5);
	CHECK_INT(config_set(&c, "request_timeout", "3600", err, sizeof(err)), 0);
	CHECK_INT(c.request_timeout_s, 3600);
	config_release(&c);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(want, sizeof(want),
		               "config: port: must be an integer between 0 and 65535 (got \"%s\")",
		               bad[i]);
		check_set_err("port", bad[i], want);
	}
	check_set_err("threads", "0",
	              "config: threads: must be an integer between 1 and 256 "
	              "(got \"0\")");
	check_set_err("threads", "257",
	              "config: threads: must be an integer between 1 and 256 "
	              "(got \"257\")");
	check_set_err("declining_delta", "1",
	              "config: declining_delta: must be an integer "
	              "between -100 and 0 (got \"1\")");
	check_set_err("max_connections", "15",
	              "config: max_connections: must be an integer "
	              "between 16 and 100000 (got \"15\")");
	check_set_err("idle_timeout", "0",
	              "config: idle_timeout: must be an integer between 1 "
	              "and 3600 (got \"0\")");
	/* Long and unprintable values are shortened and made printable. */
	check_set_err("port", "12\n34",
	              "config: port: must be an integer between 0 and 65535 "
	              "(got \"12?34\")");
	check_set_err("port",
	              "1111111111111111111111111111111111111111111111111111111111111111"
	              "1111",
	              "config: port: must be an integer between 0 and 65535 (got "
	              "\"1111111111111111111111111111111111111111111111111111111111111111...\")");
}

static void test_max_body(void)
{
	struct fbd_config c;
	char err[ERR_LEN] = "";

	config_init(&c);
	CHECK_INT(config_set(&c, "max_body", "1024", err, sizeof(err)), 0);
	CHECK_INT(c.max_body, 1024);
	CHECK_INT(c.max_batch_body, 16384);
	CHECK_INT(config_set(&c, "max_body", "4096", err, sizeof(err)), 0);
	CHECK_INT(c.max_batch_body, 65536);
	CHECK_INT(config_set(&c, "max_body", "65537", err, sizeof(err)), 0);
	CHECK_INT(c.max_batch_body, 1048576);
	CHECK_INT(config_set(&c, "max_body", "1048576", err, sizeof(err)), 0);
	CHECK_INT(c.max_body, 1048576);
	CHECK_INT(c.max_batch_body, 1048576);
	CHECK_INT(config_set(&c, "max_batch_body", "1024", err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: unknown key \"max_batch_body\"");
	config_release(&c);
	check_set_err("max_body", "1023",
	              "config: max_body: must be an integer between 1024 and "
	              "1048576 (got \"1023\")");
	check_set_err("max_body", "1048577",
	              "config: max_body: must be an integer between 1024 "
	              "and 1048576 (got \"1048577\")");
}

static void test_doubles(void)
{
	struct fbd_config c;
	char err[ERR_LEN] = "";
	const char *bad[] = {"1.5",  "-0.1", "nan",  "inf", "-inf",
	                     "0.5x", "",     " 0.5", "x",   "1e-400"};
	char want[ERR_LEN];

	config_init(&c);
	CHECK_INT(config_set(&c, "weight_nps", "0", err, sizeof(err)), 0);
	CHECK_DBL(c.weight_nps, 0, 0);
	CHECK_INT(config_set(&c, "weight_nps", "1", err, sizeof(err)), 0);
	CHECK_DBL(c.weight_nps, 1, 0);
	CHECK_INT(config_set(&c, "level_met_share", "0.75", err, sizeof(err)), 0);
	CHECK_DBL(c.level_met_share, 0.75, 0);
	CHECK_INT(config_set(&c, "level_exceeded_share", ".25", err, sizeof(err)), 0);
	CHECK_DBL(c.level_exceeded_share, 0.25, 0);
	CHECK_INT(config_set(&c, "level_delighted_share", "1e-1", err, sizeof(err)), 0);
	CHECK_DBL(c.level_delighted_share, 0.1, 0);
	config_release(&c);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(want, sizeof(want),
		               "config: weight_csat: must be a number between 0 and 1 (got \"%s\")",
		               bad[i]);
		check_set_err("weight_csat", bad[i], want);
	}
}

static void test_enums(void)
{
	struct fbd_config c;
	char err[ERR_LEN] = "";
	const char *on[] = {"on", "ON", "true", "True", "yes", "1"};
	const char *off[] = {"off", "OFF", "false", "no", "0"};

	config_init(&c);
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		c.auth = true;
		CHECK_INT(config_set(&c, "auth", off[i], err, sizeof(err)), 0);
		CHECK(!c.auth);
	}
	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		c.auth = false;
		CHECK_INT(config_set(&c, "auth", on[i], err, sizeof(err)), 0);
		CHECK(c.auth);
	}
	CHECK_INT(config_set(&c, "log_level", "debug", err, sizeof(err)), 0);
	CHECK_INT(c.log_level, FBD_LOG_DEBUG);
	CHECK_INT(config_set(&c, "log_level", "warn", err, sizeof(err)), 0);
	CHECK_INT(c.log_level, FBD_LOG_WARN);
	CHECK_INT(config_set(&c, "log_level", "ERROR", err, sizeof(err)), 0);
	CHECK_INT(c.log_level, FBD_LOG_ERROR);
	CHECK_INT(config_set(&c, "log_level", "info", err, sizeof(err)), 0);
	CHECK_INT(c.log_level, FBD_LOG_INFO);
	CHECK_INT(config_set(&c, "sync", "normal", err, sizeof(err)), 0);
	CHECK_INT(c.sync, FBD_SYNC_NORMAL);
	CHECK_INT(config_set(&c, "sync", "full", err, sizeof(err)), 0);
	CHECK_INT(c.sync, FBD_SYNC_FULL);
	config_release(&c);

	check_set_err("auth", "maybe", "config: auth: must be on or off (got \"maybe\")");
	check_set_err("auth", "", "config: auth: must be on or off (got \"\")");
	check_set_err("auth", "2", "config: auth: must be on or off (got \"2\")");
	check_set_err("log_level", "verbose",
	              "config: log_level: must be debug, info, warn or error (got \"verbose\")");
	check_set_err("log_level", "warning",
	              "config: log_level: must be debug, info, warn or error (got \"warning\")");
	check_set_err("sync", "off", "config: sync: must be normal or full (got \"off\")");
}

static void test_strings(void)
{
	struct fbd_config c;
	char err[ERR_LEN] = "";
	char *long_value = malloc(4098);

	config_init(&c);
	CHECK_INT(config_set(&c, "host", "127.0.0.1", err, sizeof(err)), 0);
	CHECK_STR(c.host, "127.0.0.1");
	CHECK_INT(config_set(&c, "db", "/var/lib/feedbackd/feedback.db", err, sizeof(err)), 0);
	CHECK_STR(c.db, "/var/lib/feedbackd/feedback.db");
	CHECK_INT(config_set(&c, "db", "a b.db", err, sizeof(err)), 0);
	CHECK_STR(c.db, "a b.db");
	config_release(&c);

	check_set_err("host", "", "config: host: must not be empty");
	check_set_err("db", "", "config: db: must not be empty");
	check_set_err("db", "a\tb", "config: db: must not contain control characters");
	CHECK(long_value != NULL);
	if (long_value != NULL) {
		memset(long_value, 'a', 4097);
		long_value[4097] = '\0';
		check_set_err("db", long_value, "config: db: must be at most 4096 bytes");
		long_value[4096] = '\0';
		config_init(&c);
		CHECK_INT(config_set(&c, "db", long_value, err, sizeof(err)), 0);
		CHECK_INT(strlen(c.db), 4096);
		config_release(&c);
	}
	free(long_value);

	check_set_err("nope", "1", "config: unknown key \"nope\"");
	check_set_err("Port", "1", "config: unknown key \"Port\"");
	config_init(&c);
	CHECK_INT(config_set(&c, "port", NULL, err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: port: no value");
	CHECK_INT(config_set(&c, NULL, "1", err, sizeof(err)), FBD_EINVAL);
	/* err may be NULL when the caller does not want a message. */
	CHECK_INT(config_set(&c, "port", "x", NULL, 0), FBD_EINVAL);
	CHECK_INT(config_set(&c, "port", "x", err, 0), FBD_EINVAL);
	config_release(&c);
}

static void test_api_keys(void)
{
	struct fbd_config c;
	char err[ERR_LEN] = "";

	config_init(&c);
	CHECK_INT(config_set(&c, "api_keys", "ingest:pk_1,read:rk_2,admin:ak_3", err, sizeof(err)),
	          0);
	CHECK_INT(c.keys.n, 3);
	CHECK_INT(auth_lookup(&c.keys, "pk_1", 4, NULL), AUTH_SCOPE_INGEST);
	CHECK_INT(auth_lookup(&c.keys, "rk_2", 4, NULL), AUTH_SCOPE_READ);
	CHECK_INT(auth_lookup(&c.keys, "ak_3", 4, NULL),
	          AUTH_SCOPE_ADMIN | AUTH_SCOPE_INGEST | AUTH_SCOPE_READ);
	/* A new list replaces the old one. */
	CHECK_INT(config_set(&c, "api_keys", "read:other", err, sizeof(err)), 0);
	CHECK_INT(c.keys.n, 1);
	CHECK_INT(auth_lookup(&c.keys, "pk_1", 4, NULL), AUTH_SCOPE_NONE);
	CHECK_INT(auth_lookup(&c.keys, "other", 5, NULL), AUTH_SCOPE_READ);

	/* A bad list keeps the old one, and the message never shows the key. */
	CHECK_INT(config_set(&c, "api_keys", "read:ok,pk_secret", err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: api_keys: entry 2: expected scope:key");
	CHECK_INT(config_set(&c, "api_keys", "writer:pk_secret", err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: api_keys: entry 1: unknown scope (expected ingest, read or admin)");
	CHECK_INT(config_set(&c, "api_keys", "read:pk secret", err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: api_keys: entry 1: the key must be printable ASCII without spaces");
	CHECK(strstr(err, "secret") == NULL);
	CHECK_INT(config_set(&c, "api_keys", "read:", err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: api_keys: entry 1: the key is empty");
	CHECK_INT(config_set(&c, "api_keys", "read:a,,read:b", err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: api_keys: entry 2 is empty");
	CHECK_INT(config_set(&c, "api_keys", "admin:sha256:1234", err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: api_keys: entry 1: a sha256: key must be 64 hex digits");
	CHECK_INT(c.keys.n, 1);
	CHECK_INT(auth_lookup(&c.keys, "other", 5, NULL), AUTH_SCOPE_READ);

	/* An empty list configures no keys. */
	CHECK_INT(config_set(&c, "api_keys", "", err, sizeof(err)), 0);
	CHECK_INT(c.keys.n, 0);
	config_release(&c);
}

static void test_cors(void)
{
	struct fbd_config c;
	char err[ERR_LEN] = "";
	char list[64 * 40];
	size_t n = 0;

	config_init(&c);
	CHECK_INT(config_set(&c, "cors_origins", "*", err, sizeof(err)), 0);
	CHECK(c.cors_any);
	CHECK_INT(c.n_cors_origins, 0);
	CHECK_INT(config_set(&c, "cors_origins",
	                     " https://app.example.com , HTTPS://Admin.Example.com:8443,"
	                     "capacitor://localhost",
	                     err, sizeof(err)),
	          0);
	CHECK(!c.cors_any);
	CHECK_INT(c.n_cors_origins, 3);
	CHECK_STR(c.cors_origins[0], "https://app.example.com");
	CHECK_STR(c.cors_origins[1], "https://admin.example.com:8443");
	CHECK_STR(c.cors_origins[2], "capacitor://localhost");
	/* Replaced whole (and the old strings freed: ASan would tell). */
	CHECK_INT(config_set(&c, "cors_origins", "http://localhost:3000", err, sizeof(err)), 0);
	CHECK_INT(c.n_cors_origins, 1);
	CHECK_STR(c.cors_origins[0], "http://localhost:3000");
	CHECK(c.cors_origins[1] == NULL);

	/* Errors keep the previous list. */
	CHECK_INT(config_set(&c, "cors_origins", "https://a.com/", err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: cors_origins: origin \"https://a.com/\" must look like "
	               "https://example.com (scheme and host, no path or trailing slash)");
	CHECK_INT(config_set(&c, "cors_origins", "a.com", err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: cors_origins: origin \"a.com\" must look like https://example.com "
	               "(scheme and host, no path or trailing slash)");
	CHECK_INT(config_set(&c, "cors_origins", "https://", err, sizeof(err)), FBD_EINVAL);
	CHECK_INT(config_set(&c, "cors_origins", "https://a.com,,https://b.com", err, sizeof(err)),
	          FBD_EINVAL);
	CHECK_STR(err, "config: cors_origins: empty entry in the list of origins");
	CHECK_INT(config_set(&c, "cors_origins", "https://a.com,", err, sizeof(err)), FBD_EINVAL);
	CHECK_INT(config_set(&c, "cors_origins", "*,https://a.com", err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: cors_origins: origins must not contain spaces, control characters, "
	               "non-ASCII bytes or '*' ('*' must stand alone)");
	CHECK_INT(config_set(&c, "cors_origins", "https://a b.com", err, sizeof(err)), FBD_EINVAL);
	memset(list, 'h', 300);
	memcpy(list, "https://", 8);
	list[257] = '\0';
	CHECK_INT(config_set(&c, "cors_origins", list, err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: cors_origins: an origin is longer than 256 bytes");
	list[256] = '\0';
	CHECK_INT(config_set(&c, "cors_origins", list, err, sizeof(err)), 0);
	CHECK_INT(config_set(&c, "cors_origins", "http://localhost:3000", err, sizeof(err)), 0);
	CHECK_INT(c.n_cors_origins, 1);
	CHECK_STR(c.cors_origins[0], "http://localhost:3000");

	for (int i = 0; i <= FBD_CONFIG_MAX_ORIGINS; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%shttps://h%d.example",
		                      i ? "," : "", i);
	CHECK_INT(config_set(&c, "cors_origins", list, err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: cors_origins: at most 32 origins");
	*strrchr(list, ',') = '\0';
	CHECK_INT(config_set(&c, "cors_origins", list, err, sizeof(err)), 0);
	CHECK_INT(c.n_cors_origins, FBD_CONFIG_MAX_ORIGINS);
	CHECK_STR(c.cors_origins[31], "https://h31.example");

	CHECK_INT(config_set(&c, "cors_origins", "", err, sizeof(err)), 0);
	CHECK_INT(c.n_cors_origins, 0);
	CHECK(!c.cors_any);
	config_release(&c);
}

/* Parse text on a default config and check the exact error message. */
static void check_text_err(const char *text, const char *want)
{
	struct fbd_config c;
	char err[ERR_LEN] = "";

	config_init(&c);
	CHECK_INT(config_parse_text(&c, text, "test.conf", err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, want);
	config_release(&c);
}

static void test_file_format(void)
{
	struct fbd_config c;
	char err[ERR_LEN] = "";
	const char *text = "# feedbackd test\n"
	                   "\n"
	                   "   \t\n"
	                   "  host = 127.0.0.1   # trailing comment\n"
	                   "port=9090\n"
	                   "db = \"/tmp/x #1.db\"  # quoted, with '#' inside\n"
	                   "log_level = debug\r\n"
	                   "auth\t=\toff\n"
	                   "cors_origins = # empty: a comment right after '='\n"
	                   "api_keys = ingest:pk#1\n"
	                   "  # indented comment\n"
	                   "max_items = 10";

	config_init(&c);
	CHECK_INT(config_parse_text(&c, text, "test.conf", err, sizeof(err)), 0);
	CHECK_STR(c.host, "127.0.0.1");
	CHECK_INT(c.port, 9090);
	CHECK_STR(c.db, "/tmp/x #1.db");
	CHECK_INT(c.log_level, FBD_LOG_DEBUG);
	CHECK(!c.auth);
	CHECK_INT(c.n_cors_origins, 0);
	CHECK_INT(c.keys.n, 1);
	CHECK_INT(auth_lookup(&c.keys, "pk#1", 4, NULL), AUTH_SCOPE_INGEST);
	CHECK_INT(c.max_items, 10);
	CHECK_INT(c.window_days, 365);
	config_release(&c);

	config_init(&c);
	CHECK_INT(config_parse_text(&c, "", "empty.conf", err, sizeof(err)), 0);
	CHECK_INT(config_parse_text(&c, "\n\n# only comments\n", "c.conf", err, sizeof(err)), 0);
	check_defaults(&c);
	CHECK_INT(config_parse_text(&c, "host = \"\"", NULL, err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: host: must not be empty (config:1)");
	config_release(&c);

	config_init(&c);
	CHECK_INT(config_parse_text(&c, "\xef\xbb\xbfport = 81\n", "bom.conf", err, sizeof(err)),
	          0);
	CHECK_INT(c.port, 81);
	config_release(&c);

	check_text_err("port = 80\nprot = 81\n", "config: unknown key \"prot\" (test.conf:2)");
	check_text_err("port = 80\n\nport = 81\n",
	               "config: port: set twice (test.conf:3), first on line 1");
	check_text_err("port 80\n", "config: expected \"key = value\" (test.conf:1)");
	check_text_err("= 80\n", "config: expected \"key = value\" (test.conf:1)");
	check_text_err("\n\nport = 70000 # too big\n",
	               "config: port: must be an integer between 0 and 65535 (got \"70000\") "
	               "(test.conf:3)");
	check_text_err("db = \"/tmp/x.db\n", "config: db: unterminated quoted value (test.conf:1)");
	check_text_err("db = \"/tmp/x.db\" y\n",
	               "config: db: unexpected text after the closing quote (test.conf:1)");
	check_text_err("window_days = 0\n", "config: window_days: must be an integer between 1 and "
	                                    "3650 (got \"0\") (test.conf:1)");
	check_text_err("auth = maybe\n", "config: auth: must be on or off (got \"maybe\") "
	                                 "(test.conf:1)");
	check_text_err("log_level = loud\n",
	               "config: log_level: must be debug, info, warn or error (got \"loud\") "
	               "(test.conf:1)");
	check_text_err("api_keys = ingest:pk_1,secret_key\n",
	               "config: api_keys: entry 2: expected scope:key (test.conf:1)");
	/* A value that is only a comment is empty; for a number that is an error. */
	check_text_err("port = # none\n", "config: port: must be an integer between 0 and 65535 "
	                                  "(got \"\") (test.conf:1)");
}

static void test_line_limit(void)
{
	struct fbd_config c;
	char err[ERR_LEN] = "";
	char *text = malloc(4200);

	CHECK(text != NULL);
	if (text == NULL)
		return;
	/* Exactly 4096 bytes on the line is accepted. */
	memset(text, ' ', 4200);
	memcpy(text, "port = 81", 9);
	memcpy(text + 4096, "\nport", 6);
	text[4096 + 5] = '\0';
	config_init(&c);
	CHECK_INT(config_parse_text(&c, text, "long.conf", err, sizeof(err)), FBD_EINVAL);
	/* ...and the parser went on to line 2, so line 1 was read. */
	CHECK_STR(err, "config: expected \"key = value\" (long.conf:2)");
	CHECK_INT(c.port, 81);
	config_release(&c);

	text[4096] = ' ';
	text[4097] = '\0';
	check_text_err(text, "config: line longer than 4096 bytes (test.conf:1)");
	free(text);
}

static void test_validate(void)
{
	struct fbd_config c;
	char err[ERR_LEN] = "";

	config_init(&c);
	CHECK_INT(config_validate(&c, err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: auth is on but no API keys are configured: set api_keys "
	               "(FEEDBACKD_API_KEYS=ingest:<key>,read:<key>,admin:<key>) or auth = off "
	               "for development");
	CHECK(strstr(err, "FEEDBACKD_API_KEYS") != NULL);
	CHECK_INT(config_set(&c, "auth", "off", err, sizeof(err)), 0);
	CHECK_INT(config_validate(&c, err, sizeof(err)), 0);
	CHECK_INT(config_set(&c, "auth", "on", err, sizeof(err)), 0);
	CHECK_INT(config_set(&c, "api_keys", "read:rk", err, sizeof(err)), 0);
	CHECK_INT(config_validate(&c, err, sizeof(err)), 0);

	CHECK_INT(config_set(&c, "weight_nps", "0", err, sizeof(err)), 0);
	CHECK_INT(config_set(&c, "weight_expectation", "0", err, sizeof(err)), 0);
	CHECK_INT(config_validate(&c, err, sizeof(err)), 0);
	CHECK_INT(config_set(&c, "weight_csat", "0", err, sizeof(err)), 0);
	CHECK_INT(config_validate(&c, err, sizeof(err)), FBD_EINVAL);
	CHECK_STR(err, "config: weight_nps: weight_nps, weight_expectation and weight_csat are all "
	               "0; at least one must be positive");
	config_release(&c);
}

/* ---- config_load: files, environment, flags ---- */

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	CHECK(f != NULL);
	if (f == NULL)
		return;
	CHECK_INT(fwrite(text, 1, len, f), len);
	CHECK_INT(fclose(f), 0);
}

static void write_text(const char *path, const char *text)
{
	write_file(path, text, strlen(text));
}

static char *tmp_path(char *buf, size_t len, const char *name)
{
	(void)snprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}

static int load(struct fbd_config *c, enum fbd_config_action *action, char **argv, char **envp,
                char *err)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	err[0] = '\0';
	return config_load(c, action, argc, argv, envp, err, ERR_LEN);
}

static void test_load_precedence(void)
{
	struct fbd_config c;
	enum fbd_config_action action = FBD_ACTION_HELP;
	char err[ERR_LEN], path[256], path_flag[300];
	char *env[] = {"FEEDBACKD_PORT=9000",
	               "FEEDBACKD_LOG_LEVEL=warn",
	               "FEEDBACKD_NOT_A_KEY=1",
	               "FEEDBACKD_api_keys=ignored",
	               "PATH=/bin",
	               NULL};
	char *argv_none[] = {"feedbackd", "--config", path, NULL};
	char *argv_flags[] = {"feedbackd",  "--config",    path,    "--port",      "7000",
	                      "--host=::1", "--log-level", "error", "--threads=3", "--db",
	                      "/tmp/f.db",  "--auth",      "off",   NULL};
	char *argv_eq[] = {"feedbackd", path_flag, "--port=7001", NULL};

	tmp_path(path, sizeof(path), "prec.conf");
	(void)snprintf(path_flag, sizeof(path_flag), "--config=%s", path);
	write_text(path, "port = 8000\nhost = 10.0.0.1\napi_keys = read:rk_1\nthreads = 2\n");

	/* The file alone. */
	CHECK_INT(load(&c, &action, argv_none, (char *[]){NULL}, err), 0);
	CHECK_STR(err, "");
	CHECK_INT(action, FBD_ACTION_RUN);
	CHECK_INT(c.port, 8000);
	CHECK_STR(c.host, "10.0.0.1");
	CHECK_INT(c.threads, 2);
	CHECK_INT(c.log_level, FBD_LOG_INFO);
	CHECK_INT(auth_lookup(&c.keys, "rk_1", 4, NULL), AUTH_SCOPE_READ);
	config_release(&c);

	/* The environment overrides the file; unknown FEEDBACKD_* are ignored. */
	CHECK_INT(load(&c, &action, argv_none, env, err), 0);
	CHECK_STR(err, "");
	CHECK_INT(c.port, 9000);
	CHECK_INT(c.log_level, FBD_LOG_WARN);
	CHECK_STR(c.host, "10.0.0.1");
	CHECK_INT(c.keys.n, 1);
	config_release(&c);

	/* Flags override the environment. */
	CHECK_INT(load(&c, &action, argv_flags, env, err), 0);
	CHECK_STR(err, "");
	CHECK_INT(c.port, 7000);
	CHECK_STR(c.host, "::1");
	CHECK_INT(c.log_level, FBD_LOG_ERROR);
	CHECK_INT(c.threads, 3);
	CHECK_STR(c.db, "/tmp/f.db");
	CHECK(!c.auth);
	config_release(&c);

	CHECK_INT(load(&c, &action, argv_eq, env, err), 0);
	CHECK_INT(c.port, 7001);
	config_release(&c);
}

static void test_load_file_choice(void)
{
	struct fbd_config c;
	enum fbd_config_action action;
	char err[ERR_LEN], path[256], other[256], missing[256], env_config[300];
	char cwd[1024];
	char *env[] = {env_config, "FEEDBACKD_AUTH=off", NULL};
	char *env_auth_off[] = {"FEEDBACKD_AUTH=off", NULL};
	char *argv_plain[] = {"feedbackd", NULL};
	char *argv_config[] = {"feedbackd", "--config", other, NULL};
	char *argv_missing[] = {"feedbackd", "--config", missing, NULL};
	char want[ERR_LEN + 300];

	tmp_path(path, sizeof(path), "env.conf");
	tmp_path(other, sizeof(other), "flag.conf");
	tmp_path(missing, sizeof(missing), "missing.conf");
	write_text(path, "port = 1001\n");
	write_text(other, "port = 1002\n");
	(void)snprintf(env_config, sizeof(env_config), "FEEDBACKD_CONFIG=%s", path);

	/* FEEDBACKD_CONFIG names the file, unless --config does. */
	CHECK_INT(load(&c, &action, argv_plain, env, err), 0);
	CHECK_INT(c.port, 1001);
	config_release(&c);
	CHECK_INT(load(&c, &action, argv_config, env, err), 0);
	CHECK_INT(c.port, 1002);
	config_release(&c);

	/* A file asked for must exist. */
	CHECK_INT(load(&c, &action, argv_missing, env, err), FBD_EINVAL);
	(void)snprintf(want, sizeof(want),
	               "config: cannot open config file \"%s\": No such file or directory",
	               missing);
	CHECK_STR(err, want);
	CHECK(c.host == NULL); /* released on error */
	config_release(&c);
	(void)snprintf(env_config, sizeof(env_config), "FEEDBACKD_CONFIG=%s", missing);
	CHECK_INT(load(&c, &action, argv_plain, env, err), FBD_EINVAL);
	CHECK_STR(err, want);

	/* The default file is optional, and read when present. */
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK_INT(chdir(tmpdir), 0);
	CHECK_INT(load(&c, &action, argv_plain, env_auth_off, err), 0);
	CHECK_INT(c.port, 8080);
	config_release(&c);
	CHECK_INT(mkdir("config", 0700), 0);
	write_text("config/feedbackd.conf", "port = 1003\n");
	CHECK_INT(load(&c, &action, argv_plain, env_auth_off, err), 0);
	CHECK_INT(c.port, 1003);
	config_release(&c);
	/* FEEDBACKD_CONFIG= (empty) means not set. */
	(void)snprintf(env_config, sizeof(env_config), "FEEDBACKD_CONFIG=");
	CHECK_INT(load(&c, &action, argv_plain, env, err), 0);
	CHECK_INT(c.port, 1003);
	config_release(&c);
	/* Errors in the default file name it. */
	write_text("config/feedbackd.conf", "port = 1003\nbogus = 1\n");
	CHECK_INT(load(&c, &action, argv_plain, env_auth_off, err), FBD_EINVAL);
	CHECK_STR(err, "config: unknown key \"bogus\" (config/feedbackd.conf:2)");
	CHECK_INT(unlink("config/feedbackd.conf"), 0);
	CHECK_INT(rmdir("config"), 0);
	CHECK_INT(chdir(cwd), 0);
}

static void test_load_file_limits(void)
{
	struct fbd_config c;
	enum fbd_config_action action;
	char err[ERR_LEN], path[256], want[ERR_LEN + 300];
	char *argv[] = {"feedbackd", "--config", path, "--auth", "off", NULL};
	size_t big = 1024 * 1024;
	char *text = malloc(big + 1);

	CHECK(text != NULL);
	if (text == NULL)
		return;
	tmp_path(path, sizeof(path), "big.conf");
	/* 1 MiB of comments is accepted; one byte more is not. */
	memset(text, '\n', big + 1);
	text[0] = '#';
	write_file(path, text, big);
	CHECK_INT(load(&c, &action, argv, NULL, err), 0);
	config_release(&c);
	write_file(path, text, big + 1);
	CHECK_INT(load(&c, &action, argv, NULL, err), FBD_EINVAL);
	(void)snprintf(want, sizeof(want), "config: config file \"%s\" is larger than 1 MiB", path);
	CHECK_STR(err, want);
	write_file(path, "port = 1\0\n", 10);
	CHECK_INT(load(&c, &action, argv, NULL, err), FBD_EINVAL);
	(void)snprintf(want, sizeof(want), "config: config file \"%s\" is not text (NUL byte)",
	               path);
	CHECK_STR(err, want);
	/* A directory is not a file. */
	CHECK_INT(load(&c, &action, (char *[]){"feedbackd", "--config", tmpdir, NULL}, NULL, err),
	          FBD_EINVAL);
	CHECK(strstr(err, "config: cannot read config file") != NULL);
	CHECK_INT(unlink(path), 0);
	free(text);
}

/* config_load must fail with exactly want, leaving nothing to release. */
static void check_load_err(char **argv, char **envp, const char *want)
{
	struct fbd_config c;
	enum fbd_config_action action;
	char err[ERR_LEN];

	CHECK_INT(load(&c, &action, argv, envp, err), FBD_EINVAL);
	CHECK_STR(err, want);
	CHECK(c.host == NULL && c.db == NULL && c.keys.n == 0);
}

static void test_load_errors(void)
{
	char *auth_off[] = {"FEEDBACKD_AUTH=off", NULL};
	char *bad_port[] = {"FEEDBACKD_AUTH=off", "FEEDBACKD_PORT=abc", NULL};
	char *bad_keys[] = {"FEEDBACKD_API_KEYS=ingest:pk_1,pk_secret", NULL};

	check_load_err((char *[]){"feedbackd", NULL}, bad_port,
	               "config: port: must be an integer between 0 and 65535 (got \"abc\") "
	               "(environment FEEDBACKD_PORT)");
	check_load_err((char *[]){"feedbackd", NULL}, bad_keys,
	               "config: api_keys: entry 2: expected scope:key (environment "
	               "FEEDBACKD_API_KEYS)");
	check_load_err((char *[]){"feedbackd", "--port", "x", NULL}, auth_off,
	               "config: port: must be an integer between 0 and 65535 (got \"x\") "
	               "(flag --port)");
	check_load_err((char *[]){"feedbackd", "--threads=0", NULL}, auth_off,
	               "config: threads: must be an integer between 1 and 256 (got \"0\") "
	               "(flag --threads)");
	check_load_err((char *[]){"feedbackd", "--auth", "maybe", NULL}, auth_off,
	               "config: auth: must be on or off (got \"maybe\") (flag --auth)");
	check_load_err((char *[]){"feedbackd", "--log-level", "loud", NULL}, auth_off,
	               "config: log_level: must be debug, info, warn or error (got \"loud\") "
	               "(flag --log-level)");
	check_load_err((char *[]){"feedbackd", "--bogus", NULL}, auth_off,
	               "config: unknown flag \"--bogus\" (see --help)");
	check_load_err((char *[]){"feedbackd", "--bogus=1", NULL}, auth_off,
	               "config: unknown flag \"--bogus=1\" (see --help)");
	check_load_err((char *[]){"feedbackd", "serve", NULL}, auth_off,
	               "config: unknown argument \"serve\" (see --help)");
	check_load_err((char *[]){"feedbackd", "--port", NULL}, auth_off,
	               "config: --port needs a value");
	check_load_err((char *[]){"feedbackd", "--config", NULL}, auth_off,
	               "config: --config needs a value");
	check_load_err((char *[]){"feedbackd", "--config=", NULL}, auth_off,
	               "config: --config needs a value");
	check_load_err((char *[]){"feedbackd", "--help=yes", NULL}, auth_off,
	               "config: --help takes no value");
	/* Auth on without keys: the service must not start, and says how to fix it. */
	check_load_err((char *[]){"feedbackd", NULL}, NULL,
	               "config: auth is on but no API keys are configured: set api_keys "
	               "(FEEDBACKD_API_KEYS=ingest:<key>,read:<key>,admin:<key>) or auth = off "
	               "for development");
	check_load_err((char *[]){"feedbackd", "--auth", "on", NULL}, auth_off,
	               "config: auth is on but no API keys are configured: set api_keys "
	               "(FEEDBACKD_API_KEYS=ingest:<key>,read:<key>,admin:<key>) or auth = off "
	               "for development");
}

static void test_load_actions(void)
{
	struct fbd_config c;
	enum fbd_config_action action;
	char err[ERR_LEN];
	char *bad_env[] = {"FEEDBACKD_PORT=abc", NULL};
	char *keys_env[] = {"FEEDBACKD_API_KEYS=read:rk", NULL};

	/* --help and --version work whatever the configuration says. */
	CHECK_INT(load(&c, &action, (char *[]){"feedbackd", "--help", NULL}, bad_env, err), 0);
	CHECK_INT(action, FBD_ACTION_HELP);
	config_release(&c);
	CHECK_INT(load(&c, &action, (char *[]){"feedbackd", "-h", NULL}, bad_env, err), 0);
	CHECK_INT(action, FBD_ACTION_HELP);
	config_release(&c);
	CHECK_INT(load(&c, &action, (char *[]){"feedbackd", "--version", NULL}, bad_env, err), 0);
	CHECK_INT(action, FBD_ACTION_VERSION);
	config_release(&c);
	CHECK_INT(
	    load(&c, &action, (char *[]){"feedbackd", "--version", "--help", NULL}, NULL, err), 0);
	CHECK_INT(action, FBD_ACTION_HELP);
	config_release(&c);
	CHECK_INT(load(&c, &action,
	               (char *[]){"feedbackd", "--help", "--config", "/nonexistent", NULL}, NULL,
	               err),
	          0);
	CHECK_INT(action, FBD_ACTION_HELP);
	config_release(&c);

	/* The health probe reads host and port but needs no keys. */
	CHECK_INT(load(&c, &action, (char *[]){"feedbackd", "--healthcheck", "--port=81", NULL},
	               NULL, err),
	          0);
	CHECK_INT(action, FBD_ACTION_HEALTHCHECK);
	CHECK_INT(c.port, 81);
	config_release(&c);
	CHECK_INT(load(&c, &action, (char *[]){"feedbackd", "--healthcheck", NULL}, bad_env, err),
	          FBD_EINVAL);

	CHECK_INT(load(&c, &action, (char *[]){"feedbackd", NULL}, keys_env, err), 0);
	CHECK_INT(action, FBD_ACTION_RUN);
	CHECK(c.auth);
	CHECK_INT(c.keys.n, 1);
	config_release(&c);
	CHECK_INT(load(&c, &action, (char *[]){NULL}, keys_env, err), 0);
	config_release(&c);

	CHECK(strstr(config_usage(), "--config") != NULL);
	CHECK(strstr(config_usage(), "FEEDBACKD_") != NULL);
}

/* ---- the shipped sample configuration ---- */

static void check_same(const struct fbd_config *a, const struct fbd_config *b)
{
	CHECK_STR(a->host, b->host);
	CHECK_INT(a->port, b->port);
	CHECK_STR(a->db, b->db);
	CHECK_INT(a->auth, b->auth);
	CHECK_INT(a->keys.n, b->keys.n);
	CHECK_INT(a->n_cors_origins, b->n_cors_origins);
	CHECK_INT(a->cors_any, b->cors_any);
	CHECK_INT(a->threads, b->threads);
	CHECK_INT(a->max_body, b->max_body);
	CHECK_INT(a->max_batch_body, b->max_batch_body);
	CHECK_INT(a->window_days, b->window_days);
	CHECK_INT(a->max_items, b->max_items);
	CHECK_INT(a->max_age_days, b->max_age_days);
	CHECK_INT(a->log_level, b->log_level);
	CHECK_INT(a->idle_timeout_s, b->idle_timeout_s);
	CHECK_INT(a->request_timeout_s, b->request_timeout_s);
	CHECK_INT(a->max_connections, b->max_connections);
	CHECK_INT(a->max_per_ip, b->max_per_ip);
	CHECK_INT(a->queue_capacity, b->queue_capacity);
	CHECK_INT(a->rate_limit, b->rate_limit);
	CHECK_INT(a->rate_burst, b->rate_burst);
	CHECK_INT(a->sync, b->sync);
	CHECK_INT(a->cache_mb, b->cache_mb);
	CHECK_INT(a->max_db_pages, b->max_db_pages);
	CHECK_DBL(a->level_met_share, b->level_met_share, 0);
	CHECK_DBL(a->level_exceeded_share, b->level_exceeded_share, 0);
	CHECK_DBL(a->level_delighted_share, b->level_delighted_share, 0);
	CHECK_INT(a->loyal_min_surveys, b->loyal_min_surveys);
	CHECK_DBL(a->weight_nps, b->weight_nps, 0);
	CHECK_DBL(a->weight_expectation, b->weight_expectation, 0);
	CHECK_DBL(a->weight_csat, b->weight_csat, 0);
	CHECK_INT(a->declining_delta, b->declining_delta);
}

/* The sample's path from this file's: meson compiles tests with a path to
 * the source, relative to the build directory it runs them in. */
static char *read_sample(void)
{
	const char *self = __FILE__, *tail = "tests/unit/test-config.c";
	size_t n = strlen(self), t = strlen(tail);
	char path[1024];
	char *text = calloc(1, 64 * 1024);
	FILE *f;

	if (text == NULL || n < t || strcmp(self + n - t, tail) != 0 || n - t + 32 > sizeof(path))
		goto fail;
	(void)snprintf(path, sizeof(path), "%.*sconfig/feedbackd.conf", (int)(n - t), self);
	f = fopen(path, "r");
	if (f == NULL)
		goto fail;
	(void)fread(text, 1, 64 * 1024 - 1, f);
	(void)fclose(f);
	return text;
fail:
	free(text);
	fprintf(stderr, "test-config: sample config not found from %s; skipped\n", self);
	return NULL;
}

static void test_sample_file(void)
{
	static const char *const keys[] = {
	    "host",
	    "port",
	    "db",
	    "api_keys",
	    "auth",
	    "cors_origins",
	    "threads",
	    "max_body",
	    "window_days",
	    "max_items",
	    "max_age_days",
	    "log_level",
	    "idle_timeout",
	    "request_timeout",
	    "max_connections",
	    "max_per_ip",
	    "queue_capacity",
	    "rate_limit",
	    "rate_burst",
	    "sync",
	    "cache_mb",
	    "max_db_pages",
	    "level_met_share",
	    "level_exceeded_share",
	    "level_delighted_share",
	    "loyal_min_surveys",
	    "weight_nps",
	    "weight_expectation",
	    "weight_csat",
	    "declining_delta",
	};
	struct fbd_config def, c;
	char err[ERR_LEN] = "", needle[64];
	char *text = read_sample(), *out;
	size_t o = 0;

	if (text == NULL)
		return;
	config_init(&def);
	/* As shipped, every line is a comment: loading it changes nothing. */
	config_init(&c);
	CHECK_INT(config_parse_text(&c, text, "feedbackd.conf", err, sizeof(err)), 0);
	check_same(&c, &def);
	config_release(&c);

	/* Every key is documented as "#key =" (or "# key =" when its default
	 * cannot be written as a value). */
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		bool found;

		(void)snprintf(needle, sizeof(needle), "\n#%s =", keys[i]);
		found = strstr(text, needle) != NULL;
		(void)snprintf(needle, sizeof(needle), "\n# %s =", keys[i]);
		found = found || strstr(text, needle) != NULL;
		if (!found)
			fprintf(stderr, "sample config does not document %s\n", keys[i]);
		CHECK(found);
	}

	/* Uncommenting every "#key = value" line gives the defaults again, so the
	 * documented defaults are the real ones. */
	out = calloc(1, strlen(text) + 1);
	CHECK(out != NULL);
	for (const char *p = text, *line = text; out != NULL && *p != '\0'; p++) {
		if (p == line && p[0] == '#' && p[1] >= 'a' && p[1] <= 'z')
			continue; /* drop the '#' */
		out[o++] = *p;
		if (*p == '\n')
			line = p + 1;
	}
	if (out != NULL) {
		config_init(&c);
		CHECK_INT(config_parse_text(&c, out, "uncommented", err, sizeof(err)), 0);
		CHECK_STR(err, "");
		check_same(&c, &def);
		config_release(&c);
		CHECK(strstr(out, "\nport = 8080\n") != NULL);
	}
	free(out);
	config_release(&def);
	free(text);
}

static void remove_tmpdir(void)
{
	const char *names[] = {"prec.conf", "env.conf", "flag.conf"};
	char path[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		CHECK_INT(unlink(tmp_path(path, sizeof(path), names[i])), 0);
	CHECK_INT(rmdir(tmpdir), 0);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_defaults();
	test_integers();
	test_max_body();
	test_doubles();
	test_enums();
	test_strings();
	test_api_keys();
	test_cors();
	test_file_format();
	test_line_limit();
	test_validate();
	test_load_precedence();
	test_load_file_choice();
	test_load_file_limits();
	test_load_errors();
	test_load_actions();
	test_sample_file();
	remove_tmpdir();
	return check_report("config");
}
