/* The daemon's TLS server certificate, issued by the CA itself. */
#include "ac-config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/tls.h"
#include "ca/util.h"

#define TLS_ROLE	"tls"
#define TLS_DAYS	397	/* what browsers accept for a server cert */

static int san_string(const char *const *, size_t, const char *const *,
    size_t, char **, struct ca_err *);
static int make_cert(struct ca *, EVP_PKEY *, const char *, const char *,
    int64_t, X509 **, struct ca_err *);
static int write_chain(struct ca *, const char *, X509 *, struct ca_err *);

/* "DNS:a,DNS:b,IP:127.0.0.1" for X509V3 configuration syntax. */
static int
san_string(const char *const *names, size_t nn, const char *const *addrs,
    size_t na, char **outp, struct ca_err *err)
{
	unsigned char ip[16];
	size_t i, off, len = 1;
	char *s;

	*outp = NULL;
	for (i = 0; i < nn; i++) {
		if (*names[i] == '\0' || strpbrk(names[i], ",: \t\n") != NULL)
			return ca_err_set(err, CA_ERR_INVALID, "TLS name "
			    "\"%s\" is not a DNS name", names[i]);
		len += strlen(names[i]) + 5;
	}
	for (i = 0; i < na; i++) {
		if (inet_pton(AF_INET, addrs[i], ip) != 1 &&
		    inet_pton(AF_INET6, addrs[i], ip) != 1)
			return ca_err_set(err, CA_ERR_INVALID, "TLS address "
			    "\"%s\" is not an IPv4 or IPv6 address",
			    addrs[i]);
		len += strlen(addrs[i]) + 4;
	}
	if (nn + na == 0)
		return ca_err_set(err, CA_ERR_INVALID, "the TLS certificate "
		    "needs at least one name or address (<tls-name>, "
		    "<tls-address> in smimeca.conf)");
	if ((s = calloc(1, len)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	for (i = 0, off = 0; i < nn; i++)
		off += (size_t)snprintf(s + off, len - off, "%sDNS:%s",
		    i ? "," : "", names[i]);
	for (i = 0; i < na; i++)
		off += (size_t)snprintf(s + off, len - off, "%sIP:%s",
		    (nn + i) ? "," : "", addrs[i]);
	*outp = s;
	return 0;
}

static int
make_cert(struct ca *ca, EVP_PKEY *key, const char *cn, const char *san,
    int64_t now, X509 **certp, struct ca_err *err)
{
	X509 *cert = NULL, *issuer = ca_cert(ca);
	time_t nb = (time_t)now - 300, na = (time_t)now + TLS_DAYS * 86400;
	int64_t ca_na = util_asn1_time_to_unix(X509_get0_notAfter(issuer));
	int r;

	*certp = NULL;
	if ((int64_t)na > ca_na)
		na = (time_t)ca_na;
	if ((r = ca_new_cert(ca, cn, key, nb, na, &cert, err)) != 0)
		goto out;
	if ((r = ca_add_service_exts(cert, issuer,
	    "digitalSignature,keyEncipherment", "serverAuth", err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_subject_alt_name, san,
	    err)) != 0)
		goto out;
	if (X509_sign(cert, ca_key(ca), ca_digest(ca)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "signing the TLS "
		    "certificate");
		goto out;
	}
	*certp = cert;
	cert = NULL;
	r = 0;
 out:
	X509_free(cert);
	return r;
}

/* DIR/tls.crt: the server certificate, then the CA chain. */
static int
write_chain(struct ca *ca, const char *path, X509 *cert, struct ca_err *err)
{
	STACK_OF(X509) *chain = ca_chain(ca);
	BIO *b = NULL;
	char *p;
	long len;
	int i, r;

	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509(b, cert)) {
		r = ca_err_ssl(err, CA_ERR_NOMEM, "encoding the TLS "
		    "certificate");
		goto out;
	}
	for (i = 0; i < sk_X509_num(chain); i++)
		if (!PEM_write_bio_X509(b, sk_X509_value(chain, i))) {
			r = ca_err_ssl(err, CA_ERR_NOMEM, "encoding the "
			    "chain");
			goto out;
		}
	len = BIO_get_mem_data(b, &p);
	r = util_write_file(path, p, (size_t)len, 0644, err);
 out:
	BIO_free(b);
	return r;
}

int
tls_issue(struct ca *ca, const char *const *names, size_t nnames,
    const char *const *addrs, size_t naddrs, int64_t now, X509 **certp,
    struct ca_err *err)
{
	const struct ca_config *cfg = ca_config(ca);
	struct db *db = ca_db(ca);
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	unsigned char *der = NULL;
	char *san = NULL, *keypath = NULL, *certpath = NULL, *tmpkey = NULL;
	char serial[65], detail[512];
	int64_t id;
	int len, r, in_tx = 0;

	*certp = NULL;
	if (names == NULL && addrs == NULL) {
		names = (const char *const *)cfg->daemon.tls_names;
		nnames = cfg->daemon.ntls_names;
		addrs = (const char *const *)cfg->daemon.tls_addrs;
		naddrs = cfg->daemon.ntls_addrs;
	}
	if ((r = san_string(names, nnames, addrs, naddrs, &san, err)) != 0)
		goto out;
	if ((keypath = util_path(cfg->dir, TLS_KEY_FILE)) == NULL ||
	    (certpath = util_path(cfg->dir, TLS_CERT_FILE)) == NULL ||
	    asprintf(&tmpkey, "%s.new", keypath) == -1) {
		tmpkey = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = ca_load_key(ca, err)) != 0 ||
	    (r = ca_keygen(CA_KEY_RSA2048, &key, err)) != 0 ||
	    (r = make_cert(ca, key, nnames > 0 ? names[0] : addrs[0], san, now,
	    &cert, err)) != 0)
		goto out;
	if ((len = i2d_X509(cert, &der)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding");
		goto out;
	}
	util_serial_hex(X509_get0_serialNumber(cert), serial);
	snprintf(detail, sizeof(detail), "names=%s", san);
	/* Key first (beside the old one), then the record, then swap. */
	unlink(tmpkey);
	if ((r = ca_write_held_key(ca, tmpkey, key, err)) != 0)
		goto out;
	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if ((r = db_ca_cert_add(db, TLS_ROLE, der, (size_t)len, TLS_KEY_FILE,
	    util_asn1_time_to_unix(X509_get0_notBefore(cert)),
	    util_asn1_time_to_unix(X509_get0_notAfter(cert)), &id,
	    err)) != 0 ||
	    (r = audit_append(db, ca_actor(ca), "tls-issue", serial, detail,
	    err)) != 0 || (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	if (rename(tmpkey, keypath) == -1) {
		r = ca_err_set(err, CA_ERR_IO, "%s: %s", keypath,
		    strerror(errno));
		goto out;
	}
	if ((r = write_chain(ca, certpath, cert, err)) != 0)
		goto out;
	*certp = cert;
	cert = NULL;
	r = 0;
 out:
	if (in_tx)
		db_rollback(db);
	if (tmpkey != NULL)
		unlink(tmpkey);
	free(san);
	free(keypath);
	free(certpath);
	free(tmpkey);
	OPENSSL_free(der);
	EVP_PKEY_free(key);
	X509_free(cert);
	return r;
}

int
tls_load_pem(struct ca *ca, char **certp, char **keyp, size_t *keylenp,
    struct ca_err *err)
{
	const struct ca_config *cfg = ca_config(ca);
	unsigned char *cert = NULL;
	char *path = NULL, *p, *key = NULL;
	size_t certlen;
	EVP_PKEY *pkey = NULL;
	BIO *b = NULL;
	long len;
	int r;

	*certp = NULL;
	*keyp = NULL;
	*keylenp = 0;
	if ((path = util_path(cfg->dir, TLS_CERT_FILE)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (access(path, F_OK) == -1) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "%s: no TLS certificate; "
		    "issue one with `smimeca -d %s tls issue`", path,
		    cfg->dir);
		goto out;
	}
	if ((r = util_read_file(path, 1024 * 1024, &cert, &certlen,
	    err)) != 0)
		goto out;
	free(path);
	if ((path = util_path(cfg->dir, TLS_KEY_FILE)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = ca_read_held_key(ca, path, &pkey, err)) != 0)
		goto out;
	/* The TLS library wants it unencrypted; it stays in memory. */
	if ((b = BIO_new(BIO_s_secmem())) == NULL ||
	    !PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL) ||
	    (len = BIO_get_mem_data(b, &p)) <= 0 ||
	    (key = OPENSSL_malloc((size_t)len + 1)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "%s: encoding the key",
		    path);
		goto out;
	}
	memcpy(key, p, (size_t)len);
	key[len] = '\0';
	*keylenp = (size_t)len + 1;
	*keyp = key;
	*certp = (char *)cert;
	key = NULL;
	cert = NULL;
	r = 0;
 out:
	BIO_free(b);	/* secure memory: cleared on free */
	EVP_PKEY_free(pkey);
	free(cert);
	free(path);
	return r;
}
