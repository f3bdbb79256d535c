/* Key-archival requests: the Windows CMC layout and a simpler form. */
#include "ac-config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "archive/areq.h"
#include "archive/cmc_asn1.h"
#include "archive/keypair.h"
#include "archive/msblob.h"
#include "archive/xchg.h"
#include "ca/ca.h"
#include "ca/err.h"
#include "ca/util.h"

static int decode_input(const unsigned char *, size_t, const char *,
    unsigned char **, size_t *, struct ca_err *);
static int check_signer(CMS_SignerInfo *, X509_REQ *, const EVP_MD *,
    const ASN1_OCTET_STRING *, struct ca_err *);
static int find_key_hash(const CMC_PKIDATA *, struct areq *,
    struct ca_err *);
static int take_envelope(CMS_SignerInfo *, struct areq *, struct ca_err *);
static int parse_key(const struct areq *, const unsigned char *, size_t,
    EVP_PKEY **, struct ca_err *);

/*
 * Accepts DER, PEM (any label) or bare base64 (what Windows' certreq and
 * HTTP clients send); *derp is the DER.
 */
static int
decode_input(const unsigned char *buf, size_t len, const char *what,
    unsigned char **derp, size_t *lenp, struct ca_err *err)
{
	BIO *b = NULL, *b64 = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL, *out = NULL;
	long dlen = 0;
	int n, r = CA_ERR_INVALID;

	*derp = NULL;
	*lenp = 0;
	if (len == 0 || len > AREQ_MAX)
		return ca_err_set(err, CA_ERR_INVALID, "%s: empty or larger "
		    "than %d bytes", what, AREQ_MAX);
	if (buf[0] == 0x30) {
		if ((out = malloc(len)) == NULL)
			return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		memcpy(out, buf, len);
		*derp = out;
		*lenp = len;
		return 0;
	}
	if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if (len > 10 && memcmp(buf, "-----BEGIN", 10) == 0) {
		if (!PEM_read_bio(b, &name, &header, &data, &dlen))
			goto bad;
		if ((out = malloc((size_t)dlen)) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		memcpy(out, data, (size_t)dlen);
		*lenp = (size_t)dlen;
	} else {
		if ((b64 = BIO_new(BIO_f_base64())) == NULL ||
		    (out = malloc(len)) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		/* Line breaks are allowed; without any, say so. */
		if (memchr(buf, '\n', len) == NULL)
			BIO_set_flags(b64, BIO_FLAGS_BASE64_NO_NL);
		BIO_push(b64, b);
		b = NULL;
		if ((n = BIO_read(b64, out, (int)len)) <= 0 || out[0] != 0x30)
			goto bad;
		*lenp = (size_t)n;
	}
	*derp = out;
	out = NULL;
	r = 0;
	goto out;
 bad:
	ERR_clear_error();
	r = ca_err_set(err, CA_ERR_INVALID, "%s: neither DER, PEM nor "
	    "base64", what);
 out:
	free(out);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free_all(b64);
	BIO_free(b);
	return r;
}

/*
 * Proof of possession: the one signer is the request's own key, named by
 * its key identifier (SHA-1 of the public key, as Windows does) and
 * carrying no certificate. The signed attributes are checked with that
 * key, and their messageDigest against the PKIData that was signed.
 */
static int
check_signer(CMS_SignerInfo *si, X509_REQ *csr, const EVP_MD *md,
    const ASN1_OCTET_STRING *content, struct ca_err *err)
{
	ASN1_OCTET_STRING *keyid = NULL, *claimed;
	X509_NAME *issuer = NULL;
	ASN1_INTEGER *sno = NULL;
	ASN1_OBJECT *mdobj = NULL;
	EVP_PKEY *pub;
	X509 *x = NULL;
	unsigned char kid[EVP_MAX_MD_SIZE], dig[EVP_MAX_MD_SIZE];
	unsigned int kidlen = 0, diglen = 0;
	int r = CA_ERR_INVALID;

	if (!CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer, &sno)) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "CMC request: unusable "
		    "signer identifier");
		goto out;
	}
	/* The client's key: one OpenSSL cannot decode is the client's fault. */
	if ((pub = X509_REQ_get0_pubkey(csr)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "CMC request: the public "
		    "key of the PKCS#10 request cannot be decoded (a malformed "
		    "SubjectPublicKeyInfo); make a new request");
		goto out;
	}
	if ((x = X509_new()) == NULL) {
		r = ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (!X509_set_pubkey(x, pub) ||
	    !X509_pubkey_digest(x, EVP_sha1(), kid, &kidlen)) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "CMC request: the public "
		    "key of the PKCS#10 request (%s) cannot be encoded again "
		    "to compute its key identifier; make a new request",
		    EVP_PKEY_get0_type_name(pub) != NULL ?
		    EVP_PKEY_get0_type_name(pub) : "unknown type");
		goto out;
	}
	if (keyid != NULL && ((size_t)keyid->length != kidlen ||
	    memcmp(keyid->data, kid, kidlen) != 0)) {
		r = ca_err_set(err, CA_ERR_INVALID, "CMC request: the signer "
		    "is not the key of the PKCS#10 request (key identifier "
		    "differs)");
		goto out;
	}
	CMS_SignerInfo_set1_signer_cert(si, x);
	if (CMS_SignerInfo_verify(si) != 1) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "CMC request: the "
		    "signature does not verify with the request's public "
		    "key");
		goto out;
	}
	if ((mdobj = OBJ_nid2obj(NID_pkcs9_messageDigest)) == NULL ||
	    (claimed = CMS_signed_get0_data_by_OBJ(si, mdobj, -3,
	    V_ASN1_OCTET_STRING)) == NULL ||
	    EVP_Digest(content->data, (size_t)content->length, dig, &diglen,
	    md, NULL) != 1 || (unsigned)claimed->length != diglen ||
	    CRYPTO_memcmp(claimed->data, dig, diglen) != 0) {
		ERR_clear_error();
		r = ca_err_set(err, CA_ERR_INVALID, "CMC request: the signed "
		    "message digest does not match the PKIData (the request "
		    "was altered)");
		goto out;
	}
	r = 0;
 out:
	CMS_SignerInfo_set1_signer_cert(si, NULL);
	X509_free(x);
	return r;
}

/* The szOID_ENCRYPTED_KEY_HASH inside a szOID_CMC_ADD_ATTRIBUTES control. */
static int
find_key_hash(const CMC_PKIDATA *pd, struct areq *a, struct ca_err *err)
{
	ASN1_OBJECT *add = OBJ_txt2obj(OID_MS_CMC_ADD_ATTRS, 1);
	ASN1_OBJECT *kh = OBJ_txt2obj(OID_MS_ENC_KEY_HASH, 1);
	CMC_ADD_ATTRS *aa = NULL;
	int i, j, r = CA_ERR_INVALID;

	if (add == NULL || kh == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < sk_CMC_TAGGED_ATTR_num(pd->controls); i++) {
		CMC_TAGGED_ATTR *ta = sk_CMC_TAGGED_ATTR_value(pd->controls, i);
		ASN1_TYPE *v;
		const unsigned char *p;

		if (OBJ_cmp(ta->type, add) != 0 ||
		    sk_ASN1_TYPE_num(ta->values) < 1)
			continue;
		v = sk_ASN1_TYPE_value(ta->values, 0);
		if (v->type != V_ASN1_SEQUENCE)
			continue;
		p = v->value.sequence->data;
		CMC_ADD_ATTRS_free(aa);
		if ((aa = d2i_CMC_ADD_ATTRS(NULL, &p,
		    v->value.sequence->length)) == NULL) {
			r = ca_err_ssl(err, CA_ERR_INVALID, "archival "
			    "request: malformed CmcAddAttributes control");
			goto out;
		}
		for (j = 0; j < sk_X509_ATTRIBUTE_num(aa->attrs); j++) {
			X509_ATTRIBUTE *at = sk_X509_ATTRIBUTE_value(aa->attrs,
			    j);
			ASN1_TYPE *hv;

			if (OBJ_cmp(X509_ATTRIBUTE_get0_object(at), kh) != 0)
				continue;
			hv = X509_ATTRIBUTE_get0_type(at, 0);
			if (hv == NULL || hv->type != V_ASN1_OCTET_STRING ||
			    hv->value.octet_string->length < 16 ||
			    hv->value.octet_string->length >
			    (int)sizeof(a->key_hash)) {
				r = ca_err_set(err, CA_ERR_INVALID, "archival "
				    "request: the encrypted key hash is not "
				    "a hash value");
				goto out;
			}
			memcpy(a->key_hash, hv->value.octet_string->data,
			    (size_t)hv->value.octet_string->length);
			a->key_hash_len =
			    (size_t)hv->value.octet_string->length;
			r = 0;
			goto out;
		}
	}
	r = ca_err_set(err, CA_ERR_INVALID, "archival request: the "
	    "encrypted-key-hash control (%s in %s) is missing",
	    OID_MS_ENC_KEY_HASH, OID_MS_CMC_ADD_ATTRS);
 out:
	CMC_ADD_ATTRS_free(aa);
	ASN1_OBJECT_free(add);
	ASN1_OBJECT_free(kh);
	return r;
}

/* The szOID_ARCHIVED_KEY_ATTR unsigned attribute, if any. */
static int
take_envelope(CMS_SignerInfo *si, struct areq *a, struct ca_err *err)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(OID_MS_ARCHIVED_KEY, 1);
	X509_ATTRIBUTE *at;
	ASN1_TYPE *v;
	const unsigned char *p;
	int i, r = CA_ERR_INVALID;

	if (obj == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if ((i = CMS_unsigned_get_attr_by_OBJ(si, obj, -1)) < 0) {
		r = 0;		/* no key to archive */
		goto out;
	}
	if (CMS_unsigned_get_attr_by_OBJ(si, obj, i) >= 0) {
		r = ca_err_set(err, CA_ERR_INVALID, "archival request: more "
		    "than one archived-key attribute");
		goto out;
	}
	at = CMS_unsigned_get_attr(si, i);
	if (X509_ATTRIBUTE_count(at) != 1 ||
	    (v = X509_ATTRIBUTE_get0_type(at, 0)) == NULL ||
	    v->type != V_ASN1_SEQUENCE) {
		r = ca_err_set(err, CA_ERR_INVALID, "archival request: the "
		    "archived-key attribute must hold one ContentInfo");
		goto out;
	}
	a->env_len = (size_t)v->value.sequence->length;
	if ((a->env_der = malloc(a->env_len)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(a->env_der, v->value.sequence->data, a->env_len);
	p = a->env_der;
	if ((a->env = d2i_CMS_ContentInfo(NULL, &p, (long)a->env_len)) ==
	    NULL || p != a->env_der + a->env_len ||
	    OBJ_obj2nid(CMS_get0_type(a->env)) != NID_pkcs7_enveloped) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "archival request: the "
		    "archived key is not a CMS EnvelopedData");
		goto out;
	}
	r = 0;
 out:
	ASN1_OBJECT_free(obj);
	return r;
}

int
areq_parse_cmc(const unsigned char *buf, size_t len, struct areq **ap,
    struct ca_err *err)
{
	struct areq *a = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t derlen = 0;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(CMS_SignerInfo) *sis;
	CMS_SignerInfo *si;
	ASN1_OCTET_STRING **content;
	CMC_PKIDATA *pd = NULL;
	CMC_TAGGED_REQ *tr;
	X509_ALGOR *dig = NULL;
	ASN1_OBJECT *pkidata = NULL;
	int r;

	*ap = NULL;
	if ((r = decode_input(buf, len, "CMC request", &der, &derlen,
	    err)) != 0)
		goto out;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	a->form = AREQ_FORM_CMC;
	p = der;
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)derlen)) == NULL ||
	    p != der + derlen) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "CMC request: not a DER "
		    "CMS ContentInfo");
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		r = ca_err_set(err, CA_ERR_INVALID, "CMC request: not a CMS "
		    "SignedData");
		goto out;
	}
	if ((pkidata = OBJ_txt2obj(OID_CCT_PKIDATA, 1)) == NULL ||
	    OBJ_cmp(CMS_get0_eContentType(cms), pkidata) != 0) {
		r = ca_err_set(err, CA_ERR_INVALID, "CMC request: the "
		    "content is not id-cct-PKIData (%s)", OID_CCT_PKIDATA);
		goto out;
	}
	if ((content = CMS_get0_content(cms)) == NULL || *content == NULL) {
		r = ca_err_set(err, CA_ERR_INVALID, "CMC request: detached "
		    "content is not supported");
		goto out;
	}
	p = (*content)->data;
	if ((pd = d2i_CMC_PKIDATA(NULL, &p, (*content)->length)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "CMC request: malformed "
		    "PKIData");
		goto out;
	}
	if (sk_CMC_TAGGED_REQ_num(pd->reqs) != 1 ||
	    (tr = sk_CMC_TAGGED_REQ_value(pd->reqs, 0))->type != CMC_TR_TCR) {
		r = ca_err_set(err, CA_ERR_INVALID, "CMC request: exactly one "
		    "PKCS#10 request (TaggedCertificationRequest) is "
		    "supported");
		goto out;
	}
	/* Taken, not copied: a copy decodes the key again (OpenSSL 3.0). */
	a->csr = tr->d.tcr->req;
	tr->d.tcr->req = NULL;
	a->body_part_id = ASN1_INTEGER_get(tr->d.tcr->body_part_id);
	sis = CMS_get0_SignerInfos(cms);
	if (sk_CMS_SignerInfo_num(sis) != 1) {
		r = ca_err_set(err, CA_ERR_INVALID, "CMC request: exactly one "
		    "signer is expected (the request's own key)");
		goto out;
	}
	si = sk_CMS_SignerInfo_value(sis, 0);
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
	if (dig == NULL || (a->md = EVP_get_digestbyobj(dig->algorithm)) ==
	    NULL) {
		r = ca_err_set(err, CA_ERR_INVALID, "CMC request: unknown "
		    "digest algorithm");
		goto out;
	}
	if ((r = check_signer(si, a->csr, a->md, *content, err)) != 0)
		goto out;
	if ((r = take_envelope(si, a, err)) != 0)
		goto out;
	if (a->env != NULL && (r = find_key_hash(pd, a, err)) != 0)
		goto out;
	*ap = a;
	a = NULL;
	r = 0;
 out:
	ASN1_OBJECT_free(pkidata);
	CMC_PKIDATA_free(pd);
	CMS_ContentInfo_free(cms);
	free(der);
	areq_free(a);
	return r;
}

int
areq_parse_simple(X509_REQ *csr, const unsigned char *env, size_t len,
    struct areq **ap, struct ca_err *err)
{
	struct areq *a = NULL;
	const unsigned char *p;
	int r;

	*ap = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	a->form = AREQ_FORM_SIMPLE;
	if ((a->csr = X509_REQ_dup(csr)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (env == NULL) {
		*ap = a;	/* a plain request: nothing to archive */
		return 0;
	}
	if ((r = decode_input(env, len, "encrypted key", &a->env_der,
	    &a->env_len, err)) != 0)
		goto out;
	p = a->env_der;
	if ((a->env = d2i_CMS_ContentInfo(NULL, &p, (long)a->env_len)) ==
	    NULL || p != a->env_der + a->env_len ||
	    OBJ_obj2nid(CMS_get0_type(a->env)) != NID_pkcs7_enveloped) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "encrypted key: not a CMS "
		    "EnvelopedData (make it with openssl cms -encrypt -recip "
		    "XCHG.pem -binary -outform DER)");
		goto out;
	}
	*ap = a;
	a = NULL;
	r = 0;
 out:
	areq_free(a);
	return r;
}

/* CMC carries a Microsoft key BLOB; the simple form PKCS#8 (DER or PEM). */
static int
parse_key(const struct areq *a, const unsigned char *buf, size_t len,
    EVP_PKEY **keyp, struct ca_err *err)
{
	const unsigned char *p = buf;
	BIO *b;

	*keyp = NULL;
	if (a->form == AREQ_FORM_CMC)
		return msblob_to_pkey_of(buf, len, X509_REQ_get0_pubkey(a->csr),
		    keyp, err);
	if (len > 0 && buf[0] == 0x30)
		*keyp = d2i_AutoPrivateKey(NULL, &p, (long)len);
	else if ((b = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		*keyp = PEM_read_bio_PrivateKey(b, NULL, NULL, "");
		BIO_free(b);
	}
	if (*keyp == NULL)
		return ca_err_ssl(err, CA_ERR_INVALID, "the archived key is "
		    "not an unencrypted PKCS#8 private key");
	return 0;
}

int
areq_open(struct ca *ca, const struct areq *a, int64_t now, EVP_PKEY **keyp,
    struct ca_err *err)
{
	STACK_OF(CMS_RecipientInfo) *ris;
	CMS_RecipientInfo *ri;
	X509_NAME *issuer = NULL;
	ASN1_INTEGER *sno = NULL;
	X509 *xcert = NULL;
	EVP_PKEY *xkey = NULL, *key = NULL;
	BIO *out = NULL;
	unsigned char md[EVP_MAX_MD_SIZE], *plain;
	unsigned int mdlen = 0;
	long plen;
	int r, i, ok;

	*keyp = NULL;
	if (a->env == NULL)
		return ca_err_set(err, CA_ERR_INVALID, "the request carries "
		    "no encrypted private key");
	ris = CMS_get0_RecipientInfos(a->env);
	for (i = 0, r = CA_ERR_INVALID; i < sk_CMS_RecipientInfo_num(ris);
	    i++) {
		ri = sk_CMS_RecipientInfo_value(ris, i);
		if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS ||
		    !CMS_RecipientInfo_ktri_get0_signer_id(ri, NULL, &issuer,
		    &sno) || issuer == NULL || sno == NULL)
			continue;
		ca_err_clear(err);
		if ((r = xchg_find(ca, issuer, sno, now, &xcert, &xkey,
		    err)) == 0)
			break;
	}
	if (r != 0) {
		if (err->count == 0)
			ca_err_set(err, r, "the encrypted key names no "
			    "exchange certificate by issuer and serial");
		goto out;
	}
	/* The hash binds the envelope to the signed request. */
	if (a->form == AREQ_FORM_CMC) {
		ok = 0;
		if (EVP_Digest(a->env_der, a->env_len, md, &mdlen, a->md,
		    NULL) == 1 && mdlen == a->key_hash_len &&
		    CRYPTO_memcmp(md, a->key_hash, mdlen) == 0)
			ok = 1;
		else if (EVP_Digest(a->env_der, a->env_len, md, &mdlen,
		    EVP_sha1(), NULL) == 1 && mdlen == a->key_hash_len &&
		    CRYPTO_memcmp(md, a->key_hash, mdlen) == 0)
			ok = 1;
		if (!ok) {
			r = ca_err_set(err, CA_ERR_INVALID, "the encrypted "
			    "key hash in the request does not match the "
			    "archived key (the request was altered)");
			goto out;
		}
	}
	if ((out = BIO_new(BIO_s_secmem())) == NULL) {
		r = ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* The envelope is the client's: one that does not open is input. */
	if (CMS_decrypt(a->env, xkey, xcert, NULL, out, CMS_BINARY) != 1) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "the archived key cannot "
		    "be decrypted with the exchange key it names (encrypt it "
		    "to the current exchange certificate, GET /ca/exchange)");
		goto out;
	}
	EVP_PKEY_free(xkey);
	xkey = NULL;
	plen = BIO_get_mem_data(out, &plain);
	if ((r = parse_key(a, plain, (size_t)plen, &key, err)) != 0)
		goto out;
	if (EVP_PKEY_eq(X509_REQ_get0_pubkey(a->csr), key) != 1) {
		ERR_clear_error();
		r = ca_err_set(err, CA_ERR_INVALID, "the archived private key "
		    "does not belong to the request's public key");
		goto out;
	}
	/* A key BLOB has been checked whole; PKCS#8 only here. */
	if (a->form != AREQ_FORM_CMC && !kp_pair_ok(key)) {
		r = ca_err_set(err, CA_ERR_INVALID, "the archived private key "
		    "is inconsistent: its private values do not work with "
		    "the request's public key (export the key again)");
		goto out;
	}
	*keyp = key;
	key = NULL;
	r = 0;
 out:
	BIO_free(out);	/* secure memory: cleansed on free */
	EVP_PKEY_free(key);
	EVP_PKEY_free(xkey);
	X509_free(xcert);
	return r;
}

void
areq_free(struct areq *a)
{
	if (a == NULL)
		return;
	X509_REQ_free(a->csr);
	CMS_ContentInfo_free(a->env);
	free(a->env_der);
	free(a);
}
