/*
 * smimeca-enroll: the test client. It makes a key and a request the way
 * an enrolling user or device would, including key-archival requests in
 * the Windows CMC layout ([MS-WCCE] 3.2.2.6.2.1.2.2) and the simpler form.
 */
#include "ac-config.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
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

#define ENR_OK		0
#define ENR_FAIL	1
#define ENR_USAGE	2

struct enr {
	const char *xchg_file;
	const char *out_dir;
	const char *subject;
	const char *email;
	const char *cn;
	const char *digest;
	enum ca_keyspec keyspec;
	int archive;		/* make an archival request */
	int simple;		/* the simple form, not CMC */
};

static void usage(FILE *);
static X509_NAME *parse_dn(const char *);
static int make_csr(const struct enr *, EVP_PKEY *, const EVP_MD *,
    X509_REQ **, struct ca_err *);
static int envelope(X509 *, const unsigned char *, size_t,
    unsigned char **, int *, struct ca_err *);
static int make_cmc(X509_REQ *, EVP_PKEY *, const EVP_MD *, X509 *,
    unsigned char **, int *, struct ca_err *);
static int write_out(const char *, const char *, const void *, size_t,
    int, char **, struct ca_err *);
static int run(const struct enr *, struct ca_err *);

static void
usage(FILE *f)
{
	fprintf(f, "usage: smimeca-enroll --out-dir DIR [--key-type "
	    "rsa:2048|rsa:3072|ec:p256]\n"
	    "           [--subject DN | --email MAIL [--cn NAME]] "
	    "[--digest sha256]\n"
	    "           [--archive --xchg XCHG.pem [--format cmc|simple]]\n");
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

static int
make_csr(const struct enr *e, EVP_PKEY *key, const EVP_MD *md,
    X509_REQ **csrp, struct ca_err *err)
{
	X509_REQ *csr = NULL;
	X509_NAME *name = NULL;
	int r = CA_ERR_INVALID;

	*csrp = NULL;
	if (e->subject != NULL)
		name = parse_dn(e->subject);
	if ((csr = X509_REQ_new()) == NULL ||
	    (e->subject == NULL && (name = X509_NAME_new()) == NULL))
		goto out;
	if (e->subject == NULL && ((e->cn != NULL &&
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)e->cn, -1, -1, 0)) || (e->email != NULL &&
	    !X509_NAME_add_entry_by_txt(name, "emailAddress", MBSTRING_ASC,
	    (const unsigned char *)e->email, -1, -1, 0))))
		goto out;
	if (name == NULL || !X509_REQ_set_version(csr, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_subject_name(csr, name) ||
	    !X509_REQ_set_pubkey(csr, key) || !X509_REQ_sign(csr, key, md))
		goto out;
	*csrp = csr;
	csr = NULL;
	r = 0;
 out:
	if (r != 0)
		ca_err_ssl(err, r, "cannot build the request (subject \"%s\")",
		    e->subject ? e->subject : "");
	X509_NAME_free(name);
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

/* The Windows layout of PROTOCOLS.md section 1. */
static int
make_cmc(X509_REQ *csr, EVP_PKEY *key, const EVP_MD *md, X509 *xchg,
    unsigned char **derp, int *lenp, struct ca_err *err)
{
	unsigned char *blob = NULL, *env = NULL, *pd_der = NULL;
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned int hlen;
	size_t bloblen = 0;
	int envlen = 0, pdlen, r;
	CMC_PKIDATA *pd = NULL;
	CMC_TAGGED_ATTR *ta = NULL;
	CMC_ADD_ATTRS *aa = NULL;
	CMC_TAGGED_REQ *tr = NULL;
	X509_ATTRIBUTE *attr = NULL;
	ASN1_OBJECT *obj = NULL, *ctype = NULL;
	ASN1_STRING *seq = NULL;
	ASN1_TYPE *t = NULL;
	ASN1_INTEGER *ref = NULL;
	X509 *signer = NULL;
	ASN1_OCTET_STRING *skid = NULL;
	unsigned char kid[EVP_MAX_MD_SIZE];
	unsigned int kidlen;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	BIO *in = NULL;
	unsigned char *aa_der = NULL;
	int aalen;
	unsigned int flags = CMS_PARTIAL | CMS_BINARY | CMS_NOCERTS |
	    CMS_USE_KEYID | CMS_NOSMIMECAP;

	*derp = NULL;
	if ((r = msblob_from_pkey(key, &blob, &bloblen, err)) != 0 ||
	    (r = envelope(xchg, blob, bloblen, &env, &envlen, err)) != 0)
		goto out;
	r = CA_ERR_CRYPTO;
	if (EVP_Digest(env, (size_t)envlen, hash, &hlen, md, NULL) != 1)
		goto fail;
	/* CmcAddAttributes { 0, { 1 }, { encryptedKeyHash } } */
	if ((aa = CMC_ADD_ATTRS_new()) == NULL ||
	    (ref = ASN1_INTEGER_new()) == NULL || !ASN1_INTEGER_set(ref, 1) ||
	    !sk_ASN1_INTEGER_push(aa->cert_refs, ref))
		goto fail;
	ref = NULL;
	if (!ASN1_INTEGER_set(aa->data_ref, 0) ||
	    (obj = OBJ_txt2obj(OID_MS_ENC_KEY_HASH, 1)) == NULL ||
	    (attr = X509_ATTRIBUTE_create_by_OBJ(NULL, obj,
	    V_ASN1_OCTET_STRING, hash, (int)hlen)) == NULL)
		goto fail;
	if (!sk_X509_ATTRIBUTE_push(aa->attrs, attr))
		goto fail;
	attr = NULL;
	if ((aalen = i2d_CMC_ADD_ATTRS(aa, &aa_der)) <= 0 ||
	    (seq = ASN1_STRING_new()) == NULL ||
	    !ASN1_STRING_set(seq, aa_der, aalen) ||
	    (t = ASN1_TYPE_new()) == NULL)
		goto fail;
	ASN1_TYPE_set(t, V_ASN1_SEQUENCE, seq);
	seq = NULL;
	if ((ta = CMC_TAGGED_ATTR_new()) == NULL ||
	    !ASN1_INTEGER_set(ta->body_part_id, 2) ||
	    (ASN1_OBJECT_free(ta->type),
	    ta->type = OBJ_txt2obj(OID_MS_CMC_ADD_ATTRS, 1)) == NULL ||
	    !sk_ASN1_TYPE_push(ta->values, t))
		goto fail;
	t = NULL;
	if ((pd = CMC_PKIDATA_new()) == NULL ||
	    !sk_CMC_TAGGED_ATTR_push(pd->controls, ta))
		goto fail;
	ta = NULL;
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
	if (!CMS_unsigned_add1_attr_by_txt(si, OID_MS_ARCHIVED_KEY,
	    V_ASN1_SEQUENCE, env, envlen))
		goto fail;
	if ((in = BIO_new_mem_buf(pd_der, pdlen)) == NULL ||
	    !CMS_final(cms, in, NULL, flags) ||
	    (*lenp = i2d_CMS_ContentInfo(cms, derp)) <= 0)
		goto fail;
	r = 0;
	goto out;
 fail:
	ca_err_ssl(err, r, "building the CMC archival request");
 out:
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	ASN1_OCTET_STRING_free(skid);
	X509_free(signer);
	OPENSSL_free(pd_der);
	OPENSSL_free(aa_der);
	CMC_PKIDATA_free(pd);
	CMC_TAGGED_REQ_free(tr);
	CMC_TAGGED_ATTR_free(ta);
	CMC_ADD_ATTRS_free(aa);
	X509_ATTRIBUTE_free(attr);
	ASN1_OBJECT_free(obj);
	ASN1_OBJECT_free(ctype);
	ASN1_STRING_free(seq);
	ASN1_TYPE_free(t);
	ASN1_INTEGER_free(ref);
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

static int
run(const struct enr *e, struct ca_err *err)
{
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
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
	if (mkdir(e->out_dir, 0700) == -1 && errno != EEXIST)
		return ca_err_set(err, CA_ERR_IO, "%s: %s", e->out_dir,
		    strerror(errno));
	if (e->archive && (r = util_read_cert(e->xchg_file, &xchg, err)) != 0)
		goto out;
	if ((r = ca_keygen(e->keyspec, &key, err)) != 0 ||
	    (r = make_csr(e, key, md, &csr, err)) != 0)
		goto out;
	/* The user's own key: the file they asked for, mode 0600. */
	if ((kb = BIO_new(BIO_s_secmem())) == NULL ||
	    !PEM_write_bio_PKCS8PrivateKey(kb, key, NULL, NULL, 0, NULL,
	    NULL)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the key");
		goto out;
	}
	len = BIO_get_mem_data(kb, &data);
	if ((r = write_out(e->out_dir, "key.pem", data, (size_t)len, 0600,
	    NULL, err)) != 0)
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
	if (!e->archive) {
		r = 0;
		goto out;
	}
	if (e->simple) {
		BIO_free(kb);
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
	} else if ((r = make_cmc(csr, key, md, xchg, &der, &derlen,
	    err)) != 0 ||
	    (r = write_out(e->out_dir, "request.cmc", der, (size_t)derlen,
	    0644, NULL, err)) != 0)
		goto out;
	r = 0;
 out:
	OPENSSL_free(der);
	BIO_free(b);
	BIO_free(kb);
	X509_free(xchg);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	return r;
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
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct enr e;
	struct ca_err err;
	const char *p;
	int ch;

	umask(077);
	memset(&e, 0, sizeof(e));
	ca_err_clear(&err);
	e.keyspec = CA_KEY_RSA2048;
	e.digest = "sha256";
	while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			e.out_dir = optarg;
			break;
		case 'k':
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
			e.archive = 1;
			break;
		case 'x':
			e.xchg_file = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "simple") == 0)
				e.simple = 1;
			else if (strcmp(optarg, "cmc") != 0) {
				fprintf(stderr, "smimeca-enroll: --format %s: "
				    "use cmc or simple\n", optarg);
				return ENR_USAGE;
			}
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
	if (optind != argc || e.out_dir == NULL ||
	    (e.archive && e.xchg_file == NULL) ||
	    (e.subject == NULL && e.email == NULL && e.cn == NULL)) {
		if (e.archive && e.xchg_file == NULL)
			fprintf(stderr, "smimeca-enroll: --archive needs the "
			    "CA exchange certificate: --xchg FILE (from "
			    "smimeca xchg show --pem)\n");
		usage(stderr);
		return ENR_USAGE;
	}
	if (run(&e, &err) != 0) {
		for (p = strtok(err.msg, "\n"); p != NULL;
		    p = strtok(NULL, "\n"))
			fprintf(stderr, "smimeca-enroll: %s\n", p);
		return ENR_FAIL;
	}
	return ENR_OK;
}
