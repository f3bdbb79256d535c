/* A tiny TAP harness for the C unit tests (after OpenSSH regress/unittests). */
#ifndef TESTS_TAP_H
#define TESTS_TAP_H

#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_n, tap_failed;

#define TAP_OK(cond, ...) do {						\
	int tap_c_ = (cond) ? 1 : 0;					\
	tap_n++;							\
	if (tap_c_) {							\
		printf("ok %d - ", tap_n);				\
	} else {							\
		tap_failed++;						\
		printf("not ok %d - ", tap_n);				\
	}								\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	if (!tap_c_)							\
		printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	fflush(stdout);							\
} while (0)

#define TAP_INT_EQ(a, b, ...) do {					\
	long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);	\
	TAP_OK(tap_a_ == tap_b_, __VA_ARGS__);				\
	if (tap_a_ != tap_b_)						\
		printf("#   got %lld, want %lld\n", tap_a_, tap_b_);	\
} while (0)

#define TAP_STR_EQ(a, b, ...) do {					\
	const char *tap_a_ = (a), *tap_b_ = (b);			\
	int tap_eq_ = tap_a_ != NULL && tap_b_ != NULL &&		\
	    strcmp(tap_a_, tap_b_) == 0;				\
	TAP_OK(tap_eq_, __VA_ARGS__);					\
	if (!tap_eq_)							\
		printf("#   got \"%s\", want \"%s\"\n",			\
		    tap_a_ ? tap_a_ : "(null)", tap_b_ ? tap_b_ : "(null)"); \
} while (0)

/* dir/name, malloc'd; a test cannot go on without it. */
static inline char *
tap_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) == -1) {
		perror("asprintf");
		exit(1);
	}
	return p;
}

static inline int
tap_rm_entry(const char *path, const struct stat *st, int type,
    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes a test's temporary directory and everything in it. */
static inline void
tap_rmtree(const char *dir)
{
	nftw(dir, tap_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Prints the plan and returns the exit status for main(). */
static inline int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
