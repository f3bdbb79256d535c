/*
 * EVP_PKEY_pairwise_check against kp_pair_ok (archive/keypair.c) on an
 * RSA-2048 and a P-256 key: ms per check and the ratio. Built by hand,
 * from the top of a configured tree (see bench/README.md):
 *	cc -O2 -I. -Ibuild -o keycheck bench/keycheck.c -lcrypto
 *	./keycheck [N]		N checks of each kind (default 50), at most
 *				5 s of each
 */
#include "archive/keypair.c"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rsa.h>

#define CAP_S	5.0

static double now_s(void);
static int openssl_check(const EVP_PKEY *);
static double time_ms(int (*)(const EVP_PKEY *), const EVP_PKEY *, int,
    int *);
static void bench(const char *, EVP_PKEY *, int);

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
openssl_check(const EVP_PKEY *key)
{
	return pairwise_ok(key);
}

/* ms per call of f over at most n calls and CAP_S seconds; *done set. */
static double
time_ms(int (*f)(const EVP_PKEY *), const EVP_PKEY *key, int n, int *done)
{
	double t0 = now_s(), t = t0;
	int i;

	for (i = 0; i < n && t - t0 < CAP_S; i++) {
		if (f(key) != 1) {
			fprintf(stderr, "keycheck: a good key was refused\n");
			exit(1);
		}
		t = now_s();
	}
	*done = i;
	return (t - t0) * 1000.0 / i;
}

static void
bench(const char *what, EVP_PKEY *key, int n)
{
	double old, new;
	int nold, nnew;

	if (key == NULL) {
		fprintf(stderr, "keycheck: cannot make a %s key\n", what);
		exit(1);
	}
	old = time_ms(openssl_check, key, n, &nold);
	new = time_ms(kp_pair_ok, key, n, &nnew);
	printf("%-9s EVP_PKEY_pairwise_check %8.3f ms (%d)   kp_pair_ok "
	    "%7.3f ms (%d)   %6.0fx\n", what, old, nold, new, nnew,
	    old / new);
	EVP_PKEY_free(key);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 50;

	if (n < 1 || n > 100000) {
		fprintf(stderr, "usage: keycheck [N: 1..100000]\n");
		return 2;
	}
	printf("%s, %d checks of each (at most %.0f s)\n",
	    OpenSSL_version(OPENSSL_VERSION), n, CAP_S);
	bench("RSA-2048", EVP_RSA_gen(2048), n);
	bench("P-256", EVP_EC_gen("P-256"), n);
	return 0;
}
