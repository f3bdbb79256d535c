/*
 * Unit tests for the Intune export (archive/intune.c) without a CA: the
 * padding names Intune takes, the OAEP password limit, the import key
 * formats (a CNG RSAPUBLICBLOB made here byte by byte), and that a
 * userPFXCertificate's password opens its PFX after OAEP decryption.
 */
#include "ac-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "archive/intune.h"
#include "archive/mdm.h"
#include "ca/err.h"
#include "ca/util.h"
#include "tests/unit/tap.h"

static EVP_PKEY *rsa_key(int);
static X509 *self_signed(EVP_PKEY *);
static void put32(unsigned char *, uint32_t);
static int write_file(const char *, const void *, size_t);

static EVP_PKEY *
rsa_key(int bits)
{
	EVP_PKEY *k = EVP_RSA_gen((unsigned)bits);

	if (k == NULL) {
		fprintf(stderr, "RSA key generation failed\n");
		exit(1);
	}
	return k;
}

static X509 *
self_signed(EVP_PKEY *key)
{
	X509 *c = X509_new();

	ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
	X509_set_version(c, 2);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN",
	    MBSTRING_ASC, (const unsigned char *)"Test", -1, -1, 0);
	X509_set_issuer_name(c, X509_get_subject_name(c));
	X509_gmtime_adj(X509_getm_notBefore(c), 0);
	X509_gmtime_adj(X509_getm_notAfter(c), 86400);
	X509_set_pubkey(c, key);
	if (X509_sign(c, key, EVP_sha256()) <= 0) {
		fprintf(stderr, "signing failed\n");
		exit(1);
	}
	return c;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static int
write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(buf, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

int
main(void)
{
	char tmpl[] = "/tmp/test_intune.XXXXXX", *dir, *path;
	enum intune_padding p;
	struct ca_err err;
	struct intune_params ip;
	struct mdm_identity id;
	EVP_PKEY *imp, *user, *got = NULL;
	EVP_PKEY_CTX *ctx;
	X509 *cert, *pcert = NULL;
	BIGNUM *n = NULL, *e = NULL;
	unsigned char blob[24 + 3 + 256], *der, pw[256];
	const unsigned char *cp;
	size_t max, pwlen = sizeof(pw), len;
	json_t *o = NULL;
	PKCS12 *p12;
	BIO *b;
	int ok;

	if ((dir = mkdtemp(tmpl)) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	ca_err_clear(&err);

	/* Padding names: Intune's three, nothing else. */
	TAP_OK(intune_padding_parse("oaepSha512", &p) == 0 &&
	    p == INTUNE_OAEP_SHA512, "oaepSha512 is taken");
	TAP_OK(intune_padding_parse("oaepSha256", &p) == 0 &&
	    p == INTUNE_OAEP_SHA256, "oaepSha256 is taken");
	TAP_OK(intune_padding_parse("pkcs1", &p) != 0, "pkcs1 is refused");
	TAP_OK(intune_padding_parse("oaepSha1", &p) != 0,
	    "oaepSha1 is refused");
	TAP_STR_EQ(intune_padding_name(INTUNE_OAEP_SHA384), "oaepSha384",
	    "the enum value is spelt as Graph spells it");

	imp = rsa_key(2048);
	TAP_OK(intune_password_max(imp, INTUNE_OAEP_SHA512, &max, &err) == 0,
	    "OAEP limit of RSA-2048");
	TAP_INT_EQ(max, 126, "RSA-2048 with OAEP-SHA512 carries 126 bytes");
	intune_password_max(imp, INTUNE_OAEP_SHA256, &max, &err);
	TAP_INT_EQ(max, 190, "RSA-2048 with OAEP-SHA256 carries 190 bytes");

	/* The same public key as PEM and as a CNG RSAPUBLICBLOB. */
	EVP_PKEY_get_bn_param(imp, OSSL_PKEY_PARAM_RSA_N, &n);
	EVP_PKEY_get_bn_param(imp, OSSL_PKEY_PARAM_RSA_E, &e);
	memset(blob, 0, sizeof(blob));
	put32(blob, 0x31415352);
	put32(blob + 4, 2048);
	put32(blob + 8, 3);
	put32(blob + 12, 256);
	BN_bn2binpad(e, blob + 24, 3);
	BN_bn2binpad(n, blob + 27, 256);
	path = tap_path(dir, "import.blob");
	ok = write_file(path, blob, sizeof(blob)) == 0 &&
	    intune_read_import_key(path, &got, &err) == 0;
	TAP_OK(ok && EVP_PKEY_eq(got, imp) == 1,
	    "a CNG RSAPUBLICBLOB reads as the same public key");
	EVP_PKEY_free(got);
	got = NULL;
	blob[0] = 'X';
	write_file(path, blob, sizeof(blob));
	ca_err_clear(&err);
	TAP_OK(intune_read_import_key(path, &got, &err) != 0 &&
	    strstr(err.msg, "not a public key") != NULL,
	    "a damaged blob is refused, naming the formats");
	free(path);

	/* A 1024-bit key is refused: Intune's connector keys are larger. */
	path = tap_path(dir, "small.pem");
	user = rsa_key(1024);
	b = BIO_new_file(path, "w");
	PEM_write_bio_PUBKEY(b, user);
	BIO_free(b);
	ca_err_clear(&err);
	TAP_OK(intune_read_import_key(path, &got, &err) != 0 &&
	    strstr(err.msg, "2048") != NULL, "an RSA-1024 import key is "
	    "refused");
	EVP_PKEY_free(user);
	free(path);

	/* One object: decrypt the password as the connector would. */
	user = rsa_key(2048);
	cert = self_signed(user);
	memset(&id, 0, sizeof(id));
	id.cert = cert;
	id.key = user;
	strcpy(id.serial, "07");
	strcpy(id.sha1, "00112233445566778899aabbccddeeff00112233");
	memset(&ip, 0, sizeof(ip));
	ip.import_key = imp;
	ip.padding = INTUNE_OAEP_SHA512;
	ip.key_name = "k";
	ip.provider = "Microsoft Software Key Storage Provider";
	ip.upn = "bob@lab.example";
	ip.now = 1800000000;
	ca_err_clear(&err);
	TAP_OK(intune_pfx_object(&ip, &id, NULL, &o, &err) == 0,
	    "a userPFXCertificate object is built");
	TAP_STR_EQ(json_string_value(json_object_get(o, "@odata.type")),
	    "#microsoft.graph.userPFXCertificate", "@odata.type");
	TAP_STR_EQ(json_string_value(json_object_get(o, "createdDateTime")),
	    "2027-01-15T08:00:00Z", "createdDateTime is ISO 8601 UTC");
	TAP_INT_EQ(json_object_size(o), 13, "thirteen fields, no others");
	ok = util_b64_decode(json_string_value(json_object_get(o,
	    "encryptedPfxPassword")), 4096, &der, &len, &err) == 0;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, imp, NULL);
	ok = ok && EVP_PKEY_decrypt_init(ctx) > 0 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha512()) > 0 &&
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha512()) > 0 &&
	    EVP_PKEY_decrypt(ctx, pw, &pwlen, der, len) > 0;
	EVP_PKEY_CTX_free(ctx);
	free(der);
	TAP_OK(ok && pwlen == 32, "the password decrypts with OAEP-SHA512 "
	    "(MGF1-SHA512, no label) to 32 characters");
	pw[ok ? pwlen : 0] = '\0';
	ok = util_b64_decode(json_string_value(json_object_get(o,
	    "encryptedPfxBlob")), 1 << 20, &der, &len, &err) == 0;
	cp = der;
	p12 = ok ? d2i_PKCS12(NULL, &cp, (long)len) : NULL;
	got = NULL;
	ok = p12 != NULL && PKCS12_parse(p12, (char *)pw, &got, &pcert,
	    NULL) == 1;
	TAP_OK(ok && EVP_PKEY_eq(got, user) == 1 && X509_cmp(pcert, cert) ==
	    0, "the password opens the PFX, which holds the key and "
	    "certificate");
	PKCS12_free(p12);
	free(der);
	EVP_PKEY_free(got);
	X509_free(pcert);

	/* base64 both ways. */
	der = NULL;
	TAP_OK(util_b64_decode("YWI=", 10, &der, &len, &err) == 0 &&
	    len == 2 && memcmp(der, "ab", 2) == 0, "base64 with padding");
	free(der);
	ca_err_clear(&err);
	TAP_OK(util_b64_decode("YW=", 10, &der, &len, &err) != 0,
	    "base64 of a wrong length is refused");

	json_decref(o);
	X509_free(cert);
	EVP_PKEY_free(user);
	EVP_PKEY_free(imp);
	BN_free(n);
	BN_free(e);
	tap_rmtree(dir);
	return tap_done();
}
