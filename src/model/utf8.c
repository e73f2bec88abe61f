/* UTF-8 validation and counting, and the canonical UUID shape check.
 *
 * Validation follows the table of well-formed byte sequences in Unicode
 * (chapter 3, table 3-7): the second byte's range depends on the lead byte,
 * which is what rules out overlong forms, UTF-16 surrogates (U+D800..DFFF)
 * and code points above U+10FFFF without decoding them. */
#include <stdbool.h>
#include <stddef.h>

#include "feedbackd/model.h"

/* Length of the sequence a lead byte starts, and the allowed range of the
 * byte after it; 0 for a byte that cannot start a sequence. */
static size_t utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80;
	*hi = 0xBF;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return 2;
	if (c == 0xE0) {
		*lo = 0xA0; /* below: overlong */
		return 3;
	}
	if (c == 0xED) {
		*hi = 0x9F; /* above: surrogates */
		return 3;
	}
	if (c >= 0xE1 && c <= 0xEF)
		return 3;
	if (c == 0xF0) {
		*lo = 0x90; /* below: overlong */
		return 4;
	}
	if (c == 0xF4) {
		*hi = 0x8F; /* above: beyond U+10FFFF */
		return 4;
	}
	if (c >= 0xF1 && c <= 0xF3)
		return 4;
	return 0; /* continuation byte, C0/C1 (overlong) or F5..FF */
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char lo, hi;
		size_t n = utf8_lead(p[i], &lo, &hi);

		if (n == 0 || n > len - i)
			return false;
		if (n > 1 && (p[i + 1] < lo || p[i + 1] > hi))
			return false;
		for (size_t k = 2; k < n; k++)
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
		i += n;
	}
	return true;
}

size_t utf8_length(const char *s)
{
	size_t n = 0;

	/* Every code point has exactly one byte that is not a continuation
	 * byte (10xxxxxx); valid input is a precondition. */
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xC0) != 0x80)
			n++;
	return n;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool uuid_is_valid(const char *s)
{
	if (s == NULL)
		return false;
	for (size_t i = 0; i < MODEL_ID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		/* A NUL before position 36 fails both tests, so no strlen. */
		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return false;
	}
	return s[MODEL_ID_LEN] == '\0';
}
