/*
 * Recovery blobs: the format, making and signing one for officers, and
 * parsing and checking one before an officer opens it (recover.c).
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

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "archive/escrow.h"
#include "archive/rcv_int.h"
#include "archive/recover.h"
#include "archive/shamir.h"
#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/util.h"

#define RCV_VERSION	1
#define RCV_FIX	"ask the CA administrator for a new one " \
		"(smimeca recover blob)"

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

static int any_set_der(ASN1_TYPE **, const unsigned char *, size_t);
static int cert_sha256(X509 *, char[65], unsigned char[32]);
static void cert_mail(X509 *, char *, size_t);
static int blob_signer(CMS_ContentInfo *, X509 *, X509 **,
    struct ca_err *);
static char *cert_label(X509 *);
static int record_to_asn1(const struct esc_record *, RCV_RECORD **,
    struct ca_err *);
static int check_record(RCV_RECORD *, size_t, X509 *, struct rcv_rec *,
    struct ca_err *);
static int load_record(struct db *, const struct db_cert *,
    struct esc_record *, struct ca_err *);
static int blob_make(struct ca *, const char *, const char *,
    unsigned char **, size_t *, struct rcv_blob **, struct ca_err *);
static int blob_of_records(struct ca *, const struct esc_record *, size_t,
    struct rcv_blob **, struct ca_err *);
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
CMS_ContentInfo *
rcv_any_cms(const ASN1_TYPE *t)
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


int
rcv_int_in(const ASN1_INTEGER *ai, int64_t min, int64_t max, int *vp)
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
		if (util_unhex(er->shares[j].kra_sha256, h, sizeof(h)) != 0) {
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
	return blob_make(ca, serial, email, derp, lenp, NULL, err);
}

int
rcv_blob_load(struct ca *ca, const char *email, struct rcv_blob **bp,
    struct ca_err *err)
{
	return blob_make(ca, NULL, email, NULL, NULL, bp, err);
}

/*
 * The records as rcv_blob_parse leaves them, checked as it checks them,
 * without signing a blob only to verify it again: for the CA's own use.
 */
static int
blob_of_records(struct ca *ca, const struct esc_record *recs, size_t n,
    struct rcv_blob **bp, struct ca_err *err)
{
	struct rcv_blob *b = NULL;
	RCV_RECORD *rr = NULL;
	size_t i;
	int r;

	*bp = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->content = RCV_CONTENT_new()) == NULL ||
	    !ASN1_INTEGER_set_int64(b->content->version, RCV_VERSION) ||
	    (b->recs = calloc(n, sizeof(*b->recs))) == NULL ||
	    (b->chain = X509_chain_up_ref(ca_chain(ca))) == NULL ||
	    !X509_up_ref(ca_cert(ca))) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	b->signer = ca_cert(ca);
	for (i = 0; i < n; i++) {
		if ((r = record_to_asn1(&recs[i], &rr, err)) != 0)
			goto out;
		if (!sk_RCV_RECORD_push(b->content->records, rr)) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		rr = NULL;
	}
	b->n = n;
	for (i = 0; i < n; i++)
		if ((r = check_record(sk_RCV_RECORD_value(b->content->records,
		    (int)i), i, ca_cert(ca), &b->recs[i], err)) != 0)
			goto out;
	*bp = b;
	b = NULL;
	r = 0;
 out:
	RCV_RECORD_free(rr);
	rcv_blob_free(b);
	return r;
}

/* A signed blob into *derp, or with derp NULL the records into *bp. */
static int
blob_make(struct ca *ca, const char *serial, const char *email,
    unsigned char **derp, size_t *lenp, struct rcv_blob **bp,
    struct ca_err *err)
{
	struct db *db = ca_db(ca);
	struct db_cert **list = NULL, *one = NULL;
	struct db_cert_filter f;
	struct esc_record *recs = NULL;
	struct rcv_blob *b = NULL;
	unsigned char *der = NULL;
	const char *what = serial != NULL ? serial : email;
	char *detail = NULL;
	size_t i, n = 0, nrec = 0, len = 0, dlen;
	int r, in_tx = 0;

	if (derp != NULL) {
		*derp = NULL;
		*lenp = 0;
	} else
		*bp = NULL;
	if ((serial == NULL) == (email == NULL)) {
		r = ca_err_set(err, CA_ERR_INVALID, "recovery blob: give "
		    "either a serial number or a mail address");
		goto out;
	}
	/*
	 * The CA administrator's signature vouches for the blob. Records
	 * loaded join the caller's transaction, if it holds one (an export
	 * commits the audit rows of several users at once).
	 */
	if (derp != NULL && (r = ca_load_key(ca, err)) != 0)
		goto out;
	if (derp != NULL || !db_in_transaction(db)) {
		if ((r = db_begin(db, err)) != 0)
			goto out;
		in_tx = 1;
	}
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
	if ((r = derp != NULL ? rcv_blob_sign(ca_cert(ca), ca_key(ca),
	    ca_chain(ca), recs, nrec, &der, &len, err) :
	    blob_of_records(ca, recs, nrec, &b, err)) != 0 ||
	    (r = audit_append(db, ca_actor(ca), "recover-blob", what, detail,
	    err)) != 0 || (in_tx && (r = db_commit(db, err)) != 0))
		goto out;
	in_tx = 0;
	if (derp != NULL) {
		*derp = der;
		*lenp = len;
		der = NULL;
	} else {
		*bp = b;
		b = NULL;
	}
	r = 0;
 out:
	rcv_blob_free(b);
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
	if (rcv_int_in(rr->quorum, 1, SHAMIR_MAX_SHARES, &rec->quorum) != 0) {
		ca_err_set(err, r, "recovery blob: record %zu (certificate "
		    "%s): quorum out of range; " RCV_FIX, i + 1, rec->serial);
		goto out;
	}
	rec->nshares = sk_RCV_SHARE_num(rr->shares);
	if (rec->nshares < 0)
		rec->nshares = 0;
	want = rec->quorum == 1 ? NID_pkcs7_enveloped : NID_pkcs7_encrypted;
	if ((cms = rcv_any_cms(rr->key_envelope)) == NULL ||
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
		if (rcv_int_in(rs->x, 1, SHAMIR_MAX_SHARES, &x) != 0 ||
		    seen[x] || ASN1_STRING_length(rs->kra_sha256) != 32 ||
		    (cms = rcv_any_cms(rs->envelope)) == NULL ||
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
	if (rcv_int_in(b->content->version, RCV_VERSION, RCV_VERSION,
	    &v) != 0) {
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
	    (cms = rcv_any_cms(rec->asn->key_envelope)) != NULL)
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

int
rcv_rec_has_x(const struct rcv_rec *rec, unsigned x)
{
	int j, v;

	for (j = 0; j < rec->nshares; j++)
		if (rcv_int_in(sk_RCV_SHARE_value(rec->asn->shares, j)->x, 1,
		    SHAMIR_MAX_SHARES, &v) == 0 && (unsigned)v == x)
			return 1;
	return 0;
}
