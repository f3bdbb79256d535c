/* CMC full PKI responses (RFC 5272 3.2.3) as AD CS returns them. */
#include "ac-config.h"

#include <string.h>

#include <openssl/cms.h>
#include <openssl/evp.h>

#include "archive/cmc_asn1.h"
#include "archive/cmcresp.h"
#include "ca/ca.h"
#include "ca/err.h"

static int tagged_attr(STACK_OF(CMC_TAGGED_ATTR) *, long, const char *,
    ASN1_STRING *);
static int octet_attr(STACK_OF(X509_ATTRIBUTE) *, const char *,
    const unsigned char *, size_t);

/* Appends { bodyPartID, type, { SEQUENCE value } }; value is copied. */
static int
tagged_attr(STACK_OF(CMC_TAGGED_ATTR) *sk, long id, const char *oid,
    ASN1_STRING *seq)
{
	CMC_TAGGED_ATTR *ta;
	ASN1_TYPE *t = NULL;
	ASN1_STRING *copy = NULL;

	if ((ta = CMC_TAGGED_ATTR_new()) == NULL)
		return -1;
	if (!ASN1_INTEGER_set(ta->body_part_id, id) ||
	    (ASN1_OBJECT_free(ta->type),
	    ta->type = OBJ_txt2obj(oid, 1)) == NULL ||
	    (ta->values == NULL &&
	    (ta->values = sk_ASN1_TYPE_new_null()) == NULL) ||
	    (t = ASN1_TYPE_new()) == NULL ||
	    (copy = ASN1_STRING_dup(seq)) == NULL)
		goto fail;
	ASN1_TYPE_set(t, V_ASN1_SEQUENCE, copy);
	copy = NULL;
	if (!sk_ASN1_TYPE_push(ta->values, t))
		goto fail;
	t = NULL;
	if (!sk_CMC_TAGGED_ATTR_push(sk, ta))
		goto fail;
	return 0;
 fail:
	ASN1_STRING_free(copy);
	ASN1_TYPE_free(t);
	CMC_TAGGED_ATTR_free(ta);
	return -1;
}

static int
octet_attr(STACK_OF(X509_ATTRIBUTE) *sk, const char *oid,
    const unsigned char *v, size_t len)
{
	X509_ATTRIBUTE *a = NULL;
	ASN1_OBJECT *obj;

	if ((obj = OBJ_txt2obj(oid, 1)) == NULL)
		return -1;
	a = X509_ATTRIBUTE_create_by_OBJ(NULL, obj, V_ASN1_OCTET_STRING, v,
	    (int)len);
	ASN1_OBJECT_free(obj);
	if (a == NULL || !sk_X509_ATTRIBUTE_push(sk, a)) {
		X509_ATTRIBUTE_free(a);
		return -1;
	}
	return 0;
}

int
cmc_response(struct ca *ca, long body_part_id, X509 *issued,
    const unsigned char *key_hash, size_t key_hash_len,
    unsigned char **derp, size_t *lenp, struct ca_err *err)
{
	CMC_PKIRESPONSE *resp = NULL;
	CMC_STATUS_INFO *si = NULL;
	CMC_ADD_ATTRS *aa = NULL;
	ASN1_INTEGER *bp = NULL;
	ASN1_STRING *seq = NULL;
	STACK_OF(X509) *certs = NULL;
	CMS_ContentInfo *cms = NULL;
	ASN1_OBJECT *ctype = NULL;
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL, *body = NULL;
	unsigned int mdlen;
	BIO *in = NULL;
	int len, bodylen, r = CA_ERR_CRYPTO, i;

	*derp = NULL;
	*lenp = 0;
	if ((resp = CMC_PKIRESPONSE_new()) == NULL ||
	    (si = CMC_STATUS_INFO_new()) == NULL ||
	    (aa = CMC_ADD_ATTRS_new()) == NULL ||
	    (bp = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set(bp, body_part_id) ||
	    !ASN1_INTEGER_set(si->status, CMC_STATUS_SUCCESS) ||
	    !sk_ASN1_INTEGER_push(si->body_list, bp))
		goto out;
	bp = NULL;
	/* CmcAddAttributes: pkiDataReference 0, certReferences { id }. */
	if ((bp = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set(bp, body_part_id) ||
	    !ASN1_INTEGER_set(aa->data_ref, 0) ||
	    !sk_ASN1_INTEGER_push(aa->cert_refs, bp))
		goto out;
	bp = NULL;
	if (!X509_digest(issued, EVP_sha1(), md, &mdlen) ||
	    octet_attr(aa->attrs, OID_MS_ISSUED_CERT_HASH, md, mdlen) != 0 ||
	    (key_hash != NULL && octet_attr(aa->attrs, OID_MS_ENC_KEY_HASH,
	    key_hash, key_hash_len) != 0))
		goto out;
	if ((seq = ASN1_item_pack(si, ASN1_ITEM_rptr(CMC_STATUS_INFO),
	    NULL)) == NULL ||
	    tagged_attr(resp->controls, 1, OID_CMC_STATUS_INFO, seq) != 0)
		goto out;
	ASN1_STRING_free(seq);
	if ((seq = ASN1_item_pack(aa, ASN1_ITEM_rptr(CMC_ADD_ATTRS),
	    NULL)) == NULL ||
	    tagged_attr(resp->controls, 2, OID_MS_CMC_ADD_ATTRS, seq) != 0)
		goto out;
	if ((bodylen = i2d_CMC_PKIRESPONSE(resp, &body)) <= 0)
		goto out;

	if ((certs = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(certs, issued))
		goto out;
	/* The signer (the issuing CA) is added by CMS_sign itself. */
	for (i = 0; i < sk_X509_num(ca_chain(ca)); i++)
		if (X509_cmp(sk_X509_value(ca_chain(ca), i), ca_cert(ca)) != 0 &&
		    !sk_X509_push(certs, sk_X509_value(ca_chain(ca), i)))
			goto out;
	if ((in = BIO_new_mem_buf(body, bodylen)) == NULL ||
	    (ctype = OBJ_txt2obj(OID_CCT_PKIRESPONSE, 1)) == NULL ||
	    (cms = CMS_sign(ca_cert(ca), ca_key(ca), certs, NULL,
	    CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP)) == NULL ||
	    !CMS_set1_eContentType(cms, ctype) ||
	    !CMS_final(cms, in, NULL, CMS_BINARY) ||
	    (len = i2d_CMS_ContentInfo(cms, &der)) <= 0)
		goto out;
	*derp = der;
	*lenp = (size_t)len;
	der = NULL;
	r = 0;
 out:
	if (r != 0)
		ca_err_ssl(err, r, "building the CMC response");
	OPENSSL_free(der);
	OPENSSL_free(body);
	BIO_free(in);
	ASN1_OBJECT_free(ctype);
	CMS_ContentInfo_free(cms);
	sk_X509_free(certs);
	ASN1_STRING_free(seq);
	ASN1_INTEGER_free(bp);
	CMC_ADD_ATTRS_free(aa);
	CMC_STATUS_INFO_free(si);
	CMC_PKIRESPONSE_free(resp);
	return r;
}
