/*
 * The requests smimeca-enroll makes, offline and online alike: a PKCS#10
 * request, a key sealed to the CA's exchange certificate, and a CMC full
 * PKI request, plain or in the Windows archival layout.
 */
#include "ac-config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "archive/cmc_asn1.h"
#include "archive/msblob.h"
#include "ca/err.h"
#include "tools/enrollreq.h"

static CMC_TAGGED_ATTR *key_hash_control(const unsigned char *,
    unsigned int);

/* "/CN=Alice/emailAddress=alice@lab.example", as openssl req -subj. */
X509_NAME *
enrq_parse_dn(const char *s)
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

int
enrq_csr(const X509_NAME *name, EVP_PKEY *key, const EVP_MD *md,
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
int
enrq_envelope(X509 *xchg, const unsigned char *plain, size_t len,
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
int
enrq_cmc(X509_REQ *csr, EVP_PKEY *key, const EVP_MD *md, X509 *xchg,
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
	    (r = enrq_envelope(xchg, blob, bloblen, &env, &envlen, err)) != 0))
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
