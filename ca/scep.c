/*
 * SCEP pkiMessages (RFC 8894) through OpenSSL's PKCS#7: the request is a
 * SignedData by the requester around an EnvelopedData to the RA; the
 * answer, a CertRep, is a SignedData by the RA around an EnvelopedData to
 * the requester holding a certs-only PKCS#7. Transactions are stored with
 * the certificate, in the transaction that issues it: a transactionID
 * seen again is answered from the store, never with a second certificate.
 */
#include "ac-config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/export.h"
#include "ca/issue.h"
#include "ca/scep.h"
#include "ca/template.h"
#include "ca/util.h"

/* Verisign's SCEP attributes, 2.16.840.1.113733.1.9.x */
#define OID_MSGTYPE	"2.16.840.1.113733.1.9.2"
#define OID_STATUS	"2.16.840.1.113733.1.9.3"
#define OID_FAILINFO	"2.16.840.1.113733.1.9.4"
#define OID_SNONCE	"2.16.840.1.113733.1.9.5"
#define OID_RNONCE	"2.16.840.1.113733.1.9.6"
#define OID_TID		"2.16.840.1.113733.1.9.7"

#define NONCE_LEN	16
#define RA_RECHECK	60	/* seconds a thread trusts its cached RA */
#define REPLAY_WAIT_MS	10
#define REPLAY_TRIES	200
#define PW_MAX		512

/* SHA-384 is listed for strongSwan pki 5.9.8: see smimecad(8). */
#define CAPS_STD	"POSTPKIOperation\nRenewal\nSHA-256\nSHA-384\n" \
	"SHA-512\nAES\nSCEPStandard\n"
#define CAPS_LEGACY	CAPS_STD "DES3\nSHA-1\n"

struct scep {
	int legacy;
	OSSL_LIB_CTX *lctx;	/* legacy: default + legacy providers */
	X509 *ra;		/* the current RA certificate */
	EVP_PKEY *rakey;
	int64_t ra_recheck;	/* look for a newer one after this */
};

/* A pkiMessage as read. */
struct scep_req {
	PKCS7 *p7;
	X509 *signer;			/* from the message, referenced */
	int msgtype;
	int md_nid;
	char tid[SCEP_TID_MAX + 1];
	unsigned char nonce[64];
	int noncelen;
	char keyhash[65];		/* SHA-256 of the signer's key */
	unsigned char *content;		/* the EnvelopedData, DER */
	size_t contentlen;
	int enc_nid;			/* its content cipher */
};

/* What the issuing hook stores, and what went wrong in it. */
struct issue_ctx {
	struct db_scep_tx row;
	const struct scep_chal *chal;
	int64_t now;
	int tid_taken;
};

static int nid_msgtype, nid_status, nid_failinfo, nid_snonce, nid_rnonce;
static int nid_tid;
static pthread_once_t scep_once = PTHREAD_ONCE_INIT;
static OSSL_LIB_CTX *legacy_ctx;

static void scep_init(void);
static int legacy_ok(int);
static int md_allowed(int, int);
static int cipher_allowed(int, int);
static int attr_printable(PKCS7_SIGNER_INFO *, int, char *, size_t);
static int read_req(const unsigned char *, size_t, int,
    struct scep_req *, struct scep_result *, struct ca_err *);
static void req_clear(struct scep_req *);
static int ra_get(struct scep *, struct ca *, int64_t, struct ca_err *);
static int certrep(struct scep *, const struct scep_req *, int, int, X509 *,
    unsigned char **, size_t *, struct ca_err *);
static int fail(struct scep_result *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static int open_env(struct scep *, struct ca *, struct scep_req *, int64_t,
    X509_REQ **, struct scep_result *, struct ca_err *);
static int csr_challenge(X509_REQ *, char *, size_t);
static int renewal_signer(struct ca *, const struct scep_req *,
    const struct tpl *, X509_REQ *, int64_t, struct db_cert **,
    struct scep_result *, struct ca_err *);
static int answer_row(struct ca *, const struct db_scep_tx *, X509 **,
    struct scep_result *, struct ca_err *);
static int issue_hook(void *, struct ca *, int64_t, X509 *,
    struct ca_err *);
static int hold_store(void *, struct db *, struct ca_err *);
static int replay_won(struct ca *, const struct scep_req *, X509 **,
    struct scep_result *, struct ca_err *);
static int enroll(struct scep *, struct ca *, const struct tpl *,
    struct scep_req *, int64_t, X509 **, struct scep_result *,
    struct ca_err *);
static int csr_value(X509_REQ *, int, char *, size_t);
static int self_signed(X509 *);
static int name_cn(const X509_NAME *, char *, size_t);
static int name_value(const X509_NAME *, int, char *, size_t);

static void
scep_init(void)
{
	nid_msgtype = OBJ_create(OID_MSGTYPE, "scepMessageType",
	    "SCEP messageType");
	nid_status = OBJ_create(OID_STATUS, "scepPkiStatus",
	    "SCEP pkiStatus");
	nid_failinfo = OBJ_create(OID_FAILINFO, "scepFailInfo",
	    "SCEP failInfo");
	nid_snonce = OBJ_create(OID_SNONCE, "scepSenderNonce",
	    "SCEP senderNonce");
	nid_rnonce = OBJ_create(OID_RNONCE, "scepRecipientNonce",
	    "SCEP recipientNonce");
	nid_tid = OBJ_create(OID_TID, "scepTransactionID",
	    "SCEP transactionID");
}

/* Single DES lives in OpenSSL 3's legacy provider: loaded here only. */
static int
legacy_ok(int want)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	int ok;

	if (!want)
		return 1;
	pthread_mutex_lock(&mu);
	if (legacy_ctx == NULL && (legacy_ctx = OSSL_LIB_CTX_new()) != NULL &&
	    (OSSL_PROVIDER_load(legacy_ctx, "default") == NULL ||
	    OSSL_PROVIDER_load(legacy_ctx, "legacy") == NULL)) {
		OSSL_LIB_CTX_free(legacy_ctx);
		legacy_ctx = NULL;
	}
	ok = legacy_ctx != NULL;
	pthread_mutex_unlock(&mu);
	return ok;
}

static int
md_allowed(int nid, int legacy)
{
	switch (nid) {
	case NID_sha256:
	case NID_sha384:
	case NID_sha512:
		return 1;
	case NID_sha1:
		return legacy;
	default:
		return 0;
	}
}

static int
cipher_allowed(int nid, int legacy)
{
	switch (nid) {
	case NID_aes_128_cbc:
	case NID_aes_192_cbc:
	case NID_aes_256_cbc:
		return 1;
	case NID_des_ede3_cbc:
	case NID_des_cbc:
		return legacy;
	default:
		return 0;
	}
}

int
scep_new(struct ca *ca, struct scep **sp, struct ca_err *err)
{
	struct scep *s;

	*sp = NULL;
	pthread_once(&scep_once, scep_init);
	if (nid_tid == NID_undef)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "registering the SCEP "
		    "attribute identifiers");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	s->legacy = ca_config(ca)->scep.legacy;
	if (s->legacy) {
		if (!legacy_ok(1)) {
			free(s);
			return ca_err_ssl(err, CA_ERR_CRYPTO, "<scep "
			    "legacy=\"yes\">: OpenSSL's legacy provider "
			    "(single DES) does not load");
		}
		s->lctx = legacy_ctx;
	}
	*sp = s;
	return 0;
}

void
scep_free(struct scep *s)
{
	if (s == NULL)
		return;
	X509_free(s->ra);
	EVP_PKEY_free(s->rakey);
	free(s);
}

const char *
scep_caps(const struct scep *s)
{
	return s->legacy ? CAPS_LEGACY : CAPS_STD;
}

static int
ra_get(struct scep *s, struct ca *ca, int64_t now, struct ca_err *err)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int r;

	if (s->ra != NULL && now < s->ra_recheck)
		return 0;
	if ((r = scep_ra_current(ca, now, &cert, &key, err)) != 0)
		return r;
	X509_free(s->ra);
	EVP_PKEY_free(s->rakey);
	s->ra = cert;
	s->rakey = key;
	s->ra_recheck = now + RA_RECHECK;
	return 0;
}

int
scep_cacert(struct scep *s, struct ca *ca, int64_t now, unsigned char **derp,
    size_t *lenp, struct ca_err *err)
{
	int r;

	*derp = NULL;
	if ((r = ra_get(s, ca, now, err)) != 0)
		return r;
	/* RA first: clients that take the first certificate encrypt to it. */
	if (export_certs_only(s->ra, ca_chain(ca), derp, lenp) != 0)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "encoding GetCACert");
	return 0;
}

static int
fail(struct scep_result *res, int info, const char *fmt, ...)
{
	va_list ap;

	res->status = SCEP_FAILURE;
	res->fail_info = info;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	return 0;
}

/* A PrintableString attribute into buf; -1 if absent or not printable. */
static int
attr_printable(PKCS7_SIGNER_INFO *si, int nid, char *buf, size_t len)
{
	ASN1_TYPE *t = PKCS7_get_signed_attribute(si, nid);
	const unsigned char *d;
	int i, n;

	if (t == NULL || t->type != V_ASN1_PRINTABLESTRING)
		return -1;
	n = ASN1_STRING_length(t->value.printablestring);
	d = ASN1_STRING_get0_data(t->value.printablestring);
	if (n <= 0 || (size_t)n >= len)
		return -1;
	for (i = 0; i < n; i++)
		if (d[i] < 0x20 || d[i] > 0x7e)
			return -1;
	memcpy(buf, d, (size_t)n);
	buf[n] = '\0';
	return 0;
}

static void
req_clear(struct scep_req *q)
{
	PKCS7_free(q->p7);
	X509_free(q->signer);
	OPENSSL_free(q->content);
	memset(q, 0, sizeof(*q));
}

/*
 * Reads the SignedData and its attributes and checks the signature. A
 * message without the attributes a CertRep must echo (messageType,
 * transactionID) cannot be answered in SCEP: CA_ERR_INVALID. Anything
 * else wrong is a FAILURE in res, with q filled for the answer.
 */
static int
read_req(const unsigned char *der, size_t len, int legacy,
    struct scep_req *q, struct scep_result *res, struct ca_err *err)
{
	const unsigned char *p = der;
	STACK_OF(PKCS7_SIGNER_INFO) *sis;
	STACK_OF(X509) *signers = NULL;
	PKCS7_SIGNER_INFO *si;
	ASN1_TYPE *t;
	X509_PUBKEY *xpk;
	PKCS7 *env = NULL;
	BIO *out = NULL;
	unsigned char *kder = NULL;
	char mt[8];
	char *data;
	long n;
	int klen, r = CA_ERR_INVALID;

	memset(q, 0, sizeof(*q));
	if (len > SCEP_MSG_MAX)
		return ca_err_set(err, CA_ERR_INVALID, "the pkiMessage is "
		    "%zu bytes, more than the %d a SCEP request needs", len,
		    SCEP_MSG_MAX);
	if ((q->p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "the message is not a "
		    "PKCS#7 (DER) pkiMessage");
		goto out;
	}
	if (!PKCS7_type_is_signed(q->p7) || q->p7->d.sign == NULL ||
	    q->p7->d.sign->contents == NULL ||
	    !PKCS7_type_is_data(q->p7->d.sign->contents)) {
		r = ca_err_set(err, CA_ERR_INVALID, "the pkiMessage is not a "
		    "SignedData of data");
		goto out;
	}
	if ((sis = PKCS7_get_signer_info(q->p7)) == NULL ||
	    sk_PKCS7_SIGNER_INFO_num(sis) != 1) {
		r = ca_err_set(err, CA_ERR_INVALID, "the pkiMessage must "
		    "have exactly one signer");
		goto out;
	}
	si = sk_PKCS7_SIGNER_INFO_value(sis, 0);
	if (attr_printable(si, nid_tid, q->tid, sizeof(q->tid)) != 0 ||
	    attr_printable(si, nid_msgtype, mt, sizeof(mt)) != 0) {
		r = ca_err_set(err, CA_ERR_INVALID, "the pkiMessage lacks a "
		    "printable transactionID or messageType (at most %d "
		    "characters)", SCEP_TID_MAX);
		goto out;
	}
	snprintf(res->tid, sizeof(res->tid), "%s", q->tid);
	q->msgtype = atoi(mt);
	res->msgtype = q->msgtype;
	if ((signers = PKCS7_get0_signers(q->p7, NULL, 0)) == NULL ||
	    sk_X509_num(signers) != 1) {
		ERR_clear_error();
		r = ca_err_set(err, CA_ERR_INVALID, "the pkiMessage does not "
		    "carry its signer's certificate");
		goto out;
	}
	q->signer = sk_X509_value(signers, 0);
	X509_up_ref(q->signer);
	if ((xpk = X509_get_X509_PUBKEY(q->signer)) == NULL ||
	    (klen = i2d_X509_PUBKEY(xpk, &kder)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "the signer's public key "
		    "cannot be read");
		goto out;
	}
	util_sha256_hex(kder, (size_t)klen, q->keyhash);
	r = 0;
	if ((t = PKCS7_get_signed_attribute(si, nid_snonce)) != NULL &&
	    t->type == V_ASN1_OCTET_STRING &&
	    ASN1_STRING_length(t->value.octet_string) > 0 &&
	    ASN1_STRING_length(t->value.octet_string) <=
	    (int)sizeof(q->nonce)) {
		q->noncelen = ASN1_STRING_length(t->value.octet_string);
		memcpy(q->nonce, ASN1_STRING_get0_data(t->value.octet_string),
		    (size_t)q->noncelen);
	}
	q->md_nid = OBJ_obj2nid(si->digest_alg->algorithm);
	if (!md_allowed(q->md_nid, legacy)) {
		q->md_nid = NID_sha256;
		fail(res, SCEP_BADALG, "digest %s is not accepted%s",
		    OBJ_nid2sn(OBJ_obj2nid(si->digest_alg->algorithm)),
		    legacy ? "" : " (SHA-1 only with <scep legacy=\"yes\">)");
		goto out;
	}
	if ((out = BIO_new(BIO_s_mem())) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (PKCS7_verify(q->p7, NULL, NULL, NULL, out,
	    PKCS7_NOVERIFY | PKCS7_BINARY) != 1) {
		ERR_clear_error();
		fail(res, SCEP_BADMESSAGECHECK, "the pkiMessage's signature "
		    "does not verify under the certificate it carries");
		goto out;
	}
	if (q->noncelen == 0) {
		fail(res, SCEP_BADREQUEST, "the pkiMessage has no "
		    "senderNonce");
		goto out;
	}
	n = BIO_get_mem_data(out, &data);
	if (n <= 0) {
		fail(res, SCEP_BADREQUEST, "the pkiMessage has no content");
		goto out;
	}
	if ((q->content = OPENSSL_memdup(data, (size_t)n)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	q->contentlen = (size_t)n;
	/* The cipher, read without decrypting: badAlg costs no RSA. */
	p = q->content;
	if ((env = d2i_PKCS7(NULL, &p, (long)q->contentlen)) == NULL ||
	    !PKCS7_type_is_enveloped(env) || env->d.enveloped == NULL ||
	    env->d.enveloped->enc_data == NULL ||
	    env->d.enveloped->enc_data->algorithm == NULL) {
		ERR_clear_error();
		fail(res, SCEP_BADMESSAGECHECK, "the pkiMessage's content "
		    "is not an EnvelopedData");
		goto out;
	}
	q->enc_nid = OBJ_obj2nid(env->d.enveloped->enc_data->algorithm->
	    algorithm);
	if (!cipher_allowed(q->enc_nid, legacy)) {
		fail(res, SCEP_BADALG, "content cipher %s is not accepted "
		    "(AES-CBC%s)", q->enc_nid != NID_undef ?
		    OBJ_nid2sn(q->enc_nid) : "unknown",
		    legacy ? ", DES3, DES" : "; DES3 and DES only with <scep "
		    "legacy=\"yes\">");
		goto out;
	}
 out:
	PKCS7_free(env);
	BIO_free(out);
	OPENSSL_free(kder);
	sk_X509_free(signers);
	return r;
}

int
scep_parse_only(const unsigned char *msg, size_t len, int legacy,
    struct ca_err *err)
{
	struct scep_req q;
	struct scep_result res;
	int r;

	pthread_once(&scep_once, scep_init);
	memset(&res, 0, sizeof(res));
	r = read_req(msg, len, legacy, &q, &res, err);
	req_clear(&q);
	return r;
}

/*
 * The CertRep: signed by the RA (rsaEncryption as the signature
 * algorithm, as OpenSSL's PKCS#7 writes for RSA: strongSwan needs it),
 * with the certificate enveloped to the requester's signer on SUCCESS.
 */
static int
certrep(struct scep *s, const struct scep_req *q, int status, int info,
    X509 *cert, unsigned char **outp, size_t *lenp, struct ca_err *err)
{
	PKCS7 *p7 = NULL, *env = NULL;
	PKCS7_SIGNER_INFO *si;
	STACK_OF(X509) *recips = NULL;
	ASN1_STRING *str;
	EVP_CIPHER *cipher = NULL;
	BIO *in = NULL, *bio = NULL;
	unsigned char nonce[NONCE_LEN], *inner = NULL, *envder = NULL;
	unsigned char *der = NULL;
	size_t innerlen = 0;
	char num[8];
	const EVP_MD *md;
	int len, envlen = 0, r = CA_ERR_CRYPTO;

	*outp = NULL;
	md = EVP_get_digestbynid(q->md_nid != NID_undef && q->md_nid != 0 ?
	    q->md_nid : NID_sha256);
	if (md == NULL)
		md = EVP_sha256();
	if (status == SCEP_SUCCESS) {
		if (export_certs_only(cert, NULL, &inner, &innerlen) != 0 ||
		    (in = BIO_new_mem_buf(inner, (int)innerlen)) == NULL ||
		    (recips = sk_X509_new_null()) == NULL ||
		    !sk_X509_push(recips, q->signer))
			goto out;
		cipher = EVP_CIPHER_fetch(s->lctx, OBJ_nid2sn(
		    cipher_allowed(q->enc_nid, s->legacy) ? q->enc_nid :
		    NID_aes_128_cbc), NULL);
		if (cipher == NULL ||
		    (env = PKCS7_encrypt_ex(recips, in, cipher, PKCS7_BINARY,
		    s->lctx, NULL)) == NULL ||
		    (envlen = i2d_PKCS7(env, &envder)) <= 0)
			goto out;
	}
	if ((p7 = PKCS7_new()) == NULL ||
	    !PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    (si = PKCS7_add_signature(p7, s->ra, s->rakey, md)) == NULL ||
	    !PKCS7_add_certificate(p7, s->ra) ||
	    !PKCS7_add_signed_attribute(si, NID_pkcs9_contentType,
	    V_ASN1_OBJECT, OBJ_nid2obj(NID_pkcs7_data)))
		goto out;
	snprintf(num, sizeof(num), "%d", SCEP_CERTREP);
	if ((str = ASN1_PRINTABLESTRING_new()) == NULL ||
	    !ASN1_STRING_set(str, num, -1) ||
	    !PKCS7_add_signed_attribute(si, nid_msgtype,
	    V_ASN1_PRINTABLESTRING, str))
		goto out;
	snprintf(num, sizeof(num), "%d", status);
	if ((str = ASN1_PRINTABLESTRING_new()) == NULL ||
	    !ASN1_STRING_set(str, num, -1) ||
	    !PKCS7_add_signed_attribute(si, nid_status,
	    V_ASN1_PRINTABLESTRING, str))
		goto out;
	if (status == SCEP_FAILURE) {
		snprintf(num, sizeof(num), "%d", info);
		if ((str = ASN1_PRINTABLESTRING_new()) == NULL ||
		    !ASN1_STRING_set(str, num, -1) ||
		    !PKCS7_add_signed_attribute(si, nid_failinfo,
		    V_ASN1_PRINTABLESTRING, str))
			goto out;
	}
	if ((str = ASN1_PRINTABLESTRING_new()) == NULL ||
	    !ASN1_STRING_set(str, q->tid, -1) ||
	    !PKCS7_add_signed_attribute(si, nid_tid, V_ASN1_PRINTABLESTRING,
	    str))
		goto out;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1 ||
	    (str = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_STRING_set(str, nonce, sizeof(nonce)) ||
	    !PKCS7_add_signed_attribute(si, nid_snonce, V_ASN1_OCTET_STRING,
	    str))
		goto out;
	if (q->noncelen > 0 && ((str = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_STRING_set(str, q->nonce, q->noncelen) ||
	    !PKCS7_add_signed_attribute(si, nid_rnonce, V_ASN1_OCTET_STRING,
	    str)))
		goto out;
	if (!PKCS7_content_new(p7, NID_pkcs7_data))
		goto out;
	/*
	 * FAILURE and PENDING carry no messageData: an empty eContent rather
	 * than none, since certmonger refuses a SignedData without content.
	 */
	if ((bio = PKCS7_dataInit(p7, NULL)) == NULL ||
	    (envlen > 0 && BIO_write(bio, envder, envlen) != envlen) ||
	    BIO_flush(bio) != 1 || !PKCS7_dataFinal(p7, bio) ||
	    (len = i2d_PKCS7(p7, &der)) <= 0)
		goto out;
	*outp = der;
	*lenp = (size_t)len;
	der = NULL;
	r = 0;
 out:
	if (r != 0)
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "building the CertRep");
	OPENSSL_free(der);
	BIO_free_all(bio);
	BIO_free(in);
	PKCS7_free(p7);
	PKCS7_free(env);
	OPENSSL_free(envder);
	OPENSSL_free(inner);
	EVP_CIPHER_free(cipher);
	sk_X509_free(recips);
	return r;
}

/* Opens the envelope with the RA key it was made for; the CSR inside. */
static int
open_env(struct scep *s, struct ca *ca, struct scep_req *q, int64_t now,
    X509_REQ **csrp, struct scep_result *res, struct ca_err *err)
{
	const unsigned char *p = q->content;
	PKCS7 *env = NULL;
	PKCS7_RECIP_INFO *ri;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	BIO *out = NULL;
	char *data;
	long n;
	int r = 0;

	*csrp = NULL;
	if ((env = PKCS7_new_ex(s->lctx, NULL)) == NULL ||
	    d2i_PKCS7(&env, &p, (long)q->contentlen) == NULL ||
	    sk_PKCS7_RECIP_INFO_num(env->d.enveloped->recipientinfo) < 1) {
		ERR_clear_error();
		fail(res, SCEP_BADMESSAGECHECK, "the EnvelopedData cannot "
		    "be read");
		goto out;
	}
	/* The first recipient that is one of our RA certificates. */
	for (n = 0; n < sk_PKCS7_RECIP_INFO_num(
	    env->d.enveloped->recipientinfo); n++) {
		ri = sk_PKCS7_RECIP_INFO_value(env->d.enveloped->recipientinfo,
		    (int)n);
		if (s->ra != NULL && X509_NAME_cmp(ri->issuer_and_serial->
		    issuer, X509_get_issuer_name(s->ra)) == 0 &&
		    ASN1_INTEGER_cmp(ri->issuer_and_serial->serial,
		    X509_get0_serialNumber(s->ra)) == 0) {
			cert = s->ra;
			key = s->rakey;
			X509_up_ref(cert);
			EVP_PKEY_up_ref(key);
			break;
		}
		ca_err_clear(err);
		r = scep_ra_find(ca, ri->issuer_and_serial->issuer,
		    ri->issuer_and_serial->serial, now, &cert, &key, err);
		if (r == 0)
			break;
		if (r != CA_ERR_NOTFOUND && r != CA_ERR_POLICY)
			goto out;
	}
	if (cert == NULL) {
		fail(res, SCEP_BADMESSAGECHECK, "%s", err->msg);
		ca_err_clear(err);
		r = 0;
		goto out;
	}
	ca_err_clear(err);	/* the reasons of the recipients skipped */
	r = 0;
	res->decrypted = 1;
	if ((out = BIO_new(BIO_s_mem())) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (PKCS7_decrypt(env, key, cert, out, PKCS7_BINARY) != 1) {
		ERR_clear_error();
		fail(res, SCEP_BADMESSAGECHECK, "the EnvelopedData does not "
		    "decrypt with RA key");
		goto out;
	}
	n = BIO_get_mem_data(out, &data);
	p = (const unsigned char *)data;
	if (n <= 0 || (*csrp = d2i_X509_REQ(NULL, &p, n)) == NULL ||
	    p != (const unsigned char *)data + n) {
		ERR_clear_error();
		X509_REQ_free(*csrp);
		*csrp = NULL;
		fail(res, SCEP_BADREQUEST, "the envelope does not hold one "
		    "PKCS#10 request");
		goto out;
	}
 out:
	BIO_free(out);
	PKCS7_free(env);
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}

/*
 * Named by itself and signed by its own key. (X509_check_issued would
 * also want keyCertSign, which scepclient's signer lacks.)
 */
static int
self_signed(X509 *cert)
{
	int ok;

	ok = X509_NAME_cmp(X509_get_subject_name(cert),
	    X509_get_issuer_name(cert)) == 0 &&
	    X509_verify(cert, X509_get0_pubkey(cert)) == 1;
	ERR_clear_error();
	return ok;
}

/* The CSR's challengePassword (DirectoryString) into buf. */
static int
csr_challenge(X509_REQ *csr, char *buf, size_t len)
{
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	int i, n;

	*buf = '\0';
	if ((i = X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword,
	    -1)) < 0 || (a = X509_REQ_get_attr(csr, i)) == NULL ||
	    (t = X509_ATTRIBUTE_get0_type(a, 0)) == NULL)
		return -1;
	if (t->type != V_ASN1_PRINTABLESTRING && t->type != V_ASN1_UTF8STRING &&
	    t->type != V_ASN1_IA5STRING && t->type != V_ASN1_T61STRING)
		return -1;
	n = ASN1_STRING_length(t->value.asn1_string);
	if (n <= 0 || (size_t)n >= len)
		return -1;
	memcpy(buf, ASN1_STRING_get0_data(t->value.asn1_string), (size_t)n);
	buf[n] = '\0';
	return strlen(buf) == (size_t)n ? 0 : -1;
}

/* A subject attribute of the CSR into buf ("" when absent). */
static int
csr_value(X509_REQ *csr, int nid, char *buf, size_t len)
{
	return name_value(X509_REQ_get_subject_name(csr), nid, buf, len);
}

static int
name_cn(const X509_NAME *name, char *buf, size_t len)
{
	return name_value(name, NID_commonName, buf, len);
}

static int
name_value(const X509_NAME *name, int nid, char *buf, size_t len)
{
	unsigned char *u = NULL;
	int i, n;

	*buf = '\0';
	if ((i = X509_NAME_get_index_by_NID(name, nid, -1)) < 0)
		return 0;
	if ((n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry((X509_NAME *)name, i)))) < 0)
		return -1;
	snprintf(buf, len, "%.*s", n, u);
	OPENSSL_free(u);
	return strlen(buf) == (size_t)n ? 0 : -1;
}

/*
 * A RenewalReq must be signed by a certificate this CA issued, under the
 * same template, neither revoked nor expired, and ask for the same name.
 */
static int
renewal_signer(struct ca *ca, const struct scep_req *q, const struct tpl *t,
    X509_REQ *csr, int64_t now, struct db_cert **oldp,
    struct scep_result *res, struct ca_err *err)
{
	struct db_cert *old = NULL;
	X509 *oldx = NULL;
	const unsigned char *p;
	const char *what = q->msgtype == SCEP_RENEWALREQ ? "RenewalReq" :
	    "PKCSReq";
	char serial[65], cn[256], oldcn[256];
	int r;

	*oldp = NULL;
	if (util_serial_hex(X509_get0_serialNumber(q->signer), serial) != 0 ||
	    X509_NAME_cmp(X509_get_issuer_name(q->signer),
	    X509_get_subject_name(ca_cert(ca))) != 0) {
		fail(res, SCEP_BADCERTID, "the %s is signed by a "
		    "certificate this CA did not issue", what);
		return 0;
	}
	r = db_cert_get(ca_db(ca), serial, &old, err);
	if (r == CA_ERR_NOTFOUND) {
		ca_err_clear(err);
		fail(res, SCEP_BADCERTID, "the %s is signed by "
		    "certificate %s, which this CA did not issue", what,
		    serial);
		return 0;
	} else if (r != 0)
		return r;
	p = old->der;
	if ((oldx = d2i_X509(NULL, &p, (long)old->derlen)) == NULL ||
	    X509_cmp(oldx, q->signer) != 0) {
		fail(res, SCEP_BADCERTID, "the %s's signer claims "
		    "serial %s but is not that certificate", what, serial);
		goto out;
	}
	if (old->revoked) {
		fail(res, SCEP_BADREQUEST, "the %s is signed by "
		    "certificate %s, which is revoked", what, serial);
		goto out;
	}
	if (old->not_after < now) {
		fail(res, SCEP_BADREQUEST, "the %s is signed by "
		    "certificate %s, which has expired", what, serial);
		goto out;
	}
	if (strcmp(old->template, t->name) != 0) {
		fail(res, SCEP_BADREQUEST, "certificate %s was issued under "
		    "template %s; renew it under the same one, not %s",
		    serial, old->template, t->name);
		goto out;
	}
	if (csr_value(csr, NID_commonName, cn, sizeof(cn)) != 0 ||
	    name_cn(X509_get_subject_name(oldx), oldcn, sizeof(oldcn)) != 0) {
		fail(res, SCEP_BADREQUEST, "the %s's subject is not "
		    "valid UTF-8 text", what);
		goto out;
	}
	if (cn[0] != '\0' && strcmp(cn, oldcn) != 0) {
		fail(res, SCEP_BADREQUEST, "the %s asks for CN=%s, "
		    "but certificate %s is for CN=%s", what, cn, serial,
		    oldcn);
		goto out;
	}
	*oldp = old;
	old = NULL;
 out:
	X509_free(oldx);
	db_cert_free(old);
	return 0;
}

/* The answer a stored transaction gives. */
static int
answer_row(struct ca *ca, const struct db_scep_tx *row, X509 **certp,
    struct scep_result *res, struct ca_err *err)
{
	struct db_cert *c = NULL;
	const unsigned char *p;
	int r;

	*certp = NULL;
	if (strcmp(row->state, "pending") == 0) {
		res->status = SCEP_PENDING;
		snprintf(res->reason, sizeof(res->reason), "request %lld "
		    "waits for approval (smimeca request approve %lld)",
		    (long long)row->id, (long long)row->id);
		return 0;
	}
	if (strcmp(row->state, "denied") == 0) {
		fail(res, SCEP_BADREQUEST, "request %lld was denied by the "
		    "CA administrator", (long long)row->id);
		return 0;
	}
	if ((r = db_cert_get(ca_db(ca), row->serial, &c, err)) != 0)
		return r;
	p = c->der;
	if ((*certp = d2i_X509(NULL, &p, (long)c->derlen)) == NULL) {
		db_cert_free(c);
		return ca_err_ssl(err, CA_ERR_DB, "certificate %s in the "
		    "store cannot be read", row->serial);
	}
	res->status = SCEP_SUCCESS;
	snprintf(res->serial, sizeof(res->serial), "%s", row->serial);
	db_cert_free(c);
	return 0;
}

static int
issue_hook(void *arg, struct ca *ca, int64_t cert_id, X509 *cert,
    struct ca_err *err)
{
	struct issue_ctx *h = arg;
	int64_t id;
	int r;

	h->row.cert_id = cert_id;
	util_serial_hex(X509_get0_serialNumber(cert), h->row.serial);
	if ((r = db_scep_tx_add(ca_db(ca), &h->row, &id, err)) != 0) {
		if (r == CA_ERR_EXISTS)
			h->tid_taken = 1;
		return r;
	}
	return scep_chal_consume(ca_db(ca), h->chal, h->now, err);
}

/* A request held for approval: its row, the challenge used, audit. */
static int
hold_store(void *arg, struct db *db, struct ca_err *err)
{
	struct issue_ctx *h = arg;
	char detail[512], id[24];
	int64_t rid;
	int r;

	if ((r = db_scep_tx_add(db, &h->row, &rid, err)) != 0) {
		if (r == CA_ERR_EXISTS)
			h->tid_taken = 1;
		return r;
	}
	h->row.id = rid;
	snprintf(id, sizeof(id), "%lld", (long long)rid);
	snprintf(detail, sizeof(detail), "template=%s requester=%s "
	    "subject=%s tid=%s", h->row.template, h->row.requester,
	    h->row.subject ? h->row.subject : "-", h->row.tid);
	if ((r = scep_chal_consume(db, h->chal, h->now, err)) != 0)
		return r;
	return audit_append(db, h->row.requester, "scep-hold", id, detail,
	    err);
}

/* PKCSReq and RenewalReq. */
static int
enroll(struct scep *s, struct ca *ca, const struct tpl *t,
    struct scep_req *q, int64_t now, X509 **certp, struct scep_result *res,
    struct ca_err *err)
{
	struct iss_account acct;
	struct iss_request ir;
	struct issue_ctx h;
	struct scep_chal chal;
	struct db_cert *old = NULL;
	struct db_scep_tx *row = NULL;
	X509_REQ *csr = NULL;
	unsigned char *csrder = NULL;
	char pw[PW_MAX], mail[256], cn[256], owner[256], *subj = NULL;
	int csrlen, r, tries, renew;

	*certp = NULL;
	memset(&chal, 0, sizeof(chal));
	memset(&h, 0, sizeof(h));
	memset(&acct, 0, sizeof(acct));
	pw[0] = '\0';
	if (t->archival == TPL_ARCHIVAL_REQUIRED) {
		fail(res, SCEP_BADREQUEST, "template %s requires key "
		    "archival, and SCEP cannot carry the private key to "
		    "escrow: enroll encryption keys with smimeca-enroll "
		    "--archive (EST) instead", t->name);
		return 0;
	}
	if ((t->protocols & TPL_PROTO_SCEP) == 0) {
		fail(res, SCEP_BADREQUEST, "template %s may not be used "
		    "through SCEP", t->name);
		return 0;
	}
	if ((r = open_env(s, ca, q, now, &csr, res, err)) != 0 ||
	    res->status == SCEP_FAILURE)
		goto out;
	/*
	 * A PKCSReq signed by a certificate rather than a self-signed one is
	 * a re-enrollment (RFC 8894 2.4; certmonger's rekey): it is held to
	 * the rules of a RenewalReq.
	 */
	renew = q->msgtype == SCEP_RENEWALREQ || !self_signed(q->signer);
	if (!renew) {
		/* Who signed: the key being certified, nobody else's. */
		if (X509_REQ_get0_pubkey(csr) == NULL ||
		    EVP_PKEY_eq(X509_get0_pubkey(q->signer),
		    X509_REQ_get0_pubkey(csr)) != 1) {
			ERR_clear_error();
			fail(res, SCEP_BADREQUEST, "the PKCSReq is not signed "
			    "by the key it asks a certificate for (renewals "
			    "are RenewalReq)");
			goto out;
		}
		if (csr_challenge(csr, pw, sizeof(pw)) != 0)
			pw[0] = '\0';
		if ((r = scep_chal_check(ca, t, pw, csr, now, &chal,
		    err)) != 0) {
			if (r != CA_ERR_AUTH)
				goto out;
			fail(res, SCEP_BADREQUEST, "%s", err->msg);
			ca_err_clear(err);
			r = 0;
			goto out;
		}
		if (csr_value(csr, NID_commonName, cn, sizeof(cn)) != 0 ||
		    csr_value(csr, NID_pkcs9_emailAddress, mail,
		    sizeof(mail)) != 0) {
			fail(res, SCEP_BADREQUEST, "the request's subject is "
			    "not valid UTF-8 text");
			goto out;
		}
		if (chal.email[0] != '\0')
			snprintf(mail, sizeof(mail), "%s", chal.email);
		util_lower(mail);
		snprintf(owner, sizeof(owner), "%s", mail);
	} else {
		if ((r = renewal_signer(ca, q, t, csr, now, &old, res,
		    err)) != 0 || res->status == SCEP_FAILURE)
			goto out;
		snprintf(mail, sizeof(mail), "%s", old->email ? old->email :
		    "");
		snprintf(owner, sizeof(owner), "%s", old->owner ? old->owner :
		    "");
		if (csr_value(csr, NID_commonName, cn, sizeof(cn)) != 0)
			cn[0] = '\0';
		snprintf(chal.requester, sizeof(chal.requester),
		    "scep:renew:%.40s", old->serial);
	}
	acct.id = chal.requester;
	acct.mail = mail[0] ? mail : NULL;
	acct.cn = cn[0] ? cn : NULL;
	acct.owner = owner[0] ? owner : NULL;
	if ((csrlen = i2d_X509_REQ(csr, &csrder)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the request");
		goto out;
	}
	subj = util_name_oneline(X509_REQ_get_subject_name(csr));
	h.row.tid = q->tid;
	memcpy(h.row.keyhash, q->keyhash, sizeof(h.row.keyhash));
	h.row.msgtype = q->msgtype;
	h.row.template = t->name;
	h.row.csr = csrder;
	h.row.csrlen = (size_t)csrlen;
	h.row.mail = (char *)acct.mail;
	h.row.cn = (char *)acct.cn;
	h.row.owner = (char *)acct.owner;
	h.row.requester = chal.requester;
	h.row.subject = subj;
	h.row.created = now;
	h.chal = &chal;
	h.now = now;
	memset(&ir, 0, sizeof(ir));
	ir.csr = csr;
	ir.tpl = t;
	ir.account = &acct;
	ir.protocol = TPL_PROTO_SCEP;
	ir.now = now;
	/* The certificate is only encoded (certs_only), never used as a key. */
	ir.raw_cert = 1;
	if (t->approval_manual) {
		/* The template's rules now, so that approval rarely fails. */
		if ((r = iss_check(ca, &ir, err)) != 0) {
			if (r != CA_ERR_POLICY && r != CA_ERR_INVALID)
				goto out;
			fail(res, SCEP_BADREQUEST, "%s", err->msg);
			ca_err_clear(err);
			r = 0;
			goto out;
		}
		h.row.state = "pending";
		r = db_group_run(ca_db(ca), hold_store, &h, err);
	} else {
		h.row.state = "issued";
		r = iss_issue(ca, &ir, issue_hook, &h, certp, err);
	}
	if (r == 0) {
		if (t->approval_manual) {
			res->status = SCEP_PENDING;
			snprintf(res->reason, sizeof(res->reason), "held as "
			    "request %lld for approval", (long long)h.row.id);
		} else {
			res->status = SCEP_SUCCESS;
			res->issued = 1;
			snprintf(res->serial, sizeof(res->serial), "%s",
			    h.row.serial);
		}
		goto out;
	}
	if (h.tid_taken) {
		/* A replay that raced us: the winner's answer, once stored. */
		ca_err_clear(err);
		for (tries = 0; tries < REPLAY_TRIES; tries++) {
			r = db_scep_tx_get(ca_db(ca), q->tid, q->msgtype, 0,
			    &row, err);
			if (r != CA_ERR_NOTFOUND)
				break;
			ca_err_clear(err);
			nanosleep(&(struct timespec){ 0,
			    REPLAY_WAIT_MS * 1000000L }, NULL);
		}
		if (r != 0)
			goto out;
		res->replay = 1;
		if (strcmp(row->keyhash, q->keyhash) != 0) {
			fail(res, SCEP_BADREQUEST, "transactionID %s belongs "
			    "to another key", q->tid);
			goto out;
		}
		r = answer_row(ca, row, certp, res, err);
		goto out;
	}
	if (r == CA_ERR_POLICY || r == CA_ERR_INVALID || r == CA_ERR_AUTH) {
		fail(res, SCEP_BADREQUEST, "%s", err->msg);
		ca_err_clear(err);
		r = 0;
	}
 out:
	OPENSSL_cleanse(pw, sizeof(pw));
	free(subj);
	OPENSSL_free(csrder);
	db_scep_tx_free(row);
	db_cert_free(old);
	X509_REQ_free(csr);
	return r;
}

/*
 * A refused first copy of a transaction whose twin, sent at the same time,
 * was stored meanwhile (it used up the one-time challenge this copy then
 * found used): the twin's answer is this one's, as for any replay.
 */
static int
replay_won(struct ca *ca, const struct scep_req *q, X509 **certp,
    struct scep_result *res, struct ca_err *err)
{
	struct db_scep_tx *row = NULL;
	struct ca_err e2;
	int r;

	ca_err_clear(&e2);
	if (db_scep_tx_get(ca_db(ca), q->tid, q->msgtype, 0, &row,
	    &e2) != 0 || strcmp(row->keyhash, q->keyhash) != 0) {
		db_scep_tx_free(row);
		return 0;	/* no twin: the refusal stands */
	}
	res->status = 0;
	res->fail_info = 0;
	res->reason[0] = '\0';
	res->replay = 1;
	r = answer_row(ca, row, certp, res, err);
	db_scep_tx_free(row);
	return r;
}

int
scep_pkiop(struct scep *s, struct ca *ca, const struct tpl *t,
    const unsigned char *msg, size_t len, int64_t now, unsigned char **outp,
    size_t *outlenp, struct scep_result *res, struct ca_err *err)
{
	struct scep_req q;
	struct db_scep_tx *row = NULL;
	X509 *cert = NULL;
	int r;

	*outp = NULL;
	memset(res, 0, sizeof(*res));
	if ((r = read_req(msg, len, s->legacy, &q, res, err)) != 0)
		goto out;
	if ((r = ra_get(s, ca, now, err)) != 0)
		goto out;
	if (res->status == SCEP_FAILURE)
		goto answer;
	switch (q.msgtype) {
	case SCEP_PKCSREQ:
	case SCEP_RENEWALREQ:
	case SCEP_CERTPOLL:
		/*
		 * The same transactionID again: the same answer. A poll asks
		 * for the latest request of that transactionID; a RenewalReq
		 * with the key (and so the transactionID) of the PKCSReq it
		 * renews is a transaction of its own.
		 */
		r = db_scep_tx_get(ca_db(ca), q.tid, q.msgtype ==
		    SCEP_CERTPOLL ? 0 : q.msgtype, 0, &row, err);
		if (r == CA_ERR_NOTFOUND) {
			ca_err_clear(err);
			r = 0;
			if (q.msgtype == SCEP_CERTPOLL) {
				fail(res, SCEP_BADCERTID, "no transaction "
				    "%s to poll", q.tid);
				break;
			}
			r = enroll(s, ca, t, &q, now, &cert, res, err);
			if (r == 0 && res->status == SCEP_FAILURE &&
			    !res->replay)
				r = replay_won(ca, &q, &cert, res, err);
			break;
		}
		if (r != 0)
			goto out;
		res->replay = 1;
		if (strcmp(row->keyhash, q.keyhash) != 0) {
			fail(res, SCEP_BADREQUEST, "transactionID %s belongs "
			    "to another key", q.tid);
			break;
		}
		r = answer_row(ca, row, &cert, res, err);
		break;
	case SCEP_GETCERT:
	case SCEP_GETCRL:
		fail(res, SCEP_BADREQUEST, "messageType %d (GetCert, "
		    "GetCRL) is not served: the CRL is at /crl/", q.msgtype);
		break;
	default:
		fail(res, SCEP_BADREQUEST, "messageType %d is not a SCEP "
		    "request", q.msgtype);
		break;
	}
	if (r != 0)
		goto out;
 answer:
	r = certrep(s, &q, res->status, res->fail_info, cert, outp, outlenp,
	    err);
 out:
	X509_free(cert);
	db_scep_tx_free(row);
	req_clear(&q);
	return r;
}
