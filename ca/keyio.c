/*
 * CA key files: key specs and generation, reading a PKCS#8 key (refusing
 * one others can read) and writing one, encrypted when given a passphrase;
 * the keys an open CA holds besides its signing key are protected alike.
 */
#include "ac-config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "ca/ca.h"
#include "ca/err.h"
#include "ca/util.h"

#define CA_KEY_MAX	(64 * 1024)

struct pass_cb {
	const char *pass;
	int asked;
};

static int pem_pass_cb(char *, int, int, void *);

static const struct {
	const char *name;
	enum ca_keyspec spec;
} keyspecs[] = {
	{ "rsa:2048", CA_KEY_RSA2048 },
	{ "rsa:3072", CA_KEY_RSA3072 },
	{ "rsa:4096", CA_KEY_RSA4096 },
	{ "ec:p256", CA_KEY_EC_P256 },
	{ "ec:p384", CA_KEY_EC_P384 },
};

int
ca_keyspec_parse(const char *s, enum ca_keyspec *kp)
{
	size_t i;

	for (i = 0; i < sizeof(keyspecs) / sizeof(keyspecs[0]); i++) {
		if (strcasecmp(s, keyspecs[i].name) == 0) {
			*kp = keyspecs[i].spec;
			return 0;
		}
	}
	return CA_ERR_INVALID;
}

int
ca_keygen(enum ca_keyspec spec, EVP_PKEY **keyp, struct ca_err *err)
{
	EVP_PKEY *key = NULL;

	*keyp = NULL;
	switch (spec) {
	case CA_KEY_RSA2048:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case CA_KEY_RSA3072:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case CA_KEY_RSA4096:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	case CA_KEY_EC_P256:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case CA_KEY_EC_P384:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	}
	if (key == NULL)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "key generation failed");
	*keyp = key;
	return 0;
}

static int
pem_pass_cb(char *buf, int size, int rwflag, void *u)
{
	struct pass_cb *pc = u;
	size_t len;

	pc->asked = 1;
	if (pc->pass == NULL)
		return -1;
	len = strlen(pc->pass);
	if (len > (size_t)size)
		return -1;
	memcpy(buf, pc->pass, len);
	return (int)len;
}

int
ca_read_key(const char *path, const char *passphrase_file, EVP_PKEY **keyp,
    struct ca_err *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	char *pass = NULL;
	BIO *b = NULL;
	EVP_PKEY *key = NULL;
	struct pass_cb pc = { NULL, 0 };
	int r;

	*keyp = NULL;
	if ((r = util_check_private(path, err)) != 0)
		goto out;
	if ((r = util_read_file(path, CA_KEY_MAX, &buf, &len, err)) != 0)
		goto out;
	if (passphrase_file != NULL) {
		if ((r = util_read_passphrase(passphrase_file, &pass,
		    err)) != 0)
			goto out;
		pc.pass = pass;
	} else if (getenv(CA_PASSPHRASE_ENV) != NULL &&
	    *getenv(CA_PASSPHRASE_ENV) != '\0')
		pc.pass = getenv(CA_PASSPHRASE_ENV);
	if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((key = PEM_read_bio_PrivateKey(b, NULL, pem_pass_cb, &pc)) ==
	    NULL) {
		if (pc.asked && pc.pass == NULL) {
			ERR_clear_error();
			r = ca_err_set(err, CA_ERR_AUTH,
			    "%s is encrypted: give its passphrase with "
			    "--passphrase-file FILE or in $%s", path,
			    CA_PASSPHRASE_ENV);
		} else if (pc.asked) {
			ERR_clear_error();
			r = ca_err_set(err, CA_ERR_AUTH,
			    "%s: cannot decrypt the key: wrong passphrase",
			    path);
		} else
			r = ca_err_ssl(err, CA_ERR_CRYPTO,
			    "%s: not a PEM private key", path);
		goto out;
	}
	*keyp = key;
	key = NULL;
	r = 0;
 out:
	BIO_free(b);
	if (buf != NULL)
		OPENSSL_clear_free(buf, len);
	util_free_secret(pass);
	EVP_PKEY_free(key);
	return r;
}

int
ca_write_key(const char *path, EVP_PKEY *key, const char *pass,
    struct ca_err *err)
{
	BIO *b = NULL;
	char *data;
	long len;
	int ok, r;

	if ((b = BIO_new(BIO_s_secmem())) == NULL)
		return ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
	/* PKCS#8; with a cipher OpenSSL 3 uses PBES2 with PBKDF2. */
	if (pass != NULL)
		ok = PEM_write_bio_PKCS8PrivateKey(b, key, EVP_aes_256_cbc(),
		    NULL, 0, NULL, (void *)pass);
	else
		ok = PEM_write_bio_PKCS8PrivateKey(b, key, NULL, NULL, 0,
		    NULL, NULL);
	if (!ok) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "%s: cannot encode key",
		    path);
		goto out;
	}
	len = BIO_get_mem_data(b, &data);
	r = util_write_file(path, data, (size_t)len, 0600, err);
 out:
	BIO_free(b);
	return r;
}

int
ca_read_held_key(struct ca *ca, const char *path, EVP_PKEY **keyp,
    struct ca_err *err)
{
	return ca_read_key(path, ca_passphrase_file(ca), keyp, err);
}

int
ca_write_held_key(struct ca *ca, const char *path, EVP_PKEY *key,
    struct ca_err *err)
{
	const char *pf = ca_passphrase_file(ca);
	const char *env = getenv(CA_PASSPHRASE_ENV);
	char *pass = NULL;
	int r;

	if (pf != NULL && (r = util_read_passphrase(pf, &pass, err)) != 0)
		return r;
	r = ca_write_key(path, key, pass != NULL ? pass :
	    (env != NULL && *env != '\0' ? env : NULL), err);
	util_free_secret(pass);
	return r;
}
