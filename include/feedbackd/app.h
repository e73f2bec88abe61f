/* The service's lifetime: start components in order, wait for SIGTERM or
 * SIGINT, drain and stop them in reverse. */
#ifndef FEEDBACKD_APP_H
#define FEEDBACKD_APP_H

#include "feedbackd/config.h"

/* Run until a stop signal; returns the process exit code (0 after a clean
 * drain, 2 for a database this binary cannot use, 1 for other failures). */
int app_run(const struct fbd_config *cfg);

/* GET /healthz on the configured port of this host; 0 when it answers 200. */
int app_healthcheck(const struct fbd_config *cfg);

#endif
