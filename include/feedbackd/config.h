/* Configuration: file, then FEEDBACKD_* environment, then command-line flags,
 * merged into one struct that is read-only once the service starts.
 *
 * Every key lives in one bounded table (src/config/config.c) with its type,
 * range and default; errors name the offending key. */
#ifndef FEEDBACKD_CONFIG_H
#define FEEDBACKD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feedbackd/auth.h"

enum fbd_log_level {
	FBD_LOG_DEBUG = 0,
	FBD_LOG_INFO = 1,
	FBD_LOG_WARN = 2,
	FBD_LOG_ERROR = 3,
};

enum fbd_sync_mode {
	FBD_SYNC_NORMAL = 1, /* survives a process crash, may lose last commits on power loss */
	FBD_SYNC_FULL = 2,   /* survives both (default) */
};

#define FBD_CONFIG_MAX_ORIGINS 32

struct fbd_config {
	char *host;       /* bind address, default "0.0.0.0" */
	int port;         /* 0..65535 (0 = any free port), default 8080 */
	char *db;         /* SQLite path, default "./data/feedback.db" */
	bool auth;        /* false serves /v1 anonymously */
	struct auth_keyring keys; /* parsed api_keys */
	size_t n_cors_origins;
	bool cors_any;    /* cors_origins = * */
	char *cors_origins[FBD_CONFIG_MAX_ORIGINS];
	int threads;      /* HTTP threads, default: number of CPUs */
	size_t max_body;  /* bytes for a single submission, default 65536 */
	size_t max_batch_body; /* 16 * max_body, at most 1 MiB */
	int window_days;  /* scoring window, default 365 */
	int max_items;    /* newest submissions scored, default 50 */
	int max_age_days; /* oldest submitted_at accepted, default 730 */
	enum fbd_log_level log_level;

	/* connections and abuse limits */
	int idle_timeout_s;     /* inactivity timeout per connection, default 30 */
	int request_timeout_s;  /* deadline for a whole request once headers arrived, default 30 */
	int max_connections;    /* total, default 4096 */
	int max_per_ip;         /* per client address, default 256 */
	int queue_capacity;     /* submissions waiting for the writer, default 8192 */
	int rate_limit;         /* requests/s per API key (per address with auth off); 0: off */
	int rate_burst;         /* requests a key may send at once, default 40000 */

	/* storage */
	enum fbd_sync_mode sync; /* default FULL */
	int cache_mb;            /* SQLite page cache per connection, default 10 */
	int max_db_pages;        /* database size cap in pages (max_page_count), 0 = none */

	/* scoring model (SPEC 5) */
	double level_met_share;        /* 0.8 */
	double level_exceeded_share;   /* 0.5 */
	double level_delighted_share;  /* 0.5 */
	int loyal_min_surveys;         /* 3 */
	double weight_nps;             /* 0.5 */
	double weight_expectation;     /* 0.3 */
	double weight_csat;            /* 0.2 */
	int declining_delta;           /* -15 */
};

/* What the command line asked for besides configuration. */
enum fbd_config_action {
	FBD_ACTION_RUN = 0,
	FBD_ACTION_HELP,
	FBD_ACTION_VERSION,
	FBD_ACTION_HEALTHCHECK, /* probe GET /healthz on host:port, exit 0/1 */
};

/* Fill *cfg from defaults, the config file (--config, else FEEDBACKD_CONFIG,
 * else config/feedbackd.conf if it exists), the FEEDBACKD_* variables in
 * envp (NULL-terminated "KEY=value" strings) and argv flags.
 * On error returns FBD_EINVAL and writes a message naming the key into err.
 * On success the caller owns *cfg and releases it with config_release(). */
int config_load(struct fbd_config *cfg, enum fbd_config_action *action, int argc, char **argv,
		char **envp, char *err, size_t err_len);

/* Parse one "key = value" text (a whole file's content) into cfg, on top of
 * what cfg holds. Used by config_load and unit tests. */
int config_parse_text(struct fbd_config *cfg, const char *text, const char *source, char *err,
		      size_t err_len);

/* Set defaults. cfg must be released with config_release(). */
void config_init(struct fbd_config *cfg);

/* Set one key from a string value; the key is the file name (e.g. "max_body"). */
int config_set(struct fbd_config *cfg, const char *key, const char *value, char *err,
	       size_t err_len);

/* Checks that need all keys (auth on with no keys, ...). */
int config_validate(const struct fbd_config *cfg, char *err, size_t err_len);

void config_release(struct fbd_config *cfg);

/* Usage text for --help. */
const char *config_usage(void);

#endif
