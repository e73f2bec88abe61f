/* The OpenAPI document, generated from docs/openapi.json at build time. */
#ifndef FEEDBACKD_API_OPENAPI_H
#define FEEDBACKD_API_OPENAPI_H

#include <stddef.h>

extern const char api_openapi_json[];     /* NUL-terminated */
extern const size_t api_openapi_json_len; /* without the NUL */

#endif
