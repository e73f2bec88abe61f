/* JSON-lines logging on stderr.
 *
 * Each line is built in a fixed stack buffer. Access lines (one per request)
 * are gathered and written together: a write(2) per request cost about a
 * tenth of the CPU of a profile read under load (the syscall, and two HTTP
 * threads contending for the file position). Each thread gathers into a
 * buffer of its own (threads share one only past ACCESS_BUFS), so that HTTP
 * threads do not meet at a lock on every request. A buffer goes out when it
 * is full, when its oldest line is ACCESS_DELAY_MS old at the next access
 * line, on log_flush() (the upkeep thread calls it every tick, so an idle
 * server's lines still arrive within a quarter of a second) and before any
 * other line, which is written at once so that warnings and errors are never
 * held back and come after every access line gathered before them. Access
 * lines of different threads may leave a little out of time order (each
 * carries its time). Every write happens under one lock, so lines never
 * interleave, even when stderr is a pipe (Docker, systemd) and a write is
 * larger than PIPE_BUF. What is lost when the process is killed (SIGKILL, a
 * crash): the access lines not written yet, at most a quarter second's; a
 * clean stop flushes.
 *
 * Every string value goes through log_line_str(), which escapes JSON, turns
 * invalid UTF-8 into U+FFFD and stops at a character boundary when the buffer
 * runs out, so a line is always valid JSON whatever a client sent. */
#include "feedbackd/log.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "feedbackd/error.h"

#define LOG_LINE_MAX 2048
#define LOG_TAIL "}\n"
#define LOG_TAIL_LEN (sizeof(LOG_TAIL) - 1)

/* Longest escaped value for the access-log fields, so that a huge method or
 * route from a client never crowds out the status and duration. */
#define LOG_FIELD_MAX 256

/* Access lines gathered before one write(2): about 150 lines. */
#define ACCESS_BUF_MAX (32 * 1024)
#define ACCESS_DELAY_MS 100
/* More than the HTTP threads of any sane configuration. */
#define ACCESS_BUFS 16

static atomic_int log_threshold = FBD_LOG_INFO;

/* Held for every write to stderr; taken after a buffer's lock, never before. */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static struct access_buf {
	pthread_mutex_t lock;
	size_t len;
	int64_t oldest_ms; /* CLOCK_MONOTONIC of the first buffered line */
	char buf[ACCESS_BUF_MAX];
} access_bufs[ACCESS_BUFS];

static pthread_once_t access_bufs_once = PTHREAD_ONCE_INIT;
static atomic_uint access_bufs_taken;
static _Thread_local struct access_buf *thread_access_buf;

/* The current second as "\"YYYY-MM-DDTHH:MM:SS", formatted once a second per
 * thread: gmtime_r() takes glibc's time-zone lock on every call. */
static _Thread_local struct {
	time_t sec;
	bool valid;
	char text[24];
} thread_stamp;

static const char *const log_level_names[] = {
    [FBD_LOG_DEBUG] = "debug",
    [FBD_LOG_INFO] = "info",
    [FBD_LOG_WARN] = "warn",
    [FBD_LOG_ERROR] = "error",
};

struct log_line {
	int64_t mono_ms; /* when it was begun, CLOCK_MONOTONIC */
	size_t len;
	size_t cap; /* LOG_LINE_MAX minus room always kept for the tail */
	char buf[LOG_LINE_MAX];
};

void log_set_level(enum fbd_log_level level)
{
	atomic_store_explicit(&log_threshold, (int)level, memory_order_relaxed);
}

enum fbd_log_level log_get_level(void)
{
	return (enum fbd_log_level)atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

int log_level_parse(const char *s, enum fbd_log_level *out)
{
	if (s == NULL)
		return FBD_EINVAL;
	for (size_t i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++) {
		if (strcasecmp(s, log_level_names[i]) == 0) {
			if (out != NULL)
				*out = (enum fbd_log_level)i;
			return 0;
		}
	}
	return FBD_EINVAL;
}

static bool log_enabled(enum fbd_log_level level)
{
	return (int)level >= atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

static const char *log_level_name(enum fbd_log_level level)
{
	if ((unsigned)level < sizeof(log_level_names) / sizeof(log_level_names[0]))
		return log_level_names[level];
	return "error";
}

/* Append n bytes if they fit entirely; a partial token would break the JSON. */
static bool log_line_put(struct log_line *l, const char *s, size_t n)
{
	if (n > l->cap - l->len)
		return false;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	return true;
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 if none:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t log_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return len;
}

/* The JSON escape for byte c, or NULL when c needs none. */
static const char *log_escape(unsigned char c, char tmp[8])
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	}
	if (c < 0x20 || c == 0x7f) {
		(void)snprintf(tmp, 8, "\\u%04x", c);
		return tmp;
	}
	return NULL;
}

/* How many bytes from s on are printable ASCII other than '"' and '\\'. */
static size_t log_plain_run(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
		i++;
	return i;
}

/* Append s as a JSON string of at most max bytes (quotes included), cut at a
 * character boundary when it does not fit. NULL becomes null. */
static void log_line_str(struct log_line *l, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, room, saved_cap = l->cap;
	char tmp[8];

	/* Callers reserve room for a value after the key, so "null" fits. */
	if (s == NULL || max < 2 || l->cap - l->len < 2) {
		(void)log_line_put(l, "null", 4);
		return;
	}
	(void)log_line_put(l, "\"", 1);
	/* Keep one byte for the closing quote while the content is written. */
	room = l->cap - l->len;
	if (max - 1 < room)
		room = max - 1;
	l->cap = l->len + room - 1;
	for (n = strlen(s); n > 0;) {
		/* Plain ASCII needs no check nor escape: copy the run at once
		 * (ids, routes, methods are nothing else). It may be cut
		 * anywhere, since every byte of it is a whole character. */
		size_t run = log_plain_run(p, n);
		if (run > 0) {
			size_t fits = run < l->cap - l->len ? run : l->cap - l->len;
			(void)log_line_put(l, (const char *)p, fits);
			if (fits < run)
				break;
			p += run;
			n -= run;
			continue;
		}
		size_t step = log_utf8_len(p, n);
		const char *esc = step == 1 ? log_escape(*p, tmp) : NULL;
		bool ok;

		if (step == 0) {
			ok = log_line_put(l, "\\ufffd", 6);
			step = 1;
		} else if (esc != NULL) {
			ok = log_line_put(l, esc, strlen(esc));
		} else {
			ok = log_line_put(l, (const char *)p, step);
		}
		if (!ok)
			break;
		p += step;
		n -= step;
	}
	l->cap = saved_cap;
	(void)log_line_put(l, "\"", 1);
}

/* ,"key": — followed by the value the caller appends. */
static bool log_line_key(struct log_line *l, const char *key)
{
	size_t n = strlen(key);

	/* The key and a minimal value must fit, or the field is left out whole. */
	if (n + 8 > l->cap - l->len)
		return false;
	(void)log_line_put(l, ",\"", 2);
	(void)log_line_put(l, key, n);
	(void)log_line_put(l, "\":", 2);
	return true;
}

static void log_line_field_str(struct log_line *l, const char *key, const char *value, size_t max)
{
	if (log_line_key(l, key))
		log_line_str(l, value, max);
}

/* Writes the decimal digits of v, at least width of them, ending just
 * before end; returns where they start. */
static char *put_uint(char *end, unsigned long long v, int width)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (--width > 0 || v > 0);
	return end;
}

/* {"time":"2026-12-05T13:14:09.123Z" — or null, should gmtime_r() fail. */
static void log_line_stamp(struct log_line *l, const struct timespec *now)
{
	char ms[8], *end = ms + sizeof(ms), *p;
	struct tm tm;

	(void)log_line_put(l, "{\"time\":", 8);
	if (!thread_stamp.valid || thread_stamp.sec != now->tv_sec) {
		int n = gmtime_r(&now->tv_sec, &tm) == NULL
		            ? -1
		            : snprintf(thread_stamp.text, sizeof(thread_stamp.text),
		                       "\"%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
		                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		thread_stamp.valid = n > 0 && (size_t)n < sizeof(thread_stamp.text);
		thread_stamp.sec = now->tv_sec;
	}
	if (!thread_stamp.valid) {
		(void)log_line_put(l, "null", 4);
		return;
	}
	p = put_uint(end, (unsigned long long)(now->tv_nsec / 1000000), 3);
	*--p = '.';
	(void)log_line_put(l, thread_stamp.text, strlen(thread_stamp.text));
	(void)log_line_put(l, p, (size_t)(end - p));
	(void)log_line_put(l, "Z\"", 2);
}

static void log_line_begin(struct log_line *l, enum fbd_log_level level)
{
	struct timespec ts;

	l->len = 0;
	l->cap = LOG_LINE_MAX - LOG_TAIL_LEN;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	l->mono_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	log_line_stamp(l, &ts);
	log_line_field_str(l, "level", log_level_name(level), LOG_FIELD_MAX);
}

/* Called with write_lock held. Errors are dropped: there is nowhere left
 * to report a failing stderr. */
static void write_all(const char *buf, size_t len)
{
	size_t off = 0;
	int saved_errno = errno;

	while (off < len) {
		ssize_t w = write(STDERR_FILENO, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	/* Logging must not disturb a caller that checks errno afterwards. */
	errno = saved_errno;
}

/* Called with b->lock held. */
static void access_buf_write(struct access_buf *b)
{
	if (b->len == 0)
		return;
	pthread_mutex_lock(&write_lock);
	write_all(b->buf, b->len);
	pthread_mutex_unlock(&write_lock);
	b->len = 0;
}

static void access_bufs_init(void)
{
	for (size_t i = 0; i < ACCESS_BUFS; i++)
		pthread_mutex_init(&access_bufs[i].lock, NULL);
}

/* This thread's buffer, shared round robin once every one is taken. */
static struct access_buf *access_buf_mine(void)
{
	if (thread_access_buf == NULL) {
		(void)pthread_once(&access_bufs_once, access_bufs_init);
		unsigned i = atomic_fetch_add_explicit(&access_bufs_taken, 1, memory_order_relaxed);
		thread_access_buf = &access_bufs[i % ACCESS_BUFS];
	}
	return thread_access_buf;
}

void log_flush(void)
{
	(void)pthread_once(&access_bufs_once, access_bufs_init);
	for (size_t i = 0; i < ACCESS_BUFS; i++) {
		struct access_buf *b = &access_bufs[i];
		pthread_mutex_lock(&b->lock);
		access_buf_write(b);
		pthread_mutex_unlock(&b->lock);
	}
}

static void log_line_end(struct log_line *l)
{
	/* The tail was kept out of cap, so it always fits. */
	memcpy(l->buf + l->len, LOG_TAIL, LOG_TAIL_LEN);
	l->len += LOG_TAIL_LEN;
}

/* Written at once, after the access lines gathered before it. */
static void log_line_write(struct log_line *l)
{
	log_line_end(l);
	log_flush();
	pthread_mutex_lock(&write_lock);
	write_all(l->buf, l->len);
	pthread_mutex_unlock(&write_lock);
}

/* Gathered with this thread's other access lines (see the top of this file). */
static void log_line_gather(struct log_line *l)
{
	struct access_buf *b = access_buf_mine();

	log_line_end(l);
	pthread_mutex_lock(&b->lock);
	if (b->len + l->len > sizeof(b->buf))
		access_buf_write(b);
	if (b->len == 0)
		b->oldest_ms = l->mono_ms;
	memcpy(b->buf + b->len, l->buf, l->len);
	b->len += l->len;
	if (l->mono_ms - b->oldest_ms >= ACCESS_DELAY_MS)
		access_buf_write(b);
	pthread_mutex_unlock(&b->lock);
}

static void log_vmsg(enum fbd_log_level level, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void log_vmsg(enum fbd_log_level level, const char *prefix, const char *fmt, va_list ap)
{
	struct log_line l;
	char msg[LOG_LINE_MAX];
	size_t plen = strlen(prefix);
	int n;

	if (plen >= sizeof(msg))
		plen = 0;
	memcpy(msg, prefix, plen);
	n = vsnprintf(msg + plen, sizeof(msg) - plen, fmt, ap);
	if (n < 0)
		msg[plen] = '\0';
	/* libmicrohttpd ends its messages with a newline; one line is enough. */
	for (size_t len = strlen(msg); len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r');)
		msg[--len] = '\0';
	log_line_begin(&l, level);
	log_line_field_str(&l, "msg", msg, LOG_LINE_MAX);
	log_line_write(&l);
}

void log_msg(enum fbd_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level) || fmt == NULL)
		return;
	va_start(ap, fmt);
	log_vmsg(level, "", fmt, ap);
	va_end(ap);
}

void log_request(const char *request_id, const char *method, const char *route, int status,
                 double duration_ms)
{
	struct log_line l;
	char num[32], *end = num + sizeof(num), *p;

	if (!log_enabled(FBD_LOG_INFO))
		return;
	log_line_begin(&l, FBD_LOG_INFO);
	log_line_field_str(&l, "msg", "request", LOG_FIELD_MAX);
	log_line_field_str(&l, "request_id", request_id, LOG_FIELD_MAX);
	log_line_field_str(&l, "method", method, LOG_FIELD_MAX);
	log_line_field_str(&l, "route", route, LOG_FIELD_MAX);
	p = put_uint(end, (unsigned long long)(status < 0 ? 0 : status), 1);
	if (log_line_key(&l, "status"))
		(void)log_line_put(&l, p, (size_t)(end - p));
	/* NaN and infinity are not JSON numbers. In hundredths, as integers:
	 * "%.2f" was most of this line's cost. */
	if (!isfinite(duration_ms) || duration_ms > 1e15 || duration_ms < 0)
		duration_ms = 0;
	unsigned long long hundredths = (unsigned long long)llround(duration_ms * 100);
	p = put_uint(end, hundredths % 100, 2);
	*--p = '.';
	p = put_uint(p, hundredths / 100, 1);
	if (log_line_key(&l, "duration_ms"))
		(void)log_line_put(&l, p, (size_t)(end - p));
	log_line_gather(&l);
}

/* libmicrohttpd passes printf formats; saying so lets compilers check the hand-off. */
void log_mhd(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

void log_mhd(void *cls, const char *fmt, va_list ap)
{
	va_list copy;

	(void)cls;
	if (!log_enabled(FBD_LOG_WARN) || fmt == NULL)
		return;
	va_copy(copy, ap);
	log_vmsg(FBD_LOG_WARN, "http: ", fmt, copy);
	va_end(copy);
}
