/* The schema migrations compiled into the binary (generated from migrations/). */
#ifndef FEEDBACKD_STORE_MIGRATIONS_H
#define FEEDBACKD_STORE_MIGRATIONS_H

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const int migrations_count;

#endif
