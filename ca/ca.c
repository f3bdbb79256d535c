/*
 * The CA: its directory, signing key, certificates and store, opened as
 * one (init.c creates a CA; keyio.c reads and writes key files; svccert.c
 * builds the certificates of the CA's own services).
 */
#include "ac-config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/util.h"

#define CA_CERT_MAX	(1024 * 1024)

struct ca {
	struct ca_config *cfg;
	struct db *db;
	struct db *tx_db;	/* set by ca_use_db */
	X509 *cert;
	STACK_OF(X509) *chain;
	EVP_PKEY *key;
	int64_t cert_id;
	const EVP_MD *md;
	char *passphrase_file;
	char actor[128];
};

static int load_pem_certs(const char *, STACK_OF(X509) **, struct ca_err *);

static int
load_pem_certs(const char *path, STACK_OF(X509) **skp, struct ca_err *err)
{
	unsigned char *buf = NULL;
	size_t len;
	BIO *b = NULL;
	STACK_OF(X509) *sk = NULL;
	X509 *x;
	int r;

	*skp = NULL;
	if ((r = util_read_file(path, CA_CERT_MAX, &buf, &len, err)) != 0)
		goto out;
	if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL ||
	    (sk = sk_X509_new_null()) == NULL) {
		r = ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			r = ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	ERR_clear_error();
	if (sk_X509_num(sk) == 0) {
		r = ca_err_set(err, CA_ERR_INVALID,
		    "%s: no PEM certificate in it", path);
		goto out;
	}
	*skp = sk;
	sk = NULL;
	r = 0;
 out:
	sk_X509_pop_free(sk, X509_free);
	BIO_free(b);
	free(buf);
	return r;
}

int
ca_open(const char *dir, const char *passphrase_file, unsigned flags,
    struct ca **cap, struct ca_err *err)
{
	struct ca *ca = NULL;
	STACK_OF(X509) *sk = NULL;
	unsigned char *der = NULL, *mine = NULL;
	size_t derlen = 0;
	int minelen, r;
	struct stat st;
	char *conf = NULL;

	*cap = NULL;
	if ((conf = util_path(dir, CFG_FILE)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if (stat(dir, &st) == -1 || stat(conf, &st) == -1) {
		free(conf);
		return ca_err_set(err, CA_ERR_NOTFOUND,
		    "%s: no CA here (no %s); create one with "
		    "`smimeca -d %s init` or name the CA directory with -d",
		    dir, CFG_FILE, dir);
	}
	free(conf);
	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	snprintf(ca->actor, sizeof(ca->actor), "admin");
	if (passphrase_file != NULL &&
	    (ca->passphrase_file = strdup(passphrase_file)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = cfg_load(dir, &ca->cfg, err)) != 0)
		goto out;
	if ((ca->md = EVP_get_digestbyname(ca->cfg->digest)) == NULL) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: unknown digest \"%s\" "
		    "(use sha256, sha384 or sha512)", ca->cfg->path,
		    ca->cfg->digest);
		goto out;
	}
	if ((r = load_pem_certs(ca->cfg->cert_file, &sk, err)) != 0)
		goto out;
	ca->cert = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	sk = NULL;
	if ((r = load_pem_certs(ca->cfg->chain_file, &ca->chain, err)) != 0)
		goto out;
	if ((r = db_open(ca->cfg->db_file, 0, &ca->db, err)) != 0 ||
	    (r = db_ca_cert_current(ca->db, "issuing", &ca->cert_id, &der,
	    &derlen, err)) != 0)
		goto out;
	/* The database and the certificate file must agree. */
	if ((minelen = i2d_X509(ca->cert, &mine)) <= 0 ||
	    (size_t)minelen != derlen || memcmp(mine, der, derlen) != 0) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s does not match the "
		    "issuing CA certificate recorded in %s",
		    ca->cfg->cert_file, ca->cfg->db_file);
		goto out;
	}
	if ((flags & CA_OPEN_KEY) != 0 && (r = ca_load_key(ca, err)) != 0)
		goto out;
	*cap = ca;
	ca = NULL;
	r = 0;
 out:
	OPENSSL_free(mine);
	free(der);
	sk_X509_pop_free(sk, X509_free);
	ca_close(ca);
	return r;
}

int
ca_load_key(struct ca *ca, struct ca_err *err)
{
	int r;

	if (ca->key != NULL)
		return 0;
	if ((r = ca_read_key(ca->cfg->key_file, ca_passphrase_file(ca),
	    &ca->key, err)) != 0)
		return r;
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		EVP_PKEY_free(ca->key);
		ca->key = NULL;
		return ca_err_ssl(err, CA_ERR_CONFIG, "%s does not belong to "
		    "the CA certificate %s", ca->cfg->key_file,
		    ca->cfg->cert_file);
	}
	return 0;
}

const char *
ca_passphrase_file(const struct ca *ca)
{
	if (ca->passphrase_file != NULL)
		return ca->passphrase_file;
	if (getenv(CA_PASSPHRASE_ENV) != NULL &&
	    *getenv(CA_PASSPHRASE_ENV) != '\0')
		return NULL;
	return ca->cfg->passphrase_file;
}

void
ca_close(struct ca *ca)
{
	if (ca == NULL)
		return;
	db_close(ca->db);
	cfg_free(ca->cfg);
	X509_free(ca->cert);
	sk_X509_pop_free(ca->chain, X509_free);
	EVP_PKEY_free(ca->key);
	free(ca->passphrase_file);
	free(ca);
}

const struct ca_config *
ca_config(const struct ca *ca)
{
	return ca->cfg;
}

struct db *
ca_db(struct ca *ca)
{
	return ca->tx_db != NULL ? ca->tx_db : ca->db;
}

void
ca_use_db(struct ca *ca, struct db *db)
{
	ca->tx_db = db;
}

X509 *
ca_cert(const struct ca *ca)
{
	return ca->cert;
}

int64_t
ca_cert_id(const struct ca *ca)
{
	return ca->cert_id;
}

STACK_OF(X509) *
ca_chain(const struct ca *ca)
{
	return ca->chain;
}

EVP_PKEY *
ca_key(const struct ca *ca)
{
	return ca->key;
}

const EVP_MD *
ca_digest(const struct ca *ca)
{
	return ca->md;
}

const char *
ca_actor(const struct ca *ca)
{
	return ca->actor;
}

void
ca_set_actor(struct ca *ca, const char *actor)
{
	snprintf(ca->actor, sizeof(ca->actor), "%s", actor);
}
