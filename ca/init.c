/*
 * `smimeca init`: a new CA directory with its keys, CA certificates,
 * configuration, stock templates and database, built beside the target
 * and renamed into place.
 */
#include "ac-config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/util.h"

#define CA_BACKDATE	300	/* seconds, for clients with slow clocks */

static int rm_entry(const char *, const struct stat *, int, struct FTW *);
static int init_check_target(const char *, struct ca_err *);
static int init_populate(const struct ca_init_params *, const char *,
    const char *, struct ca_err *);
static int make_ca_cert(EVP_PKEY *, X509 *, EVP_PKEY *, const char *, int,
    int, X509 **, struct ca_err *);
static int write_pem_certs(const char *, X509 *, X509 *, struct ca_err *);
static int copy_templates(const char *, struct ca_err *);

/*
 * A CA certificate: self-signed when issuer == NULL, else signed by
 * issuer/issuer_key. pathlen < 0 leaves the path length open.
 */
static int
make_ca_cert(EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
    const char *cn, int days, int pathlen, X509 **certp, struct ca_err *err)
{
	X509 *cert = NULL;
	X509_NAME *name = NULL;
	ASN1_INTEGER *serial = NULL;
	char bc[64];
	time_t now = time(NULL);
	int r;

	*certp = NULL;
	if ((cert = X509_new()) == NULL || (name = X509_NAME_new()) == NULL) {
		r = ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = ca_random_serial(&serial, err)) != 0)
		goto out;
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0)) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "CA name \"%s\"", cn);
		goto out;
	}
	if (!X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_serialNumber(cert, serial) ||
	    !X509_set_subject_name(cert, name) ||
	    !X509_set_issuer_name(cert, issuer != NULL ?
	    X509_get_subject_name(issuer) : name) ||
	    X509_time_adj_ex(X509_getm_notBefore(cert), 0, -CA_BACKDATE,
	    &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, &now) ==
	    NULL || !X509_set_pubkey(cert, key)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "building CA certificate");
		goto out;
	}
	if (pathlen >= 0)
		snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d",
		    pathlen);
	else
		snprintf(bc, sizeof(bc), "critical,CA:TRUE");
	if ((r = ca_add_ext(cert, issuer, NID_basic_constraints, bc,
	    err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_key_usage,
	    "critical,digitalSignature,keyCertSign,cRLSign", err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_subject_key_identifier, "hash",
	    err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_authority_key_identifier,
	    "keyid:always", err)) != 0)
		goto out;
	if (!X509_sign(cert, issuer_key != NULL ? issuer_key : key,
	    EVP_sha256())) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "signing CA certificate");
		goto out;
	}
	*certp = cert;
	cert = NULL;
	r = 0;
 out:
	X509_free(cert);
	X509_NAME_free(name);
	ASN1_INTEGER_free(serial);
	return r;
}

static int
write_pem_certs(const char *path, X509 *a, X509 *b, struct ca_err *err)
{
	BIO *bio = NULL;
	char *data;
	long len;
	int r;

	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509(bio, a) ||
	    (b != NULL && !PEM_write_bio_X509(bio, b))) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "%s: encoding", path);
		goto out;
	}
	len = BIO_get_mem_data(bio, &data);
	r = util_write_file(path, data, (size_t)len, 0644, err);
 out:
	BIO_free(bio);
	return r;
}

static int
copy_templates(const char *dst, struct ca_err *err)
{
	char *src = NULL, *from = NULL, *to = NULL;
	unsigned char *buf = NULL;
	size_t len, n;
	DIR *d = NULL;
	struct dirent *de;
	int r = 0;

	if ((src = util_path(cfg_datadir(), "templates")) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if ((d = opendir(src)) == NULL) {
		r = ca_err_set(err, CA_ERR_IO, "stock templates %s: %s "
		    "(set SMIMECA_DATADIR to the folder holding "
		    "templates/)", src, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".xml") != 0)
			continue;
		if ((from = util_path(src, de->d_name)) == NULL ||
		    (to = util_path(dst, de->d_name)) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((r = util_read_file(from, 1024 * 1024, &buf, &len,
		    err)) != 0 ||
		    (r = util_write_file(to, buf, len, 0644, err)) != 0)
			goto out;
		free(buf);
		free(from);
		free(to);
		buf = NULL;
		from = to = NULL;
	}
 out:
	if (d != NULL)
		closedir(d);
	free(buf);
	free(from);
	free(to);
	free(src);
	return r;
}

static int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* The target must not hold a CA; it may be missing or an empty folder. */
static int
init_check_target(const char *dir, struct ca_err *err)
{
	struct stat st;
	char *p;
	int exists;

	if (stat(dir, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		return ca_err_set(err, CA_ERR_IO, "%s: %s", dir,
		    strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return ca_err_set(err, CA_ERR_EXISTS,
		    "%s exists and is not a directory; choose another "
		    "CA directory with -d", dir);
	if ((p = util_path(dir, CFG_FILE)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	exists = access(p, F_OK) == 0;
	free(p);
	if (!exists) {
		if ((p = util_path(dir, "smimeca.db")) == NULL)
			return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		exists = access(p, F_OK) == 0;
		free(p);
	}
	if (exists)
		return ca_err_set(err, CA_ERR_EXISTS,
		    "%s already holds a CA; refusing to overwrite it "
		    "(choose another directory with -d)", dir);
	return 0;
}

int
ca_init(const struct ca_init_params *p, struct ca_err *err)
{
	char *parent_buf = NULL, *tmpl = NULL;
	char *dir_copy = NULL;
	int r, made_tmp = 0;

	if ((r = init_check_target(p->dir, err)) != 0)
		return r;
	/* Build the CA beside the target, then rename it into place. */
	if ((dir_copy = strdup(p->dir)) == NULL ||
	    (parent_buf = strdup(dirname(dir_copy))) == NULL ||
	    asprintf(&tmpl, "%s/.smimeca-init.XXXXXX", parent_buf) == -1) {
		tmpl = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (mkdtemp(tmpl) == NULL) {
		r = ca_err_set(err, CA_ERR_IO, "cannot create a folder in "
		    "%s: %s", parent_buf, strerror(errno));
		goto out;
	}
	made_tmp = 1;
	if ((r = init_populate(p, tmpl, p->dir, err)) != 0)
		goto out;
	if (rename(tmpl, p->dir) == -1) {
		r = ca_err_set(err, CA_ERR_IO, "%s: %s (the folder must be "
		    "missing or empty)", p->dir, strerror(errno));
		goto out;
	}
	made_tmp = 0;
	r = 0;
 out:
	/* The temporary folder holds only what init_populate made. */
	if (made_tmp)
		nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tmpl);
	free(parent_buf);
	free(dir_copy);
	return r;
}

/* Fills the new CA folder tmp, which will be renamed to final. */
static int
init_populate(const struct ca_init_params *p, const char *tmp,
    const char *final, struct ca_err *err)
{
	EVP_PKEY *root_key = NULL, *key = NULL;
	X509 *root = NULL, *cert = NULL;
	char *pass = NULL, *path = NULL, *root_cn = NULL;
	unsigned char *der = NULL;
	struct db *db = NULL;
	struct cfg_init ci;
	int64_t id;
	int len, r, days = p->validity_days > 0 ? p->validity_days : 3650;
	char detail[512];

	if (chmod(tmp, 0700) == -1) {
		r = ca_err_set(err, CA_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (p->passphrase_file != NULL) {
		if ((r = util_read_passphrase(p->passphrase_file, &pass,
		    err)) != 0)
			goto out;
	} else if (getenv(CA_PASSPHRASE_ENV) != NULL &&
	    *getenv(CA_PASSPHRASE_ENV) != '\0' &&
	    (pass = strdup(getenv(CA_PASSPHRASE_ENV))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((path = util_path(tmp, "private")) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (mkdir(path, 0700) == -1) {
		r = ca_err_set(err, CA_ERR_IO, "%s: %s", path,
		    strerror(errno));
		goto out;
	}
	free(path);
	if ((path = util_path(tmp, "templates")) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (mkdir(path, 0755) == -1) {
		r = ca_err_set(err, CA_ERR_IO, "%s: %s", path,
		    strerror(errno));
		goto out;
	}
	if ((r = copy_templates(path, err)) != 0)
		goto out;
	free(path);
	path = NULL;

	if ((r = ca_keygen(p->key, &key, err)) != 0)
		goto out;
	if (p->two_tier) {
		if (asprintf(&root_cn, "%s Root", p->name) == -1) {
			root_cn = NULL;
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((r = ca_keygen(p->key, &root_key, err)) != 0 ||
		    (r = make_ca_cert(root_key, NULL, NULL, root_cn, days * 2,
		    -1, &root, err)) != 0 ||
		    (r = make_ca_cert(key, root, root_key, p->name, days, 0,
		    &cert, err)) != 0)
			goto out;
		if ((path = util_path(tmp, "private/root.key")) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((r = ca_write_key(path, root_key, pass, err)) != 0)
			goto out;
		free(path);
		if ((path = util_path(tmp, "root.crt")) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((r = write_pem_certs(path, root, NULL, err)) != 0)
			goto out;
		free(path);
		path = NULL;
	} else if ((r = make_ca_cert(key, NULL, NULL, p->name, days, 0,
	    &cert, err)) != 0)
		goto out;

	if ((path = util_path(tmp, "private/ca.key")) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = ca_write_key(path, key, pass, err)) != 0)
		goto out;
	free(path);
	if ((path = util_path(tmp, "ca.crt")) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = write_pem_certs(path, cert, NULL, err)) != 0)
		goto out;
	free(path);
	if ((path = util_path(tmp, "chain.pem")) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = write_pem_certs(path, cert, root, err)) != 0)
		goto out;
	free(path);

	memset(&ci, 0, sizeof(ci));
	ci.name = p->name;
	ci.passphrase_file = NULL;	/* never recorded: given per command */
	ci.base_url = p->base_url;
	ci.crl_days = 7;
	ci.escrow_n = p->lab ? 3 : 1;
	ci.escrow_m = 1;
	if ((path = util_path(tmp, CFG_FILE)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = cfg_write_default(path, &ci, err)) != 0)
		goto out;
	free(path);

	if ((path = util_path(tmp, "smimeca.db")) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = db_open(path, 1, &db, err)) != 0 ||
	    (r = db_begin(db, err)) != 0)
		goto out;
	if (root != NULL) {
		if ((len = i2d_X509(root, &der)) <= 0) {
			r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding root");
			goto fail_tx;
		}
		if ((r = db_ca_cert_add(db, "root", der, (size_t)len,
		    "private/root.key",
		    util_asn1_time_to_unix(X509_get0_notBefore(root)),
		    util_asn1_time_to_unix(X509_get0_notAfter(root)), &id,
		    err)) != 0)
			goto fail_tx;
		OPENSSL_free(der);
		der = NULL;
	}
	if ((len = i2d_X509(cert, &der)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding CA certificate");
		goto fail_tx;
	}
	snprintf(detail, sizeof(detail), "name=%s dir=%s two_tier=%d "
	    "encrypted_key=%d", p->name, final, p->two_tier ? 1 : 0,
	    pass != NULL);
	if ((r = db_ca_cert_add(db, "issuing", der, (size_t)len,
	    "private/ca.key",
	    util_asn1_time_to_unix(X509_get0_notBefore(cert)),
	    util_asn1_time_to_unix(X509_get0_notAfter(cert)), &id,
	    err)) != 0 ||
	    (r = audit_append(db, "admin", "init", p->name, detail,
	    err)) != 0 ||
	    (r = db_commit(db, err)) != 0)
		goto fail_tx;
	r = 0;
	goto out;
 fail_tx:
	db_rollback(db);
 out:
	db_close(db);
	OPENSSL_free(der);
	free(path);
	free(root_cn);
	util_free_secret(pass);
	EVP_PKEY_free(key);
	EVP_PKEY_free(root_key);
	X509_free(cert);
	X509_free(root);
	return r;
}
