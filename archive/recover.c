/*
 * Recovery: blobs for officers, opening them with a KRA key, PKCS#12.
 *
 * A recovery blob is a CMS SignedData by the CA (content type id-data)
 * whose content is
 *	SmimecaRecoveryBlob ::= SEQUENCE {
 *		version	INTEGER (1),
 *		records	SEQUENCE OF EscrowRecord }
 *	EscrowRecord ::= SEQUENCE {
 *		certificate	Certificate,
 *		quorum		INTEGER,	-- 1 = any one KRA
 *		keyEnvelope	ANY,		-- ContentInfo as stored
 *		shares		SEQUENCE OF ShareEnvelope }
 *	ShareEnvelope ::= SEQUENCE {
 *		x		INTEGER,	-- 1..255
 *		kraSha256	OCTET STRING,	-- SHA-256 of the KRA cert
 *		envelope	ANY }		-- EnvelopedData, see escrow.h
 * and whose certificates are the CA chain.
 *
 * An officer trusts a blob for what the CA vouches: its one signer must
 * hold the public key of the CA certificate the officer was given, and
 * every record's certificate must be issued by that CA. Inside the
 * envelopes, each record's escrow is bound to its certificate: a key must
 * be the private half of the certificate's public key, and a share carries
 * the certificate's SHA-256 beside x and y, so neither can be moved to
 * another record, even by whoever holds the CA key.
 */
#include "ac-config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "archive/escrow.h"
#include "archive/recover.h"
#include "archive/shamir.h"
#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/util.h"

#define RCV_VERSION	1
#define RCV_MAX_RECORDS	1000
#define RCV_KEYLEN	ESC_SHARE_KEYLEN /* AES-256 key of m-of-n records */
#define RCV_P12_MAX	(1024 * 1024)
#define RCV_WHO_MAX	1024		/* recipient list in messages */
#define RCV_FIX	"ask the CA administrator for a new one " \
		"(smimeca recover blob)"

typedef struct rcv_share_st {
	ASN1_INTEGER *x;
	ASN1_OCTET_STRING *kra_sha256;
	ASN1_TYPE *envelope;
} RCV_SHARE;
DECLARE_ASN1_FUNCTIONS(RCV_SHARE)
DEFINE_STACK_OF(RCV_SHARE)

typedef struct rcv_record_st {
	X509 *cert;
	ASN1_INTEGER *quorum;
	ASN1_TYPE *key_envelope;
	STACK_OF(RCV_SHARE) *shares;
} RCV_RECORD;
DECLARE_ASN1_FUNCTIONS(RCV_RECORD)
DEFINE_STACK_OF(RCV_RECORD)

typedef struct rcv_content_st {
	ASN1_INTEGER *version;
	STACK_OF(RCV_RECORD) *records;
} RCV_CONTENT;
DECLARE_ASN1_FUNCTIONS(RCV_CONTENT)

ASN1_SEQUENCE(RCV_SHARE) = {
	ASN1_SIMPLE(RCV_SHARE, x, ASN1_INTEGER),
	ASN1_SIMPLE(RCV_SHARE, kra_sha256, ASN1_OCTET_STRING),
	ASN1_SIMPLE(RCV_SHARE, envelope, ASN1_ANY)
} ASN1_SEQUENCE_END(RCV_SHARE)
IMPLEMENT_ASN1_FUNCTIONS(RCV_SHARE)

ASN1_SEQUENCE(RCV_RECORD) = {
	ASN1_SIMPLE(RCV_RECORD, cert, X509),
	ASN1_SIMPLE(RCV_RECORD, quorum, ASN1_INTEGER),
	ASN1_SIMPLE(RCV_RECORD, key_envelope, ASN1_ANY),
	ASN1_SEQUENCE_OF(RCV_RECORD, shares, RCV_SHARE)
} ASN1_SEQUENCE_END(RCV_RECORD)
IMPLEMENT_ASN1_FUNCTIONS(RCV_RECORD)

ASN1_SEQUENCE(RCV_CONTENT) = {
	ASN1_SIMPLE(RCV_CONTENT, version, ASN1_INTEGER),
	ASN1_SEQUENCE_OF(RCV_CONTENT, records, RCV_RECORD)
} ASN1_SEQUENCE_END(RCV_CONTENT)
IMPLEMENT_ASN1_FUNCTIONS(RCV_CONTENT)

/* What the parser checked and worked out about each record. */
struct rcv_rec {
	RCV_RECORD *asn;	/* borrowed from the content */
	int quorum;
	int nshares;
	char serial[65];	/* of the certificate */
	char sha256[65];	/* SHA-256 of the certificate's DER */
	unsigned char md[32];	/* the same, as bytes */
};

struct rcv_blob {
	RCV_CONTENT *content;
	STACK_OF(X509) *chain;
	X509 *signer;		/* holds the CA's public key */
	struct rcv_rec *recs;
	size_t n;
};

static int pkcs12_build(EVP_PKEY *, X509 *, STACK_OF(X509) *,
    const char *, const char *, int, unsigned char **, size_t *,
    struct ca_err *);
static int any_set_der(ASN1_TYPE **, const unsigned char *, size_t);
static CMS_ContentInfo *any_cms(const ASN1_TYPE *);
static int hex_decode(const char *, unsigned char *, size_t);
static int int_in(const ASN1_INTEGER *, int64_t, int64_t, int *);
static int cert_sha256(X509 *, char[65], unsigned char[32]);
static void cert_mail(X509 *, char *, size_t);
static int blob_signer(CMS_ContentInfo *, X509 *, X509 **,
    struct ca_err *);
static char *cert_label(X509 *);
static int record_to_asn1(const struct esc_record *, RCV_RECORD **,
    struct ca_err *);
static int check_record(RCV_RECORD *, size_t, X509 *, struct rcv_rec *,
    struct ca_err *);
static const struct rcv_rec *rec_at(const struct rcv_blob *, size_t,
    struct ca_err *);
static int kra_pair(EVP_PKEY *, X509 *, struct ca_err *);
static void recipients(CMS_ContentInfo *, char *, size_t);
static int key_from_p8(BIO *, const struct rcv_rec *, size_t, EVP_PKEY **,
    struct ca_err *);
static int share_has_x(const struct rcv_rec *, unsigned);
static void wipe_json_y(json_t *);
static int load_record(struct db *, const struct db_cert *,
    struct esc_record *, struct ca_err *);
static int load_shares(struct db *, int64_t, const char *,
    struct esc_record *, struct ca_err *);

/* ANY holding a complete DER SEQUENCE (a ContentInfo), copied. */
static int
any_set_der(ASN1_TYPE **tp, const unsigned char *der, size_t len)
{
	ASN1_STRING *s = NULL;
	ASN1_TYPE *t = NULL;
	int r = -1;

	if (len > INT32_MAX || (s = ASN1_STRING_new()) == NULL ||
	    !ASN1_STRING_set(s, der, (int)len) ||
	    (t = ASN1_TYPE_new()) == NULL)
		goto out;
	ASN1_TYPE_set(t, V_ASN1_SEQUENCE, s);
	s = NULL;
	ASN1_TYPE_free(*tp);
	*tp = t;
	t = NULL;
	r = 0;
 out:
	ASN1_STRING_free(s);
	ASN1_TYPE_free(t);
	return r;
}

/* The ContentInfo in an ANY; NULL unless it is exactly one. */
static CMS_ContentInfo *
any_cms(const ASN1_TYPE *t)
{
	CMS_ContentInfo *cms;
	const unsigned char *p, *end;

	if (t == NULL || t->type != V_ASN1_SEQUENCE ||
	    t->value.sequence == NULL)
		return NULL;
	p = t->value.sequence->data;
	end = p + t->value.sequence->length;
	if ((cms = d2i_CMS_ContentInfo(NULL, &p,
	    t->value.sequence->length)) != NULL && p != end) {
		CMS_ContentInfo_free(cms);
		cms = NULL;
	}
	return cms;
}

/* Exactly 2 * len hex digits (either case) into out. */
static int
hex_decode(const char *hex, unsigned char *out, size_t len)
{
	size_t i;
	int hi, lo;

	if (strlen(hex) != 2 * len)
		return -1;
	for (i = 0; i < len; i++) {
		if ((hi = OPENSSL_hexchar2int((unsigned char)hex[2 * i])) < 0 ||
		    (lo = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1])) <
		    0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static int
int_in(const ASN1_INTEGER *ai, int64_t min, int64_t max, int *vp)
{
	int64_t v;

	if (ai == NULL || ASN1_INTEGER_get_int64(&v, ai) != 1 || v < min ||
	    v > max)
		return -1;
	*vp = (int)v;
	return 0;
}

static int
cert_sha256(X509 *cert, char out[65], unsigned char md[32])
{
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
		return -1;
	util_hex(md, 32, out);
	return 0;
}

/* "SUBJECT (serial S)" for messages; NULL without memory. */
static char *
cert_label(X509 *cert)
{
	char serial[65], *subj, *s = NULL;

	if (util_serial_hex(X509_get0_serialNumber(cert), serial) != 0)
		snprintf(serial, sizeof(serial), "?");
	subj = util_name_oneline(X509_get_subject_name(cert));
	if (asprintf(&s, "%s (serial %s)", subj != NULL && *subj != '\0' ?
	    subj : "an empty subject", serial) == -1)
		s = NULL;
	free(subj);
	return s;
}

/*
 * The one signer of a blob, found among the certificates it carries; it
 * must hold the CA's public key: a certificate that merely chains to the
 * CA (an enrollee's, an officer's) signs nothing an officer should open.
 */
static int
blob_signer(CMS_ContentInfo *cms, X509 *trust, X509 **signerp,
    struct ca_err *err)
{
	STACK_OF(CMS_SignerInfo) *sis;
	X509 *signer = NULL;
	char *who = NULL, *ca = NULL;
	int r;

	*signerp = NULL;
	sis = CMS_get0_SignerInfos(cms);
	if (sk_CMS_SignerInfo_num(sis) != 1) {
		r = ca_err_set(err, CA_ERR_AUTH, "recovery blob: %d signers; "
		    "a blob has exactly one, the CA; " RCV_FIX,
		    sk_CMS_SignerInfo_num(sis) < 0 ? 0 :
		    sk_CMS_SignerInfo_num(sis));
		goto out;
	}
	if (CMS_set1_signers_certs(cms, NULL, 0) < 0 ||
	    (CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(sis, 0), NULL,
	    &signer, NULL, NULL), signer == NULL)) {
		r = ca_err_ssl(err, CA_ERR_AUTH, "recovery blob: the signer's "
		    "certificate is not in the blob; " RCV_FIX);
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(signer),
	    X509_get0_pubkey(trust)) != 1) {
		ERR_clear_error();
		who = cert_label(signer);
		ca = cert_label(trust);
		r = ca_err_set(err, CA_ERR_AUTH, "recovery blob: signed by %s, "
		    "not by the CA %s: only the CA signs recovery blobs, so "
		    "this one is refused (ask the CA administrator for a blob: "
		    "smimeca recover blob)", who != NULL ? who : "?",
		    ca != NULL ? ca : "?");
		goto out;
	}
	if (!X509_up_ref(signer)) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	*signerp = signer;
	r = 0;
 out:
	free(who);
	free(ca);
	return r;
}

static int
record_to_asn1(const struct esc_record *er, RCV_RECORD **rp,
    struct ca_err *err)
{
	RCV_RECORD *rr = NULL;
	RCV_SHARE *rs = NULL;
	unsigned char h[32];
	size_t j;
	int r = CA_ERR_CRYPTO;

	*rp = NULL;
	if (er->cert == NULL || er->env == NULL) {
		r = ca_err_set(err, CA_ERR_INTERNAL, "recovery blob: a record "
		    "without certificate or envelope");
		goto out;
	}
	if ((rr = RCV_RECORD_new()) == NULL || !X509_up_ref(er->cert))
		goto out;
	X509_free(rr->cert);
	rr->cert = er->cert;
	if (!ASN1_INTEGER_set_int64(rr->quorum, er->quorum) ||
	    any_set_der(&rr->key_envelope, er->env, er->envlen) != 0)
		goto out;
	for (j = 0; j < er->nshares; j++) {
		if (hex_decode(er->shares[j].kra_sha256, h, sizeof(h)) != 0) {
			r = ca_err_set(err, CA_ERR_DB, "recovery blob: share "
			    "%zu names no KRA certificate", j + 1);
			goto out;
		}
		if ((rs = RCV_SHARE_new()) == NULL ||
		    !ASN1_INTEGER_set_int64(rs->x, er->shares[j].x) ||
		    !ASN1_OCTET_STRING_set(rs->kra_sha256, h, sizeof(h)) ||
		    any_set_der(&rs->envelope, er->shares[j].env,
		    er->shares[j].envlen) != 0 ||
		    !sk_RCV_SHARE_push(rr->shares, rs))
			goto out;
		rs = NULL;
	}
	*rp = rr;
	rr = NULL;
	r = 0;
 out:
	if (r == CA_ERR_CRYPTO)
		ca_err_ssl(err, r, "recovery blob: encoding a record");
	RCV_SHARE_free(rs);
	RCV_RECORD_free(rr);
	return r;
}

int
rcv_blob_sign(X509 *signer, EVP_PKEY *key, STACK_OF(X509) *chain,
    const struct esc_record *recs, size_t n, unsigned char **derp,
    size_t *lenp, struct ca_err *err)
{
	RCV_CONTENT *c = NULL;
	RCV_RECORD *rr = NULL;
	STACK_OF(X509) *certs = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	unsigned char *content = NULL, *der = NULL;
	size_t i;
	int len, clen = 0, r;

	*derp = NULL;
	*lenp = 0;
	if (n == 0 || n > RCV_MAX_RECORDS) {
		r = ca_err_set(err, CA_ERR_INVALID, "recovery blob: %zu "
		    "records (1 to %d fit in one)", n, RCV_MAX_RECORDS);
		goto out;
	}
	if ((c = RCV_CONTENT_new()) == NULL ||
	    !ASN1_INTEGER_set_int64(c->version, RCV_VERSION) ||
	    (certs = sk_X509_new_null()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = record_to_asn1(&recs[i], &rr, err)) != 0)
			goto out;
		if (!sk_RCV_RECORD_push(c->records, rr)) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		rr = NULL;
	}
	/* CMS_sign adds the signer itself; a second copy is refused. */
	for (i = 0; chain != NULL && i < (size_t)sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, (int)i);

		if (X509_cmp(x, signer) != 0 && !sk_X509_push(certs, x)) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if ((clen = i2d_RCV_CONTENT(c, &content)) <= 0 ||
	    (in = BIO_new_mem_buf(content, clen)) == NULL ||
	    (cms = CMS_sign(signer, key, certs, in,
	    CMS_BINARY | CMS_NOSMIMECAP)) == NULL ||
	    (len = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
		der = NULL;
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "recovery blob: signing");
		goto out;
	}
	*derp = der;
	*lenp = (size_t)len;
	der = NULL;
	r = 0;
 out:
	OPENSSL_free(der);
	OPENSSL_free(content);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	sk_X509_free(certs);
	RCV_RECORD_free(rr);
	RCV_CONTENT_free(c);
	return r;
}

/* Reads the escrow shares of a record, as many as it says it has. */
static int
load_shares(struct db *db, int64_t escrow_id, const char *serial,
    struct esc_record *rec, struct ca_err *err)
{
	struct db_escrow_share **rows = NULL;
	struct esc_share *es;
	size_t cap = rec->nshares, i, n = 0;
	int r;

	rec->nshares = 0;
	if ((rec->shares = calloc(cap, sizeof(*rec->shares))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = db_escrow_shares(db, escrow_id, &rows, &n, err)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (rec->nshares == cap) {
			r = ca_err_set(err, CA_ERR_DB, "the escrow record of "
			    "certificate %s has more shares than it says",
			    serial);
			goto out;
		}
		es = &rec->shares[rec->nshares];
		es->x = (uint8_t)rows[i]->x;
		snprintf(es->kra_sha256, sizeof(es->kra_sha256), "%s",
		    rows[i]->kra_sha256);
		if (rows[i]->envlen == 0 || (es->env = OPENSSL_memdup(
		    rows[i]->env, rows[i]->envlen)) == NULL) {
			r = ca_err_set(err, rows[i]->envlen == 0 ? CA_ERR_DB :
			    CA_ERR_NOMEM, "escrow share of certificate %s: "
			    "no envelope", serial);
			goto out;
		}
		es->envlen = rows[i]->envlen;
		rec->nshares++;
	}
	if (rec->nshares != cap) {
		r = ca_err_set(err, CA_ERR_DB, "the escrow record of "
		    "certificate %s lists %zu shares, %zu are stored", serial,
		    cap, rec->nshares);
		goto out;
	}
	r = 0;
 out:
	db_escrow_shares_free(rows, n);
	return r;
}

/* The escrow record of a certificate; CA_ERR_NOTFOUND (no message) if none. */
static int
load_record(struct db *db, const struct db_cert *dc, struct esc_record *rec,
    struct ca_err *err)
{
	struct db_escrow e;
	const unsigned char *p;
	int r;

	memset(rec, 0, sizeof(*rec));
	if ((r = db_escrow_get(db, dc->id, &e, err)) != 0)
		goto out;
	rec->quorum = e.quorum;
	if (rec->quorum < 1 || rec->quorum > SHAMIR_MAX_SHARES ||
	    e.nshares < rec->quorum || e.nshares > SHAMIR_MAX_SHARES ||
	    e.envlen == 0) {
		r = ca_err_set(err, CA_ERR_DB, "the escrow record of "
		    "certificate %s is damaged (quorum %d of %lld)",
		    dc->serial, rec->quorum, (long long)e.nshares);
		goto out;
	}
	p = dc->der;
	if ((rec->env = OPENSSL_memdup(e.env, e.envlen)) == NULL ||
	    (rec->cert = d2i_X509(NULL, &p, (long)dc->derlen)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_DB, "certificate %s: cannot read "
		    "it back", dc->serial);
		goto out;
	}
	rec->envlen = e.envlen;
	if (rec->quorum > 1) {
		rec->nshares = (size_t)e.nshares;
		if ((r = load_shares(db, e.id, dc->serial, rec, err)) != 0)
			goto out;
	}
	r = 0;
 out:
	free(e.env);
	if (r != 0)
		esc_record_clear(rec);
	return r;
}

int
rcv_blob_make(struct ca *ca, const char *serial, const char *email,
    unsigned char **derp, size_t *lenp, struct ca_err *err)
{
	struct db *db = ca_db(ca);
	struct db_cert **list = NULL, *one = NULL;
	struct db_cert_filter f;
	struct esc_record *recs = NULL;
	unsigned char *der = NULL;
	const char *what = serial != NULL ? serial : email;
	char *detail = NULL;
	size_t i, n = 0, nrec = 0, len = 0, dlen;
	int r, in_tx = 0;

	*derp = NULL;
	*lenp = 0;
	if ((serial == NULL) == (email == NULL)) {
		r = ca_err_set(err, CA_ERR_INVALID, "recovery blob: give "
		    "either a serial number or a mail address");
		goto out;
	}
	/* The CA administrator's signature vouches for the blob. */
	if ((r = ca_load_key(ca, err)) != 0 || (r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if (serial != NULL) {
		if ((r = db_cert_get(db, serial, &one, err)) != 0)
			goto out;
		list = &one;
		n = 1;
	} else {
		memset(&f, 0, sizeof(f));
		f.email = email;
		f.status = DB_ST_ANY;
		if ((r = db_cert_list(db, &f, &list, &n, err)) != 0)
			goto out;
	}
	if (n > 0 && (recs = calloc(n, sizeof(*recs))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* Serials are at most 64 hex digits, plus a comma. */
	dlen = 32 + n * 66;
	if ((detail = calloc(1, dlen)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		r = load_record(db, list[i], &recs[nrec], err);
		if (r == CA_ERR_NOTFOUND && serial == NULL)
			continue;	/* issued without archival */
		if (r == CA_ERR_NOTFOUND) {
			r = ca_err_set(err, CA_ERR_NOTFOUND, "no escrowed key "
			    "for %s: certificate %s was issued without key "
			    "archival", what, serial);
			goto out;
		}
		if (r != 0)
			goto out;
		if (++nrec > RCV_MAX_RECORDS) {
			r = ca_err_set(err, CA_ERR_POLICY, "%s has more than "
			    "%d escrowed keys: make blobs by --serial", what,
			    RCV_MAX_RECORDS);
			goto out;
		}
		snprintf(detail + strlen(detail), dlen - strlen(detail),
		    "%s%s", nrec == 1 ? "serials=" : ",", list[i]->serial);
	}
	if (nrec == 0) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no escrowed key for %s "
		    "(see `smimeca cert list`)", what);
		goto out;
	}
	if ((r = rcv_blob_sign(ca_cert(ca), ca_key(ca), ca_chain(ca), recs,
	    nrec, &der, &len, err)) != 0 ||
	    (r = audit_append(db, ca_actor(ca), "recover-blob", what, detail,
	    err)) != 0 || (r = db_commit(db, err)) != 0)
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
	free(detail);
	for (i = 0; recs != NULL && i < nrec && i < n; i++)
		esc_record_clear(&recs[i]);
	free(recs);
	if (one != NULL)
		db_cert_free(one);
	else
		db_cert_free_list(list, n);
	return r;
}

/* Checks record i of a parsed blob; fills what later calls need. */
static int
check_record(RCV_RECORD *rr, size_t i, X509 *ca, struct rcv_rec *rec,
    struct ca_err *err)
{
	CMS_ContentInfo *cms = NULL;
	RCV_SHARE *rs;
	uint8_t seen[SHAMIR_MAX_SHARES + 1];
	char *who = NULL, *by = NULL;
	int j, x, nid, want, r = CA_ERR_INVALID;

	memset(seen, 0, sizeof(seen));
	rec->asn = rr;
	if (util_serial_hex(X509_get0_serialNumber(rr->cert),
	    rec->serial) != 0 ||
	    cert_sha256(rr->cert, rec->sha256, rec->md) != 0) {
		ca_err_set(err, r, "recovery blob: record %zu: unreadable "
		    "certificate; " RCV_FIX, i + 1);
		goto out;
	}
	if (int_in(rr->quorum, 1, SHAMIR_MAX_SHARES, &rec->quorum) != 0) {
		ca_err_set(err, r, "recovery blob: record %zu (certificate "
		    "%s): quorum out of range; " RCV_FIX, i + 1, rec->serial);
		goto out;
	}
	rec->nshares = sk_RCV_SHARE_num(rr->shares);
	if (rec->nshares < 0)
		rec->nshares = 0;
	want = rec->quorum == 1 ? NID_pkcs7_enveloped : NID_pkcs7_encrypted;
	if ((cms = any_cms(rr->key_envelope)) == NULL ||
	    (nid = OBJ_obj2nid(CMS_get0_type(cms))) != want) {
		ca_err_set(err, r, "recovery blob: record %zu (certificate "
		    "%s): the key envelope is not a CMS %s; " RCV_FIX, i + 1,
		    rec->serial, rec->quorum == 1 ? "EnvelopedData" :
		    "EncryptedData");
		goto out;
	}
	if (rec->quorum == 1 ? rec->nshares != 0 :
	    rec->nshares < rec->quorum || rec->nshares > SHAMIR_MAX_SHARES) {
		ca_err_set(err, r, "recovery blob: record %zu (certificate "
		    "%s): %d shares for a quorum of %d; " RCV_FIX, i + 1,
		    rec->serial, rec->nshares, rec->quorum);
		goto out;
	}
	for (j = 0; j < rec->nshares; j++) {
		rs = sk_RCV_SHARE_value(rr->shares, j);
		CMS_ContentInfo_free(cms);
		cms = NULL;
		if (int_in(rs->x, 1, SHAMIR_MAX_SHARES, &x) != 0 || seen[x] ||
		    ASN1_STRING_length(rs->kra_sha256) != 32 ||
		    (cms = any_cms(rs->envelope)) == NULL ||
		    OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_enveloped) {
			ca_err_set(err, r, "recovery blob: record %zu "
			    "(certificate %s): share %d is malformed; " RCV_FIX,
			    i + 1, rec->serial, j + 1);
			goto out;
		}
		seen[x] = 1;
	}
	/* The name matches and the CA's key signed it. */
	if (X509_check_issued(ca, rr->cert) != X509_V_OK ||
	    X509_verify(rr->cert, X509_get0_pubkey(ca)) != 1) {
		ERR_clear_error();
		who = cert_label(rr->cert);
		by = cert_label(ca);
		r = ca_err_set(err, CA_ERR_AUTH, "recovery blob: record %zu: "
		    "certificate %s was not issued by the CA %s; refusing the "
		    "blob", i + 1, who != NULL ? who : rec->serial,
		    by != NULL ? by : "?");
		goto out;
	}
	r = 0;
 out:
	free(who);
	free(by);
	CMS_ContentInfo_free(cms);
	return r;
}

int
rcv_blob_parse(const unsigned char *der, size_t len, X509 *trust,
    struct rcv_blob **bp, struct ca_err *err)
{
	struct rcv_blob *b = NULL;
	CMS_ContentInfo *cms = NULL;
	X509 *signer = NULL;
	BIO *out = NULL;
	const unsigned char *p = der;
	char *data;
	long dlen;
	int v, nrec, r;
	size_t i;

	*bp = NULL;
	if (trust == NULL) {
		r = ca_err_set(err, CA_ERR_INVALID, "recovery blob: no CA "
		    "certificate to check it against (give the CA's "
		    "certificate, smimeca recover open --ca-cert CA.pem): a "
		    "blob checked against nothing proves nothing");
		goto out;
	}
	if (len == 0 || len > LONG_MAX ||
	    (cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL ||
	    p != der + len ||
	    OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "recovery blob: not a CMS "
		    "SignedData (DER); " RCV_FIX);
		goto out;
	}
	if ((r = blob_signer(cms, trust, &signer, err)) != 0)
		goto out;
	if ((out = BIO_new(BIO_s_mem())) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* The signer holds the CA's key: its signature is all that counts. */
	if (CMS_verify(cms, NULL, NULL, NULL, out,
	    CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1) {
		r = ca_err_ssl(err, CA_ERR_AUTH, "recovery blob: the CA "
		    "signature does not verify: the blob was changed after "
		    "the CA signed it; " RCV_FIX);
		goto out;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	dlen = BIO_get_mem_data(out, &data);
	p = (const unsigned char *)data;
	if (dlen <= 0 || (b->content = d2i_RCV_CONTENT(NULL, &p,
	    dlen)) == NULL || p != (const unsigned char *)data + dlen) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "recovery blob: the signed "
		    "content is not a SmimecaRecoveryBlob; " RCV_FIX);
		goto out;
	}
	if (int_in(b->content->version, RCV_VERSION, RCV_VERSION, &v) != 0) {
		r = ca_err_set(err, CA_ERR_INVALID, "recovery blob: unknown "
		    "version (this smimeca reads version %d); use the smimeca "
		    "release of the CA that made it", RCV_VERSION);
		goto out;
	}
	nrec = sk_RCV_RECORD_num(b->content->records);
	if (nrec < 1 || nrec > RCV_MAX_RECORDS) {
		r = ca_err_set(err, CA_ERR_INVALID, "recovery blob: %d records "
		    "(1 to %d expected); " RCV_FIX, nrec < 0 ? 0 : nrec,
		    RCV_MAX_RECORDS);
		goto out;
	}
	if ((b->recs = calloc((size_t)nrec, sizeof(*b->recs))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	b->n = (size_t)nrec;
	for (i = 0; i < b->n; i++)
		if ((r = check_record(sk_RCV_RECORD_value(b->content->records,
		    (int)i), i, trust, &b->recs[i], err)) != 0)
			goto out;
	if ((b->chain = CMS_get1_certs(cms)) == NULL &&
	    (b->chain = sk_X509_new_null()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	b->signer = signer;
	signer = NULL;
	*bp = b;
	b = NULL;
	r = 0;
 out:
	X509_free(signer);
	rcv_blob_free(b);
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	return r;
}

void
rcv_blob_free(struct rcv_blob *b)
{
	if (b == NULL)
		return;
	RCV_CONTENT_free(b->content);
	sk_X509_pop_free(b->chain, X509_free);
	X509_free(b->signer);
	free(b->recs);
	free(b);
}

size_t
rcv_blob_count(const struct rcv_blob *b)
{
	return b->n;
}

X509 *
rcv_blob_cert(const struct rcv_blob *b, size_t i)
{
	return i < b->n ? b->recs[i].asn->cert : NULL;
}

int
rcv_blob_quorum(const struct rcv_blob *b, size_t i)
{
	return i < b->n ? b->recs[i].quorum : 0;
}

STACK_OF(X509) *
rcv_blob_chain(const struct rcv_blob *b)
{
	return b->chain;
}

X509 *
rcv_blob_signer(const struct rcv_blob *b)
{
	return b->signer;
}

/* The first rfc822Name of the certificate, else its emailAddress. */
static void
cert_mail(X509 *cert, char *buf, size_t len)
{
	GENERAL_NAMES *gens;
	const GENERAL_NAME *g;
	X509_NAME *subj = X509_get_subject_name(cert);
	const ASN1_STRING *s = NULL;
	int i;

	buf[0] = '\0';
	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_EMAIL) {
			s = g->d.rfc822Name;
			break;
		}
	}
	if (s == NULL && (i = X509_NAME_get_index_by_NID(subj,
	    NID_pkcs9_emailAddress, -1)) >= 0)
		s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
	/* IA5 text, shown with anything outside printable ASCII as '?'. */
	for (i = 0; s != NULL && i < ASN1_STRING_length(s) &&
	    (size_t)i + 1 < len; i++) {
		unsigned char c = ASN1_STRING_get0_data(s)[i];

		buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	buf[i] = '\0';
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
}

int
rcv_blob_describe(const struct rcv_blob *b, size_t i, char *buf, size_t len)
{
	const struct rcv_rec *rec;
	CMS_ContentInfo *cms = NULL;
	char mail[256], when[21], *subj;
	int kras = 0;

	if (b == NULL || i >= b->n || len == 0)
		return -1;
	rec = &b->recs[i];
	cert_mail(rec->asn->cert, mail, sizeof(mail));
	util_iso8601(util_asn1_time_to_unix(X509_get0_notBefore(
	    rec->asn->cert)), when);
	subj = util_name_oneline(X509_get_subject_name(rec->asn->cert));
	if (rec->quorum == 1 &&
	    (cms = any_cms(rec->asn->key_envelope)) != NULL)
		kras = sk_CMS_RecipientInfo_num(CMS_get0_RecipientInfos(cms));
	if (rec->quorum == 1)
		snprintf(buf, len, "serial %s, subject %s, mail %s, issued "
		    "%s, any one of %d KRAs", rec->serial,
		    subj != NULL && *subj != '\0' ? subj : "(empty)",
		    *mail ? mail : "(none)", when, kras);
	else
		snprintf(buf, len, "serial %s, subject %s, mail %s, issued "
		    "%s, %d of %d officers", rec->serial,
		    subj != NULL && *subj != '\0' ? subj : "(empty)",
		    *mail ? mail : "(none)", when, rec->quorum, rec->nshares);
	free(subj);
	CMS_ContentInfo_free(cms);
	return 0;
}

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
	if ((cms = any_cms(rec->asn->key_envelope)) == NULL ||
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
	if ((cms = any_cms(rs->envelope)) == NULL ||
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
	    int_in(rs->x, 1, SHAMIR_MAX_SHARES, &x) != 0 ||
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

/* 1 when the record has a share envelope with that x. */
static int
share_has_x(const struct rcv_rec *rec, unsigned x)
{
	int j, v;

	for (j = 0; j < rec->nshares; j++)
		if (int_in(sk_RCV_SHARE_value(rec->asn->shares, j)->x, 1,
		    SHAMIR_MAX_SHARES, &v) == 0 && (unsigned)v == x)
			return 1;
	return 0;
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
		    !share_has_x(rec, shares[j].x)) {
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
	if ((cms = any_cms(rec->asn->key_envelope)) == NULL ||
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

/* Jansson frees strings unwiped: wipe the y values of a share array. */
static void
wipe_json_y(json_t *arr)
{
	json_t *y;
	size_t j;

	for (j = 0; j < json_array_size(arr); j++) {
		y = json_object_get(json_array_get(arr, j), "y");
		if (json_is_string(y))
			OPENSSL_cleanse((char *)json_string_value(y),
			    json_string_length(y));
	}
}

int
rcv_share_encode(const struct rcv_blob *b, const size_t *idx,
    const struct shamir_share *shares, size_t n, char **jsonp,
    struct ca_err *err)
{
	json_t *root = NULL, *arr = NULL, *o;
	char hex[2 * RCV_KEYLEN + 1], *buf = NULL;
	size_t j, len = 0;
	int r;

	*jsonp = NULL;
	if ((arr = json_array()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (j = 0; j < n; j++) {
		if (idx[j] >= b->n || b->recs[idx[j]].quorum <= 1 ||
		    shares[j].y == NULL || shares[j].len != RCV_KEYLEN ||
		    shares[j].x == 0) {
			r = ca_err_set(err, CA_ERR_INVALID, "share %zu does "
			    "not belong to a threshold record of this blob",
			    j + 1);
			goto out;
		}
		util_hex(shares[j].y, RCV_KEYLEN, hex);
		o = json_pack("{s:s, s:i, s:s}", "cert_sha256",
		    b->recs[idx[j]].sha256, "x", (int)shares[j].x, "y", hex);
		OPENSSL_cleanse(hex, sizeof(hex));
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if ((root = json_pack("{s:i, s:O}", "version", 1, "shares",
	    arr)) == NULL ||
	    (len = json_dumpb(root, NULL, 0, JSON_INDENT(2))) == 0 ||
	    (buf = OPENSSL_malloc(len + 2)) == NULL ||
	    json_dumpb(root, buf, len, JSON_INDENT(2)) != len) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	buf[len] = '\n';
	buf[len + 1] = '\0';
	*jsonp = buf;
	buf = NULL;
	r = 0;
 out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, len + 2);
	wipe_json_y(arr);
	json_decref(root);
	json_decref(arr);
	return r;
}

int
rcv_share_decode(const struct rcv_blob *b, const char *json,
    size_t **idxp, struct shamir_share **sharesp, size_t *np,
    struct ca_err *err)
{
	json_t *root = NULL, *arr = NULL, *o, *jv;
	json_error_t jerr;
	struct shamir_share *sh = NULL;
	size_t *idx = NULL, n = 0, j, k;
	const char *cs, *ys;
	char cert[65];
	json_int_t x;
	int r = CA_ERR_INVALID;

	*idxp = NULL;
	*sharesp = NULL;
	*np = 0;
	if ((root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		ca_err_set(err, r, "share file: not JSON (line %d: %s)",
		    jerr.line, jerr.text);
		goto out;
	}
	arr = json_object_get(root, "shares");
	if (!json_is_object(root) ||
	    !json_is_integer(json_object_get(root, "version")) ||
	    json_integer_value(json_object_get(root, "version")) != 1 ||
	    !json_is_array(arr) || (n = json_array_size(arr)) == 0 ||
	    n > (size_t)RCV_MAX_RECORDS) {
		ca_err_set(err, r, "share file: expected {\"version\":1, "
		    "\"shares\":[1 to %d shares]}", RCV_MAX_RECORDS);
		goto out;
	}
	if ((sh = calloc(n, sizeof(*sh))) == NULL ||
	    (idx = calloc(n, sizeof(*idx))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (j = 0; j < n; j++) {
		o = json_array_get(arr, j);
		cs = json_string_value(json_object_get(o, "cert_sha256"));
		ys = json_string_value(json_object_get(o, "y"));
		jv = json_object_get(o, "x");
		if (!json_is_object(o) || cs == NULL || ys == NULL ||
		    !json_is_integer(jv) || strlen(cs) != 64 ||
		    strspn(cs, "0123456789abcdefABCDEF") != 64) {
			ca_err_set(err, r, "share file: share %zu needs "
			    "cert_sha256 (64 hex digits), x and y", j + 1);
			goto out;
		}
		snprintf(cert, sizeof(cert), "%s", cs);
		util_lower(cert);
		for (k = 0; k < b->n; k++)
			if (strcmp(b->recs[k].sha256, cert) == 0)
				break;
		if (k == b->n) {
			ca_err_set(err, r, "share file: share %zu is for the "
			    "certificate with SHA-256 %s, which is not in this "
			    "blob (open the shares from the same blob)", j + 1,
			    cert);
			goto out;
		}
		if (b->recs[k].quorum <= 1) {
			ca_err_set(err, r, "share file: share %zu is for "
			    "certificate %s, which is not escrowed m of n",
			    j + 1, b->recs[k].serial);
			goto out;
		}
		x = json_integer_value(jv);
		if (x < 1 || x > SHAMIR_MAX_SHARES ||
		    !share_has_x(&b->recs[k], (unsigned)x)) {
			ca_err_set(err, r, "share file: share %zu: x=%lld is "
			    "out of range for certificate %s (1 to %d)", j + 1,
			    (long long)x, b->recs[k].serial,
			    b->recs[k].nshares);
			goto out;
		}
		if ((sh[j].y = OPENSSL_malloc(RCV_KEYLEN)) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		sh[j].len = RCV_KEYLEN;
		sh[j].x = (uint8_t)x;
		if (hex_decode(ys, sh[j].y, RCV_KEYLEN) != 0) {
			ca_err_set(err, r, "share file: share %zu: y must be "
			    "%d hex digits", j + 1, 2 * RCV_KEYLEN);
			goto out;
		}
		idx[j] = k;
	}
	*idxp = idx;
	*sharesp = sh;
	*np = n;
	idx = NULL;
	sh = NULL;
	r = 0;
 out:
	for (j = 0; sh != NULL && j < n; j++)
		shamir_share_clear(&sh[j]);
	free(sh);
	free(idx);
	if (json_is_array(arr))
		wipe_json_y(arr);
	json_decref(root);
	return r;
}

int
rcv_load_p12(const char *path, const char *password, EVP_PKEY **keyp,
    X509 **certp, struct ca_err *err)
{
	unsigned char *buf = NULL;
	const unsigned char *p;
	size_t len = 0;
	PKCS12 *p12 = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	const char *pass = password;
	int ok = 0, r;

	*keyp = NULL;
	*certp = NULL;
	if ((r = util_read_file(path, RCV_P12_MAX, &buf, &len, err)) != 0)
		goto out;
	p = buf;
	if (len == 0 || (p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "%s: not a PKCS#12 (.p12, "
		    ".pfx) file in DER", path);
		goto out;
	}
	if (PKCS12_mac_present(p12)) {
		if (password != NULL)
			ok = PKCS12_verify_mac(p12, password, -1);
		else if (PKCS12_verify_mac(p12, NULL, 0))
			ok = 1;
		else if (PKCS12_verify_mac(p12, "", 0)) {
			pass = "";
			ok = 1;
		}
		if (!ok) {
			ERR_clear_error();
			r = ca_err_set(err, CA_ERR_AUTH, "%s: wrong password "
			    "for this PKCS#12 file%s", path, password == NULL ?
			    " (it needs one: give the officer's password)" :
			    "");
			goto out;
		}
	}
	if (!PKCS12_parse(p12, pass, &key, &cert, &ca)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "%s: cannot read the key "
		    "and certificate (a file made with legacy RC2 encryption "
		    "must be converted: openssl pkcs12 -legacy)", path);
		goto out;
	}
	if (key == NULL || cert == NULL) {
		r = ca_err_set(err, CA_ERR_INVALID, "%s: needs a private key "
		    "and its certificate", path);
		goto out;
	}
	*keyp = key;
	*certp = cert;
	key = NULL;
	cert = NULL;
	r = 0;
 out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	return r;
}

int
rcv_pkcs12(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *password, const char *friendly_name, unsigned char **derp,
    size_t *lenp, struct ca_err *err)
{
	return pkcs12_build(key, cert, chain, password, friendly_name, 0,
	    derp, lenp, err);
}

int
rcv_pkcs12_legacy(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *password, const char *friendly_name, unsigned char **derp,
    size_t *lenp, struct ca_err *err)
{
	return pkcs12_build(key, cert, chain, password, friendly_name, 1,
	    derp, lenp, err);
}

static int
pkcs12_build(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *password, const char *friendly_name, int legacy,
    unsigned char **derp, size_t *lenp, struct ca_err *err)
{
	int nid = legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC :
	    NID_aes_256_cbc;
	PKCS12 *p12 = NULL;
	unsigned char *der = NULL;
	int len, r;

	*derp = NULL;
	*lenp = 0;
	if (password == NULL) {
		r = ca_err_set(err, CA_ERR_INVALID, "PKCS#12: a password is "
		    "needed");
		goto out;
	}
	/*
	 * PBES2 (PBKDF2, AES-256-CBC) for key and certificates; legacy:
	 * PBE-SHA1-3DES and a SHA-1 MAC, for readers such as gpgsm 2.2.
	 */
	if ((p12 = PKCS12_create_ex(password, friendly_name, key, cert, chain,
	    nid, nid, PKCS12_DEFAULT_ITER, -1, 0, NULL, NULL)) == NULL ||
	    !PKCS12_set_mac(p12, password, -1, NULL, 0, PKCS12_DEFAULT_ITER,
	    legacy ? EVP_sha1() : EVP_sha256()) ||
	    (len = i2d_PKCS12(p12, &der)) <= 0) {
		der = NULL;
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "building the PKCS#12");
		goto out;
	}
	*derp = der;
	*lenp = (size_t)len;
	r = 0;
 out:
	PKCS12_free(p12);
	return r;
}

int
rcv_random_password(char *buf, size_t len, struct ca_err *err)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[64];
	size_t got = 0, pos = sizeof(rnd);
	int r;

	if (len >= 128) {
		r = ca_err_set(err, CA_ERR_INVALID, "a password of %zu "
		    "characters is too long (at most 127)", len);
		goto out;
	}
	while (got < len) {
		if (pos == sizeof(rnd)) {
			if (RAND_priv_bytes(rnd, sizeof(rnd)) != 1) {
				r = ca_err_ssl(err, CA_ERR_CRYPTO, "random "
				    "password");
				goto out;
			}
			pos = 0;
		}
		/* 248 = 4 * 62: larger bytes would favour the first 8. */
		if (rnd[pos] < 248)
			buf[got++] = set[rnd[pos] % 62];
		pos++;
	}
	buf[len] = '\0';
	r = 0;
 out:
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return r;
}
