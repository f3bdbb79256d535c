/* PKCS#12 files made and read, and the random passwords that seal them. */
#include "ac-config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "archive/p12.h"
#include "ca/err.h"
#include "ca/util.h"

#define P12_MAX	(1024 * 1024)		/* a PKCS#12 file read */

static int pkcs12_build(EVP_PKEY *, X509 *, STACK_OF(X509) *,
    const char *, const char *, int, int, unsigned char **, size_t *,
    struct ca_err *);

int
p12_load(const char *path, const char *password, EVP_PKEY **keyp,
    X509 **certp, struct ca_err *err)
{
	unsigned char *buf = NULL;
	const unsigned char *p;
	size_t len = 0;
	PKCS12 *p12 = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	const char *pass = password;
	int ok = 0, r;

	*keyp = NULL;
	*certp = NULL;
	if ((r = util_read_file(path, P12_MAX, &buf, &len, err)) != 0)
		goto out;
	p = buf;
	if (len == 0 || (p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "%s: not a PKCS#12 (.p12, "
		    ".pfx) file in DER", path);
		goto out;
	}
	if (PKCS12_mac_present(p12)) {
		if (password != NULL)
			ok = PKCS12_verify_mac(p12, password, -1);
		else if (PKCS12_verify_mac(p12, NULL, 0))
			ok = 1;
		else if (PKCS12_verify_mac(p12, "", 0)) {
			pass = "";
			ok = 1;
		}
		if (!ok) {
			ERR_clear_error();
			r = ca_err_set(err, CA_ERR_AUTH, "%s: wrong password "
			    "for this PKCS#12 file%s", path, password == NULL ?
			    " (it needs one: give the officer's password)" :
			    "");
			goto out;
		}
	}
	if (!PKCS12_parse(p12, pass, &key, &cert, &ca)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "%s: cannot read the key "
		    "and certificate (a file made with legacy RC2 encryption "
		    "must be converted: openssl pkcs12 -legacy)", path);
		goto out;
	}
	if (key == NULL || cert == NULL) {
		r = ca_err_set(err, CA_ERR_INVALID, "%s: needs a private key "
		    "and its certificate", path);
		goto out;
	}
	*keyp = key;
	*certp = cert;
	key = NULL;
	cert = NULL;
	r = 0;
 out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	return r;
}

int
p12_make(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *password, const char *friendly_name, unsigned char **derp,
    size_t *lenp, struct ca_err *err)
{
	return pkcs12_build(key, cert, chain, password, friendly_name, 0,
	    PKCS12_DEFAULT_ITER, derp, lenp, err);
}

int
p12_make_legacy(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *password, const char *friendly_name, unsigned char **derp,
    size_t *lenp, struct ca_err *err)
{
	return pkcs12_build(key, cert, chain, password, friendly_name, 1,
	    PKCS12_DEFAULT_ITER, derp, lenp, err);
}

int
p12_make_sealed(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *password, const char *friendly_name, int legacy,
    unsigned char **derp, size_t *lenp, struct ca_err *err)
{
	if (password == NULL || strlen(password) < 16)
		return ca_err_set(err, CA_ERR_INVALID, "PKCS#12: a sealed one "
		    "needs a random password of at least 16 characters");
	return pkcs12_build(key, cert, chain, password, friendly_name, legacy,
	    1, derp, lenp, err);
}

static int
pkcs12_build(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *password, const char *friendly_name, int legacy, int iter,
    unsigned char **derp, size_t *lenp, struct ca_err *err)
{
	int nid = legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC :
	    NID_aes_256_cbc;
	PKCS12 *p12 = NULL;
	unsigned char *der = NULL;
	int len, r;

	*derp = NULL;
	*lenp = 0;
	if (password == NULL) {
		r = ca_err_set(err, CA_ERR_INVALID, "PKCS#12: a password is "
		    "needed");
		goto out;
	}
	/*
	 * PBES2 (PBKDF2, AES-256-CBC) for key and certificates; legacy:
	 * PBE-SHA1-3DES and a SHA-1 MAC, for readers such as gpgsm 2.2.
	 */
	if ((p12 = PKCS12_create_ex(password, friendly_name, key, cert, chain,
	    nid, nid, iter, -1, 0, NULL, NULL)) == NULL ||
	    !PKCS12_set_mac(p12, password, -1, NULL, 0, iter,
	    legacy ? EVP_sha1() : EVP_sha256()) ||
	    (len = i2d_PKCS12(p12, &der)) <= 0) {
		der = NULL;
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "building the PKCS#12");
		goto out;
	}
	*derp = der;
	*lenp = (size_t)len;
	r = 0;
 out:
	PKCS12_free(p12);
	return r;
}

int
p12_random_password(char *buf, size_t len, struct ca_err *err)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[64];
	size_t got = 0, pos = sizeof(rnd);
	int r;

	if (len >= 128) {
		r = ca_err_set(err, CA_ERR_INVALID, "a password of %zu "
		    "characters is too long (at most 127)", len);
		goto out;
	}
	while (got < len) {
		if (pos == sizeof(rnd)) {
			if (RAND_priv_bytes(rnd, sizeof(rnd)) != 1) {
				r = ca_err_ssl(err, CA_ERR_CRYPTO, "random "
				    "password");
				goto out;
			}
			pos = 0;
		}
		/* 248 = 4 * 62: larger bytes would favour the first 8. */
		if (rnd[pos] < 248)
			buf[got++] = set[rnd[pos] % 62];
		pos++;
	}
	buf[len] = '\0';
	r = 0;
 out:
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return r;
}
