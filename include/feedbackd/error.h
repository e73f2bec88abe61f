/* Project-wide error codes.
 *
 * Every function that can fail returns int: 0 on success or one of these
 * negative codes. Pure modules return them; only handlers, the worker and
 * app.c decide what to log or which HTTP status to answer. */
#ifndef FEEDBACKD_ERROR_H
#define FEEDBACKD_ERROR_H

enum fbd_error {
	FBD_OK = 0,
	FBD_ENOMEM = -1,    /* allocation failed */
	FBD_EINVAL = -2,    /* invalid argument or input */
	FBD_EDB = -3,       /* SQLite error not covered below */
	FBD_EFULL = -4,     /* bounded queue full: answer 503 */
	FBD_ENOTFOUND = -5, /* no such record */
	FBD_ECONFLICT = -6, /* duplicate id with a different body */
	FBD_EIO = -7,       /* file system or socket error */
	FBD_EVERSION = -8,  /* database schema newer than this binary */
	FBD_ESHUTDOWN = -9, /* component is stopping */
	FBD_ESTORAGE = -10, /* disk full or database read-only */
};

#include <stddef.h>

/* Static, human-readable text for an error code; never NULL. */
const char *fbd_error_str(int err);

/* printf into a caller's message buffer (err may be NULL or err_len 0:
 * nothing is written). For modules that explain an error without logging. */
void fbd_errorf(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
