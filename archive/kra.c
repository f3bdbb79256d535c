/* Key Recovery Agent certificates registered with the CA. */
#include "ac-config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "archive/kra.h"
#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/util.h"

/* szOID_KP_KEY_RECOVERY_AGENT */
#define KRA_EKU_OID	"1.3.6.1.4.1.311.21.6"

static int has_kra_eku(X509 *);
static int kra_fail(sqlite3 *, struct ca_err *, const char *);
static int kra_from_row(sqlite3_stmt *, struct kra **, struct ca_err *);
static int norm_fingerprint(const char *, char *, size_t, size_t *);
static X509 *d2i_blob(const void *, int);

static X509 *
d2i_blob(const void *blob, int len)
{
	const unsigned char *p = blob;

	return blob == NULL || len <= 0 ? NULL : d2i_X509(NULL, &p, len);
}

static int
kra_fail(sqlite3 *h, struct ca_err *err, const char *what)
{
	return ca_err_set(err, CA_ERR_DB, "KRA certificates: %s: %s", what,
	    sqlite3_errmsg(h));
}

/* 1 when the extendedKeyUsage extension lists the KRA purpose. */
static int
has_kra_eku(X509 *cert)
{
	EXTENDED_KEY_USAGE *eku = NULL;
	ASN1_OBJECT *want = NULL;
	int i, found = 0;

	if ((eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL,
	    NULL)) == NULL || (want = OBJ_txt2obj(KRA_EKU_OID, 1)) == NULL)
		goto out;
	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), want) == 0)
			found = 1;
 out:
	ASN1_OBJECT_free(want);
	EXTENDED_KEY_USAGE_free(eku);
	return found;
}

int
kra_check_cert(X509 *cert, int64_t now, struct ca_err *err)
{
	EVP_PKEY *pub;
	char *subj = NULL;
	const char *s;
	int r = 0;

	subj = util_name_oneline(X509_get_subject_name(cert));
	s = subj != NULL ? subj : "?";
	/* Computes the cached extension flags; fails on broken extensions. */
	if (X509_check_purpose(cert, -1, 0) != 1 ||
	    (X509_get_extension_flags(cert) & EXFLAG_INVALID) != 0) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "KRA certificate %s: "
		    "malformed extensions", s);
		goto out;
	}
	if (!has_kra_eku(cert))
		r = ca_err_set(err, CA_ERR_POLICY, "KRA certificate %s: no Key "
		    "Recovery Agent EKU (%s); issue it from the kra template",
		    s, KRA_EKU_OID);
	if ((X509_get_key_usage(cert) & KU_KEY_ENCIPHERMENT) == 0)
		r = ca_err_set(err, CA_ERR_POLICY, "KRA certificate %s: its "
		    "keyUsage lacks keyEncipherment, which key transport to "
		    "it needs; issue it from the kra template", s);
	if ((pub = X509_get0_pubkey(cert)) == NULL ||
	    EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA)
		r = ca_err_set(err, CA_ERR_POLICY, "KRA certificate %s: the "
		    "key is %s, but escrow wraps keys with RSA-OAEP: a KRA "
		    "needs an RSA key", s, pub == NULL ? "unreadable" :
		    OBJ_nid2sn(EVP_PKEY_get_base_id(pub)));
	if (util_asn1_time_to_unix(X509_get0_notAfter(cert)) < now)
		r = ca_err_set(err, CA_ERR_POLICY, "KRA certificate %s has "
		    "expired; register a current one", s);
	else if (util_asn1_time_to_unix(X509_get0_notBefore(cert)) > now)
		r = ca_err_set(err, CA_ERR_POLICY, "KRA certificate %s is not "
		    "valid yet (check the clocks)", s);
 out:
	free(subj);
	return r;
}

int
kra_add(struct ca *ca, X509 *cert, struct ca_err *err)
{
	struct db *db = ca_db(ca);
	sqlite3 *h = db_handle(db);
	sqlite3_stmt *st = NULL;
	unsigned char *der = NULL;
	char sha1[41], sha256[65], *subj = NULL, *detail = NULL;
	int64_t now = (int64_t)time(NULL);
	int len, rc, r, in_tx = 0;

	if ((r = kra_check_cert(cert, now, err)) != 0)
		goto out;
	if ((len = i2d_X509(cert, &der)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the KRA "
		    "certificate");
		goto out;
	}
	util_sha1_hex(der, (size_t)len, sha1);
	util_sha256_hex(der, (size_t)len, sha256);
	if ((subj = util_name_oneline(X509_get_subject_name(cert))) == NULL ||
	    asprintf(&detail, "subject=%s sha256=%s", subj, sha256) == -1) {
		detail = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if (sqlite3_prepare_v2(h, "INSERT INTO kras(sha1, sha256, subject, "
	    "der, not_after, added) VALUES(?, ?, ?, ?, ?, ?)", -1, &st,
	    NULL) != SQLITE_OK) {
		r = kra_fail(h, err, "registering");
		goto out;
	}
	sqlite3_bind_text(st, 1, sha1, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, subj, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, der, len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5,
	    util_asn1_time_to_unix(X509_get0_notAfter(cert)));
	sqlite3_bind_int64(st, 6, now);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		if ((rc & 0xff) == SQLITE_CONSTRAINT)
			r = ca_err_set(err, CA_ERR_EXISTS, "KRA certificate "
			    "%s (SHA-1 %s) is already registered (see "
			    "`smimeca kra list`)", subj, sha1);
		else
			r = kra_fail(h, err, "registering");
		goto out;
	}
	if ((r = audit_append(db, ca_actor(ca), "kra-add", sha1, detail,
	    err)) != 0 || (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	r = 0;
 out:
	sqlite3_finalize(st);
	if (in_tx)
		db_rollback(db);
	free(detail);
	free(subj);
	OPENSSL_free(der);
	return r;
}

/* Lower-case hex without colons or blanks; *lenp hex digits. */
static int
norm_fingerprint(const char *in, char *out, size_t outlen, size_t *lenp)
{
	size_t n = 0;

	*lenp = 0;
	for (; *in != '\0'; in++) {
		if (*in == ':' || *in == ' ')
			continue;
		if (!isxdigit((unsigned char)*in) || n + 1 >= outlen)
			return -1;
		out[n++] = (char)tolower((unsigned char)*in);
	}
	out[n] = '\0';
	*lenp = n;
	return n == 40 || n == 64 ? 0 : -1;
}

int
kra_retire(struct ca *ca, const char *fingerprint, struct ca_err *err)
{
	struct db *db = ca_db(ca);
	sqlite3 *h = db_handle(db);
	sqlite3_stmt *st = NULL;
	char fp[65], sha1[41], detail[128];
	int64_t id, now = (int64_t)time(NULL);
	size_t fplen;
	int rc, r, in_tx = 0;

	if (norm_fingerprint(fingerprint, fp, sizeof(fp), &fplen) != 0) {
		r = ca_err_set(err, CA_ERR_INVALID, "\"%s\" is not a SHA-1 or "
		    "SHA-256 fingerprint (40 or 64 hex digits, as `smimeca "
		    "kra list` shows them)", fingerprint);
		goto out;
	}
	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if (sqlite3_prepare_v2(h, fplen == 40 ?
	    "SELECT id, sha1, retired FROM kras WHERE sha1 = ?" :
	    "SELECT id, sha1, retired FROM kras WHERE sha256 = ?", -1, &st,
	    NULL) != SQLITE_OK) {
		r = kra_fail(h, err, "looking up");
		goto out;
	}
	sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		break;
	case SQLITE_DONE:
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no KRA certificate with "
		    "fingerprint %s is registered (see `smimeca kra list`)",
		    fp);
		goto out;
	default:
		r = kra_fail(h, err, "looking up");
		goto out;
	}
	id = sqlite3_column_int64(st, 0);
	snprintf(sha1, sizeof(sha1), "%s",
	    (const char *)sqlite3_column_text(st, 1));
	if (sqlite3_column_int(st, 2) != 0) {
		r = ca_err_set(err, CA_ERR_EXISTS, "KRA certificate %s is "
		    "retired already", sha1);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(h, "UPDATE kras SET retired = 1, "
	    "retired_at = ? WHERE id = ?", -1, &st, NULL) != SQLITE_OK) {
		r = kra_fail(h, err, "retiring");
		goto out;
	}
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, id);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		r = kra_fail(h, err, "retiring");
		goto out;
	}
	/* Keys escrowed before stay wrapped to it; new ones are not. */
	snprintf(detail, sizeof(detail), "retired_at=%lld", (long long)now);
	if ((r = audit_append(db, ca_actor(ca), "kra-retire", sha1, detail,
	    err)) != 0 || (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	r = 0;
 out:
	sqlite3_finalize(st);
	if (in_tx)
		db_rollback(db);
	return r;
}

/* Row: id, sha1, sha256, subject, der, not_after, added, retired. */
static int
kra_from_row(sqlite3_stmt *st, struct kra **kp, struct ca_err *err)
{
	struct kra *k = NULL;
	const unsigned char *s;
	int r;

	*kp = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	k->id = sqlite3_column_int64(st, 0);
	s = sqlite3_column_text(st, 1);
	snprintf(k->sha1, sizeof(k->sha1), "%s", s ? (const char *)s : "");
	s = sqlite3_column_text(st, 2);
	snprintf(k->sha256, sizeof(k->sha256), "%s",
	    s ? (const char *)s : "");
	s = sqlite3_column_text(st, 3);
	if ((k->subject = strdup(s ? (const char *)s : "")) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((k->cert = d2i_blob(sqlite3_column_blob(st, 4),
	    sqlite3_column_bytes(st, 4))) == NULL) {
		r = ca_err_ssl(err, CA_ERR_DB, "KRA certificate %s: the stored "
		    "certificate does not parse", k->sha1);
		goto out;
	}
	k->not_after = sqlite3_column_int64(st, 5);
	k->added = sqlite3_column_int64(st, 6);
	k->retired = sqlite3_column_int(st, 7) != 0;
	*kp = k;
	k = NULL;
	r = 0;
 out:
	kra_free(k);
	return r;
}

int
kra_list(struct db *db, struct kra ***listp, size_t *np, struct ca_err *err)
{
	sqlite3 *h = db_handle(db);
	sqlite3_stmt *st = NULL;
	struct kra **list = NULL, **nl, *k;
	size_t n = 0, cap = 0;
	int rc, r;

	*listp = NULL;
	*np = 0;
	if (sqlite3_prepare_v2(h, "SELECT id, sha1, sha256, subject, der, "
	    "not_after, added, retired FROM kras ORDER BY id", -1, &st,
	    NULL) != SQLITE_OK) {
		r = kra_fail(h, err, "listing");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			if ((nl = reallocarray(list, cap,
			    sizeof(*list))) == NULL) {
				r = ca_err_set(err, CA_ERR_NOMEM,
				    "out of memory");
				goto out;
			}
			list = nl;
		}
		if ((r = kra_from_row(st, &k, err)) != 0)
			goto out;
		list[n++] = k;
	}
	if (rc != SQLITE_DONE) {
		r = kra_fail(h, err, "listing");
		goto out;
	}
	*listp = list;
	*np = n;
	list = NULL;
	n = 0;
	r = 0;
 out:
	sqlite3_finalize(st);
	kra_free_list(list, n);
	return r;
}

int
kra_usable(struct db *db, int64_t now, STACK_OF(X509) **certsp,
    struct ca_err *err)
{
	sqlite3 *h = db_handle(db);
	sqlite3_stmt *st = NULL;
	STACK_OF(X509) *sk = NULL;
	X509 *cert = NULL;
	int rc, r;

	*certsp = NULL;
	if ((sk = sk_X509_new_null()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (sqlite3_prepare_v2(h, "SELECT der FROM kras WHERE retired = 0 "
	    "AND not_after >= ? ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
		r = kra_fail(h, err, "listing the usable ones");
		goto out;
	}
	sqlite3_bind_int64(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cert = d2i_blob(sqlite3_column_blob(st, 0),
		    sqlite3_column_bytes(st, 0));
		/* Not valid yet, or unreadable: not usable now. */
		if (cert == NULL || kra_check_cert(cert, now, NULL) != 0) {
			X509_free(cert);
			cert = NULL;
			continue;
		}
		if (!sk_X509_push(sk, cert)) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		cert = NULL;
	}
	if (rc != SQLITE_DONE) {
		r = kra_fail(h, err, "listing the usable ones");
		goto out;
	}
	*certsp = sk;
	sk = NULL;
	r = 0;
 out:
	sqlite3_finalize(st);
	X509_free(cert);
	sk_X509_pop_free(sk, X509_free);
	return r;
}

void
kra_free(struct kra *k)
{
	if (k == NULL)
		return;
	free(k->subject);
	X509_free(k->cert);
	free(k);
}

void
kra_free_list(struct kra **list, size_t n)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++)
		kra_free(list[i]);
	free(list);
}
