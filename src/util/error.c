#include <stdarg.h>
#include <stdio.h>

#include "feedbackd/error.h"

const char *fbd_error_str(int err)
{
	switch (err) {
	case FBD_OK:
		return "success";
	case FBD_ENOMEM:
		return "out of memory";
	case FBD_EINVAL:
		return "invalid argument";
	case FBD_EDB:
		return "database error";
	case FBD_EFULL:
		return "queue full";
	case FBD_ENOTFOUND:
		return "not found";
	case FBD_ECONFLICT:
		return "conflict";
	case FBD_EIO:
		return "input/output error";
	case FBD_EVERSION:
		return "database schema is newer than this program";
	case FBD_ESHUTDOWN:
		return "shutting down";
	case FBD_ESTORAGE:
		return "storage full or read-only";
	}
	/* Never NULL, so callers can print the result of any int without checking. */
	return "unknown error";
}

void fbd_errorf(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || err_len == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}
