/*
 * libFuzzer harness: recovery blobs, as an officer opens them.
 *
 * Each input is tried twice: as a whole blob (CMS SignedData) checked
 * against a CA certificate, and as the blob's content, which the harness
 * signs with that CA's key so that the parser gets past the signature.
 * The CA, a leaf and a KRA are made at start; with FUZZ_BLOB_SEEDS=DIR
 * the harness writes seed contents (any one of n, 2 of 3) there first.
 */
#include "ac-config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "archive/escrow.h"
#include "archive/recover.h"
#include "archive/shamir.h"
#include "ca/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static EVP_PKEY *ca_key, *leaf_key, *kra_key[3];
static X509 *ca_cert, *leaf_cert, *kra_cert[3];
static int ready;

static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	if (x == NULL || n == NULL ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), (long)strlen(cn)) ||
	    !X509_set_subject_name(x, n) ||
	    !X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : n) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    !X509_set_pubkey(x, key) ||
	    !X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()))
		abort();
	X509_NAME_free(n);
	return x;
}

/* The content of a blob rcv_blob_sign makes, to path. */
static void
write_seed(const char *dir, const char *name, struct esc_record *rec)
{
	struct ca_err err;
	CMS_ContentInfo *cms;
	ASN1_OCTET_STRING **pos;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	char path[4096];
	FILE *f;

	ca_err_clear(&err);
	if (rcv_blob_sign(ca_cert, ca_key, NULL, rec, 1, &der, &len,
	    &err) != 0)
		abort();
	p = der;
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL ||
	    (pos = CMS_get0_content(cms)) == NULL || *pos == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		abort();
	fwrite(ASN1_STRING_get0_data(*pos), 1,
	    (size_t)ASN1_STRING_length(*pos), f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s.signed", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		abort();
	fwrite(der, 1, len, f);
	fclose(f);
	CMS_ContentInfo_free(cms);
	OPENSSL_free(der);
}

static void
setup(void)
{
	STACK_OF(X509) *kras = sk_X509_new_null();
	struct esc_record rec;
	struct ca_err err;
	const char *seeds = getenv("FUZZ_BLOB_SEEDS");
	int i;

	if ((ca_key = EVP_EC_gen("P-256")) == NULL ||
	    (leaf_key = EVP_EC_gen("P-256")) == NULL || kras == NULL)
		abort();
	ca_cert = make_cert("Fuzz CA", ca_key, NULL, NULL);
	leaf_cert = make_cert("Fuzz Leaf", leaf_key, ca_cert, ca_key);
	for (i = 0; i < 3; i++) {
		if ((kra_key[i] = EVP_RSA_gen(1024)) == NULL)
			abort();
		kra_cert[i] = make_cert(i == 0 ? "KRA 1" : i == 1 ? "KRA 2" :
		    "KRA 3", kra_key[i], ca_cert, ca_key);
		if (!sk_X509_push(kras, kra_cert[i]))
			abort();
	}
	if (seeds != NULL) {
		ca_err_clear(&err);
		memset(&rec, 0, sizeof(rec));
		X509_up_ref(leaf_cert);
		rec.cert = leaf_cert;
		if (esc_seal(leaf_key, kras, 1, &rec, &err) != 0)
			abort();
		write_seed(seeds, "any-one", &rec);
		if (esc_seal(leaf_key, kras, 2, &rec, &err) != 0)
			abort();
		write_seed(seeds, "two-of-three", &rec);
		esc_record_clear(&rec);
	}
	sk_X509_free(kras);
	ready = 1;
}

/* Everything an officer would do with a parsed blob. */
static void
exercise(struct rcv_blob *b)
{
	struct ca_err err;
	struct shamir_share sh[3];
	EVP_PKEY *key = NULL;
	char line[1024], *json = NULL;
	size_t i, idx[3];
	int k;

	memset(sh, 0, sizeof(sh));
	for (i = 0; i < rcv_blob_count(b); i++) {
		ca_err_clear(&err);
		(void)rcv_blob_describe(b, i, line, sizeof(line));
		if (rcv_blob_quorum(b, i) == 1) {
			if (rcv_open_key(b, i, kra_key[0], kra_cert[0], &key,
			    &err) == 0)
				EVP_PKEY_free(key);
			key = NULL;
			continue;
		}
		for (k = 0; k < 3; k++) {
			ca_err_clear(&err);
			(void)rcv_open_share(b, i, kra_key[k], kra_cert[k],
			    &sh[k], &err);
			idx[k] = i;
		}
		ca_err_clear(&err);
		if (rcv_combine(b, i, sh, 3, &key, &err) == 0)
			EVP_PKEY_free(key);
		key = NULL;
		ca_err_clear(&err);
		if (sh[0].y != NULL && sh[1].y != NULL && sh[2].y != NULL &&
		    rcv_share_encode(b, idx, sh, 3, &json, &err) == 0)
			OPENSSL_clear_free(json, strlen(json));
		for (k = 0; k < 3; k++)
			shamir_share_clear(&sh[k]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ca_err err;
	struct rcv_blob *b = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	unsigned char *der = NULL;
	int dlen;

	if (!ready)
		setup();
	ca_err_clear(&err);
	if (rcv_blob_parse(data, len, ca_cert, &b, &err) == 0) {
		exercise(b);
		rcv_blob_free(b);
		b = NULL;
	}
	/* The input as content, signed by the CA. */
	if (len > 0 && len < 1024 * 1024 &&
	    (in = BIO_new_mem_buf(data, (int)len)) != NULL &&
	    (cms = CMS_sign(ca_cert, ca_key, NULL, in,
	    CMS_BINARY | CMS_NOSMIMECAP)) != NULL &&
	    (dlen = i2d_CMS_ContentInfo(cms, &der)) > 0) {
		ca_err_clear(&err);
		if (rcv_blob_parse(der, (size_t)dlen, ca_cert, &b, &err) ==
		    0) {
			exercise(b);
			rcv_blob_free(b);
		}
	}
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return 0;
}

int LLVMFuzzerInitialize(int *, char ***);

/* libFuzzer calls this before it reads the corpus (the seeds with it). */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!ready)
		setup();
	return 0;
}
