/* EST (RFC 7030): cacerts, enrollment, renewal, CSR attributes, CMC. */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1t.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "archive/archival.h"
#include "archive/areq.h"
#include "archive/cmcresp.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/export.h"
#include "ca/issue.h"
#include "ca/ldapdir.h"
#include "ca/template.h"
#include "enroll/auth.h"
#include "enroll/body.h"
#include "enroll/handlers.h"
#include "enroll/http.h"
#include "enroll/log.h"
#include "enroll/metrics.h"
#include "enroll/srv.h"

#define CT_CERTS	"application/pkcs7-mime; smime-type=certs-only"
#define CT_CMC_RESP	"application/pkcs7-mime; smime-type=CMC-response"
#define CT_CSRATTRS	"application/csrattrs"
#define BOUNDARY	"smimeca-est-boundary-7f3a"

/* CsrAttrs ::= SEQUENCE OF AttrOrOID; AttrOrOID ::= CHOICE { oid, attr } */
typedef struct est_attr_or_oid_st {
	int type;
	union {
		ASN1_OBJECT *oid;
		X509_ATTRIBUTE *attr;
	} d;
} EST_ATTR_OR_OID;
DEFINE_STACK_OF(EST_ATTR_OR_OID)
typedef STACK_OF(EST_ATTR_OR_OID) EST_CSRATTRS;

ASN1_CHOICE(EST_ATTR_OR_OID) = {
	ASN1_SIMPLE(EST_ATTR_OR_OID, d.oid, ASN1_OBJECT),
	ASN1_SIMPLE(EST_ATTR_OR_OID, d.attr, X509_ATTRIBUTE)
} ASN1_CHOICE_END(EST_ATTR_OR_OID)
DECLARE_ASN1_FUNCTIONS(EST_ATTR_OR_OID)
IMPLEMENT_ASN1_FUNCTIONS(EST_ATTR_OR_OID)

ASN1_ITEM_TEMPLATE(EST_CSRATTRS) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, CsrAttrs,
	    EST_ATTR_OR_OID)
ASN1_ITEM_TEMPLATE_END(EST_CSRATTRS)
DECLARE_ASN1_ENCODE_FUNCTIONS_only(EST_CSRATTRS, EST_CSRATTRS)
IMPLEMENT_ASN1_ENCODE_FUNCTIONS_fname(EST_CSRATTRS, EST_CSRATTRS,
    EST_CSRATTRS)

enum enroll_kind { ENR_SIMPLE, ENR_RENEW, ENR_KEYGEN };

static const struct tpl *pick_template(struct req *, struct resp *,
    struct wk *, const char *);
static int media_is(struct req *, struct resp *, const char *,
    const char *);
static X509_REQ *body_csr(struct req *, struct resp *);
static void account_of(const struct auth_acct *, struct iss_account *);
static void enroll(struct req *, struct resp *, enum enroll_kind);
static int keygen_csr(const struct tpl *, X509_REQ *, EVP_PKEY **,
    X509_REQ **, struct ca_err *);
static void keygen_answer(struct req *, struct resp *, EVP_PKEY *, X509 *);
static int add_oid(EST_CSRATTRS *, int);
static int add_attr(EST_CSRATTRS *, int, int, void *);

static const struct tpl *
pick_template(struct req *rq, struct resp *rs, struct wk *w,
    const char *fallback)
{
	const char *name = rq->label[0] ? rq->label : fallback;
	const struct tpl *t;

	/* This thread's handle has the configuration of the last reload. */
	if (name == NULL)
		name = ca_config(w->ca)->daemon.est_template;
	if ((t = wk_template(w, name)) == NULL)
		resp_text(rs, 404, "no template named \"%s\" (the URL "
		    "/.well-known/est/TEMPLATE/... names one; see smimeca "
		    "template list)", name);
	return t;
}

/* Checks the request's media type; "" (none) is accepted. */
static int
media_is(struct req *rq, struct resp *rs, const char *want,
    const char *also)
{
	char mt[128];

	req_media_type(rq, mt, sizeof(mt));
	if (*mt == '\0' || strcmp(mt, want) == 0 ||
	    (also != NULL && strcmp(mt, also) == 0))
		return 0;
	resp_text(rs, 415, "%s takes %s (base64), not %s", rq->path, want,
	    mt);
	return -1;
}

static X509_REQ *
body_csr(struct req *rq, struct resp *rs)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509_REQ *csr = NULL;
	size_t len;

	if (rq->bodylen == 0) {
		resp_text(rs, 400, "the request body is empty; send a "
		    "PKCS#10 request, base64-encoded DER");
		return NULL;
	}
	if (body_decode(rq->body, rq->bodylen, &der, &len) != 0) {
		resp_text(rs, 400, "the request body is not base64, PEM or "
		    "DER; send a PKCS#10 request, base64-encoded DER");
		return NULL;
	}
	p = der;
	if ((csr = d2i_X509_REQ(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		X509_REQ_free(csr);
		csr = NULL;
		resp_text(rs, 400, "the request body is not one PKCS#10 "
		    "request (%zu bytes decoded; truncated or not a CSR)",
		    len);
	}
	free(der);
	return csr;
}

static void
account_of(const struct auth_acct *a, struct iss_account *acct)
{
	memset(acct, 0, sizeof(*acct));
	if (a->entry != NULL) {
		/* Subject values, {dir:ATTR} included, from the entry. */
		dir_account(a->entry, a->id, acct);
		acct->owner = a->owner[0] != '\0' ? a->owner : NULL;
		return;
	}
	acct->id = a->id;
	acct->owner = a->owner[0] != '\0' ? a->owner : NULL;
	acct->mail = a->mail[0] != '\0' ? a->mail : NULL;
	acct->cn = a->cn[0] != '\0' ? a->cn : NULL;
}

void
est_cacerts(struct req *rq, struct resp *rs)
{
	struct wk *w;

	if ((w = srv_worker_req(rq, rs)) == NULL)
		return;
	if (w->cacerts == NULL &&
	    export_certs_only(NULL, ca_chain(w->ca), &w->cacerts,
	    &w->cacerts_len) != 0) {
		resp_text(rs, 500, "encoding the CA certificates failed");
		return;
	}
	resp_base64(rs, 200, CT_CERTS, w->cacerts, w->cacerts_len);
}

/* The key the template asks for first; its CSR signed by that key. */
static int
keygen_csr(const struct tpl *t, X509_REQ *client, EVP_PKEY **keyp,
    X509_REQ **csrp, struct ca_err *err)
{
	enum ca_keyspec spec;
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	int r;

	*keyp = NULL;
	*csrp = NULL;
	if (t->nalgs == 0)
		return ca_err_set(err, CA_ERR_POLICY, "template %s names no "
		    "key algorithm to generate", t->name);
	if (t->algs[0].type == EVP_PKEY_EC)
		spec = t->algs[0].curve_nid == NID_secp384r1 ?
		    CA_KEY_EC_P384 : CA_KEY_EC_P256;
	else
		spec = t->algs[0].min_bits > 3072 ? CA_KEY_RSA4096 :
		    t->algs[0].min_bits > 2048 ? CA_KEY_RSA3072 :
		    CA_KEY_RSA2048;
	if ((r = ca_keygen(spec, &key, err)) != 0)
		goto out;
	if ((csr = X509_REQ_new()) == NULL ||
	    !X509_REQ_set_version(csr, 0) ||
	    !X509_REQ_set_subject_name(csr, X509_REQ_get_subject_name(client)) ||
	    !X509_REQ_set_pubkey(csr, key) ||
	    X509_REQ_sign(csr, key, EVP_sha256()) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "making the request for "
		    "the generated key");
		goto out;
	}
	*keyp = key;
	*csrp = csr;
	key = NULL;
	csr = NULL;
	r = 0;
 out:
	EVP_PKEY_free(key);
	X509_REQ_free(csr);
	return r;
}

/* RFC 7030 4.4.2: multipart/mixed, the PKCS#8 key then the certificate. */
static void
keygen_answer(struct req *rq, struct resp *rs, EVP_PKEY *key, X509 *cert)
{
	unsigned char *p8 = NULL, *p7 = NULL;
	char *b64key = NULL, *b64cert = NULL, *out = NULL;
	size_t p7len = 0;
	int p8len, n;

	(void)rq;
	PKCS8_PRIV_KEY_INFO *pki = EVP_PKEY2PKCS8(key);

	p8len = pki != NULL ? i2d_PKCS8_PRIV_KEY_INFO(pki, &p8) : -1;
	PKCS8_PRIV_KEY_INFO_free(pki);
	if (p8len <= 0 ||
	    export_certs_only(cert, NULL, &p7, &p7len) != 0 ||
	    (b64key = malloc(4 * ((size_t)p8len + 2) / 3 + 4)) == NULL ||
	    (b64cert = malloc(4 * (p7len + 2) / 3 + 4)) == NULL) {
		resp_text(rs, 500, "encoding the generated key failed");
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)b64key, p8, p8len);
	EVP_EncodeBlock((unsigned char *)b64cert, p7, (int)p7len);
	n = asprintf(&out, "--%s\r\n"
	    "Content-Type: application/pkcs8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n"
	    "--%s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n"
	    "--%s--\r\n", BOUNDARY, b64key, BOUNDARY, CT_CERTS, b64cert,
	    BOUNDARY);
	if (n < 0) {
		out = NULL;
		resp_text(rs, 500, "out of memory");
		goto out;
	}
	resp_owned(rs, 200, "multipart/mixed; boundary=" BOUNDARY, out,
	    (size_t)n);
	rs->secret = 1;
	out = NULL;
 out:
	if (b64key != NULL) {
		OPENSSL_cleanse(b64key, strlen(b64key));
		free(b64key);
	}
	free(b64cert);
	OPENSSL_clear_free(p8, p8len > 0 ? (size_t)p8len : 0);
	OPENSSL_free(p7);
}

static void
enroll(struct req *rq, struct resp *rs, enum enroll_kind kind)
{
	struct auth_acct a;
	struct iss_account acct;
	struct ca_err err;
	struct wk *w;
	struct db_cert *old = NULL;
	const struct tpl *t;
	struct areq plain;
	X509_REQ *csr = NULL, *gcsr = NULL;
	EVP_PKEY *gkey = NULL;
	X509 *cert = NULL;
	unsigned char *p7 = NULL;
	size_t p7len;

	ca_err_clear(&err);
	memset(&a, 0, sizeof(a));
	if (media_is(rq, rs, "application/pkcs10", NULL) != 0 ||
	    (w = srv_worker_req(rq, rs)) == NULL)
		goto out;
	if (kind == ENR_RENEW) {
		if (auth_client_cert(rq, rs, w, &a, &old) != 0)
			goto out;
	} else if (auth_basic(rq, rs, w, &a) != 0)
		goto out;
	if ((t = pick_template(rq, rs, w, old != NULL ? old->template :
	    NULL)) == NULL)
		goto out;
	if (old != NULL && strcmp(t->name, old->template) != 0) {
		resp_text(rs, 403, "certificate %s was issued under template "
		    "%s; renew it under the same one, not %s", old->serial,
		    old->template, t->name);
		goto out;
	}
	if ((csr = body_csr(rq, rs)) == NULL)
		goto out;
	account_of(&a, &acct);
	if (kind == ENR_KEYGEN) {
		if (!rq->tls) {
			resp_text(rs, 403, "serverkeygen returns a private key "
			    "and is served over HTTPS only");
			goto out;
		}
		if (t->archival == TPL_ARCHIVAL_FORBIDDEN) {
			resp_text(rs, 403, "template %s forbids key escrow, "
			    "and a key the CA generates is always escrowed; "
			    "generate the key on the device and use "
			    "simpleenroll", t->name);
			goto out;
		}
		if (X509_REQ_verify(csr, X509_REQ_get0_pubkey(csr)) != 1) {
			resp_text(rs, 400, "the request's signature does not "
			    "verify");
			goto out;
		}
		if (keygen_csr(t, csr, &gkey, &gcsr, &err) != 0 ||
		    arc_issue_key(w->ca, t, &acct, TPL_PROTO_EST, gcsr, gkey,
		    &cert, &err) != 0) {
			resp_err(rq, rs, &err);
			goto out;
		}
		metrics_issued("serverkeygen");
		srv_publish_kick();
		keygen_answer(rq, rs, gkey, cert);
		goto out;
	}
	/* No key to archive: the CSR as it is, without areq's copy. */
	memset(&plain, 0, sizeof(plain));
	plain.form = AREQ_FORM_SIMPLE;
	plain.csr = csr;
	if (arc_issue_raw(w->ca, t, &acct, TPL_PROTO_EST, &plain, 1, &cert,
	    &err) != 0) {
		resp_err(rq, rs, &err);
		goto out;
	}
	metrics_issued("est");
	srv_publish_kick();
	if (export_certs_only(cert, NULL, &p7, &p7len) != 0) {
		log_err("encoding an issued certificate failed");
		resp_text(rs, 500, "encoding the certificate failed; it was "
		    "issued: ask the CA administrator for it");
		goto out;
	}
	resp_base64(rs, 200, CT_CERTS, p7, p7len);
 out:
	OPENSSL_free(p7);
	X509_free(cert);
	EVP_PKEY_free(gkey);
	X509_REQ_free(gcsr);
	X509_REQ_free(csr);
	db_cert_free(old);
	auth_acct_clear(&a);
}

void
est_simpleenroll(struct req *rq, struct resp *rs)
{
	enroll(rq, rs, ENR_SIMPLE);
}

void
est_simplereenroll(struct req *rq, struct resp *rs)
{
	enroll(rq, rs, ENR_RENEW);
}

void
est_serverkeygen(struct req *rq, struct resp *rs)
{
	enroll(rq, rs, ENR_KEYGEN);
}

static int
add_oid(EST_CSRATTRS *sk, int nid)
{
	EST_ATTR_OR_OID *e;

	if ((e = EST_ATTR_OR_OID_new()) == NULL)
		return -1;
	e->type = 0;
	if ((e->d.oid = OBJ_nid2obj(nid)) == NULL ||
	    !sk_EST_ATTR_OR_OID_push(sk, e)) {
		EST_ATTR_OR_OID_free(e);
		return -1;
	}
	return 0;
}

static int
add_attr(EST_CSRATTRS *sk, int nid, int vtype, void *value)
{
	EST_ATTR_OR_OID *e;

	if ((e = EST_ATTR_OR_OID_new()) == NULL)
		return -1;
	e->type = 1;
	if ((e->d.attr = X509_ATTRIBUTE_create(nid, vtype, value)) == NULL ||
	    !sk_EST_ATTR_OR_OID_push(sk, e)) {
		EST_ATTR_OR_OID_free(e);
		return -1;
	}
	return 0;
}

/*
 * What the template wants in a CSR: the key (RFC 9908 style attribute:
 * rsaEncryption with the modulus size, or id-ecPublicKey with the curve),
 * the signature algorithm, and the subject attributes taken from the CSR.
 */
void
est_csrattrs(struct req *rq, struct resp *rs)
{
	EST_CSRATTRS *sk = NULL;
	const struct tpl *t;
	struct wk *w;
	unsigned char *der = NULL;
	ASN1_INTEGER *bits = NULL;
	ASN1_OBJECT *curve = NULL;
	size_t i;
	int len, rsa = 0, ok = 0;

	if ((w = srv_worker_req(rq, rs)) == NULL ||
	    (t = pick_template(rq, rs, w, NULL)) == NULL)
		return;
	if ((sk = sk_EST_ATTR_OR_OID_new_null()) == NULL)
		goto out;
	for (i = 0; i < t->nalgs; i++) {
		if (t->algs[i].type == EVP_PKEY_RSA) {
			if ((bits = ASN1_INTEGER_new()) == NULL ||
			    !ASN1_INTEGER_set(bits, t->algs[i].min_bits) ||
			    add_attr(sk, NID_rsaEncryption, V_ASN1_INTEGER,
			    bits) != 0)
				goto out;
			bits = NULL;	/* the attribute owns it */
			rsa = 1;
		} else {
			if ((curve = OBJ_nid2obj(t->algs[i].curve_nid)) ==
			    NULL || add_attr(sk, NID_X9_62_id_ecPublicKey,
			    V_ASN1_OBJECT, curve) != 0)
				goto out;
		}
	}
	if (add_oid(sk, rsa || t->nalgs == 0 ? NID_sha256WithRSAEncryption :
	    NID_ecdsa_with_SHA256) != 0)
		goto out;
	for (i = 0; i < t->nrdns; i++) {
		int nid = OBJ_txt2nid(t->rdns[i].type);

		if (t->rdns[i].source == TPL_SRC_REQUEST && nid != NID_undef &&
		    add_oid(sk, nid) != 0)
			goto out;
	}
	if ((len = i2d_EST_CSRATTRS(sk, &der)) <= 0)
		goto out;
	resp_base64(rs, 200, CT_CSRATTRS, der, (size_t)len);
	ok = 1;
 out:
	if (!ok)
		resp_text(rs, 500, "encoding the CSR attributes of %s failed",
		    t->name);
	OPENSSL_free(der);
	ASN1_INTEGER_free(bits);
	sk_EST_ATTR_OR_OID_pop_free(sk, EST_ATTR_OR_OID_free);
}

/*
 * Full CMC: the Windows key-archival layout or a plain PKIData; answered
 * with a CMC PKIResponse signed by the CA. Refusals are plain text with a
 * 4xx status, like every other route.
 */
void
est_fullcmc(struct req *rq, struct resp *rs)
{
	struct auth_acct a;
	struct iss_account acct;
	struct ca_err err;
	struct wk *w;
	const struct tpl *t;
	struct areq *ar = NULL;
	X509 *cert = NULL;
	unsigned char *der = NULL, *out = NULL;
	size_t len, outlen;

	ca_err_clear(&err);
	memset(&a, 0, sizeof(a));
	if (media_is(rq, rs, "application/pkcs7-mime", "application/cmc-request")
	    != 0 || (w = srv_worker_req(rq, rs)) == NULL ||
	    auth_basic(rq, rs, w, &a) != 0 ||
	    (t = pick_template(rq, rs, w, NULL)) == NULL)
		goto out;
	if (rq->bodylen == 0 || body_decode(rq->body, rq->bodylen, &der, &len) != 0) {
		resp_text(rs, 400, "the request body is not a base64 CMC "
		    "request (CMS SignedData of a PKIData)");
		goto out;
	}
	if (areq_parse_cmc(der, len, &ar, &err) != 0) {
		if (err.code != CA_ERR_NOMEM)
			err.code = CA_ERR_INVALID;
		resp_err(rq, rs, &err);
		goto out;
	}
	account_of(&a, &acct);
	if (arc_issue(w->ca, t, &acct, TPL_PROTO_CMC, ar, &cert, &err) != 0) {
		resp_err(rq, rs, &err);
		goto out;
	}
	metrics_issued("cmc");
	srv_publish_kick();
	if (cmc_response(w->ca, ar->body_part_id, cert,
	    ar->env != NULL ? ar->key_hash : NULL, ar->key_hash_len, &out,
	    &outlen, &err) != 0) {
		log_err("CMC response: %s", err.msg);
		resp_text(rs, 500, "building the CMC response failed; the "
		    "certificate was issued: ask the CA administrator for it");
		goto out;
	}
	resp_base64(rs, 200, CT_CMC_RESP, out, outlen);
 out:
	free(der);
	OPENSSL_free(out);
	X509_free(cert);
	areq_free(ar);
	auth_acct_clear(&a);
}
