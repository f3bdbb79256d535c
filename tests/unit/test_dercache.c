/* Unit tests for the decoded-certificate cache (archive/dercache.c). */
#include "ac-config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "archive/dercache.h"
#include "tests/unit/tap.h"

static X509 *self_signed(EVP_PKEY *);
static int der_of(X509 *, unsigned char **, size_t *);
static void test_cert(void);
static void test_key(void);
static void test_many(void);

static EVP_PKEY *key1, *key2;

static X509 *
self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *n = NULL;

	if (x == NULL || (n = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"dercache", -1, -1, 0) ||
	    !X509_set_subject_name(x, n) || !X509_set_issuer_name(x, n) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 7) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 3600) ||
	    !X509_set_pubkey(x, key) || !X509_sign(x, key, EVP_sha256())) {
		X509_NAME_free(n);
		X509_free(x);
		return NULL;
	}
	X509_NAME_free(n);
	return x;
}

static int
der_of(X509 *x, unsigned char **derp, size_t *lenp)
{
	int len;

	*derp = NULL;
	if ((len = i2d_X509(x, derp)) <= 0)
		return -1;
	*lenp = (size_t)len;
	return 0;
}

static void
test_cert(void)
{
	X509 *x = self_signed(key1), *a, *b, *c;
	unsigned char *der = NULL, *other = NULL;
	size_t len = 0;

	TAP_OK(x != NULL && der_of(x, &der, &len) == 0, "a certificate");
	a = dc_cert(der, len);
	b = dc_cert(der, len);
	TAP_OK(a != NULL && X509_cmp(a, x) == 0,
	    "dc_cert decodes the certificate");
	TAP_OK(a != NULL && a == b, "the same bytes again: the same object");
	/* Bytes of the same length that differ (a signature byte). */
	other = malloc(len);
	memcpy(other, der, len);
	other[len - 1] ^= 0x01;
	c = dc_cert(other, len);
	TAP_OK(c != NULL && c != a && X509_cmp(c, a) != 0,
	    "other bytes of the same length: another certificate");
	X509_free(c);
	other[0] = 0x04;	/* not a SEQUENCE */
	TAP_OK(dc_cert(other, len) == NULL, "garbage: NULL");
	TAP_OK(dc_cert(der, len - 1) == NULL, "truncated: NULL");
	TAP_OK(dc_cert(NULL, 0) == NULL, "no bytes: NULL");
	/* Each caller holds its own reference. */
	X509_free(a);
	dc_flush();
	TAP_OK(X509_cmp(b, x) == 0, "a reference outlives the cache entry");
	c = dc_cert(der, len);
	TAP_OK(c != NULL && c != b, "after dc_flush, decoded anew");
	X509_free(b);
	X509_free(c);
	X509_free(x);
	free(der);
	free(other);
}

static void
test_key(void)
{
	X509 *x = self_signed(key1), *y = self_signed(key2), *a;
	unsigned char *dx = NULL, *dy = NULL;
	size_t lx = 0, ly = 0;
	EVP_PKEY *k;

	TAP_OK(x != NULL && y != NULL && der_of(x, &dx, &lx) == 0 &&
	    der_of(y, &dy, &ly) == 0, "two certificates");
	dc_set_key(dx, lx, key1);
	TAP_OK(dc_key(dx, lx) == NULL, "no key for a certificate not kept");
	a = dc_cert(dx, lx);
	TAP_OK(dc_key(dx, lx) == NULL, "no key until one is set");
	dc_set_key(dx, lx, key1);
	k = dc_key(dx, lx);
	TAP_OK(k == key1, "the key set is the key found");
	EVP_PKEY_free(k);
	X509_free(dc_cert(dy, ly));
	TAP_OK(dc_key(dy, ly) == NULL, "another certificate has no key");
	dc_set_key(dx, lx, key2);
	k = dc_key(dx, lx);
	TAP_OK(k == key1, "a key once set is not replaced");
	EVP_PKEY_free(k);
	dc_flush();
	TAP_OK(dc_key(dx, lx) == NULL, "dc_flush drops the keys");
	X509_free(a);
	X509_free(x);
	X509_free(y);
	free(dx);
	free(dy);
}

/* More certificates than slots: every lookup still answers right. */
static void
test_many(void)
{
	unsigned char *der[40];
	size_t len[40];
	X509 *x, *c;
	int i, bad = 0;

	x = self_signed(key1);
	for (i = 0; i < 40; i++) {
		der_of(x, &der[i], &len[i]);
		der[i][len[i] - 1] = (unsigned char)i;
	}
	for (i = 0; i < 80; i++) {
		const unsigned char *p;
		X509 *want;

		p = der[i % 40];
		want = d2i_X509(NULL, &p, (long)len[i % 40]);
		c = dc_cert(der[i % 40], len[i % 40]);
		if (c == NULL || X509_cmp(c, want) != 0)
			bad++;
		X509_free(c);
		X509_free(want);
	}
	TAP_INT_EQ(bad, 0, "40 certificates through 32 slots, twice: each "
	    "lookup decodes its own bytes");
	for (i = 0; i < 40; i++)
		free(der[i]);
	X509_free(x);
	dc_flush();
}

int
main(void)
{
	key1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	key2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	TAP_OK(key1 != NULL && key2 != NULL, "two keys");
	test_cert();
	test_key();
	test_many();
	EVP_PKEY_free(key1);
	EVP_PKEY_free(key2);
	return tap_done();
}
