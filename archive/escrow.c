/* Escrow: private keys stored only as CMS envelopes to KRA certificates. */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "archive/escrow.h"
#include "archive/kra.h"
#include "archive/shamir.h"
#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/util.h"

/* AES-256 content key of m-of-n records. */
#define ESC_KEYLEN	ESC_SHARE_KEYLEN

static int esc_counts(struct ca *, int *, int *, struct ca_err *);
static int too_few(struct ca_err *, int, size_t);
static int pkcs8_der(EVP_PKEY *, unsigned char **, size_t *,
    struct ca_err *);
static int envelope(const unsigned char *, size_t, STACK_OF(X509) *,
    unsigned char **, size_t *, struct ca_err *);
static int encrypted_data(const unsigned char *, size_t,
    const unsigned char *, unsigned char **, size_t *, struct ca_err *);
static int cert_hex(X509 *, char[41], char[65]);
static int kra_names(STACK_OF(X509) *, char **, struct ca_err *);
static int seal_shares(const unsigned char *, X509 *, STACK_OF(X509) *, int,
    struct esc_record *, struct ca_err *);
static void rec_free_sealed(struct esc_record *);
static int insert_record(struct db *, int64_t, int64_t,
    const struct esc_record *, const char *, struct ca_err *);

/* n and m from the configuration, checked; values below 1 mean 1. */
static int
esc_counts(struct ca *ca, int *np, int *mp, struct ca_err *err)
{
	const struct ca_config *cfg = ca_config(ca);
	int n, m;

	n = cfg->escrow_n < 1 ? 1 : cfg->escrow_n;
	m = cfg->escrow_m < 1 ? 1 : cfg->escrow_m;
	*np = n;
	*mp = m;
	if (n > SHAMIR_MAX_SHARES)
		return ca_err_set(err, CA_ERR_CONFIG, "%s: <escrow kra-count="
		    "\"%d\">: at most %d KRAs per key", cfg->path, n,
		    SHAMIR_MAX_SHARES);
	if (m > n)
		return ca_err_set(err, CA_ERR_CONFIG, "%s: <escrow quorum="
		    "\"%d\"> is larger than kra-count=\"%d\": no key could "
		    "ever be recovered; set quorum <= kra-count", cfg->path,
		    m, n);
	return 0;
}

static int
too_few(struct ca_err *err, int n, size_t usable)
{
	return ca_err_set(err, CA_ERR_POLICY, "key archival needs %d usable "
	    "KRA certificate(s) but %zu are registered (register one with "
	    "`smimeca kra add CERT`; expired and retired ones do not count)",
	    n, usable);
}

int
esc_check_ready(struct ca *ca, int64_t now, struct ca_err *err)
{
	STACK_OF(X509) *usable = NULL;
	int n, m, r;

	if ((r = esc_counts(ca, &n, &m, err)) != 0 ||
	    (r = kra_usable(ca_db(ca), now, &usable, err)) != 0)
		goto out;
	if (sk_X509_num(usable) < n) {
		r = too_few(err, n, (size_t)sk_X509_num(usable));
		goto out;
	}
	r = 0;
 out:
	sk_X509_pop_free(usable, X509_free);
	return r;
}

/* The PKCS#8 PrivateKeyInfo DER; the caller wipes it. */
static int
pkcs8_der(EVP_PKEY *key, unsigned char **derp, size_t *lenp,
    struct ca_err *err)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	int len, r = CA_ERR_CRYPTO;

	*derp = NULL;
	*lenp = 0;
	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL ||
	    (len = i2d_PKCS8_PRIV_KEY_INFO(p8, derp)) <= 0) {
		*derp = NULL;
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "escrow: encoding the "
		    "private key as PKCS#8");
		goto out;
	}
	*lenp = (size_t)len;
	r = 0;
 out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	return r;
}

/*
 * CMS EnvelopedData of plain to every certificate in recips: AES-256-CBC,
 * RSA-OAEP with SHA-256 and MGF1-SHA-256 (PROTOCOLS.md section 3).
 */
static int
envelope(const unsigned char *plain, size_t len, STACK_OF(X509) *recips,
    unsigned char **derp, size_t *lenp, struct ca_err *err)
{
	CMS_ContentInfo *cms = NULL;
	CMS_RecipientInfo *ri;
	EVP_PKEY_CTX *pctx;
	BIO *in = NULL;
	unsigned char *der = NULL;
	int i, dlen, r = CA_ERR_CRYPTO;

	*derp = NULL;
	*lenp = 0;
	if (len > INT32_MAX ||
	    (in = BIO_new_mem_buf(plain, (int)len)) == NULL ||
	    (cms = CMS_encrypt(NULL, NULL, EVP_aes_256_cbc(),
	    CMS_PARTIAL | CMS_BINARY)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "escrow: starting a CMS "
		    "envelope");
		goto out;
	}
	for (i = 0; i < sk_X509_num(recips); i++) {
		if ((ri = CMS_add1_recipient_cert(cms,
		    sk_X509_value(recips, i), CMS_KEY_PARAM)) == NULL ||
		    (pctx = CMS_RecipientInfo_get0_pkey_ctx(ri)) == NULL ||
		    EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_OAEP_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0) {
			r = ca_err_ssl(err, CA_ERR_CRYPTO, "escrow: adding KRA "
			    "%d as an RSA-OAEP recipient", i + 1);
			goto out;
		}
	}
	if (CMS_final(cms, in, NULL, CMS_BINARY) != 1 ||
	    (dlen = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
		der = NULL;
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "escrow: encrypting to the "
		    "KRA certificates");
		goto out;
	}
	*derp = der;
	*lenp = (size_t)dlen;
	der = NULL;
	r = 0;
 out:
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return r;
}

/* CMS EncryptedData of plain under the AES-256 key k. */
static int
encrypted_data(const unsigned char *plain, size_t len,
    const unsigned char *k, unsigned char **derp, size_t *lenp,
    struct ca_err *err)
{
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	unsigned char *der = NULL;
	int dlen, r = CA_ERR_CRYPTO;

	*derp = NULL;
	*lenp = 0;
	if (len > INT32_MAX ||
	    (in = BIO_new_mem_buf(plain, (int)len)) == NULL ||
	    (cms = CMS_EncryptedData_encrypt(in, EVP_aes_256_cbc(), k,
	    ESC_KEYLEN, CMS_BINARY)) == NULL ||
	    (dlen = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
		der = NULL;
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "escrow: encrypting the "
		    "key under the shared content key");
		goto out;
	}
	*derp = der;
	*lenp = (size_t)dlen;
	der = NULL;
	r = 0;
 out:
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return r;
}

/* SHA-1 and SHA-256 fingerprints of a certificate's DER. */
static int
cert_hex(X509 *cert, char sha1[41], char sha256[65])
{
	unsigned char *der = NULL;
	int len;

	sha1[0] = sha256[0] = '\0';
	if ((len = i2d_X509(cert, &der)) <= 0)
		return -1;
	util_sha1_hex(der, (size_t)len, sha1);
	util_sha256_hex(der, (size_t)len, sha256);
	OPENSSL_free(der);
	return sha1[0] == '\0' || sha256[0] == '\0' ? -1 : 0;
}

/* "sha1,sha1,..." of the KRAs, as escrow.kras stores it. */
static int
kra_names(STACK_OF(X509) *kras, char **namesp, struct ca_err *err)
{
	char sha1[41], sha256[65], *s = NULL;
	size_t n = (size_t)sk_X509_num(kras), i;
	int r;

	*namesp = NULL;
	if ((s = calloc(n, 41)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (cert_hex(sk_X509_value(kras, (int)i), sha1, sha256) != 0) {
			r = ca_err_ssl(err, CA_ERR_CRYPTO, "escrow: "
			    "fingerprint of KRA %zu", i + 1);
			goto out;
		}
		if (i > 0)
			strcat(s, ",");
		strcat(s, sha1);
	}
	*namesp = s;
	s = NULL;
	r = 0;
 out:
	free(s);
	return r;
}

/* Splits k into one share per KRA, each enveloped to its KRA alone. */
static int
seal_shares(const unsigned char *k, X509 *cert, STACK_OF(X509) *kras,
    int quorum, struct esc_record *rec, struct ca_err *err)
{
	struct shamir_share *sh = NULL;
	STACK_OF(X509) *one = NULL;
	unsigned char plain[ESC_SHARE_LEN];
	char sha1[41];
	unsigned n = (unsigned)sk_X509_num(kras), j, mdlen = 0;
	int r;

	/* The record's certificate rides in every share (escrow.h). */
	if (X509_digest(cert, EVP_sha256(), plain + 1 + ESC_KEYLEN,
	    &mdlen) != 1 || mdlen != 32) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "escrow: fingerprint of the "
		    "certificate");
		goto out;
	}
	if ((sh = calloc(n, sizeof(*sh))) == NULL ||
	    (rec->shares = calloc(n, sizeof(*rec->shares))) == NULL ||
	    (one = sk_X509_new_null()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (shamir_split(k, ESC_KEYLEN, (unsigned)quorum, n, sh) != 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "escrow: splitting the "
		    "content key %d of %u", quorum, n);
		goto out;
	}
	for (j = 0; j < n; j++) {
		struct esc_share *es = &rec->shares[j];

		plain[0] = sh[j].x;
		memcpy(plain + 1, sh[j].y, ESC_KEYLEN);
		es->x = sh[j].x;
		if (cert_hex(sk_X509_value(kras, (int)j), sha1,
		    es->kra_sha256) != 0) {
			r = ca_err_ssl(err, CA_ERR_CRYPTO, "escrow: "
			    "fingerprint of KRA %u", j + 1);
			goto out;
		}
		sk_X509_zero(one);
		if (!sk_X509_push(one, sk_X509_value(kras, (int)j))) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((r = envelope(plain, sizeof(plain), one, &es->env,
		    &es->envlen, err)) != 0)
			goto out;
		rec->nshares++;
	}
	r = 0;
 out:
	OPENSSL_cleanse(plain, sizeof(plain));
	for (j = 0; sh != NULL && j < n; j++)
		shamir_share_clear(&sh[j]);
	free(sh);
	sk_X509_free(one);
	return r;
}

static void
rec_free_sealed(struct esc_record *rec)
{
	size_t i;

	for (i = 0; rec->shares != NULL && i < rec->nshares; i++)
		OPENSSL_free(rec->shares[i].env);
	free(rec->shares);
	rec->shares = NULL;
	rec->nshares = 0;
	OPENSSL_free(rec->env);
	rec->env = NULL;
	rec->envlen = 0;
	free(rec->kras);
	rec->kras = NULL;
}

void
esc_record_clear(struct esc_record *rec)
{
	if (rec == NULL)
		return;
	rec_free_sealed(rec);
	X509_free(rec->cert);
	memset(rec, 0, sizeof(*rec));
}

int
esc_seal(EVP_PKEY *key, STACK_OF(X509) *kras, int quorum,
    struct esc_record *rec, struct ca_err *err)
{
	unsigned char *p8 = NULL, k[ESC_KEYLEN];
	size_t p8len = 0;
	int i, n = sk_X509_num(kras), r;

	rec_free_sealed(rec);
	rec->quorum = quorum;
	if (rec->cert == NULL) {
		r = ca_err_set(err, CA_ERR_INTERNAL, "escrow: sealing a key "
		    "without its certificate");
		goto out;
	}
	if (n < 1 || n > SHAMIR_MAX_SHARES || quorum < 1 || quorum > n) {
		r = ca_err_set(err, CA_ERR_INVALID, "escrow: a quorum of %d "
		    "out of %d KRAs is not possible", quorum, n);
		goto out;
	}
	for (i = 0; i < n; i++) {
		EVP_PKEY *pub = X509_get0_pubkey(sk_X509_value(kras, i));

		if (pub == NULL || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA) {
			r = ca_err_set(err, CA_ERR_POLICY, "escrow: KRA %d has "
			    "no RSA key; keys are wrapped with RSA-OAEP",
			    i + 1);
			goto out;
		}
	}
	if ((r = kra_names(kras, &rec->kras, err)) != 0 ||
	    (r = pkcs8_der(key, &p8, &p8len, err)) != 0)
		goto out;
	if (quorum == 1) {
		/* AD CS's layout: one envelope, one recipient per KRA. */
		r = envelope(p8, p8len, kras, &rec->env, &rec->envlen, err);
		goto out;
	}
	if (RAND_priv_bytes(k, sizeof(k)) != 1) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "escrow: random content "
		    "key");
		goto out;
	}
	if ((r = encrypted_data(p8, p8len, k, &rec->env, &rec->envlen,
	    err)) != 0 ||
	    (r = seal_shares(k, rec->cert, kras, quorum, rec, err)) != 0)
		goto out;
	r = 0;
 out:
	OPENSSL_cleanse(k, sizeof(k));
	if (p8 != NULL)
		OPENSSL_clear_free(p8, p8len);
	if (r != 0)
		rec_free_sealed(rec);
	return r;
}

/* Stores rec as the escrow of certificate row cert_id. */
static int
insert_record(struct db *db, int64_t cert_id, int64_t now,
    const struct esc_record *rec, const char *serial, struct ca_err *err)
{
	struct db_escrow e;
	struct db_escrow_share *shares = NULL;
	size_t j;
	int r;

	memset(&e, 0, sizeof(e));
	e.cert_id = cert_id;
	e.quorum = rec->quorum;
	e.nshares = rec->quorum > 1 ? (int64_t)rec->nshares : 1;
	e.env = rec->env;
	e.envlen = rec->envlen;
	e.kras = rec->kras;
	e.created = now;
	if (rec->nshares > 0 &&
	    (shares = calloc(rec->nshares, sizeof(*shares))) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	/* The envelopes are lent, not copied. */
	for (j = 0; j < rec->nshares; j++) {
		shares[j].x = rec->shares[j].x;
		memcpy(shares[j].kra_sha256, rec->shares[j].kra_sha256,
		    sizeof(shares[j].kra_sha256));
		shares[j].env = rec->shares[j].env;
		shares[j].envlen = rec->shares[j].envlen;
	}
	r = db_escrow_add(db, &e, shares, rec->nshares, serial, err);
	free(shares);
	return r;
}

int
esc_store(struct ca *ca, int64_t cert_id, X509 *cert, EVP_PKEY *key,
    struct ca_err *err)
{
	struct db *db = ca_db(ca);
	struct esc_record rec;
	STACK_OF(X509) *usable = NULL, *chosen = NULL;
	char serial[65], detail[64];
	int64_t now = (int64_t)time(NULL);
	int i, n, m, r;

	memset(&rec, 0, sizeof(rec));
	if (util_serial_hex(X509_get0_serialNumber(cert), serial) != 0)
		snprintf(serial, sizeof(serial), "?");
	if ((r = esc_counts(ca, &n, &m, err)) != 0)
		goto out;
	/* Found at recovery, a key that is not the certificate's is lost. */
	if (X509_check_private_key(cert, key) != 1) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "escrow: the key to escrow "
		    "does not belong to certificate %s", serial);
		goto out;
	}
	if ((r = kra_usable(db, now, &usable, err)) != 0)
		goto out;
	if (sk_X509_num(usable) < n) {
		r = too_few(err, n, (size_t)sk_X509_num(usable));
		goto out;
	}
	if ((chosen = sk_X509_new_null()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!sk_X509_push(chosen, sk_X509_value(usable, i))) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (!X509_up_ref(cert)) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	rec.cert = cert;
	if ((r = esc_seal(key, chosen, m, &rec, err)) != 0 ||
	    (r = insert_record(db, cert_id, now, &rec, serial,
	    err)) != 0)
		goto out;
	snprintf(detail, sizeof(detail), "quorum=%d kras=%d", m, n);
	if ((r = audit_append(db, ca_actor(ca), "escrow", serial, detail,
	    err)) != 0)
		goto out;
	r = 0;
 out:
	esc_record_clear(&rec);
	sk_X509_free(chosen);
	sk_X509_pop_free(usable, X509_free);
	return r;
}
