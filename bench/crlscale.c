/*
 * CRL scale: fills a CA with N revoked certificates, then times the CRL
 * (rev_crl_generate_der, as smimeca crl and smimecad call it: reading the
 * rows, building the entries, signing, encoding and storing). Built on
 * demand, `make bench/crlscale` in a configured build directory; driven by
 * bench/crl-scale.
 *
 *	crlscale -d CADIR [-n N] [-r RUNS]
 *
 * -n N adds N revoked rows (default 0: time what is there) through the
 * storage layer (db_cert_add), all in one transaction. Each row is shaped
 * like a real one: a random 16-byte serial, the DER of the first
 * certificate in the database (issue one first), a subject, an address,
 * the template of that certificate, revocation times spread over the last
 * 300 days and the reasons unspecified, keyCompromise, superseded and
 * cessationOfOperation in turn. -r RUNS signs that many CRLs and prints
 * each time and the best.
 */
#include "ac-config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/revoke.h"
#include "ca/util.h"

static double now_s(void);
static int fill(struct ca *, long, struct ca_err *);
static void usage(void);

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr, "usage: crlscale -d CADIR [-n N] [-r RUNS]\n");
	exit(2);
}

/* n revoked rows like the first certificate of the store, one commit. */
static int
fill(struct ca *ca, long n, struct ca_err *err)
{
	static const int reasons[] = { 0, 1, 4, 5 };
	struct db *db = ca_db(ca);
	struct db_cert_filter f;
	struct db_cert **list = NULL, c;
	ASN1_INTEGER *ai = NULL;
	unsigned char rnd[32];
	char subject[128], email[64];
	size_t nl = 0;
	int64_t now = (int64_t)time(NULL);
	long i;
	int r, in_tx = 0;

	memset(&f, 0, sizeof(f));
	f.issuer_id = ca_cert_id(ca);
	if ((r = db_cert_list(db, &f, &list, &nl, err)) != 0)
		goto out;
	if (nl == 0) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no certificate to copy "
		    "the shape of: issue one first");
		goto out;
	}
	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	for (i = 0; i < n; i++) {
		memset(&c, 0, sizeof(c));
		if ((r = ca_random_serial(&ai, err)) != 0)
			goto out;
		util_serial_hex(ai, c.serial);
		ASN1_INTEGER_free(ai);
		ai = NULL;
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			r = ca_err_ssl(err, CA_ERR_CRYPTO, "random bytes");
			goto out;
		}
		util_hex(rnd, 20, c.sha1);
		util_hex(rnd, 32, c.sha256);
		snprintf(subject, sizeof(subject), "CN=Bench User %07ld, "
		    "emailAddress=bench%07ld@lab.example", i, i);
		snprintf(email, sizeof(email), "bench%07ld@lab.example", i);
		c.issuer_id = ca_cert_id(ca);
		c.template = list[0]->template;
		c.subject = subject;
		c.email = email;
		c.not_before = now - 300 * 86400;
		c.not_after = now + 65 * 86400;
		c.revoked = 1;
		c.revoked_at = now - (int64_t)(rnd[0] | rnd[1] << 8) * 395;
		c.reason = reasons[i % 4];
		c.der = list[0]->der;
		c.derlen = list[0]->derlen;
		if ((r = db_cert_add(db, &c, err)) != 0)
			goto out;
	}
	if ((r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	r = 0;
 out:
	if (in_tx)
		db_rollback(db);
	ASN1_INTEGER_free(ai);
	db_cert_free_list(list, nl);
	return r;
}

int
main(int argc, char **argv)
{
	struct ca *ca = NULL;
	struct ca_err err;
	X509_CRL *crl = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	const char *dir = NULL;
	double t0, t, best = 0;
	long n = 0, runs = 1, i;
	int ch, entries;

	while ((ch = getopt(argc, argv, "d:n:r:")) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'r':
			runs = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (dir == NULL || n < 0 || runs < 1 || optind != argc)
		usage();
	ca_err_clear(&err);
	if (ca_open(dir, NULL, CA_OPEN_KEY, &ca, &err) != 0)
		goto fail;
	if (n > 0) {
		t0 = now_s();
		if (fill(ca, n, &err) != 0)
			goto fail;
		printf("filled %ld revoked rows in %.2f s\n", n, now_s() - t0);
	}
	for (i = 0; i < runs; i++) {
		t0 = now_s();
		if (rev_crl_generate_der(ca, &der, &len, &err) != 0)
			goto fail;
		t = now_s() - t0;
		p = der;
		if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL) {
			ca_err_ssl(&err, CA_ERR_CRYPTO, "the CRL does not "
			    "parse");
			goto fail;
		}
		entries = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
		X509_CRL_free(crl);
		crl = NULL;
		OPENSSL_free(der);
		der = NULL;
		printf("crl entries=%d der_bytes=%zu seconds=%.3f\n", entries,
		    len, t);
		if (i == 0 || t < best)
			best = t;
	}
	printf("best of %ld: %.3f s\n", runs, best);
	ca_close(ca);
	return 0;
 fail:
	fprintf(stderr, "crlscale: %s\n", err.msg);
	ca_close(ca);
	return 1;
}
