/* Lock-free request metrics and the Prometheus text exposition.
 *
 * Every series lives in arrays sized once from the route table: a counter per
 * (route, status) and a histogram per route. Observing a request is a linear
 * scan over the route patterns (tens of entries, pointer comparison first)
 * and three relaxed atomic increments; nothing allocates and nothing locks.
 * Buckets are stored non-cumulative (one increment per request) and summed
 * at render time, where _count is derived from the same numbers so that a
 * scrape never shows a +Inf bucket different from _count.
 *
 * Rendering happens on a scrape only, so it uses stdio (open_memstream) for
 * clarity rather than speed. */
#include "feedbackd/metrics.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "feedbackd/error.h"

#define STATUS_MIN 100
#define STATUS_MAX 599
#define N_STATUS (STATUS_MAX - STATUS_MIN + 1)

static const double bucket_bounds[METRICS_N_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
};
static const char *const bucket_labels[METRICS_N_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "5",
};

struct route_series {
	const char *pattern; /* borrowed from the route table, or "unmatched" */
	atomic_uint_fast64_t status[N_STATUS];
	atomic_uint_fast64_t buckets[METRICS_N_BUCKETS + 1]; /* last: +Inf */
	atomic_uint_fast64_t sum_ns;
};

struct metrics {
	struct route_series *series; /* n_series entries; the last is "unmatched" */
	size_t n_series;
	atomic_uint_fast64_t stored;
};

static const char unmatched[] = "unmatched";

int metrics_new(struct metrics **out, const struct http_route *routes, size_t n)
{
	struct metrics *m = calloc(1, sizeof(*m));
	*out = NULL;
	if (m == NULL)
		return FBD_ENOMEM;
	m->series = calloc(n + 1, sizeof(*m->series));
	if (m->series == NULL) {
		free(m);
		return FBD_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t j = 0; j < m->n_series && !seen; j++)
			seen = strcmp(m->series[j].pattern, routes[i].pattern) == 0;
		if (!seen)
			m->series[m->n_series++].pattern = routes[i].pattern;
	}
	m->series[m->n_series++].pattern = unmatched;
	/* calloc's zero bytes are a valid zero for atomic integers on every
	 * platform we build on, but say it the portable way */
	for (size_t i = 0; i < m->n_series; i++) {
		for (size_t s = 0; s < N_STATUS; s++)
			atomic_init(&m->series[i].status[s], 0);
		for (size_t b = 0; b <= METRICS_N_BUCKETS; b++)
			atomic_init(&m->series[i].buckets[b], 0);
		atomic_init(&m->series[i].sum_ns, 0);
	}
	atomic_init(&m->stored, 0);
	*out = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	free(m->series);
	free(m);
}

static struct route_series *series_for(struct metrics *m, const char *route)
{
	size_t last = m->n_series - 1;
	if (route == NULL)
		return &m->series[last];
	for (size_t i = 0; i < last; i++)
		if (m->series[i].pattern == route)
			return &m->series[i];
	for (size_t i = 0; i < last; i++)
		if (strcmp(m->series[i].pattern, route) == 0)
			return &m->series[i];
	return &m->series[last];
}

void metrics_observe_request(struct metrics *m, const char *route, int status, double seconds)
{
	struct route_series *s = series_for(m, route);
	if (status < STATUS_MIN || status > STATUS_MAX)
		status = STATUS_MAX;
	if (!(seconds >= 0)) /* also NaN */
		seconds = 0;
	size_t b = 0;
	while (b < METRICS_N_BUCKETS && seconds > bucket_bounds[b])
		b++;
	atomic_fetch_add_explicit(&s->status[status - STATUS_MIN], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
	/* 2^64 ns is 584 years of summed latency: no overflow in practice */
	uint64_t ns = seconds > 1e9 ? (uint64_t)1e18 : (uint64_t)(seconds * 1e9);
	atomic_fetch_add_explicit(&s->sum_ns, ns, memory_order_relaxed);
}

void metrics_add_stored(struct metrics *m, uint64_t n)
{
	atomic_fetch_add_explicit(&m->stored, n, memory_order_relaxed);
}

/* ---- process figures ---------------------------------------------------- */

/* Seconds since the epoch at which the machine booted (btime), or -1. */
static double boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	double btime = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lf", &btime) == 1)
			break;
	fclose(f);
	return btime;
}

/* utime, stime, starttime (clock ticks) and rss (pages) from /proc/self/stat. */
static int read_self_stat(unsigned long long *utime, unsigned long long *stime,
                          unsigned long long *start, long *rss)
{
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "re");
	if (f == NULL)
		return FBD_EIO;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and parentheses: start after the last ')' */
	const char *p = strrchr(buf, ')');
	if (p == NULL)
		return FBD_EIO;
	/* fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime(14) stime(15) cutime cstime priority nice
	 * num_threads itrealvalue starttime(22) vsize rss(24) */
	int got = sscanf(p + 1,
	                 " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d"
	                 " %*d %*d %llu %*u %ld",
	                 utime, stime, start, rss);
	return got == 4 ? 0 : FBD_EIO;
}

static double count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	double n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}

void metrics_sample_process(struct metrics_gauges *g)
{
	unsigned long long utime = 0, stime = 0, start = 0;
	long rss = 0;
	long ticks = sysconf(_SC_CLK_TCK);
	long page = sysconf(_SC_PAGESIZE);
	g->process_resident_bytes = -1;
	g->process_cpu_seconds = -1;
	g->process_start_time = -1;
	if (read_self_stat(&utime, &stime, &start, &rss) == 0 && ticks > 0 && page > 0) {
		g->process_resident_bytes = (double)rss * (double)page;
		g->process_cpu_seconds = (double)(utime + stime) / (double)ticks;
		double btime = boot_time();
		if (btime >= 0)
			g->process_start_time = btime + (double)start / (double)ticks;
	}
	g->process_open_fds = count_open_fds();
	struct rlimit rl;
	g->process_max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (double)rl.rlim_cur : -1;
}

/* ---- exposition ------------------------------------------------------------ */

/* A label value with \, " and newline escaped, as the format requires. */
static void put_label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
}

static void put_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_gauge(FILE *f, const char *name, const char *type, const char *help, double v)
{
	if (v < 0)
		return;
	put_family(f, name, type, help);
	fprintf(f, "%s %.15g\n", name, v);
}

static void put_requests(FILE *f, const struct metrics *m)
{
	put_family(f, "feedbackd_http_requests_total", "counter",
	           "HTTP requests answered, by route pattern and status code.");
	for (size_t i = 0; i < m->n_series; i++) {
		const struct route_series *s = &m->series[i];
		for (size_t c = 0; c < N_STATUS; c++) {
			uint64_t n = atomic_load_explicit(&s->status[c], memory_order_relaxed);
			if (n == 0)
				continue;
			fputs("feedbackd_http_requests_total{route=\"", f);
			put_label_value(f, s->pattern);
			fprintf(f, "\",status=\"%zu\"} %llu\n", c + STATUS_MIN,
			        (unsigned long long)n);
		}
	}
}

static void put_histogram(FILE *f, const struct metrics *m)
{
	const char *name = "feedbackd_http_request_duration_seconds";
	put_family(f, name, "histogram",
	           "Time from the first byte of a request to its completion, by route pattern.");
	for (size_t i = 0; i < m->n_series; i++) {
		const struct route_series *s = &m->series[i];
		uint64_t cumulative = 0;
		for (size_t b = 0; b <= METRICS_N_BUCKETS; b++) {
			cumulative += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
			fprintf(f, "%s_bucket{route=\"", name);
			put_label_value(f, s->pattern);
			fprintf(f, "\",le=\"%s\"} %llu\n",
			        b < METRICS_N_BUCKETS ? bucket_labels[b] : "+Inf",
			        (unsigned long long)cumulative);
		}
		uint64_t ns = atomic_load_explicit(&s->sum_ns, memory_order_relaxed);
		fprintf(f, "%s_sum{route=\"", name);
		put_label_value(f, s->pattern);
		fprintf(f, "\"} %.9f\n", (double)ns / 1e9);
		fprintf(f, "%s_count{route=\"", name);
		put_label_value(f, s->pattern);
		fprintf(f, "\"} %llu\n", (unsigned long long)cumulative);
	}
}

static void put_gauges(FILE *f, const struct metrics_gauges *g)
{
	put_gauge(f, "feedbackd_writer_queue_depth", "gauge",
	          "Submissions waiting for the writer to commit them.", g->writer_queue_depth);
	put_gauge(f, "feedbackd_writer_queue_capacity", "gauge",
	          "Submissions the writer queue holds before answering 503.",
	          g->writer_queue_capacity);
	put_gauge(f, "feedbackd_rescore_queue_depth", "gauge",
	          "Submissions stored and not yet reflected in their customer's profile.",
	          g->rescore_queue_depth);
	put_gauge(f, "feedbackd_rescore_lag_seconds", "gauge",
	          "Age of the oldest submission not yet reflected in its customer's profile"
	          " (0 when none).",
	          g->rescore_lag_seconds);
	put_gauge(f, "feedbackd_database_size_bytes", "gauge",
	          "Size of the SQLite database: main file pages plus the WAL file.",
	          g->database_bytes);
	put_gauge(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
	          g->process_resident_bytes);
	put_gauge(f, "process_cpu_seconds_total", "counter",
	          "Total user and system CPU time spent in seconds.", g->process_cpu_seconds);
	put_gauge(f, "process_open_fds", "gauge", "Number of open file descriptors.",
	          g->process_open_fds);
	put_gauge(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
	          g->process_max_fds);
	put_gauge(f, "process_start_time_seconds", "gauge",
	          "Start time of the process since unix epoch in seconds.", g->process_start_time);
}

int metrics_render(const struct metrics *m, const struct metrics_gauges *g, char **out, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	*out = NULL;
	*len = 0;
	FILE *f = open_memstream(&buf, &size);
	if (f == NULL)
		return FBD_ENOMEM;
	put_requests(f, m);
	put_histogram(f, m);
	put_family(f, "feedbackd_submissions_stored_total", "counter",
	           "Submissions committed to the database.");
	fprintf(f, "feedbackd_submissions_stored_total %llu\n",
	        (unsigned long long)atomic_load_explicit(&m->stored, memory_order_relaxed));
	if (g)
		put_gauges(f, g);
	put_family(f, "feedbackd_build_info", "gauge", "The running version of feedbackd.");
	fprintf(f, "feedbackd_build_info{version=\"%s\"} 1\n", FEEDBACKD_VERSION);
	bool failed = ferror(f) != 0;
	if (fclose(f) != 0 || failed) {
		free(buf);
		return FBD_ENOMEM;
	}
	*out = buf;
	*len = size;
	return 0;
}
