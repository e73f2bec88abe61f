/* JSON numbers written without cJSON's printer, where that is exact.
 *
 * cJSON 1.7.15 prints every number, integers included, with
 * sprintf("%1.15g") and reads the text back with sscanf to check the round
 * trip: about 6 000 instructions a number. A profile has nine numbers, and
 * they cost about a fifth of the instructions of a profile read
 * (docs/performance.md). The figures of this API are integers or have at
 * most three decimals (SPEC 4: scores one, means two, shares three), and
 * for those the shortest decimal text follows from integer arithmetic. The
 * text is the one cJSON prints for the same double, which
 * tests/unit/test-json.c checks value by value; anything else goes to cJSON. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "feedbackd/model.h"

/* Past this, %1.15g may switch to an exponent or round digits away. */
#define EXACT_LIMIT 1e12

/* Writes the digits of v (>= 0) ending just before end; returns the start. */
static char *put_digits(char *end, uint64_t v, int min_digits)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
		min_digits--;
	} while (v > 0 || min_digits > 0);
	return end;
}

bool json_number_text(double v, char buf[JSON_NUMBER_MAX])
{
	if (!(fabs(v) < EXACT_LIMIT) || (v == 0 && signbit(v)))
		return false; /* NaN, infinities, huge values, -0 */
	int64_t milli = llround(v * 1000);
	if ((double)milli / 1000.0 != v)
		return false; /* more than three decimals */
	uint64_t abs = milli < 0 ? (uint64_t)-milli : (uint64_t)milli;
	int places = 3;
	uint64_t frac = abs % 1000;
	while (places > 0 && frac % 10 == 0) {
		frac /= 10;
		places--;
	}
	char tmp[JSON_NUMBER_MAX], *end = tmp + sizeof(tmp), *p = end;
	if (places > 0) {
		p = put_digits(p, frac, places);
		*--p = '.';
	}
	p = put_digits(p, abs / 1000, 1);
	if (milli < 0)
		*--p = '-';
	size_t len = (size_t)(end - p);
	memcpy(buf, p, len);
	buf[len] = '\0';
	return true;
}

cJSON *json_add_item(cJSON *obj, const char *name, cJSON *item)
{
	if (item == NULL || !cJSON_AddItemToObjectCS(obj, name, item)) {
		cJSON_Delete(item);
		return NULL;
	}
	return item;
}

cJSON *json_add_number(cJSON *obj, const char *name, double value)
{
	char text[JSON_NUMBER_MAX];
	return json_add_item(obj, name,
	                     json_number_text(value, text) ? cJSON_CreateRaw(text)
	                                                   : cJSON_CreateNumber(value));
}
