/* Thread-safe JSON-lines logging on stderr.
 *
 * One object per line: {"time":"...Z","level":"info","msg":"...", ...fields}.
 * Lines from different threads never interleave. Access lines are gathered
 * per thread and written together (at most 100 ms late, or until
 * log_flush()); every other line is written at once, after all of them.
 * Never logs API keys: callers must not pass them. */
#ifndef FEEDBACKD_LOG_H
#define FEEDBACKD_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include "feedbackd/config.h"

/* Messages below level are dropped. Callable at any time (default info). */
void log_set_level(enum fbd_log_level level);
enum fbd_log_level log_get_level(void);

/* Parse "debug"/"info"/"warn"/"error"; returns 0 or FBD_EINVAL. */
int log_level_parse(const char *s, enum fbd_log_level *out);

/* A message with printf-style text: {"time","level","msg"}. */
void log_msg(enum fbd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One access-log line at info level:
 * {"time","level":"info","msg":"request","request_id","method","route","status","duration_ms"} */
void log_request(const char *request_id, const char *method, const char *route, int status,
		 double duration_ms);

/* Writes the gathered access lines now. Call it periodically (an idle
 * server's lines would otherwise wait for the next one) and before exit. */
void log_flush(void);
/* Adapter with the signature of libmicrohttpd's external logger (MHD_LogCallback). */
void log_mhd(void *cls, const char *fmt, va_list ap);

#define log_debug(...) log_msg(FBD_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(FBD_LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(FBD_LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(FBD_LOG_ERROR, __VA_ARGS__)

#endif
