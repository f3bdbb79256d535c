/* Revocation and CRLs. */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/asn1.h>
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

static int rev_canon_serial(const char *, char[65], struct ca_err *);
static int rev_add_entry(X509_CRL *, const struct db_cert *,
    struct ca_err *);
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

/* One revokedCertificates entry: serial, date and (unless 0) reason. */
static int
rev_add_entry(X509_CRL *crl, const struct db_cert *c, struct ca_err *err)
{
	X509_REVOKED *rev = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *when = NULL;
	ASN1_ENUMERATED *code = NULL;
	int r = CA_ERR_CRYPTO;

	if ((serial = util_serial_from_hex(c->serial)) == NULL) {
		r = ca_err_set(err, CA_ERR_DB, "certificate row %lld: serial "
		    "\"%s\" is not hex", (long long)c->id, c->serial);
		goto out;
	}
	if ((rev = X509_REVOKED_new()) == NULL ||
	    (when = ASN1_TIME_set(NULL, (time_t)c->revoked_at)) == NULL ||
	    !X509_REVOKED_set_serialNumber(rev, serial) ||
	    !X509_REVOKED_set_revocationDate(rev, when)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "CRL entry for %s",
		    c->serial);
		goto out;
	}
	if (c->reason != 0 &&
	    ((code = ASN1_ENUMERATED_new()) == NULL ||
	    !ASN1_ENUMERATED_set(code, c->reason) ||
	    !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0, 0))) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "CRL reason for %s",
		    c->serial);
		goto out;
	}
	if (!X509_CRL_add0_revoked(crl, rev)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "adding %s to the CRL",
		    c->serial);
		goto out;
	}
	rev = NULL;
	r = 0;
 out:
	ASN1_ENUMERATED_free(code);
	ASN1_TIME_free(when);
	ASN1_INTEGER_free(serial);
	X509_REVOKED_free(rev);
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
rev_crl_generate(struct ca *ca, X509_CRL **crlp, struct ca_err *err)
{
	struct db *db = ca_db(ca);
	const struct ca_config *cfg = ca_config(ca);
	X509 *issuer = ca_cert(ca);
	int64_t issuer_id = ca_cert_id(ca), number, now, next;
	struct db_cert_filter f;
	struct db_cert **list = NULL;
	X509_CRL *crl = NULL;
	ASN1_TIME *t = NULL;
	unsigned char *der = NULL;
	size_t i, n = 0;
	char object[32], detail[80], when[21];
	int len, r, in_tx = 0;

	*crlp = NULL;
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
	memset(&f, 0, sizeof(f));
	f.issuer_id = issuer_id;
	f.status = DB_ST_REVOKED;
	f.now = now;
	if ((r = db_crl_next_number(db, issuer_id, &number, err)) != 0 ||
	    (r = db_cert_list(db, &f, &list, &n, err)) != 0)
		goto out;

	if ((crl = X509_CRL_new()) == NULL ||
	    !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) ||
	    (t = ASN1_TIME_set(NULL, (time_t)now)) == NULL ||
	    !X509_CRL_set1_lastUpdate(crl, t) ||
	    ASN1_TIME_set(t, (time_t)next) == NULL ||
	    !X509_CRL_set1_nextUpdate(crl, t)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "building CRL %lld",
		    (long long)number);
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((r = rev_add_entry(crl, list[i], err)) != 0)
			goto out;
	if ((r = rev_add_crl_exts(crl, issuer, number, err)) != 0)
		goto out;
	if (!X509_CRL_sort(crl) ||
	    X509_CRL_sign(crl, ca_key(ca), ca_digest(ca)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "signing CRL %lld",
		    (long long)number);
		goto out;
	}
	if ((len = i2d_X509_CRL(crl, &der)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding CRL %lld",
		    (long long)number);
		goto out;
	}
	util_iso8601(next, when);
	snprintf(object, sizeof(object), "%lld", (long long)number);
	snprintf(detail, sizeof(detail), "entries=%zu next_update=%s", n,
	    when);
	if ((r = db_crl_add(db, issuer_id, number, now, next, der,
	    (size_t)len, err)) != 0 ||
	    (r = pub_enqueue_crl(ca, number, err)) != 0 ||
	    (r = audit_append(db, ca_actor(ca), "crl", object, detail,
	    err)) != 0 ||
	    (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	*crlp = crl;
	crl = NULL;
	r = 0;
 out:
	if (in_tx)
		db_rollback(db);
	OPENSSL_free(der);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	db_cert_free_list(list, n);
	return r;
}
