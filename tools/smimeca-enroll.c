/*
 * smimeca-enroll: the test client. It makes a key and a request the way
 * an enrolling user or device would, including key-archival requests in
 * the Windows CMC layout ([MS-WCCE] 3.2.2.6.2.1.2.2) and the simpler form,
 * and plain CMC full PKI requests (RFC 5272); offline it writes them to
 * files, online (--url) it enrolls over EST.
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

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "archive/cmc_asn1.h"
#include "archive/msblob.h"
#include "ca/ca.h"
#include "ca/err.h"
#include "ca/util.h"
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
static X509_NAME *parse_dn(const char *);
static X509_NAME *subject_of(const struct enr *, struct ca_err *);
static int make_csr(const X509_NAME *, EVP_PKEY *, const EVP_MD *,
    X509_REQ **, struct ca_err *);
static int envelope(X509 *, const unsigned char *, size_t,
    unsigned char **, int *, struct ca_err *);
static CMC_TAGGED_ATTR *key_hash_control(const unsigned char *,
    unsigned int);
static int make_cmc(X509_REQ *, EVP_PKEY *, const EVP_MD *, X509 *,
    unsigned char **, int *, unsigned char *, unsigned int *,
    struct ca_err *);
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

/* "/CN=Alice/emailAddress=alice@lab.example", as openssl req -subj. */
static X509_NAME *
parse_dn(const char *s)
{
	X509_NAME *name = NULL;
	char *copy = NULL, *tok, *save = NULL, *eq;

	if (s[0] != '/' || (copy = strdup(s + 1)) == NULL ||
	    (name = X509_NAME_new()) == NULL)
		goto fail;
	for (tok = strtok_r(copy, "/", &save); tok != NULL;
	    tok = strtok_r(NULL, "/", &save)) {
		if ((eq = strchr(tok, '=')) == NULL || eq == tok ||
		    eq[1] == '\0')
			goto fail;
		*eq = '\0';
		if (!X509_NAME_add_entry_by_txt(name, tok, MBSTRING_UTF8,
		    (unsigned char *)eq + 1, -1, -1, 0))
			goto fail;
	}
	free(copy);
	return name;
 fail:
	free(copy);
	X509_NAME_free(name);
	return NULL;
}

/* The subject --subject names, or emailAddress --email with CN --cn. */
static X509_NAME *
subject_of(const struct enr *e, struct ca_err *err)
{
	X509_NAME *name = NULL;

	if (e->subject != NULL) {
		if ((name = parse_dn(e->subject)) == NULL)
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
make_csr(const X509_NAME *name, EVP_PKEY *key, const EVP_MD *md,
    X509_REQ **csrp, struct ca_err *err)
{
	X509_REQ *csr = NULL;
	int r = CA_ERR_INVALID;

	*csrp = NULL;
	if ((csr = X509_REQ_new()) == NULL ||
	    !X509_REQ_set_version(csr, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_subject_name(csr, name) ||
	    !X509_REQ_set_pubkey(csr, key) || !X509_REQ_sign(csr, key, md))
		goto out;
	*csrp = csr;
	csr = NULL;
	r = 0;
 out:
	if (r != 0)
		ca_err_ssl(err, r, "cannot build the request");
	X509_REQ_free(csr);
	return r;
}

/* EnvelopedData to the exchange certificate: RSA PKCS#1 v1.5, AES-256. */
static int
envelope(X509 *xchg, const unsigned char *plain, size_t len,
    unsigned char **derp, int *lenp, struct ca_err *err)
{
	STACK_OF(X509) *recips = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	int r = CA_ERR_CRYPTO;

	*derp = NULL;
	if ((recips = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(recips, xchg) ||
	    (in = BIO_new_mem_buf(plain, (int)len)) == NULL ||
	    (cms = CMS_encrypt(recips, in, EVP_aes_256_cbc(),
	    CMS_BINARY)) == NULL ||
	    (*lenp = i2d_CMS_ContentInfo(cms, derp)) <= 0)
		goto out;
	r = 0;
 out:
	if (r != 0)
		ca_err_ssl(err, r, "encrypting the key to the exchange "
		    "certificate");
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	sk_X509_free(recips);
	return r;
}

/* szOID_CMC_ADD_ATTRIBUTES: CmcAddAttributes { 0, { 1 }, { keyHash } }. */
static CMC_TAGGED_ATTR *
key_hash_control(const unsigned char *hash, unsigned int hlen)
{
	CMC_TAGGED_ATTR *ta = NULL;
	CMC_ADD_ATTRS *aa = NULL;
	X509_ATTRIBUTE *attr = NULL;
	ASN1_OBJECT *obj = NULL;
	ASN1_STRING *seq = NULL;
	ASN1_TYPE *t = NULL;
	ASN1_INTEGER *ref = NULL;
	unsigned char *aa_der = NULL;
	int aalen, ok = 0;

	if ((aa = CMC_ADD_ATTRS_new()) == NULL ||
	    (ref = ASN1_INTEGER_new()) == NULL || !ASN1_INTEGER_set(ref, 1) ||
	    !sk_ASN1_INTEGER_push(aa->cert_refs, ref))
		goto out;
	ref = NULL;
	if (!ASN1_INTEGER_set(aa->data_ref, 0) ||
	    (obj = OBJ_txt2obj(OID_MS_ENC_KEY_HASH, 1)) == NULL ||
	    (attr = X509_ATTRIBUTE_create_by_OBJ(NULL, obj,
	    V_ASN1_OCTET_STRING, hash, (int)hlen)) == NULL)
		goto out;
	if (!sk_X509_ATTRIBUTE_push(aa->attrs, attr))
		goto out;
	attr = NULL;
	if ((aalen = i2d_CMC_ADD_ATTRS(aa, &aa_der)) <= 0 ||
	    (seq = ASN1_STRING_new()) == NULL ||
	    !ASN1_STRING_set(seq, aa_der, aalen) ||
	    (t = ASN1_TYPE_new()) == NULL)
		goto out;
	ASN1_TYPE_set(t, V_ASN1_SEQUENCE, seq);
	seq = NULL;
	if ((ta = CMC_TAGGED_ATTR_new()) == NULL ||
	    !ASN1_INTEGER_set(ta->body_part_id, 2) ||
	    (ASN1_OBJECT_free(ta->type),
	    ta->type = OBJ_txt2obj(OID_MS_CMC_ADD_ATTRS, 1)) == NULL ||
	    !sk_ASN1_TYPE_push(ta->values, t))
		goto out;
	t = NULL;
	ok = 1;
 out:
	if (!ok) {
		CMC_TAGGED_ATTR_free(ta);
		ta = NULL;
	}
	OPENSSL_free(aa_der);
	CMC_ADD_ATTRS_free(aa);
	X509_ATTRIBUTE_free(attr);
	ASN1_OBJECT_free(obj);
	ASN1_STRING_free(seq);
	ASN1_TYPE_free(t);
	ASN1_INTEGER_free(ref);
	return ta;
}

/*
 * A CMC full PKI request (RFC 5272): SignedData over a PKIData holding the
 * PKCS#10 request as bodyPartID 1, signed with the request's key. With
 * xchg, the Windows archival layout of PROTOCOLS.md section 1 (the key to
 * xchg as an unsigned attribute, its hash as a control); without, a plain
 * request. hashp (EVP_MAX_MD_SIZE bytes, may be NULL) gets the
 * encrypted-key hash the request carries, *hlenp 0 for none.
 */
static int
make_cmc(X509_REQ *csr, EVP_PKEY *key, const EVP_MD *md, X509 *xchg,
    unsigned char **derp, int *lenp, unsigned char *hashp,
    unsigned int *hlenp, struct ca_err *err)
{
	unsigned char *blob = NULL, *env = NULL, *pd_der = NULL;
	unsigned char hash[EVP_MAX_MD_SIZE], kid[EVP_MAX_MD_SIZE];
	unsigned int hlen = 0, kidlen;
	size_t bloblen = 0;
	int envlen = 0, pdlen, r;
	CMC_PKIDATA *pd = NULL;
	CMC_TAGGED_ATTR *ta = NULL;
	CMC_TAGGED_REQ *tr = NULL;
	ASN1_OBJECT *ctype = NULL;
	X509 *signer = NULL;
	ASN1_OCTET_STRING *skid = NULL;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	BIO *in = NULL;
	unsigned int flags = CMS_PARTIAL | CMS_BINARY | CMS_NOCERTS |
	    CMS_USE_KEYID | CMS_NOSMIMECAP;

	*derp = NULL;
	*lenp = 0;
	if (xchg != NULL &&
	    ((r = msblob_from_pkey(key, &blob, &bloblen, err)) != 0 ||
	    (r = envelope(xchg, blob, bloblen, &env, &envlen, err)) != 0))
		goto out;
	r = CA_ERR_CRYPTO;
	if ((pd = CMC_PKIDATA_new()) == NULL)
		goto fail;
	/* The envelope's hash goes where the signature covers it. */
	if (env != NULL) {
		if (EVP_Digest(env, (size_t)envlen, hash, &hlen, md,
		    NULL) != 1 || (ta = key_hash_control(hash, hlen)) == NULL ||
		    !sk_CMC_TAGGED_ATTR_push(pd->controls, ta))
			goto fail;
		ta = NULL;
	}
	if ((tr = CMC_TAGGED_REQ_new()) == NULL)
		goto fail;
	tr->type = CMC_TR_TCR;
	if ((tr->d.tcr = CMC_TCR_new()) == NULL ||
	    !ASN1_INTEGER_set(tr->d.tcr->body_part_id, 1))
		goto fail;
	X509_REQ_free(tr->d.tcr->req);
	if ((tr->d.tcr->req = X509_REQ_dup(csr)) == NULL ||
	    !sk_CMC_TAGGED_REQ_push(pd->reqs, tr))
		goto fail;
	tr = NULL;
	if ((pdlen = i2d_CMC_PKIDATA(pd, &pd_der)) <= 0)
		goto fail;

	/* The signer: the request's key, identified by its key id only. */
	if ((signer = X509_new()) == NULL || !X509_set_pubkey(signer, key) ||
	    !X509_pubkey_digest(signer, EVP_sha1(), kid, &kidlen) ||
	    (skid = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(skid, kid, (int)kidlen) ||
	    !X509_add1_ext_i2d(signer, NID_subject_key_identifier, skid, 0,
	    X509V3_ADD_DEFAULT))
		goto fail;
	if ((cms = CMS_sign(NULL, NULL, NULL, NULL, flags)) == NULL ||
	    (ctype = OBJ_txt2obj(OID_CCT_PKIDATA, 1)) == NULL ||
	    !CMS_set1_eContentType(cms, ctype) ||
	    (si = CMS_add1_signer(cms, signer, key, md, flags)) == NULL)
		goto fail;
	if (env != NULL && !CMS_unsigned_add1_attr_by_txt(si,
	    OID_MS_ARCHIVED_KEY, V_ASN1_SEQUENCE, env, envlen))
		goto fail;
	if ((in = BIO_new_mem_buf(pd_der, pdlen)) == NULL ||
	    !CMS_final(cms, in, NULL, flags) ||
	    (*lenp = i2d_CMS_ContentInfo(cms, derp)) <= 0)
		goto fail;
	if (hashp != NULL) {
		memcpy(hashp, hash, hlen);
		*hlenp = hlen;
	}
	r = 0;
	goto out;
 fail:
	ca_err_ssl(err, r, "building the CMC %srequest",
	    env != NULL ? "archival " : "");
 out:
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	ASN1_OCTET_STRING_free(skid);
	X509_free(signer);
	OPENSSL_free(pd_der);
	CMC_PKIDATA_free(pd);
	CMC_TAGGED_REQ_free(tr);
	CMC_TAGGED_ATTR_free(ta);
	ASN1_OBJECT_free(ctype);
	OPENSSL_free(env);
	if (blob != NULL)
		OPENSSL_clear_free(blob, bloblen);
	return r;
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
	    (r = make_csr(name, key, md, &csr, err)) != 0 ||
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
	/* MODE_CMC leaves xchg NULL: make_cmc makes a plain CMC request. */
	if (e->format == FORMAT_SIMPLE) {
		if ((kb = BIO_new(BIO_s_secmem())) == NULL ||
		    !i2d_PKCS8PrivateKey_bio(kb, key, NULL, NULL, 0, NULL,
		    NULL)) {
			r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the key");
			goto out;
		}
		len = BIO_get_mem_data(kb, &data);
		if ((r = envelope(xchg, (unsigned char *)data, (size_t)len,
		    &der, &derlen, err)) != 0 ||
		    (r = write_out(e->out_dir, "key.cms", der, (size_t)derlen,
		    0644, NULL, err)) != 0)
			goto out;
	} else if ((r = make_cmc(csr, key, md, xchg, &der, &derlen, NULL,
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
	    (r = make_csr(name, key, md, &csr, err)) != 0)
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
		if ((r = make_cmc(csr, key, md, xchg, &der, &derlen, hash,
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
