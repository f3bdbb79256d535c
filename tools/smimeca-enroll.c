/*
 * smimeca-enroll: the test client. It makes a key and a request the way
 * an enrolling user or device would, including key-archival requests in
 * the Windows CMC layout ([MS-WCCE] 3.2.2.6.2.1.2.2) and the simpler form,
 * and plain CMC full PKI requests (RFC 5272), all made in enrollreq.c;
 * offline it writes them to files, online (--url) it enrolls over EST.
 */
#include "ac-config.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "archive/cmc_asn1.h"
#include "ca/ca.h"
#include "ca/err.h"
#include "ca/util.h"
#include "tools/enrollreq.h"
#include "tools/estclient.h"

#define ENR_OK		0
#define ENR_FAIL	1
#define ENR_USAGE	2

enum enr_mode {
	MODE_ENROLL,		/* simpleenroll */
	MODE_ARCHIVE,		/* fullcmc with the key archived */
	MODE_KEYGEN,		/* serverkeygen */
	MODE_RENEW,		/* simplereenroll */
	MODE_CMC,		/* fullcmc, no key archived */
};

enum enr_format {
	FORMAT_NONE,		/* no --format */
	FORMAT_CMC,
	FORMAT_SIMPLE,
};

struct enr {
	const char *url;	/* online when set */
	const char *cacert;
	const char *user;
	const char *pass_file;
	const char *tpl;
	const char *cert_file;	/* --renew */
	const char *key_file;
	enum enr_mode mode;
	const char *xchg_file;
	const char *out_dir;
	const char *subject;
	const char *email;
	const char *cn;
	const char *digest;
	enum ca_keyspec keyspec;
	int keyspec_set;	/* --key-type given */
	int archive;		/* make an archival request */
	enum enr_format format;
};

static void usage(FILE *);
static X509_NAME *subject_of(const struct enr *, struct ca_err *);
static int write_out(const char *, const char *, const void *, size_t,
    int, char **, struct ca_err *);
static int write_key(const char *, EVP_PKEY *, struct ca_err *);
static int write_cert(const char *, X509 *, struct ca_err *);
static int out_dir(const char *, struct ca_err *);
static int run(const struct enr *, struct ca_err *);
static X509 *cert_of(STACK_OF(X509) *, EVP_PKEY *);
static int check_issued(struct estc *, X509 *, STACK_OF(X509) *,
    const struct enr *, struct ca_err *);
static int check_cmc(const struct estc_cmc *, X509 *, const unsigned char *,
    unsigned int, struct ca_err *);
static int enroll_online(const struct enr *, struct ca_err *);
static int usage_error(const char *, ...)
    __attribute__((format(printf, 1, 2)));
static int check_args(struct enr *, int);

static void
usage(FILE *f)
{
	fprintf(f, "usage: smimeca-enroll --out-dir DIR [--key-type "
	    "rsa:2048|rsa:3072|ec:p256 | --key KEY.pem]\n"
	    "           [--subject DN | --email MAIL [--cn NAME]] "
	    "[--digest sha256]\n"
	    "           [--format cmc | --archive --xchg XCHG.pem "
	    "[--format cmc|simple]]\n"
	    "       smimeca-enroll --url https://HOST[:PORT] --cacert CA.pem "
	    "--out-dir DIR\n"
	    "           --user MAIL --password-file FILE [--cn NAME] "
	    "[--template NAME]\n"
	    "           [--archive | --serverkeygen | --format cmc] "
	    "[--key-type SPEC]\n"
	    "           [--digest sha256]\n"
	    "       smimeca-enroll --url https://HOST[:PORT] --cacert CA.pem "
	    "--out-dir DIR\n"
	    "           --renew --cert OLD.crt --key OLD.key [--template NAME] "
	    "[--key-type SPEC]\n");
}


/* The subject --subject names, or emailAddress --email with CN --cn. */
static X509_NAME *
subject_of(const struct enr *e, struct ca_err *err)
{
	X509_NAME *name = NULL;

	if (e->subject != NULL) {
		if ((name = enrq_parse_dn(e->subject)) == NULL)
			ca_err_ssl(err, CA_ERR_INVALID, "--subject %s: not a "
			    "DN of the form /CN=Alice/emailAddress=...",
			    e->subject);
		return name;
	}
	if ((name = X509_NAME_new()) == NULL ||
	    (e->cn != NULL && !X509_NAME_add_entry_by_txt(name, "CN",
	    MBSTRING_UTF8, (const unsigned char *)e->cn, -1, -1, 0)) ||
	    (e->email != NULL && !X509_NAME_add_entry_by_txt(name,
	    "emailAddress", MBSTRING_ASC, (const unsigned char *)e->email,
	    -1, -1, 0))) {
		ca_err_ssl(err, CA_ERR_INVALID, "cannot make a subject of CN "
		    "\"%s\" and mail \"%s\"", e->cn ? e->cn : "",
		    e->email ? e->email : "");
		X509_NAME_free(name);
		return NULL;
	}
	return name;
}


static int
write_out(const char *dir, const char *name, const void *buf, size_t len,
    int mode, char **pathp, struct ca_err *err)
{
	char *path;
	int r;

	if ((path = util_path(dir, name)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if ((r = util_write_file(path, buf, len, mode, err)) != 0) {
		free(path);
		return r;
	}
	printf("wrote %s\n", path);
	if (pathp != NULL)
		*pathp = path;
	else
		free(path);
	return 0;
}

/* The user's own key: dir/key.pem, PKCS#8 PEM, mode 0600. */
static int
write_key(const char *dir, EVP_PKEY *key, struct ca_err *err)
{
	BIO *kb;
	char *data;
	long len;
	int r;

	if ((kb = BIO_new(BIO_s_secmem())) == NULL ||
	    !PEM_write_bio_PKCS8PrivateKey(kb, key, NULL, NULL, 0, NULL,
	    NULL)) {
		BIO_free(kb);
		return ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the key");
	}
	len = BIO_get_mem_data(kb, &data);
	r = write_out(dir, "key.pem", data, (size_t)len, 0600, NULL, err);
	BIO_free(kb);
	return r;
}

static int
write_cert(const char *dir, X509 *cert, struct ca_err *err)
{
	BIO *b;
	char *data;
	long len;
	int r;

	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509(b, cert)) {
		BIO_free(b);
		return ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the "
		    "certificate");
	}
	len = BIO_get_mem_data(b, &data);
	r = write_out(dir, "cert.pem", data, (size_t)len, 0644, NULL, err);
	BIO_free(b);
	return r;
}

static int
out_dir(const char *dir, struct ca_err *err)
{
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return ca_err_set(err, CA_ERR_IO, "%s: %s", dir,
		    strerror(errno));
	return 0;
}

/* Offline: the key, the request and the CMC or archival request, as files. */
static int
run(const struct enr *e, struct ca_err *err)
{
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	X509_NAME *name = NULL;
	X509 *xchg = NULL;
	const EVP_MD *md;
	BIO *b = NULL, *kb = NULL;
	unsigned char *der = NULL;
	char *data;
	long len;
	int derlen = 0, r;

	if ((md = EVP_get_digestbyname(e->digest)) == NULL)
		return ca_err_set(err, CA_ERR_INVALID, "--digest %s: unknown",
		    e->digest);
	if ((r = out_dir(e->out_dir, err)) != 0)
		return r;
	if (e->mode == MODE_ARCHIVE &&
	    (r = util_read_cert(e->xchg_file, &xchg, err)) != 0)
		goto out;
	if ((name = subject_of(e, err)) == NULL) {
		r = CA_ERR_INVALID;
		goto out;
	}
	/* Offline, --key brings a key of any size (tests of key policy). */
	if ((r = e->key_file != NULL ? ca_read_key(e->key_file, NULL, &key,
	    err) : ca_keygen(e->keyspec, &key, err)) != 0 ||
	    (r = enrq_csr(name, key, md, &csr, err)) != 0 ||
	    (r = write_key(e->out_dir, key, err)) != 0)
		goto out;
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509_REQ(b, csr)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the request");
		goto out;
	}
	len = BIO_get_mem_data(b, &data);
	if ((r = write_out(e->out_dir, "request.csr", data, (size_t)len,
	    0644, NULL, err)) != 0)
		goto out;
	if (e->mode == MODE_ENROLL) {
		r = 0;
		goto out;
	}
	/* MODE_CMC leaves xchg NULL: enrq_cmc makes a plain CMC request. */
	if (e->format == FORMAT_SIMPLE) {
		if ((kb = BIO_new(BIO_s_secmem())) == NULL ||
		    !i2d_PKCS8PrivateKey_bio(kb, key, NULL, NULL, 0, NULL,
		    NULL)) {
			r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the key");
			goto out;
		}
		len = BIO_get_mem_data(kb, &data);
		if ((r = enrq_envelope(xchg, (unsigned char *)data, (size_t)len,
		    &der, &derlen, err)) != 0 ||
		    (r = write_out(e->out_dir, "key.cms", der, (size_t)derlen,
		    0644, NULL, err)) != 0)
			goto out;
	} else if ((r = enrq_cmc(csr, key, md, xchg, &der, &derlen, NULL,
	    NULL, err)) != 0 ||
	    (r = write_out(e->out_dir, "request.cmc", der, (size_t)derlen,
	    0644, NULL, err)) != 0)
		goto out;
	r = 0;
 out:
	OPENSSL_free(der);
	BIO_free(b);
	BIO_free(kb);
	X509_free(xchg);
	X509_NAME_free(name);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	return r;
}

/* The certificate of the answer that belongs to key. */
static X509 *
cert_of(STACK_OF(X509) *certs, EVP_PKEY *key)
{
	X509 *x;
	int i;

	for (i = 0; i < sk_X509_num(certs); i++) {
		x = sk_X509_value(certs, i);
		if (EVP_PKEY_eq(X509_get0_pubkey(x), key) == 1) {
			ERR_clear_error();
			return x;
		}
	}
	ERR_clear_error();
	return NULL;
}

/* The new certificate chains to --cacert and names what we asked for. */
static int
check_issued(struct estc *c, X509 *cert, STACK_OF(X509) *untrusted,
    const struct enr *e, struct ca_err *err)
{
	X509_STORE_CTX *ctx;
	int r = 0;

	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, estc_store(c), cert, untrusted)) {
		X509_STORE_CTX_free(ctx);
		return ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
	}
	if (X509_verify_cert(ctx) != 1)
		r = ca_err_set(err, CA_ERR_AUTH, "the issued certificate does "
		    "not verify against --cacert %s: %s", e->cacert,
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/*
 * The CA's CMC answer: success, signed by the certificate's issuer, and
 * its hashes those of the certificate and of the key we sent (hlen 0: the
 * request archived no key, so there is no key hash to match).
 */
static int
check_cmc(const struct estc_cmc *cmc, X509 *cert, const unsigned char *hash,
    unsigned int hlen, struct ca_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	if (cmc->status != CMC_STATUS_SUCCESS)
		return ca_err_set(err, CA_ERR_POLICY, "the CA's CMC response "
		    "says cMCStatus %ld%s%s (failInfo %ld)", cmc->status,
		    *cmc->status_string ? ": " : "", cmc->status_string,
		    cmc->fail_info);
	if (X509_check_issued(cmc->signer, cert) != X509_V_OK)
		return ca_err_set(err, CA_ERR_AUTH, "the CMC response is not "
		    "signed by the CA that issued the certificate");
	if (!X509_digest(cert, EVP_sha1(), md, &mdlen))
		return ca_err_ssl(err, CA_ERR_CRYPTO, "hashing the "
		    "certificate");
	if (cmc->cert_hash_len == 0)
		return ca_err_set(err, CA_ERR_INVALID, "the CMC response "
		    "lacks the issued-certificate hash (%s)",
		    OID_MS_ISSUED_CERT_HASH);
	if (cmc->cert_hash_len != mdlen ||
	    memcmp(cmc->cert_hash, md, mdlen) != 0)
		return ca_err_set(err, CA_ERR_INVALID, "the CMC response's "
		    "issued-certificate hash is not the SHA-1 of the "
		    "certificate it carries");
	if (hlen == 0)
		return 0;
	if (cmc->key_hash_len == 0)
		return ca_err_set(err, CA_ERR_INVALID, "the CMC response "
		    "lacks the encrypted-key hash (%s): was the key archived?",
		    OID_MS_ENC_KEY_HASH);
	if (cmc->key_hash_len != hlen ||
	    memcmp(cmc->key_hash, hash, hlen) != 0)
		return ca_err_set(err, CA_ERR_INVALID, "the CMC response's "
		    "encrypted-key hash is not the one the request carried");
	return 0;
}

/* Online: enroll over EST, then write the key and the certificate. */
static int
enroll_online(const struct enr *e, struct ca_err *err)
{
	struct estc *c = NULL;
	struct estc_cmc cmc;
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	X509_NAME *name = NULL;
	X509 *xchg = NULL, *old = NULL, *cert;
	STACK_OF(X509) *certs = NULL;
	const EVP_MD *md;
	unsigned char *der = NULL, hash[EVP_MAX_MD_SIZE];
	unsigned int hlen = 0;
	char serial[65], *subj = NULL, *pass = NULL;
	int derlen = 0, r;

	memset(&cmc, 0, sizeof(cmc));
	if ((md = EVP_get_digestbyname(e->digest)) == NULL)
		return ca_err_set(err, CA_ERR_INVALID, "--digest %s: unknown",
		    e->digest);
	if ((r = estc_new(e->url, e->cacert, &c, err)) != 0)
		goto out;
	if (e->mode == MODE_RENEW) {
		if ((r = estc_set_client_cert(c, e->cert_file, e->key_file,
		    err)) != 0 ||
		    (r = util_read_cert(e->cert_file, &old, err)) != 0)
			goto out;
		/* RFC 7030 4.2.2: the same subject, here with a new key. */
		name = X509_NAME_dup(X509_get_subject_name(old));
	} else {
		if ((r = util_read_passphrase(e->pass_file, &pass, err)) != 0 ||
		    (r = estc_set_basic(c, e->user, pass, err)) != 0)
			goto out;
		util_free_secret(pass);
		pass = NULL;
		name = subject_of(e, err);
	}
	if (name == NULL) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "no subject for the "
		    "request");
		goto out;
	}
	if ((r = out_dir(e->out_dir, err)) != 0 ||
	    (e->mode == MODE_ARCHIVE &&
	    (r = estc_exchange(c, &xchg, err)) != 0) ||
	    (r = ca_keygen(e->keyspec, &key, err)) != 0 ||
	    (r = enrq_csr(name, key, md, &csr, err)) != 0)
		goto out;
	switch (e->mode) {
	case MODE_ENROLL:
	case MODE_RENEW:
		r = estc_simpleenroll(c, e->tpl, csr, e->mode == MODE_RENEW,
		    &certs, err);
		break;
	case MODE_KEYGEN:
		/* That key only signed the request; the CA makes the key. */
		EVP_PKEY_free(key);
		key = NULL;
		r = estc_serverkeygen(c, e->tpl, csr, &key, &certs, err);
		break;
	case MODE_ARCHIVE:
	case MODE_CMC:		/* xchg NULL: nothing archived */
		if ((r = enrq_cmc(csr, key, md, xchg, &der, &derlen, hash,
		    &hlen, err)) != 0 ||
		    (r = estc_fullcmc(c, e->tpl, der, (size_t)derlen, &cmc,
		    err)) != 0)
			break;
		certs = cmc.certs;
		cmc.certs = NULL;
		break;
	}
	if (r != 0)
		goto out;
	if ((cert = cert_of(certs, key)) == NULL) {
		r = ca_err_set(err, CA_ERR_INVALID, "the answer holds no "
		    "certificate for the %s key", e->mode == MODE_KEYGEN ?
		    "generated" : "request's");
		goto out;
	}
	if (((e->mode == MODE_ARCHIVE || e->mode == MODE_CMC) &&
	    (r = check_cmc(&cmc, cert, hash, hlen, err)) != 0) ||
	    (r = check_issued(c, cert, certs, e, err)) != 0 ||
	    (r = write_key(e->out_dir, key, err)) != 0 ||
	    (r = write_cert(e->out_dir, cert, err)) != 0)
		goto out;
	util_serial_hex(X509_get0_serialNumber(cert), serial);
	subj = util_name_oneline(X509_get_subject_name(cert));
	printf("issued %s to %s\n", serial, subj != NULL ? subj : "?");
	r = 0;
 out:
	free(subj);
	util_free_secret(pass);
	estc_cmc_clear(&cmc);
	sk_X509_pop_free(certs, X509_free);
	OPENSSL_free(der);
	X509_free(xchg);
	X509_free(old);
	X509_NAME_free(name);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	estc_free(c);
	return r;
}

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "smimeca-enroll: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	usage(stderr);
	return ENR_USAGE;
}

/* Which options go together; 0 or ENR_USAGE. */
static int
check_args(struct enr *e, int nmodes)
{
	struct ca_err err;

	if (e->out_dir == NULL)
		return usage_error("--out-dir is required");
	/* --format cmc alone: a CMC request with no key archived. */
	if (e->format == FORMAT_CMC && e->mode == MODE_ENROLL)
		e->mode = MODE_CMC;
	if (e->url == NULL) {
		if (e->cacert || e->user || e->pass_file || e->tpl ||
		    e->cert_file || e->mode == MODE_KEYGEN ||
		    e->mode == MODE_RENEW)
			return usage_error("--cacert, --user, --password-file, "
			    "--template, --serverkeygen, --renew and --cert "
			    "are for online enrollment: give --url too");
		if (e->key_file != NULL && e->keyspec_set)
			return usage_error("--key brings the key, --key-type "
			    "makes one: give one of them");
		if (e->archive && e->xchg_file == NULL)
			return usage_error("--archive needs the CA exchange "
			    "certificate: --xchg FILE (from smimeca xchg show "
			    "--pem)");
		if (e->format == FORMAT_SIMPLE && !e->archive)
			return usage_error("--format simple is a form of "
			    "archival request: give --archive --xchg FILE "
			    "too (--format cmc alone makes a CMC request "
			    "without an archived key)");
		if (e->subject == NULL && e->email == NULL && e->cn == NULL)
			return usage_error("give --subject or --email");
		return 0;
	}
	ca_err_clear(&err);
	if (estc_url_check(e->url, &err) != 0)
		return usage_error("%s", err.msg);
	if (e->cacert == NULL)
		return usage_error("--url needs --cacert, the CA that issued "
		    "the server's TLS certificate");
	if (nmodes > 1)
		return usage_error("--archive, --serverkeygen and --renew "
		    "exclude each other");
	if (e->format == FORMAT_CMC &&
	    (e->mode == MODE_KEYGEN || e->mode == MODE_RENEW))
		return usage_error("--format cmc sends a CMC request to "
		    "fullcmc: it goes with --archive or alone, not with "
		    "--serverkeygen or --renew");
	if (e->xchg_file != NULL || e->format == FORMAT_SIMPLE ||
	    e->subject != NULL || e->email != NULL)
		return usage_error("--xchg, --format simple, --subject and "
		    "--email are for offline requests; online the exchange "
		    "certificate is fetched and the subject is --user (and "
		    "--cn)");
	if (e->tpl != NULL && !estc_label_ok(e->tpl))
		return usage_error("--template %s: a template name is letters, "
		    "digits, '-', '_' and '.'", e->tpl);
	if (e->mode == MODE_RENEW) {
		if (e->cert_file == NULL || e->key_file == NULL)
			return usage_error("--renew needs --cert and --key, "
			    "the certificate to renew and its key");
		if (e->user != NULL || e->pass_file != NULL || e->cn != NULL)
			return usage_error("--renew authenticates with --cert "
			    "and keeps its subject: no --user, "
			    "--password-file or --cn");
		return 0;
	}
	if (e->cert_file != NULL || e->key_file != NULL)
		return usage_error("--cert and --key go with --renew");
	if (e->user == NULL || e->pass_file == NULL)
		return usage_error("online enrollment needs --user MAIL and "
		    "--password-file FILE (the password or enrollment code)");
	e->email = e->user;
	if (e->cn == NULL)
		e->cn = e->user;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out-dir", required_argument, NULL, 'o' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "subject", required_argument, NULL, 's' },
		{ "email", required_argument, NULL, 'e' },
		{ "cn", required_argument, NULL, 'n' },
		{ "digest", required_argument, NULL, 'D' },
		{ "archive", no_argument, NULL, 'a' },
		{ "xchg", required_argument, NULL, 'x' },
		{ "format", required_argument, NULL, 'f' },
		{ "url", required_argument, NULL, 'u' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "user", required_argument, NULL, 'U' },
		{ "password-file", required_argument, NULL, 'P' },
		{ "template", required_argument, NULL, 't' },
		{ "serverkeygen", no_argument, NULL, 'g' },
		{ "renew", no_argument, NULL, 'r' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct enr e;
	struct ca_err err;
	const char *p;
	int ch, nmodes = 0, r;

	umask(077);
	memset(&e, 0, sizeof(e));
	ca_err_clear(&err);
	e.keyspec = CA_KEY_RSA2048;
	e.digest = "sha256";
	e.mode = MODE_ENROLL;
	while ((ch = getopt_long(argc, argv, "o:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			e.out_dir = optarg;
			break;
		case 'k':
			e.keyspec_set = 1;
			if (ca_keyspec_parse(optarg, &e.keyspec) != 0 ||
			    e.keyspec == CA_KEY_EC_P384 ||
			    e.keyspec == CA_KEY_RSA4096) {
				fprintf(stderr, "smimeca-enroll: --key-type "
				    "%s: use rsa:2048, rsa:3072 or ec:p256\n",
				    optarg);
				return ENR_USAGE;
			}
			break;
		case 's':
			e.subject = optarg;
			break;
		case 'e':
			e.email = optarg;
			break;
		case 'n':
			e.cn = optarg;
			break;
		case 'D':
			e.digest = optarg;
			break;
		case 'a':
			if (!e.archive)
				nmodes++;
			e.archive = 1;
			e.mode = MODE_ARCHIVE;
			break;
		case 'x':
			e.xchg_file = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "simple") == 0)
				e.format = FORMAT_SIMPLE;
			else if (strcmp(optarg, "cmc") == 0)
				e.format = FORMAT_CMC;
			else {
				fprintf(stderr, "smimeca-enroll: --format %s: "
				    "use cmc or simple\n", optarg);
				return ENR_USAGE;
			}
			break;
		case 'u':
			e.url = optarg;
			break;
		case 'C':
			e.cacert = optarg;
			break;
		case 'U':
			e.user = optarg;
			break;
		case 'P':
			e.pass_file = optarg;
			break;
		case 't':
			e.tpl = optarg;
			break;
		case 'g':
			if (e.mode != MODE_KEYGEN)
				nmodes++;
			e.mode = MODE_KEYGEN;
			break;
		case 'r':
			if (e.mode != MODE_RENEW)
				nmodes++;
			e.mode = MODE_RENEW;
			break;
		case 'c':
			e.cert_file = optarg;
			break;
		case 'K':
			e.key_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return ENR_OK;
		case 'V':
			printf("smimeca-enroll %s\n", PACKAGE_VERSION);
			return ENR_OK;
		default:
			usage(stderr);
			return ENR_USAGE;
		}
	}
	if (optind != argc)
		return usage_error("unexpected argument %s", argv[optind]);
	if ((r = check_args(&e, nmodes)) != 0)
		return r;
	if (e.url != NULL) {
		/* A server that hangs up must not kill us mid-write. */
		signal(SIGPIPE, SIG_IGN);
		r = enroll_online(&e, &err);
	} else
		r = run(&e, &err);
	if (r != 0) {
		for (p = strtok(err.msg, "\n"); p != NULL;
		    p = strtok(NULL, "\n"))
			fprintf(stderr, "smimeca-enroll: %s\n", p);
		return ENR_FAIL;
	}
	return ENR_OK;
}

