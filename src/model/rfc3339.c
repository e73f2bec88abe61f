/* RFC 3339 date-times <-> unix seconds.
 *
 * The conversion is done by hand with Howard Hinnant's days-from-civil and
 * civil-from-days algorithms (proleptic Gregorian calendar) rather than
 * timegm/gmtime_r: no dependence on TZ or locale, no static buffers, and the
 * same result on every libc. Accepted input is the RFC 3339 "date-time"
 * production only:
 *
 *   YYYY-MM-DD ("T" / "t") HH:MM:SS [ "." 1*9DIGIT ] ( "Z" / "z" / ("+" / "-") HH:MM )
 *
 * Years 0001..9999. A leap second (:60) is accepted and read as :59, since
 * unix time has no slot for it. The fraction is truncated: stored times are
 * whole seconds. */
#include <stdbool.h>
#include <stdint.h>

#include "feedbackd/error.h"
#include "feedbackd/model.h"

/* The range rfc3339_format can print in its fixed 20 characters:
 * 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define RFC3339_MIN (-62135596800LL)
#define RFC3339_MAX (253402300799LL)

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Exactly n decimal digits at *p; advances *p. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

struct civil_time {
	int year, month, day, hour, minute, second;
};

static bool parse_date(const char **p, struct civil_time *t)
{
	if (!digits(p, 4, &t->year) || !expect(p, '-') || !digits(p, 2, &t->month) ||
	    !expect(p, '-') || !digits(p, 2, &t->day))
		return false;
	if (t->year < 1 || t->month < 1 || t->month > 12)
		return false;
	return t->day >= 1 && t->day <= days_in_month(t->year, t->month);
}

static bool parse_time(const char **p, struct civil_time *t)
{
	if (!digits(p, 2, &t->hour) || !expect(p, ':') || !digits(p, 2, &t->minute) ||
	    !expect(p, ':') || !digits(p, 2, &t->second))
		return false;
	if (t->hour > 23 || t->minute > 59 || t->second > 60)
		return false;
	if (t->second == 60)
		t->second = 59;
	if (**p == '.') {
		int n = 0;

		(*p)++;
		while ((*p)[n] >= '0' && (*p)[n] <= '9')
			n++;
		if (n < 1 || n > 9)
			return false;
		*p += n; /* truncated: whole seconds only */
	}
	return true;
}

/* The offset of local time from UTC, in seconds. */
static bool parse_offset(const char **p, int *offset)
{
	int sign, hh, mm;

	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		*offset = 0;
		return true;
	}
	if (**p != '+' && **p != '-')
		return false;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (!digits(p, 2, &hh) || !expect(p, ':') || !digits(p, 2, &mm))
		return false;
	if (hh > 23 || mm > 59)
		return false;
	*offset = sign * (hh * 3600 + mm * 60);
	return true;
}

int rfc3339_parse(const char *s, int64_t *out)
{
	struct civil_time t;
	int offset;
	const char *p = s;

	if (s == NULL)
		return FBD_EINVAL;
	if (!parse_date(&p, &t))
		return FBD_EINVAL;
	if (*p != 'T' && *p != 't')
		return FBD_EINVAL;
	p++;
	if (!parse_time(&p, &t) || !parse_offset(&p, &offset) || *p != '\0')
		return FBD_EINVAL;

	int64_t days = days_from_civil(t.year, (unsigned)t.month, (unsigned)t.day);

	*out = days * 86400 + (int64_t)t.hour * 3600 + t.minute * 60 + t.second - offset;
	return 0;
}

/* width decimal digits of v, zero-padded, at p. */
static char *put_digits(char *p, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

void rfc3339_format(int64_t t, char buf[static 21])
{
	int64_t days, secs, year;
	unsigned month, day;
	char *p = buf;

	/* Clamped so the output always has the fixed 20-character shape. */
	if (t < RFC3339_MIN)
		t = RFC3339_MIN;
	if (t > RFC3339_MAX)
		t = RFC3339_MAX;
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &year, &month, &day);
	/* By hand rather than snprintf: the fields are known to fit, which
	 * the compiler's truncation check cannot see. */
	p = put_digits(p, (unsigned)year, 4);
	*p++ = '-';
	p = put_digits(p, month, 2);
	*p++ = '-';
	p = put_digits(p, day, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned)(secs / 3600), 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)(secs / 60 % 60), 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)(secs % 60), 2);
	*p++ = 'Z';
	*p = '\0';
}
