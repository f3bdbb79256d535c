/* Revocation and CRLs. */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/publish.h"
#include "ca/revoke.h"
#include "ca/util.h"

/* CRL reason 8 only takes an entry off a delta CRL. */
#define REV_REMOVE_FROM_CRL	8

static const struct {
	int code;
	const char *name;
} reasons[] = {
	{ 0, "unspecified" },
	{ 1, "keyCompromise" },
	{ 2, "cACompromise" },
	{ 3, "affiliationChanged" },
	{ 4, "superseded" },
	{ 5, "cessationOfOperation" },
	{ 6, "certificateHold" },
	{ REV_REMOVE_FROM_CRL, "removeFromCRL" },
	{ 9, "privilegeWithdrawn" },
	{ 10, "aACompromise" },
};

/* What rev_add_entry fills in for each row, made once per CRL. */
struct rev_scratch {
	X509_CRL *crl;
	ASN1_INTEGER *serial;
	ASN1_TIME *when;
	ASN1_ENUMERATED *code;
};

static int rev_canon_serial(const char *, char[65], struct ca_err *);
static int rev_add_entry(void *, const char *, int64_t, int,
    struct ca_err *);
static int rev_time(ASN1_TIME *, int64_t);
static int rev_sign_der(X509_CRL *, EVP_PKEY *, const EVP_MD *,
    unsigned char **, size_t *, struct ca_err *);
static int rev_add_crl_exts(X509_CRL *, X509 *, int64_t, struct ca_err *);

int
rev_reason_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcasecmp(name, reasons[i].name) == 0)
			return reasons[i].code;
	return -1;
}

const char *
rev_reason_name(int code)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			return reasons[i].name;
	return "unknown";
}

/* The serial as the store writes it (util_serial_hex), from user input. */
static int
rev_canon_serial(const char *in, char out[65], struct ca_err *err)
{
	ASN1_INTEGER *ai;
	int r;

	out[0] = '\0';
	if ((ai = util_serial_from_hex(in)) == NULL)
		return ca_err_set(err, CA_ERR_INVALID, "\"%s\" is not a serial "
		    "number: expected up to 64 hex digits (see `smimeca cert "
		    "list`)", in);
	r = util_serial_hex(ai, out);
	ASN1_INTEGER_free(ai);
	if (r != 0)
		return ca_err_set(err, CA_ERR_INVALID, "\"%s\" is not a "
		    "usable serial number", in);
	return 0;
}

int
rev_revoke_in_tx(struct ca *ca, const char *serial, int reason,
    struct ca_err *err)
{
	struct db *db = ca_db(ca);
	struct db_cert *c = NULL;
	char canon[65], when[21], detail[64];
	int r;

	if (reason == REV_REMOVE_FROM_CRL ||
	    strcmp(rev_reason_name(reason), "unknown") == 0)
		return ca_err_set(err, CA_ERR_INVALID, "revocation reason %d "
		    "cannot be used to revoke (use unspecified, "
		    "keyCompromise, cACompromise, affiliationChanged, "
		    "superseded, cessationOfOperation, certificateHold, "
		    "privilegeWithdrawn or aACompromise)", reason);
	if ((r = rev_canon_serial(serial, canon, err)) != 0 ||
	    (r = db_cert_get(db, canon, &c, err)) != 0)
		goto out;
	if (c->issuer_id != ca_cert_id(ca)) {
		r = ca_err_set(err, CA_ERR_INVALID, "certificate %s was "
		    "issued by an earlier CA certificate (ca_certs id %lld), "
		    "not by the current issuing CA, whose CRL this is",
		    canon, (long long)c->issuer_id);
		goto out;
	}
	if (c->revoked) {
		util_iso8601(c->revoked_at, when);
		r = ca_err_set(err, CA_ERR_EXISTS, "certificate %s is revoked "
		    "already (%s, since %s)", canon,
		    rev_reason_name(c->reason), when);
		goto out;
	}
	snprintf(detail, sizeof(detail), "reason=%s",
	    rev_reason_name(reason));
	if ((r = db_cert_revoke(db, canon, reason, (int64_t)time(NULL),
	    err)) != 0 ||
	    (r = audit_append(db, ca_actor(ca), "revoke", canon, detail,
	    err)) != 0 ||
	    /* The next OCSP answer is signed anew, revoked (ca/ocsp.c). */
	    (r = db_ocsp_drop(db, c->id, err)) != 0 ||
	    (r = pub_enqueue_cert(ca, c->id, c->email, PUB_DELETE,
	    err)) != 0)
		goto out;
	r = 0;
 out:
	db_cert_free(c);
	return r;
}

int
rev_revoke(struct ca *ca, const char *serial, int reason, struct ca_err *err)
{
	struct db *db = ca_db(ca);
	int r, in_tx = 0;

	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if ((r = rev_revoke_in_tx(ca, serial, reason, err)) != 0 ||
	    (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	r = 0;
 out:
	if (in_tx)
		db_rollback(db);
	return r;
}

/*
 * One revokedCertificates entry: serial, date and (unless 0) reason. The
 * scratch objects of s are set for each row and copied by OpenSSL, which
 * spares an allocation, a BIGNUM and a printf per entry (bench/README.md,
 * "CRL scale").
 */
static int
rev_add_entry(void *ctx, const char *serial, int64_t revoked_at, int reason,
    struct ca_err *err)
{
	struct rev_scratch *s = ctx;
	X509_REVOKED *rev = NULL;
	unsigned char bytes[32];
	size_t len = strlen(serial) / 2, skip = 0;
	int r = CA_ERR_CRYPTO;

	if (len == 0 || len > sizeof(bytes) || strlen(serial) != 2 * len ||
	    util_unhex(serial, bytes, len) != 0) {
		r = ca_err_set(err, CA_ERR_DB, "revoked certificate: serial "
		    "\"%s\" is not whole bytes of hex", serial);
		goto out;
	}
	/* An INTEGER's content has no leading zero octets. */
	while (skip + 1 < len && bytes[skip] == 0)
		skip++;
	if (!ASN1_STRING_set(s->serial, bytes + skip, (int)(len - skip)) ||
	    rev_time(s->when, revoked_at) != 0 ||
	    (rev = X509_REVOKED_new()) == NULL ||
	    !X509_REVOKED_set_serialNumber(rev, s->serial) ||
	    !X509_REVOKED_set_revocationDate(rev, s->when)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "CRL entry for %s",
		    serial);
		goto out;
	}
	if (reason != 0 &&
	    (!ASN1_ENUMERATED_set(s->code, reason) ||
	    !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, s->code, 0, 0))) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "CRL reason for %s",
		    serial);
		goto out;
	}
	if (!X509_CRL_add0_revoked(s->crl, rev)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "adding %s to the CRL",
		    serial);
		goto out;
	}
	rev = NULL;
	r = 0;
 out:
	X509_REVOKED_free(rev);
	return r;
}

/*
 * A revocation date as RFC 5280 4.1.2.5 wants it: UTCTime through 2049,
 * GeneralizedTime after, in seconds and Z. Written by hand: ASN1_TIME_set
 * goes through BIO_snprintf, a third of an entry's cost.
 */
static int
rev_time(ASN1_TIME *t, int64_t when)
{
	struct tm tm;
	time_t tt = (time_t)when;
	char buf[16], *p = buf;
	int year, i, v[5];

	if (gmtime_r(&tt, &tm) == NULL)
		return -1;
	year = tm.tm_year + 1900;
	if (year < 1950 || year > 9999)
		return -1;
	if (year >= 2050) {
		*p++ = (char)('0' + year / 1000);
		*p++ = (char)('0' + year / 100 % 10);
	}
	v[0] = tm.tm_mon + 1;
	v[1] = tm.tm_mday;
	v[2] = tm.tm_hour;
	v[3] = tm.tm_min;
	v[4] = tm.tm_sec;
	*p++ = (char)('0' + year / 10 % 10);
	*p++ = (char)('0' + year % 10);
	for (i = 0; i < 5; i++) {
		*p++ = (char)('0' + v[i] / 10);
		*p++ = (char)('0' + v[i] % 10);
	}
	*p++ = 'Z';
	if (!ASN1_STRING_set(t, buf, (int)(p - buf)))
		return -1;
	t->type = year >= 2050 ? V_ASN1_GENERALIZEDTIME : V_ASN1_UTCTIME;
	return 0;
}

/*
 * CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm,
 * signatureValue }: the signed tbs in the outer SEQUENCE, so that the
 * entries are encoded once (X509_CRL_sign and i2d_X509_CRL encode them
 * each again).
 */
static int
rev_sign_der(X509_CRL *crl, EVP_PKEY *key, const EVP_MD *md,
    unsigned char **derp, size_t *lenp, struct ca_err *err)
{
	EVP_MD_CTX *mctx = NULL;
	const X509_ALGOR *alg;
	const ASN1_BIT_STRING *unused;
	ASN1_BIT_STRING *sig = NULL;
	unsigned char *tbs = NULL, *sigbuf = NULL, *der = NULL, *p;
	size_t siglen = 0;
	int tbslen, maxsig, alglen, bslen, content, total, r = CA_ERR_CRYPTO;

	*derp = NULL;
	*lenp = 0;
	X509_CRL_get0_signature(crl, &unused, &alg);
	if ((tbslen = i2d_re_X509_CRL_tbs(crl, &tbs)) <= 0 ||
	    (maxsig = EVP_PKEY_get_size(key)) <= 0 ||
	    (sigbuf = OPENSSL_malloc((size_t)maxsig)) == NULL ||
	    (mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mctx, NULL, md, NULL, key) != 1)
		goto fail;
	/* The largest signature of the key; EVP_DigestSign sets the length. */
	siglen = (size_t)maxsig;
	if (EVP_DigestSign(mctx, sigbuf, &siglen, tbs, (size_t)tbslen) != 1 ||
	    (sig = ASN1_BIT_STRING_new()) == NULL ||
	    !ASN1_BIT_STRING_set(sig, sigbuf, (int)siglen))
		goto fail;
	/* No unused bits: a whole number of octets. */
	sig->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	sig->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	if ((alglen = i2d_X509_ALGOR(alg, NULL)) <= 0 ||
	    (bslen = i2d_ASN1_BIT_STRING(sig, NULL)) <= 0)
		goto fail;
	content = tbslen + alglen + bslen;
	if ((total = ASN1_object_size(1, content, V_ASN1_SEQUENCE)) <= 0 ||
	    (der = OPENSSL_malloc((size_t)total)) == NULL)
		goto fail;
	p = der;
	ASN1_put_object(&p, 1, content, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	memcpy(p, tbs, (size_t)tbslen);
	p += tbslen;
	if (i2d_X509_ALGOR(alg, &p) != alglen ||
	    i2d_ASN1_BIT_STRING(sig, &p) != bslen || p != der + total)
		goto fail;
	*derp = der;
	*lenp = (size_t)total;
	der = NULL;
	r = 0;
	goto out;
 fail:
	r = ca_err_ssl(err, CA_ERR_CRYPTO, "signing the CRL");
 out:
	OPENSSL_free(der);
	ASN1_BIT_STRING_free(sig);
	OPENSSL_free(sigbuf);
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(tbs);
	return r;
}

/* cRLNumber and authorityKeyIdentifier. */
static int
rev_add_crl_exts(X509_CRL *crl, X509 *issuer, int64_t number,
    struct ca_err *err)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext = NULL;
	ASN1_INTEGER *num = NULL;
	int r = CA_ERR_CRYPTO;

	if ((num = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set_int64(num, number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "CRL number %lld",
		    (long long)number);
		goto out;
	}
	X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx,
	    NID_authority_key_identifier, "keyid:always")) == NULL ||
	    !X509_CRL_add_ext(crl, ext, -1)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "CRL authority key "
		    "identifier (does the CA certificate carry a subject key "
		    "identifier?)");
		goto out;
	}
	r = 0;
 out:
	X509_EXTENSION_free(ext);
	ASN1_INTEGER_free(num);
	return r;
}

int
rev_crl_generate_der(struct ca *ca, unsigned char **derp, size_t *lenp,
    struct ca_err *err)
{
	struct db *db = ca_db(ca);
	const struct ca_config *cfg = ca_config(ca);
	X509 *issuer = ca_cert(ca);
	int64_t issuer_id = ca_cert_id(ca), number, now, next;
	struct rev_scratch sc;
	ASN1_TIME *t = NULL;
	unsigned char *der = NULL;
	size_t n = 0, len = 0;
	char object[32], detail[80], when[21];
	int r, in_tx = 0;

	*derp = NULL;
	*lenp = 0;
	memset(&sc, 0, sizeof(sc));
	if (ca_key(ca) == NULL) {
		r = ca_err_set(err, CA_ERR_INTERNAL, "CRL: the CA signing key "
		    "is not loaded (open the CA with CA_OPEN_KEY)");
		goto out;
	}
	if (cfg->crl_days <= 0) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: the CRL lifetime must "
		    "be at least one day (crl_days is %d)", cfg->path,
		    cfg->crl_days);
		goto out;
	}
	now = (int64_t)time(NULL);
	next = now + (int64_t)cfg->crl_days * 86400;
	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if ((r = db_crl_next_number(db, issuer_id, &number, err)) != 0)
		goto out;

	/*
	 * Signed once before the entries go in: that sets the signature
	 * algorithm inside the tbs exactly as X509_CRL_sign does (OpenSSL has
	 * no setter for it), at the cost of one signature over a few bytes.
	 * rev_sign_der then signs the whole tbs.
	 */
	if ((sc.crl = X509_CRL_new()) == NULL ||
	    !X509_CRL_set_version(sc.crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(sc.crl, X509_get_subject_name(issuer)) ||
	    (t = ASN1_TIME_set(NULL, (time_t)now)) == NULL ||
	    !X509_CRL_set1_lastUpdate(sc.crl, t) ||
	    ASN1_TIME_set(t, (time_t)next) == NULL ||
	    !X509_CRL_set1_nextUpdate(sc.crl, t)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "building CRL %lld",
		    (long long)number);
		goto out;
	}
	if ((r = rev_add_crl_exts(sc.crl, issuer, number, err)) != 0)
		goto out;
	if (X509_CRL_sign(sc.crl, ca_key(ca), ca_digest(ca)) <= 0 ||
	    (sc.serial = ASN1_INTEGER_new()) == NULL ||
	    (sc.when = ASN1_TIME_new()) == NULL ||
	    (sc.code = ASN1_ENUMERATED_new()) == NULL) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "signing CRL %lld",
		    (long long)number);
		goto out;
	}
	/* In serial order from the index: no X509_CRL_sort. */
	if ((r = db_cert_revoked_each(db, issuer_id, rev_add_entry, &sc, &n,
	    err)) != 0 ||
	    (r = rev_sign_der(sc.crl, ca_key(ca), ca_digest(ca), &der, &len,
	    err)) != 0)
		goto out;
	util_iso8601(next, when);
	snprintf(object, sizeof(object), "%lld", (long long)number);
	snprintf(detail, sizeof(detail), "entries=%zu next_update=%s", n,
	    when);
	if ((r = db_crl_add(db, issuer_id, number, now, next, der, len,
	    err)) != 0 ||
	    (r = pub_enqueue_crl(ca, number, err)) != 0 ||
	    (r = audit_append(db, ca_actor(ca), "crl", object, detail,
	    err)) != 0 ||
	    (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	*derp = der;
	*lenp = len;
	der = NULL;
	r = 0;
 out:
	if (in_tx)
		db_rollback(db);
	OPENSSL_free(der);
	ASN1_TIME_free(t);
	ASN1_ENUMERATED_free(sc.code);
	ASN1_TIME_free(sc.when);
	ASN1_INTEGER_free(sc.serial);
	X509_CRL_free(sc.crl);
	return r;
}

int
rev_crl_generate(struct ca *ca, X509_CRL **crlp, struct ca_err *err)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len;
	int r;

	*crlp = NULL;
	if ((r = rev_crl_generate_der(ca, &der, &len, err)) != 0)
		return r;
	p = der;
	if ((*crlp = d2i_X509_CRL(NULL, &p, (long)len)) == NULL)
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "decoding the CRL just "
		    "signed");
	OPENSSL_free(der);
	return r;
}
