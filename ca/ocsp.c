/*
 * The OCSP responder: requests to signed responses (RFC 6960, RFC 5019),
 * the delegated responder certificate, and the pre-produced responses
 * that make a GET of one CertID a lookup.
 */
#include "ac-config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/ocsp.h"
#include "ca/util.h"

struct ocsp_signer {
	X509 *cert;
	EVP_PKEY *key;
	int64_t id;		/* ca_certs.id of cert */
	int by_ca;
	int64_t not_after;
	int64_t margin;		/* roll when less than this is left */
	int64_t validity;	/* nextUpdate - thisUpdate, seconds */
	unsigned char keyhash[SHA_DIGEST_LENGTH];	/* byKey ResponderID */
	/* The CA certificate's name and key hashes, per CertID digest. */
	struct {
		int nid;
		unsigned char name[EVP_MAX_MD_SIZE];
		unsigned char key[EVP_MAX_MD_SIZE];
		unsigned int len;
	} issuer[4];
	/*
	 * Stored responses this signer's holder has checked (stored_ok): the
	 * SHA-256 of what the check depends on, so that a GET of the same
	 * row does not decode the response and its certificate again.
	 */
	unsigned char (*seen)[SHA256_DIGEST_LENGTH];
	EVP_MD *sha256;		/* fetched once */
};

#define OCSP_SEEN_SLOTS	4096

/* What one CertID of a request comes to. */
struct one {
	OCSP_CERTID *id;	/* the request's (not owned) */
	const char *hash;	/* "sha1", "sha256" or NULL (not stored) */
	char serial[65];	/* "" when the serial is not one of ours */
	struct db_cert *c;	/* NULL: unknown */
};

static const char *const result_names[OCSP_R_MAX] = {
	"good", "revoked", "unknown", "malformed", "unauthorized", "error",
};

static X509 *d2i_cert(const unsigned char *, size_t);
static int make_cert(struct ca *, EVP_PKEY *, int64_t, X509 **,
    struct ca_err *);
static int signer_load(struct ca *, const struct db_ca_cert *, int64_t,
    struct ocsp_signer **, struct ca_err *);
static int answer_status(struct ocsp_answer *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static int answer_take(struct ocsp_answer *, OCSP_RESPONSE *);
static const char *hash_name(const ASN1_OBJECT *);
static int issuer_ok(struct ocsp_signer *, OCSP_CERTID *, const char **);
static int issuer_hashes(struct ocsp_signer *, X509 *);
static int hashes_match(const ASN1_OCTET_STRING *, const ASN1_OCTET_STRING *,
    const unsigned char *, const unsigned char *, unsigned int);
static int sign_basic(struct ca *, struct ocsp_signer *, OCSP_REQUEST *,
    struct one *, int, int64_t, OCSP_RESPONSE **, struct ca_err *);
static int stored_ok(struct ca *, struct ocsp_signer *, OCSP_CERTID *,
    const struct db_ocsp *, const char *, int64_t);
static int store(struct ca *, struct ocsp_signer *, const struct one *,
    const struct ocsp_answer *, struct ca_err *);
static int nonce_check(OCSP_REQUEST *, int *, char *, size_t);

const char *
ocsp_result_name(int result)
{
	return result >= 0 && result < OCSP_R_MAX ? result_names[result] :
	    "error";
}

static X509 *
d2i_cert(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;

	return der == NULL ? NULL : d2i_X509(NULL, &p, (long)len);
}

/* --- the delegated responder certificate --- */

static int
make_cert(struct ca *ca, EVP_PKEY *key, int64_t now, X509 **certp,
    struct ca_err *err)
{
	const struct ca_config *cfg = ca_config(ca);
	X509 *cert = NULL, *issuer = ca_cert(ca);
	char cn[256];
	unsigned char *utf8 = NULL;
	time_t nb = (time_t)now - 300, na;
	int i, r;

	*certp = NULL;
	na = (time_t)now + (time_t)cfg->ocsp_responder_days * 86400;
	i = X509_NAME_get_index_by_NID(X509_get_subject_name(issuer),
	    NID_commonName, -1);
	if (i < 0 || ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(X509_get_subject_name(issuer), i))) < 0) {
		r = ca_err_ssl(err, CA_ERR_CONFIG, "the CA certificate has "
		    "no common name to derive the OCSP responder's from");
		goto out;
	}
	snprintf(cn, sizeof(cn), "%s OCSP Responder", utf8);
	/*
	 * RFC 6960 4.2.2.2: EKU id-kp-OCSPSigning, issued by the CA itself;
	 * id-pkix-ocsp-nocheck (4.2.2.2.1): clients trust it for its
	 * lifetime, kept short for that reason.
	 */
	if ((r = ca_new_cert(ca, cn, key, nb, na, &cert, err)) != 0 ||
	    (r = ca_add_service_exts(cert, issuer, "digitalSignature",
	    "OCSPSigning", err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_id_pkix_OCSP_noCheck,
	    "ignored", err)) != 0)
		goto out;
	if (X509_sign(cert, ca_key(ca), ca_digest(ca)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "signing the OCSP "
		    "responder certificate");
		goto out;
	}
	*certp = cert;
	cert = NULL;
	r = 0;
 out:
	OPENSSL_free(utf8);
	X509_free(cert);
	return r;
}

int
ocsp_roll(struct ca *ca, int64_t now, X509 **certp, struct ca_err *err)
{
	const struct ca_config *cfg = ca_config(ca);
	enum ca_keyspec spec;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char serial[65], rel[128], detail[160];
	int r;

	*certp = NULL;
	if (ca_keyspec_parse(cfg->ocsp_key, &spec) != 0) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: <ocsp key=\"%s\"> is "
		    "not a key type (use rsa:2048, rsa:3072, rsa:4096, "
		    "ec:p256 or ec:p384)", cfg->path, cfg->ocsp_key);
		goto out;
	}
	if ((r = ca_load_key(ca, err)) != 0 ||
	    (r = ca_keygen(spec, &key, err)) != 0 ||
	    (r = make_cert(ca, key, now, &cert, err)) != 0)
		goto out;
	util_serial_hex(X509_get0_serialNumber(cert), serial);
	snprintf(rel, sizeof(rel), "private/ocsp-%s.key", serial);
	snprintf(detail, sizeof(detail), "key=%s not_after=%lld", rel,
	    (long long)util_asn1_time_to_unix(X509_get0_notAfter(cert)));
	if ((r = ca_store_held(ca, OCSP_ROLE, cert, key, rel, "ocsp-roll",
	    detail, err)) != 0)
		goto out;
	*certp = cert;
	cert = NULL;
	r = 0;
 out:
	EVP_PKEY_free(key);
	X509_free(cert);
	return r;
}

/*
 * A signer from a ca_certs row (NULL: the CA itself), with the checks a
 * client makes: issued and signed by the current CA certificate, for
 * OCSP signing, and the key is the certificate's.
 */
static int
signer_load(struct ca *ca, const struct db_ca_cert *row, int64_t now,
    struct ocsp_signer **sp, struct ca_err *err)
{
	const struct ca_config *cfg = ca_config(ca);
	struct ocsp_signer *s = NULL;
	X509 *issuer = ca_cert(ca);
	char *path = NULL;
	unsigned int n;
	int r;

	*sp = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	s->validity = (int64_t)cfg->ocsp_hours * 3600;
	if (row == NULL) {
		if ((r = ca_load_key(ca, err)) != 0)
			goto out;
		s->by_ca = 1;
		s->id = ca_cert_id(ca);
		s->cert = issuer;
		X509_up_ref(s->cert);
		s->key = ca_key(ca);
		EVP_PKEY_up_ref(s->key);
	} else {
		s->id = row->id;
		if ((s->cert = d2i_cert(row->der, row->derlen)) == NULL) {
			r = ca_err_ssl(err, CA_ERR_DB, "OCSP responder "
			    "certificate (ca_certs id %lld) does not parse",
			    (long long)row->id);
			goto out;
		}
		if (X509_check_issued(issuer, s->cert) != X509_V_OK ||
		    X509_verify(s->cert, X509_get0_pubkey(issuer)) != 1 ||
		    !(X509_get_extended_key_usage(s->cert) & XKU_OCSP_SIGN)) {
			r = ca_err_set(err, CA_ERR_NOTFOUND, "OCSP responder "
			    "certificate (ca_certs id %lld) is not one the "
			    "current CA certificate issued for OCSP signing",
			    (long long)row->id);
			goto out;
		}
		if (row->key_file == NULL || (path = util_path(cfg->dir,
		    row->key_file)) == NULL) {
			r = ca_err_set(err, CA_ERR_DB, "OCSP responder "
			    "certificate (ca_certs id %lld) has no key file",
			    (long long)row->id);
			goto out;
		}
		if ((r = ca_read_held_key(ca, path, &s->key, err)) != 0)
			goto out;
		if (X509_check_private_key(s->cert, s->key) != 1) {
			r = ca_err_ssl(err, CA_ERR_CRYPTO, "%s is not the key "
			    "of OCSP responder certificate (ca_certs id %lld)",
			    path, (long long)row->id);
			goto out;
		}
	}
	s->not_after = util_asn1_time_to_unix(X509_get0_notAfter(s->cert));
	/* A response never outlives its signer: roll with room to spare. */
	s->margin = s->by_ca ? 0 : s->validity + 3600;
	if (!X509_pubkey_digest(s->cert, EVP_sha1(), s->keyhash, &n) ||
	    issuer_hashes(s, issuer) != 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "OCSP responder key hash");
		goto out;
	}
	if ((s->seen = calloc(OCSP_SEEN_SLOTS, sizeof(*s->seen))) == NULL ||
	    (s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	(void)now;
	*sp = s;
	s = NULL;
	r = 0;
 out:
	free(path);
	ocsp_signer_free(s);
	return r;
}

int
ocsp_signer_get(struct ca *ca, int64_t now, struct ocsp_signer **sp,
    struct ca_err *err)
{
	struct db_ca_cert **list = NULL;
	struct ca_err skip;
	X509 *cert = NULL;
	size_t i, n = 0;
	int r;

	*sp = NULL;
	if (ca_config(ca)->ocsp_signer_ca)
		return signer_load(ca, NULL, now, sp, err);
	if ((r = db_ca_cert_list(ca_db(ca), OCSP_ROLE, &list, &n, err)) != 0)
		goto out;
	for (i = 0; i < n && *sp == NULL; i++) {
		if (list[i]->not_before > now ||
		    list[i]->not_after - now < (int64_t)ca_config(ca)->
		    ocsp_hours * 3600 + 3600)
			continue;
		/* One of an earlier CA certificate is passed over. */
		ca_err_clear(&skip);
		if (signer_load(ca, list[i], now, sp, &skip) == 0)
			break;
		if (skip.code != CA_ERR_NOTFOUND) {
			*err = skip;
			r = skip.code;
			goto out;
		}
	}
	if (*sp == NULL) {
		db_ca_cert_free_list(list, n);
		list = NULL;
		n = 0;
		if ((r = ocsp_roll(ca, now, &cert, err)) != 0 ||
		    (r = db_ca_cert_list(ca_db(ca), OCSP_ROLE, &list, &n,
		    err)) != 0)
			goto out;
		for (i = 0; i < n && *sp == NULL; i++) {
			X509 *x = d2i_cert(list[i]->der, list[i]->derlen);

			if (x != NULL && X509_cmp(x, cert) == 0 &&
			    (r = signer_load(ca, list[i], now, sp, err)) != 0) {
				X509_free(x);
				goto out;
			}
			X509_free(x);
		}
		if (*sp == NULL) {
			r = ca_err_set(err, CA_ERR_INTERNAL, "the new OCSP "
			    "responder certificate is not in the database");
			goto out;
		}
	}
	r = 0;
 out:
	X509_free(cert);
	db_ca_cert_free_list(list, n);
	return r;
}

void
ocsp_signer_free(struct ocsp_signer *s)
{
	if (s == NULL)
		return;
	X509_free(s->cert);
	EVP_PKEY_free(s->key);
	free(s->seen);
	EVP_MD_free(s->sha256);
	free(s);
}

int
ocsp_signer_usable(const struct ocsp_signer *s, int64_t now)
{
	return s != NULL && s->not_after - now >= s->margin;
}

X509 *
ocsp_signer_cert(const struct ocsp_signer *s)
{
	return s->cert;
}

int
ocsp_signer_is_ca(const struct ocsp_signer *s)
{
	return s->by_ca;
}

/* --- answers --- */

void
ocsp_answer_clear(struct ocsp_answer *a)
{
	free(a->der);
	memset(a, 0, sizeof(*a));
}

/* Takes resp (freed) into a->der and its ETag. */
static int
answer_take(struct ocsp_answer *a, OCSP_RESPONSE *resp)
{
	unsigned char *der = NULL;
	int len;

	free(a->der);
	a->der = NULL;
	a->len = 0;
	len = i2d_OCSP_RESPONSE(resp, &der);
	OCSP_RESPONSE_free(resp);
	if (len <= 0)
		return CA_ERR_NOMEM;
	if ((a->der = malloc((size_t)len)) == NULL) {
		OPENSSL_free(der);
		return CA_ERR_NOMEM;
	}
	memcpy(a->der, der, (size_t)len);
	a->len = (size_t)len;
	OPENSSL_free(der);
	util_sha1_hex(a->der, a->len, a->etag);
	return 0;
}

/* An unsuccessful answer: malformedRequest, unauthorized, internalError. */
static int
answer_status(struct ocsp_answer *a, int result, const char *fmt, ...)
{
	OCSP_RESPONSE *resp;
	va_list ap;
	int st;

	switch (result) {
	case OCSP_R_MALFORMED:
		st = OCSP_RESPONSE_STATUS_MALFORMEDREQUEST;
		break;
	case OCSP_R_UNAUTHORIZED:
		st = OCSP_RESPONSE_STATUS_UNAUTHORIZED;
		break;
	default:
		st = OCSP_RESPONSE_STATUS_INTERNALERROR;
		result = OCSP_R_ERROR;
	}
	a->result = result;
	a->this_update = a->next_update = 0;
	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
	if ((resp = OCSP_response_create(st, NULL)) == NULL)
		return CA_ERR_NOMEM;
	return answer_take(a, resp);
}

int
ocsp_unsuccessful(struct ocsp_answer *a, int result, const char *why)
{
	memset(a, 0, sizeof(*a));
	return answer_status(a, result, "%s", why);
}

/* The hashes a pre-produced response is kept for; NULL for others. */
static const char *
hash_name(const ASN1_OBJECT *alg)
{
	switch (OBJ_obj2nid(alg)) {
	case NID_sha1:
		return "sha1";
	case NID_sha256:
		return "sha256";
	default:
		return NULL;
	}
}

/*
 * The CA certificate's name and key hashes with each digest a CertID may
 * use, as OCSP_cert_id_new computes them: once per signer, not per request.
 */
static int
issuer_hashes(struct ocsp_signer *s, X509 *issuer)
{
	static const int nids[4] = { NID_sha1, NID_sha256, NID_sha384,
	    NID_sha512 };
	const ASN1_BIT_STRING *key = X509_get0_pubkey_bitstr(issuer);
	const EVP_MD *md;
	unsigned int len;
	size_t i;

	for (i = 0; i < 4; i++) {
		s->issuer[i].nid = nids[i];
		if ((md = EVP_get_digestbynid(nids[i])) == NULL ||
		    !X509_NAME_digest(X509_get_subject_name(issuer), md,
		    s->issuer[i].name, &s->issuer[i].len) ||
		    !EVP_Digest(key->data, (size_t)key->length,
		    s->issuer[i].key, &len, md, NULL) ||
		    len != s->issuer[i].len)
			return -1;
	}
	return 0;
}

/*
 * Whether the CertID names the current CA certificate (name and key
 * hashes, with a digest this responder computes); *hashp: hash_name.
 */
static int
issuer_ok(struct ocsp_signer *s, OCSP_CERTID *id, const char **hashp)
{
	ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
	ASN1_OBJECT *alg = NULL;
	int i, nid;

	*hashp = NULL;
	if (!OCSP_id_get0_info(&nh, &alg, &kh, NULL, id) || alg == NULL ||
	    nh == NULL || kh == NULL)
		return 0;
	nid = OBJ_obj2nid(alg);
	for (i = 0; i < 4 && s->issuer[i].nid != nid; i++)
		;
	if (i == 4)
		return 0;
	*hashp = hash_name(alg);
	/* RFC 6960 4.1.1: issuerNameHash and issuerKeyHash. */
	if (!hashes_match(nh, kh, s->issuer[i].name, s->issuer[i].key,
	    s->issuer[i].len))
		return 0;
	return 1;
}

static int
hashes_match(const ASN1_OCTET_STRING *nh, const ASN1_OCTET_STRING *kh,
    const unsigned char *name, const unsigned char *key, unsigned int len)
{
	return ASN1_STRING_length(nh) == (int)len &&
	    ASN1_STRING_length(kh) == (int)len &&
	    memcmp(ASN1_STRING_get0_data(nh), name, len) == 0 &&
	    memcmp(ASN1_STRING_get0_data(kh), key, len) == 0;
}

/*
 * RFC 8954: a nonce of 1 to 32 octets (the OCTET STRING in extnValue;
 * the raw extnValue for clients that put the bare value there).
 */
static int
nonce_check(OCSP_REQUEST *req, int *hasp, char *why, size_t whylen)
{
	X509_EXTENSION *ext;
	ASN1_OCTET_STRING *v, *inner = NULL;
	const unsigned char *p;
	int idx, len;

	*hasp = 0;
	if ((idx = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce,
	    -1)) < 0)
		return 0;
	if (OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, idx) >=
	    0) {
		snprintf(why, whylen, "two nonce extensions");
		return -1;
	}
	*hasp = 1;
	ext = OCSP_REQUEST_get_ext(req, idx);
	v = X509_EXTENSION_get_data(ext);
	p = v->data;
	if ((inner = d2i_ASN1_OCTET_STRING(NULL, &p, v->length)) != NULL &&
	    p == v->data + v->length)
		len = ASN1_STRING_length(inner);
	else
		len = v->length;
	ASN1_OCTET_STRING_free(inner);
	if (len < 1 || len > OCSP_NONCE_MAX) {
		snprintf(why, whylen, "a nonce of %d octets (RFC 8954: 1 to "
		    "%d)", len, OCSP_NONCE_MAX);
		return -1;
	}
	return 0;
}

/*
 * Signs a response for the n CertIDs of ones, with the nonce of req (if
 * req is not NULL and has one).
 */
static int
sign_basic(struct ca *ca, struct ocsp_signer *s, OCSP_REQUEST *req,
    struct one *ones, int n, int64_t now, OCSP_RESPONSE **respp,
    struct ca_err *err)
{
	OCSP_BASICRESP *bs = NULL;
	ASN1_TIME *tu = NULL, *nu = NULL, *rt = NULL;
	int64_t next = now + s->validity;
	unsigned long flags = OCSP_RESPID_KEY;
	int i, st, reason, r = CA_ERR_CRYPTO;

	*respp = NULL;
	if (next > s->not_after)
		next = s->not_after;
	if ((bs = OCSP_BASICRESP_new()) == NULL ||
	    (tu = ASN1_TIME_set(NULL, (time_t)now)) == NULL ||
	    (nu = ASN1_TIME_set(NULL, (time_t)next)) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		const struct db_cert *c = ones[i].c;

		reason = -1;
		ASN1_TIME_free(rt);
		rt = NULL;
		if (c == NULL)
			st = V_OCSP_CERTSTATUS_UNKNOWN;
		else if (c->revoked) {
			st = V_OCSP_CERTSTATUS_REVOKED;
			/* As on the CRL: unspecified (0) is left out. */
			reason = c->reason != 0 ? c->reason : -1;
			if ((rt = ASN1_TIME_set(NULL,
			    (time_t)c->revoked_at)) == NULL)
				goto fail;
		} else
			st = V_OCSP_CERTSTATUS_GOOD;
		if (OCSP_basic_add1_status(bs, ones[i].id, st, reason, rt, tu,
		    nu) == NULL)
			goto fail;
	}
	if (req != NULL && OCSP_copy_nonce(bs, req) <= 0)
		goto fail;
	if (s->by_ca)
		flags |= OCSP_NOCERTS;
	if (!OCSP_basic_sign(bs, s->cert, s->key, ca_digest(ca), NULL, flags))
		goto fail;
	if ((*respp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL,
	    bs)) == NULL)
		goto fail;
	r = 0;
	goto out;
 fail:
	r = ca_err_ssl(err, CA_ERR_CRYPTO, "signing an OCSP response");
 out:
	ASN1_TIME_free(rt);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	OCSP_BASICRESP_free(bs);
	return r;
}

/*
 * Whether the stored response o may answer CertID id now: the state it
 * carries is the certificate's, it is about this serial and CertID (the
 * one CertID it holds), the current signer made it, and it has more than
 * half its validity left. The row's columns are checked against the DER.
 */
static int
stored_ok(struct ca *ca, struct ocsp_signer *s, OCSP_CERTID *id,
    const struct db_ocsp *o, const char *serial, int64_t now)
{
	const unsigned char *p = o->der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_SINGLERESP *single;
	const ASN1_OCTET_STRING *rkey = NULL;
	const X509_NAME *rname = NULL;
	unsigned char *idder = NULL, dg[SHA256_DIGEST_LENGTH], *slot = NULL;
	unsigned char rev = o->revoked != 0;
	EVP_MD_CTX *ctx = NULL;
	int st, idlen, ok = 0;

	if (o->revoked != o->cert_revoked ||
	    strcmp(o->serial, serial) != 0 ||
	    strcmp(o->cert_serial, serial) != 0 ||
	    o->cert_issuer_id != ca_cert_id(ca) || o->signer_id != s->id ||
	    o->next_update - now < s->validity / 2 || o->this_update > now ||
	    o->next_update > s->not_after)
		return 0;
	/* The same DER checked for the same CertID and status: no decoding. */
	if ((idlen = i2d_OCSP_CERTID(id, &idder)) > 0 &&
	    (ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(ctx, s->sha256, NULL) &&
	    EVP_DigestUpdate(ctx, o->der, o->derlen) &&
	    EVP_DigestUpdate(ctx, idder, (size_t)idlen) &&
	    EVP_DigestUpdate(ctx, &rev, 1) &&
	    EVP_DigestFinal_ex(ctx, dg, NULL)) {
		slot = s->seen[((size_t)dg[0] << 8 | dg[1]) % OCSP_SEEN_SLOTS];
		if (memcmp(slot, dg, sizeof(dg)) == 0) {
			ok = 1;
			goto out;
		}
	}
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)o->derlen)) == NULL ||
	    p != o->der + o->derlen ||
	    OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (bs = OCSP_response_get1_basic(resp)) == NULL ||
	    OCSP_resp_count(bs) != 1 ||
	    (single = OCSP_resp_get0(bs, 0)) == NULL ||
	    OCSP_id_cmp(OCSP_SINGLERESP_get0_id(single), id) != 0 ||
	    !OCSP_resp_get0_id(bs, &rkey, &rname))
		goto out;
	/* Who signed it: the byKey ResponderID of the current signer. */
	if (rkey == NULL || ASN1_STRING_length(rkey) != SHA_DIGEST_LENGTH ||
	    memcmp(ASN1_STRING_get0_data(rkey), s->keyhash,
	    SHA_DIGEST_LENGTH) != 0)
		goto out;
	st = OCSP_single_get0_status(single, NULL, NULL, NULL, NULL);
	ok = st == (o->revoked ? V_OCSP_CERTSTATUS_REVOKED :
	    V_OCSP_CERTSTATUS_GOOD);
	if (ok && slot != NULL)
		memcpy(slot, dg, sizeof(dg));
 out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(idder);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return ok;
}

/* Keeps a's response as the pre-produced one of one CertID. */
static int
store(struct ca *ca, struct ocsp_signer *s, const struct one *one,
    const struct ocsp_answer *a, struct ca_err *err)
{
	struct db *db = ca_db(ca);
	struct db_ocsp o;
	int r, stored;

	memset(&o, 0, sizeof(o));
	o.cert_id = one->c->id;
	snprintf(o.serial, sizeof(o.serial), "%s", one->c->serial);
	o.revoked = one->c->revoked != 0;
	o.signer_id = s->id;
	o.this_update = a->this_update;
	o.next_update = a->next_update;
	o.der = a->der;
	o.derlen = a->len;
	/* Not stored when a revocation came in between: signed anew later. */
	if (db_in_transaction(db))
		return db_ocsp_put(db, &o, one->hash, &stored, err);
	if ((r = db_begin(db, err)) != 0)
		return r;
	if ((r = db_ocsp_put(db, &o, one->hash, &stored, err)) != 0) {
		db_rollback(db);
		return r;
	}
	return db_commit(db, err);
}

int
ocsp_respond(struct ca *ca, struct ocsp_signer *s, const unsigned char *req,
    size_t len, int64_t now, struct ocsp_answer *a, struct ca_err *err)
{
	const unsigned char *p = req;
	OCSP_REQUEST *oreq = NULL;
	OCSP_RESPONSE *resp = NULL;
	ASN1_INTEGER *serial;
	struct one *ones = NULL;
	struct db_ocsp o;
	int i, n = 0, r = 0, worst = OCSP_R_GOOD;

	memset(a, 0, sizeof(*a));
	memset(&o, 0, sizeof(o));
	if (len == 0 || len > OCSP_REQ_MAX) {
		r = answer_status(a, OCSP_R_MALFORMED, "a request of %zu "
		    "bytes (1 to %d)", len, OCSP_REQ_MAX);
		goto out;
	}
	if ((oreq = d2i_OCSP_REQUEST(NULL, &p, (long)len)) == NULL ||
	    p != req + len) {
		r = answer_status(a, OCSP_R_MALFORMED, "not a DER "
		    "OCSPRequest");
		goto out;
	}
	n = OCSP_request_onereq_count(oreq);
	if (n < 1 || n > OCSP_IDS_MAX) {
		r = answer_status(a, OCSP_R_MALFORMED, "%d CertIDs (1 to %d)",
		    n, OCSP_IDS_MAX);
		goto out;
	}
	if (nonce_check(oreq, &a->nonce, a->why, sizeof(a->why)) != 0) {
		r = answer_status(a, OCSP_R_MALFORMED, "%s", a->why);
		goto out;
	}
	if ((ones = calloc((size_t)n, sizeof(*ones))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		ones[i].id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(oreq,
		    i));
		/* RFC 6960 2.3: not this responder's to answer. */
		if (!issuer_ok(s, ones[i].id, &ones[i].hash)) {
			r = answer_status(a, OCSP_R_UNAUTHORIZED, "CertID %d "
			    "names another issuer (or a hash this responder "
			    "does not compute)", i + 1);
			goto out;
		}
		OCSP_id_get0_info(NULL, NULL, NULL, &serial, ones[i].id);
		if (util_serial_hex(serial, ones[i].serial) != 0)
			ones[i].serial[0] = '\0';
	}
	/* One CertID and no nonce: the pre-produced response, if good. */
	if (n == 1 && !a->nonce && ones[0].hash != NULL &&
	    ones[0].serial[0] != '\0') {
		r = db_ocsp_get(ca_db(ca), ones[0].serial, ones[0].hash, &o,
		    err);
		if (r == 0 && stored_ok(ca, s, ones[0].id, &o,
		    ones[0].serial, now)) {
			a->der = o.der;
			a->len = o.derlen;
			o.der = NULL;
			util_sha1_hex(a->der, a->len, a->etag);
			a->result = o.revoked ? OCSP_R_REVOKED : OCSP_R_GOOD;
			a->preproduced = 1;
			a->this_update = o.this_update;
			a->next_update = o.next_update;
			r = 0;
			goto out;
		}
		if (r != 0 && r != CA_ERR_NOTFOUND)
			goto fail;
		ca_err_clear(err);
	}
	for (i = 0; i < n; i++) {
		if (ones[i].serial[0] == '\0')
			continue;
		r = db_cert_get(ca_db(ca), ones[i].serial, &ones[i].c, err);
		if (r == CA_ERR_NOTFOUND) {
			ca_err_clear(err);
			continue;
		}
		if (r != 0)
			goto fail;
		/* Another issuer's row with this serial is not ours to tell. */
		if (ones[i].c->issuer_id != ca_cert_id(ca)) {
			db_cert_free(ones[i].c);
			ones[i].c = NULL;
		}
	}
	for (i = 0; i < n; i++)
		if (ones[i].c != NULL && ones[i].c->revoked)
			worst = OCSP_R_REVOKED;
		else if (ones[i].c == NULL && worst != OCSP_R_REVOKED)
			worst = OCSP_R_UNKNOWN;
	if ((r = sign_basic(ca, s, a->nonce ? oreq : NULL, ones, n, now,
	    &resp, err)) != 0)
		goto fail;
	if (answer_take(a, resp) != 0) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto fail;
	}
	a->result = worst;
	a->this_update = now;
	a->next_update = now + s->validity < s->not_after ?
	    now + s->validity : s->not_after;
	if (n == 1 && !a->nonce && ones[0].hash != NULL && ones[0].c != NULL &&
	    (r = store(ca, s, &ones[0], a, err)) != 0)
		goto fail;
	r = 0;
	goto out;
 fail:
	answer_status(a, OCSP_R_ERROR, "%s", err->msg);
	if (r == 0)
		r = CA_ERR_INTERNAL;
 out:
	for (i = 0; ones != NULL && i < n; i++)
		db_cert_free(ones[i].c);
	free(ones);
	free(o.der);
	OCSP_REQUEST_free(oreq);
	return r;
}

int
ocsp_refresh(struct ca *ca, struct ocsp_signer *s, int64_t now, int max,
    size_t *np, struct ca_err *err)
{
	static const char *const hashes[] = { "sha1", "sha256" };
	X509 *issuer = ca_cert(ca);
	char **serials = NULL;
	size_t i, k, n = 0;
	struct one one;
	struct ocsp_answer a;
	OCSP_RESPONSE *resp = NULL;
	ASN1_INTEGER *ai = NULL;
	int r = 0;

	*np = 0;
	memset(&a, 0, sizeof(a));
	memset(&one, 0, sizeof(one));
	for (k = 0; k < sizeof(hashes) / sizeof(hashes[0]); k++) {
		const EVP_MD *md = k == 0 ? EVP_sha1() : EVP_sha256();

		if ((r = db_ocsp_due(ca_db(ca), ca_cert_id(ca), hashes[k],
		    s->id, now, now + s->validity / 2, max, &serials, &n,
		    err)) != 0)
			goto out;
		for (i = 0; i < n; i++) {
			one.hash = hashes[k];
			if ((r = db_cert_get(ca_db(ca), serials[i], &one.c,
			    err)) != 0)
				goto out;
			if ((ai = util_serial_from_hex(serials[i])) == NULL ||
			    (one.id = OCSP_cert_id_new(md,
			    X509_get_subject_name(issuer),
			    X509_get0_pubkey_bitstr(issuer), ai)) == NULL) {
				r = ca_err_ssl(err, CA_ERR_CRYPTO, "CertID of "
				    "%s", serials[i]);
				goto out;
			}
			if ((r = sign_basic(ca, s, NULL, &one, 1, now, &resp,
			    err)) != 0)
				goto out;
			if (answer_take(&a, resp) != 0) {
				r = ca_err_set(err, CA_ERR_NOMEM, "out of "
				    "memory");
				goto out;
			}
			a.this_update = now;
			a.next_update = now + s->validity < s->not_after ?
			    now + s->validity : s->not_after;
			if ((r = store(ca, s, &one, &a, err)) != 0)
				goto out;
			(*np)++;
			ocsp_answer_clear(&a);
			OCSP_CERTID_free(one.id);
			one.id = NULL;
			ASN1_INTEGER_free(ai);
			ai = NULL;
			db_cert_free(one.c);
			one.c = NULL;
		}
		db_free_strings(serials, n);
		serials = NULL;
		n = 0;
	}
	r = 0;
 out:
	ocsp_answer_clear(&a);
	OCSP_CERTID_free(one.id);
	ASN1_INTEGER_free(ai);
	db_cert_free(one.c);
	db_free_strings(serials, n);
	return r;
}
