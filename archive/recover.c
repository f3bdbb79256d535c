/*
 * Recovery: an officer opens a record of a parsed blob (blob.c) with a
 * KRA key, alone (quorum 1) or as one share of m of n, and the shares are
 * combined into the key. Each record's escrow is bound to its
 * certificate: a key must be the private half of the certificate's public
 * key, and a share carries the certificate's SHA-256 beside x and y.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "archive/escrow.h"
#include "archive/rcv_int.h"
#include "archive/recover.h"
#include "archive/shamir.h"
#include "ca/err.h"
#include "ca/util.h"

#define RCV_WHO_MAX	1024		/* recipient list in messages */

static const struct rcv_rec *rec_at(const struct rcv_blob *, size_t,
    struct ca_err *);
static int kra_pair(EVP_PKEY *, X509 *, struct ca_err *);
static void recipients(CMS_ContentInfo *, char *, size_t);
static int key_from_p8(BIO *, const struct rcv_rec *, size_t, EVP_PKEY **,
    struct ca_err *);

static const struct rcv_rec *
rec_at(const struct rcv_blob *b, size_t i, struct ca_err *err)
{
	if (b == NULL || i >= b->n) {
		ca_err_set(err, CA_ERR_INVALID, "recovery blob: no record %zu "
		    "(it holds %zu)", i + 1, b != NULL ? b->n : 0);
		return NULL;
	}
	return &b->recs[i];
}

static int
kra_pair(EVP_PKEY *kra_key, X509 *kra_cert, struct ca_err *err)
{
	char *subj;
	int r = 0;

	if (X509_check_private_key(kra_cert, kra_key) != 1) {
		subj = util_name_oneline(X509_get_subject_name(kra_cert));
		r = ca_err_ssl(err, CA_ERR_AUTH, "the KRA key does not belong "
		    "to the KRA certificate %s", subj != NULL ? subj : "?");
		free(subj);
	}
	return r;
}

/* "serial S (issuer I), ..." of an EnvelopedData's recipients. */
static void
recipients(CMS_ContentInfo *cms, char *buf, size_t len)
{
	STACK_OF(CMS_RecipientInfo) *ris;
	CMS_RecipientInfo *ri;
	ASN1_OCTET_STRING *keyid;
	X509_NAME *issuer;
	ASN1_INTEGER *sno;
	char serial[65], *name;
	size_t used;
	int i;

	buf[0] = '\0';
	if ((ris = CMS_get0_RecipientInfos(cms)) == NULL)
		return;
	for (i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
		ri = sk_CMS_RecipientInfo_value(ris, i);
		used = strlen(buf);
		if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS ||
		    CMS_RecipientInfo_ktri_get0_signer_id(ri, &keyid, &issuer,
		    &sno) != 1 || issuer == NULL || sno == NULL ||
		    util_serial_hex(sno, serial) != 0) {
			snprintf(buf + used, len - used, "%s(a recipient not "
			    "named by issuer and serial)", i ? ", " : "");
			continue;
		}
		name = util_name_oneline(issuer);
		snprintf(buf + used, len - used, "%sserial %s (issuer %s)",
		    i ? ", " : "", serial, name != NULL ? name : "?");
		free(name);
	}
}

/* The decrypted PKCS#8 in out as a key; it must fit the certificate. */
static int
key_from_p8(BIO *out, const struct rcv_rec *rec, size_t i, EVP_PKEY **keyp,
    struct ca_err *err)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *key = NULL;
	const unsigned char *p;
	char *data;
	long len;
	int r;

	*keyp = NULL;
	len = BIO_get_mem_data(out, &data);
	p = (const unsigned char *)data;
	if (len <= 0 || (p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len)) ==
	    NULL || p != (const unsigned char *)data + len ||
	    (key = EVP_PKCS82PKEY(p8)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "record %zu (certificate "
		    "%s): the decrypted content is not a PKCS#8 private key",
		    i + 1, rec->serial);
		goto out;
	}
	if (X509_check_private_key(rec->asn->cert, key) != 1) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "recovered key does not "
		    "match certificate %s (record %zu)", rec->serial, i + 1);
		goto out;
	}
	*keyp = key;
	key = NULL;
	r = 0;
 out:
	EVP_PKEY_free(key);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return r;
}

int
rcv_open_key(const struct rcv_blob *b, size_t i, EVP_PKEY *kra_key,
    X509 *kra_cert, EVP_PKEY **keyp, struct ca_err *err)
{
	const struct rcv_rec *rec;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(CMS_RecipientInfo) *ris;
	BIO *out = NULL;
	char who[RCV_WHO_MAX];
	int j, mine = 0, r;

	*keyp = NULL;
	if ((rec = rec_at(b, i, err)) == NULL) {
		r = CA_ERR_INVALID;
		goto out;
	}
	if (rec->quorum > 1) {
		r = ca_err_set(err, CA_ERR_POLICY, "record %zu (certificate "
		    "%s) needs %d recovery officers: each opens a share "
		    "(smimeca recover open --share-out), then smimeca recover "
		    "combine rebuilds the key", i + 1, rec->serial,
		    rec->quorum);
		goto out;
	}
	if ((r = kra_pair(kra_key, kra_cert, err)) != 0)
		goto out;
	if ((cms = rcv_any_cms(rec->asn->key_envelope)) == NULL ||
	    (ris = CMS_get0_RecipientInfos(cms)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "record %zu: the key "
		    "envelope does not parse", i + 1);
		goto out;
	}
	for (j = 0; j < sk_CMS_RecipientInfo_num(ris); j++) {
		CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, j);

		if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS &&
		    CMS_RecipientInfo_ktri_cert_cmp(ri, kra_cert) == 0)
			mine = 1;
	}
	if (!mine) {
		recipients(cms, who, sizeof(who));
		r = ca_err_set(err, CA_ERR_AUTH, "this KRA key is not a "
		    "recipient of record %zu (certificate %s); it was wrapped "
		    "to: %s", i + 1, rec->serial, who);
		goto out;
	}
	if ((out = BIO_new(BIO_s_mem())) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (CMS_decrypt(cms, kra_key, kra_cert, NULL, out, CMS_BINARY) != 1) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "record %zu (certificate "
		    "%s): decrypting with the KRA key failed", i + 1,
		    rec->serial);
		goto out;
	}
	r = key_from_p8(out, rec, i, keyp, err);
 out:
	BIO_free(out);		/* a memory BIO wipes its buffer */
	CMS_ContentInfo_free(cms);
	return r;
}

int
rcv_open_share(const struct rcv_blob *b, size_t i, EVP_PKEY *kra_key,
    X509 *kra_cert, struct shamir_share *share, struct ca_err *err)
{
	const struct rcv_rec *rec;
	RCV_SHARE *rs = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *out = NULL;
	unsigned char *der = NULL, md[32];
	char *data, who[RCV_WHO_MAX], hex[65];
	long len;
	int dlen, j, x, r;
	size_t used;

	share->x = 0;
	share->y = NULL;
	share->len = 0;
	who[0] = '\0';
	if ((rec = rec_at(b, i, err)) == NULL) {
		r = CA_ERR_INVALID;
		goto out;
	}
	if (rec->quorum <= 1) {
		r = ca_err_set(err, CA_ERR_POLICY, "record %zu (certificate "
		    "%s) has no shares: any one of its KRAs opens it "
		    "(smimeca recover open --out)", i + 1, rec->serial);
		goto out;
	}
	if ((r = kra_pair(kra_key, kra_cert, err)) != 0)
		goto out;
	if ((dlen = i2d_X509(kra_cert, &der)) <= 0 ||
	    EVP_Digest(der, (size_t)dlen, md, NULL, EVP_sha256(), NULL) != 1) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "fingerprint of the KRA "
		    "certificate");
		goto out;
	}
	for (j = 0; j < rec->nshares; j++) {
		RCV_SHARE *s = sk_RCV_SHARE_value(rec->asn->shares, j);

		if (CRYPTO_memcmp(ASN1_STRING_get0_data(s->kra_sha256), md,
		    sizeof(md)) == 0) {
			rs = s;
			break;
		}
		used = strlen(who);
		util_hex(ASN1_STRING_get0_data(s->kra_sha256), 32, hex);
		snprintf(who + used, sizeof(who) - used, "%s%s",
		    j ? ", " : "", hex);
	}
	if (rs == NULL) {
		r = ca_err_set(err, CA_ERR_AUTH, "this KRA holds no share of "
		    "record %zu (certificate %s); its shares are held by the "
		    "KRA certificates with SHA-256 %s", i + 1, rec->serial,
		    who);
		goto out;
	}
	if ((cms = rcv_any_cms(rs->envelope)) == NULL ||
	    (out = BIO_new(BIO_s_mem())) == NULL ||
	    CMS_decrypt(cms, kra_key, kra_cert, NULL, out, CMS_BINARY) != 1) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "record %zu (certificate "
		    "%s): decrypting this KRA's share failed", i + 1,
		    rec->serial);
		goto out;
	}
	len = BIO_get_mem_data(out, &data);
	/* x || y || certificate SHA-256 (escrow.h), and x as the blob says. */
	if ((len != ESC_SHARE_LEN && len != ESC_SHARE_LEN_UNBOUND) ||
	    rcv_int_in(rs->x, 1, SHAMIR_MAX_SHARES, &x) != 0 ||
	    (unsigned char)data[0] != x) {
		r = ca_err_set(err, CA_ERR_CRYPTO, "record %zu (certificate "
		    "%s): the decrypted share is malformed", i + 1,
		    rec->serial);
		goto out;
	}
	if (len == ESC_SHARE_LEN && CRYPTO_memcmp(data + 1 + RCV_KEYLEN,
	    rec->md, sizeof(rec->md)) != 0) {
		util_hex((const unsigned char *)data + 1 + RCV_KEYLEN, 32, hex);
		r = ca_err_set(err, CA_ERR_AUTH, "record %zu (certificate %s): "
		    "this share was sealed for another certificate (SHA-256 "
		    "%s), not for this record's (SHA-256 %s): the blob was "
		    "put together from other records; refusing it", i + 1,
		    rec->serial, hex, rec->sha256);
		goto out;
	}
	if ((share->y = OPENSSL_malloc(RCV_KEYLEN)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(share->y, data + 1, RCV_KEYLEN);
	share->len = RCV_KEYLEN;
	share->x = (uint8_t)x;
	r = 0;
 out:
	BIO_free(out);		/* a memory BIO wipes its buffer */
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	return r;
}


int
rcv_combine(const struct rcv_blob *b, size_t i,
    const struct shamir_share *shares, unsigned k, EVP_PKEY **keyp,
    struct ca_err *err)
{
	const struct rcv_rec *rec;
	struct shamir_share *uniq = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *out = NULL;
	unsigned char key[RCV_KEYLEN];
	unsigned j, l, n = 0;
	int r;

	*keyp = NULL;
	if ((rec = rec_at(b, i, err)) == NULL) {
		r = CA_ERR_INVALID;
		goto out;
	}
	if (rec->quorum <= 1) {
		r = ca_err_set(err, CA_ERR_POLICY, "record %zu (certificate "
		    "%s) has no shares: any one of its KRAs opens it "
		    "(smimeca recover open --out)", i + 1, rec->serial);
		goto out;
	}
	if (k > 0 && (uniq = calloc(k, sizeof(*uniq))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* The same share given twice counts once. */
	for (j = 0; j < k; j++) {
		if (shares[j].y == NULL || shares[j].len != RCV_KEYLEN ||
		    !rcv_rec_has_x(rec, shares[j].x)) {
			r = ca_err_set(err, CA_ERR_INVALID, "record %zu "
			    "(certificate %s): share x=%u is not one of its "
			    "shares", i + 1, rec->serial, shares[j].x);
			goto out;
		}
		for (l = 0; l < n; l++)
			if (uniq[l].x == shares[j].x)
				break;
		if (l < n && CRYPTO_memcmp(uniq[l].y, shares[j].y,
		    RCV_KEYLEN) != 0) {
			r = ca_err_set(err, CA_ERR_INVALID, "record %zu "
			    "(certificate %s): two different shares with "
			    "x=%u", i + 1, rec->serial, shares[j].x);
			goto out;
		}
		if (l == n)
			uniq[n++] = shares[j];		/* borrowed */
	}
	if (n < (unsigned)rec->quorum) {
		r = ca_err_set(err, CA_ERR_POLICY, "record %zu (certificate "
		    "%s) needs %d shares, got %u", i + 1, rec->serial,
		    rec->quorum, n);
		goto out;
	}
	if (shamir_combine(uniq, n, key, sizeof(key)) != 0) {
		r = ca_err_set(err, CA_ERR_INTERNAL, "record %zu: combining "
		    "the shares", i + 1);
		goto out;
	}
	if ((cms = rcv_any_cms(rec->asn->key_envelope)) == NULL ||
	    (out = BIO_new(BIO_s_mem())) == NULL) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "record %zu: the key "
		    "envelope does not parse", i + 1);
		goto out;
	}
	if (CMS_EncryptedData_decrypt(cms, key, sizeof(key), NULL, out,
	    CMS_BINARY) != 1 ||
	    key_from_p8(out, rec, i, keyp, NULL) != 0) {
		ERR_clear_error();
		r = ca_err_set(err, CA_ERR_AUTH, "the shares do not rebuild "
		    "the key of record %zu (certificate %s): a share is wrong "
		    "or was opened from another blob", i + 1, rec->serial);
		goto out;
	}
	r = 0;
 out:
	OPENSSL_cleanse(key, sizeof(key));
	free(uniq);
	BIO_free(out);		/* a memory BIO wipes its buffer */
	CMS_ContentInfo_free(cms);
	return r;
}
