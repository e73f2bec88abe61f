/* feedbackd: argv -> config -> run. Exit 2 on bad configuration. */
#include <stdio.h>

#include "feedbackd/app.h"
#include "feedbackd/config.h"
#include "feedbackd/log.h"

extern char **environ;

int main(int argc, char **argv)
{
	struct fbd_config cfg;
	enum fbd_config_action action = FBD_ACTION_RUN;
	char err[512];
	if (config_load(&cfg, &action, argc, argv, environ, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return 2;
	}
	int rc = 0;
	switch (action) {
	case FBD_ACTION_HELP:
		fputs(config_usage(), stdout);
		break;
	case FBD_ACTION_VERSION:
		printf("feedbackd %s\n", FEEDBACKD_VERSION);
		break;
	case FBD_ACTION_HEALTHCHECK:
		rc = app_healthcheck(&cfg);
		break;
	case FBD_ACTION_RUN:
		rc = app_run(&cfg);
		break;
	}
	config_release(&cfg);
	return rc;
}
