/* The CA: its directory, keys, certificates and store, opened as one. */
#include "ac-config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/util.h"

#define CA_KEY_MAX	(64 * 1024)
#define CA_CERT_MAX	(1024 * 1024)
#define CA_BACKDATE	300	/* seconds, for clients with slow clocks */

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

struct pass_cb {
	const char *pass;
	int asked;
};

static int pem_pass_cb(char *, int, int, void *);
static int rm_entry(const char *, const struct stat *, int, struct FTW *);
static int init_check_target(const char *, struct ca_err *);
static int init_populate(const struct ca_init_params *, const char *,
    const char *, struct ca_err *);
static int make_ca_cert(EVP_PKEY *, X509 *, EVP_PKEY *, const char *, int,
    int, X509 **, struct ca_err *);
static int write_pem_certs(const char *, X509 *, X509 *, struct ca_err *);
static int copy_templates(const char *, struct ca_err *);
static int load_pem_certs(const char *, STACK_OF(X509) **, struct ca_err *);
static const char *ca_passphrase_file(const struct ca *);

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

int
ca_random_serial(ASN1_INTEGER **serialp, struct ca_err *err)
{
	unsigned char b[16];
	BIGNUM *bn = NULL;
	int r = CA_ERR_CRYPTO;

	*serialp = NULL;
	if (RAND_bytes(b, sizeof(b)) != 1) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "no random serial number");
		goto out;
	}
	/* Positive, and never a leading zero byte: always 16 bytes. */
	b[0] &= 0x7f;
	if (b[0] == 0)
		b[0] = 0x40;
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL ||
	    (*serialp = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "serial number");
		goto out;
	}
	r = 0;
 out:
	BN_free(bn);
	return r;
}

int
ca_add_ext(X509 *cert, X509 *issuer, int nid, const char *value,
    struct ca_err *err)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : cert, cert, NULL,
	    NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "extension %s = %s",
		    OBJ_nid2sn(nid), value);
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	if (!ok)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "adding extension %s",
		    OBJ_nid2sn(nid));
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

/* The passphrase source: --passphrase-file, $SMIMECA_PASSPHRASE, config. */
static const char *
ca_passphrase_file(const struct ca *ca)
{
	if (ca->passphrase_file != NULL)
		return ca->passphrase_file;
	if (getenv(CA_PASSPHRASE_ENV) != NULL &&
	    *getenv(CA_PASSPHRASE_ENV) != '\0')
		return NULL;
	return ca->cfg->passphrase_file;
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

int
ca_new_cert(struct ca *ca, const char *cn, EVP_PKEY *key, time_t nb,
    time_t na, X509 **certp, struct ca_err *err)
{
	X509 *cert = NULL, *issuer = ca_cert(ca);
	X509_NAME *name = NULL;
	ASN1_INTEGER *serial = NULL;
	int r;

	*certp = NULL;
	if ((cert = X509_new()) == NULL || (name = X509_NAME_new()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = ca_random_serial(&serial, err)) != 0)
		goto out;
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_serialNumber(cert, serial) ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(issuer)) ||
	    !X509_set_subject_name(cert, name) ||
	    X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &nb) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), 0, 0, &na) == NULL ||
	    !X509_set_pubkey(cert, key)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "certificate for %s", cn);
		goto out;
	}
	*certp = cert;
	cert = NULL;
	r = 0;
 out:
	ASN1_INTEGER_free(serial);
	X509_NAME_free(name);
	X509_free(cert);
	return r;
}

int
ca_store_held(struct ca *ca, const char *role, X509 *cert, EVP_PKEY *key,
    const char *rel, const char *action, const char *detail,
    struct ca_err *err)
{
	struct db *db = ca_db(ca);
	unsigned char *der = NULL;
	char serial[65], *path = NULL;
	int64_t id;
	int len, r, in_tx = 0, wrote = 0;

	if ((len = i2d_X509(cert, &der)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the %s "
		    "certificate", role);
		goto out;
	}
	if ((path = util_path(ca->cfg->dir, rel)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = ca_write_held_key(ca, path, key, err)) != 0)
		goto out;
	wrote = 1;
	util_serial_hex(X509_get0_serialNumber(cert), serial);
	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if ((r = db_ca_cert_add(db, role, der, (size_t)len, rel,
	    util_asn1_time_to_unix(X509_get0_notBefore(cert)),
	    util_asn1_time_to_unix(X509_get0_notAfter(cert)), &id,
	    err)) != 0 ||
	    (r = audit_append(db, ca_actor(ca), action, serial, detail,
	    err)) != 0 || (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	r = 0;
 out:
	if (in_tx)
		db_rollback(db);
	/* A key whose certificate never reached the database is useless. */
	if (r != 0 && wrote)
		unlink(path);
	free(path);
	OPENSSL_free(der);
	return r;
}

int
ca_add_service_exts(X509 *cert, X509 *issuer, const char *ku,
    const char *eku, struct ca_err *err)
{
	char kuval[128];
	int r;

	snprintf(kuval, sizeof(kuval), "critical,%s", ku);
	if ((r = ca_add_ext(cert, issuer, NID_basic_constraints,
	    "critical,CA:FALSE", err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_key_usage, kuval, err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_ext_key_usage, eku, err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_subject_key_identifier, "hash",
	    err)) != 0)
		return r;
	return ca_add_ext(cert, issuer, NID_authority_key_identifier,
	    "keyid:always", err);
}
