/*
 * Unit tests for opening a key-archival request (archive/areq.c): with a
 * CA made here, a simple-form request (CSR + EnvelopedData of PKCS#8, as
 * openssl cms -encrypt makes it) whose archived key is not the CSR's key
 * is refused by areq_open itself, with its own message, before anything
 * is signed or escrowed; so is the CSR's public key with a private half
 * that does not work (d + 2, another EC scalar); the request's own key
 * opens.
 */
#include "ac-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "archive/areq.h"
#include "archive/keypair.h"
#include "archive/xchg.h"
#include "ca/ca.h"
#include "ca/err.h"
#include "tests/unit/tap.h"

/* areq_open's own words; escrow.c refuses later with other ones. */
#define MISMATCH "the archived private key does not belong to the " \
	"request's public key"
#define INCONSISTENT "the archived private key is inconsistent: its " \
	"private values do not work with the request's public key"

static char tmpdir[] = "/tmp/test_areq.XXXXXX";

static void rm_tmpdir(void);
static X509_REQ *make_csr(EVP_PKEY *);
static int envelope(EVP_PKEY *, X509 *, unsigned char **, size_t *);
static int open_with(struct ca *, X509 *, EVP_PKEY *, EVP_PKEY *,
    EVP_PKEY **, struct ca_err *);
static void test_mismatch(struct ca *, X509 *);
static EVP_PKEY *with_param(const EVP_PKEY *, const char *, const BIGNUM *);
static void test_bad_private(struct ca *, X509 *);

static void
rm_tmpdir(void)
{
	tap_rmtree(tmpdir);
}

/* A CSR for key, signed by it. */
static X509_REQ *
make_csr(EVP_PKEY *key)
{
	X509_REQ *req;
	X509_NAME *n;

	if ((req = X509_REQ_new()) == NULL ||
	    (n = X509_REQ_get_subject_name(req)) == NULL ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"Mallory", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "emailAddress", MBSTRING_ASC,
	    (const unsigned char *)"mallory@lab.example", -1, -1, 0) ||
	    !X509_REQ_set_pubkey(req, key) ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

/* key as PKCS#8 DER in a CMS EnvelopedData (AES-256) to the exchange cert. */
static int
envelope(EVP_PKEY *key, X509 *xcert, unsigned char **derp, size_t *lenp)
{
	STACK_OF(X509) *rcpt = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	int der_len, rc = -1;

	*derp = NULL;
	*lenp = 0;
	if ((in = BIO_new(BIO_s_mem())) == NULL ||
	    !i2d_PKCS8PrivateKey_bio(in, key, NULL, NULL, 0, NULL, NULL) ||
	    (rcpt = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(rcpt, xcert) ||
	    (cms = CMS_encrypt(rcpt, in, EVP_aes_256_cbc(),
	    CMS_BINARY)) == NULL ||
	    (der_len = i2d_CMS_ContentInfo(cms, derp)) <= 0)
		goto out;
	*lenp = (size_t)der_len;
	rc = 0;
 out:
	BIO_free(in);
	sk_X509_free(rcpt);
	CMS_ContentInfo_free(cms);
	return rc;
}

/* A request for csr_key archiving archived; areq_open's result. */
static int
open_with(struct ca *ca, X509 *xcert, EVP_PKEY *csr_key, EVP_PKEY *archived,
    EVP_PKEY **keyp, struct ca_err *err)
{
	X509_REQ *csr = NULL;
	struct areq *a = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	int r;

	*keyp = NULL;
	ca_err_clear(err);
	if ((csr = make_csr(csr_key)) == NULL ||
	    envelope(archived, xcert, &der, &len) != 0) {
		r = ca_err_set(err, CA_ERR_CRYPTO, "test setup: CSR or "
		    "envelope");
		goto out;
	}
	if ((r = areq_parse_simple(csr, der, len, &a, err)) != 0)
		goto out;
	r = areq_open(ca, a, (int64_t)time(NULL), keyp, err);
 out:
	areq_free(a);
	X509_REQ_free(csr);
	OPENSSL_free(der);
	return r;
}

static void
test_mismatch(struct ca *ca, X509 *xcert)
{
	struct ca_err err;
	EVP_PKEY *a = EVP_RSA_gen(2048), *b = EVP_RSA_gen(2048);
	EVP_PKEY *ec = EVP_EC_gen("P-256"), *key = NULL;
	int r;

	if (a == NULL || b == NULL || ec == NULL) {
		TAP_OK(0, "generate the test keys");
		goto out;
	}
	r = open_with(ca, xcert, a, a, &key, &err);
	TAP_INT_EQ(r, 0, "the CSR's own RSA key opens: %s", err.msg);
	TAP_OK(key != NULL && EVP_PKEY_eq(key, a) == 1,
	    "... and areq_open returns that key");
	EVP_PKEY_free(key);

	r = open_with(ca, xcert, a, b, &key, &err);
	TAP_INT_EQ(r, CA_ERR_INVALID,
	    "another RSA-2048 key in the envelope: CA_ERR_INVALID");
	TAP_OK(key == NULL, "... and no key is returned");
	TAP_OK(strstr(err.msg, MISMATCH) != NULL,
	    "... with areq_open's message \"%s\"", MISMATCH);
	if (strstr(err.msg, MISMATCH) == NULL)
		printf("#   got: %s\n", err.msg);
	EVP_PKEY_free(key);

	r = open_with(ca, xcert, a, ec, &key, &err);
	TAP_INT_EQ(r, CA_ERR_INVALID,
	    "an EC key for an RSA request: CA_ERR_INVALID");
	TAP_OK(key == NULL && strstr(err.msg, MISMATCH) != NULL,
	    "... refused with the same message: %s", err.msg);
	EVP_PKEY_free(key);

	r = open_with(ca, xcert, ec, ec, &key, &err);
	TAP_INT_EQ(r, 0, "the CSR's own EC key opens: %s", err.msg);
	EVP_PKEY_free(key);
 out:
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(ec);
}

/* A copy of key (RSA or EC, all parameters) with one value replaced. */
static EVP_PKEY *
with_param(const EVP_PKEY *key, const char *name, const BIGNUM *bn)
{
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM *all = NULL, *p, *merged = NULL, one[2];
	EVP_PKEY *out = NULL;
	unsigned char v[512];

	if (BN_bn2nativepad(bn, v, (int)BN_num_bytes(bn)) < 0)
		return NULL;
	one[0] = OSSL_PARAM_construct_BN(name, v, (size_t)BN_num_bytes(bn));
	one[1] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_todata(key, EVP_PKEY_KEYPAIR, &all) != 1 ||
	    (p = OSSL_PARAM_locate(all, name)) == NULL ||
	    (merged = OSSL_PARAM_merge(all, one)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, (EVP_PKEY *)key,
	    NULL)) == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &out, EVP_PKEY_KEYPAIR, merged) != 1)
		out = NULL;
	OPENSSL_cleanse(v, sizeof(v));
	OSSL_PARAM_free(merged);
	OSSL_PARAM_free(all);
	EVP_PKEY_CTX_free(ctx);
	return out;
}

/* The CSR's public key, a private half that does not work: PKCS#8. */
static void
test_bad_private(struct ca *ca, X509 *xcert)
{
	struct ca_err err;
	EVP_PKEY *a = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256");
	EVP_PKEY *ec2 = EVP_EC_gen("P-256"), *bad = NULL, *key = NULL;
	BIGNUM *d = NULL;
	uint64_t before;
	int r;

	if (a == NULL || ec == NULL || ec2 == NULL ||
	    EVP_PKEY_get_bn_param(a, OSSL_PKEY_PARAM_RSA_D, &d) != 1 ||
	    !BN_add_word(d, 2) ||
	    (bad = with_param(a, OSSL_PKEY_PARAM_RSA_D, d)) == NULL) {
		TAP_OK(0, "RSA key with d + 2");
		goto out;
	}
	TAP_INT_EQ(EVP_PKEY_eq(a, bad), 1, "RSA d + 2: same public key");
	before = kp_pair_checks();
	r = open_with(ca, xcert, a, bad, &key, &err);
	TAP_OK(r == CA_ERR_INVALID && key == NULL &&
	    strstr(err.msg, INCONSISTENT) != NULL,
	    "RSA-2048 PKCS#8 with d + 2 is refused: %s", err.msg);
	TAP_INT_EQ(kp_pair_checks(), before + 1, "... after one key check");
	EVP_PKEY_free(key);
	EVP_PKEY_free(bad);
	bad = NULL;
	BN_clear_free(d);
	d = NULL;

	if (EVP_PKEY_get_bn_param(ec2, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 ||
	    (bad = with_param(ec, OSSL_PKEY_PARAM_PRIV_KEY, d)) == NULL) {
		TAP_OK(0, "P-256 key with another d");
		goto out;
	}
	TAP_INT_EQ(EVP_PKEY_eq(ec, bad), 1, "P-256, another d: same Q");
	r = open_with(ca, xcert, ec, bad, &key, &err);
	TAP_OK(r == CA_ERR_INVALID && key == NULL &&
	    strstr(err.msg, INCONSISTENT) != NULL,
	    "P-256 PKCS#8 whose d*G is not Q is refused: %s", err.msg);
	EVP_PKEY_free(key);
 out:
	BN_clear_free(d);
	EVP_PKEY_free(bad);
	EVP_PKEY_free(a);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ec2);
}

int
main(void)
{
	struct ca_init_params p;
	struct ca_err err;
	struct ca *ca = NULL;
	X509 *xcert = NULL;
	char *cadir;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	atexit(rm_tmpdir);
	cadir = tap_path(tmpdir, "ca");
	ca_err_clear(&err);
	memset(&p, 0, sizeof(p));
	p.dir = cadir;
	p.name = "Archival Request Test CA";
	p.key = CA_KEY_EC_P256;
	p.validity_days = 365;
	if (ca_init(&p, &err) != 0 ||
	    ca_open(cadir, NULL, CA_OPEN_KEY, &ca, &err) != 0 ||
	    xchg_current(ca, (int64_t)time(NULL), &xcert, &err) != 0) {
		printf("Bail out! %s\n", err.msg);
		return 1;
	}
	test_mismatch(ca, xcert);
	test_bad_private(ca, xcert);
	X509_free(xcert);
	ca_close(ca);
	free(cadir);
	return tap_done();
}
