/* Key Recovery Agent certificates registered with the CA. */
#include "ac-config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "archive/dercache.h"
#include "archive/kra.h"
#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/util.h"

/* szOID_KP_KEY_RECOVERY_AGENT */
#define KRA_EKU_OID	"1.3.6.1.4.1.311.21.6"

static int has_kra_eku(X509 *);
static int kra_from_row(const struct db_kra *, struct kra **,
    struct ca_err *);
static int norm_fingerprint(const char *, char *, size_t, size_t *);
static X509 *d2i_blob(const void *, int);

static X509 *
d2i_blob(const void *blob, int len)
{
	const unsigned char *p = blob;

	return blob == NULL || len <= 0 ? NULL : d2i_X509(NULL, &p, len);
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
	struct db_kra row;
	unsigned char *der = NULL;
	char *subj = NULL, *detail = NULL;
	int64_t now = (int64_t)time(NULL);
	int len, r, in_tx = 0;

	memset(&row, 0, sizeof(row));
	if ((r = kra_check_cert(cert, now, err)) != 0)
		goto out;
	if ((len = i2d_X509(cert, &der)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the KRA "
		    "certificate");
		goto out;
	}
	util_sha1_hex(der, (size_t)len, row.sha1);
	util_sha256_hex(der, (size_t)len, row.sha256);
	if ((subj = util_name_oneline(X509_get_subject_name(cert))) == NULL ||
	    asprintf(&detail, "subject=%s sha256=%s", subj, row.sha256) ==
	    -1) {
		detail = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	row.subject = subj;
	row.der = der;
	row.derlen = (size_t)len;
	row.not_after = util_asn1_time_to_unix(X509_get0_notAfter(cert));
	row.added = now;
	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if ((r = db_kra_add(db, &row, err)) != 0 ||
	    (r = audit_append(db, ca_actor(ca), "kra-add", row.sha1, detail,
	    err)) != 0 || (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	r = 0;
 out:
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
	char fp[65], sha1[41], detail[128];
	int64_t now = (int64_t)time(NULL);
	size_t fplen;
	int r, in_tx = 0;

	if (norm_fingerprint(fingerprint, fp, sizeof(fp), &fplen) != 0) {
		r = ca_err_set(err, CA_ERR_INVALID, "\"%s\" is not a SHA-1 or "
		    "SHA-256 fingerprint (40 or 64 hex digits, as `smimeca "
		    "kra list` shows them)", fingerprint);
		goto out;
	}
	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if ((r = db_kra_retire(db, fp, now, sha1, err)) != 0)
		goto out;
	/* Keys escrowed before stay wrapped to it; new ones are not. */
	snprintf(detail, sizeof(detail), "retired_at=%lld", (long long)now);
	if ((r = audit_append(db, ca_actor(ca), "kra-retire", sha1, detail,
	    err)) != 0 || (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	r = 0;
 out:
	if (in_tx)
		db_rollback(db);
	return r;
}

/* A struct kra from a row of the store. */
static int
kra_from_row(const struct db_kra *row, struct kra **kp, struct ca_err *err)
{
	struct kra *k = NULL;
	int r;

	*kp = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->subject = strdup(row->subject)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	k->id = row->id;
	snprintf(k->sha1, sizeof(k->sha1), "%s", row->sha1);
	snprintf(k->sha256, sizeof(k->sha256), "%s", row->sha256);
	if ((k->cert = d2i_blob(row->der, (int)row->derlen)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_DB, "KRA certificate %s: the stored "
		    "certificate does not parse", k->sha1);
		goto out;
	}
	k->not_after = row->not_after;
	k->added = row->added;
	k->retired = row->retired;
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
	struct db_kra **rows = NULL;
	struct kra **list = NULL;
	size_t n = 0, nrows = 0;
	int r;

	*listp = NULL;
	*np = 0;
	if ((r = db_kra_list(db, 0, 0, &rows, &nrows, err)) != 0)
		goto out;
	if (nrows > 0 && (list = calloc(nrows, sizeof(*list))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (n = 0; n < nrows; n++)
		if ((r = kra_from_row(rows[n], &list[n], err)) != 0)
			goto out;
	*listp = list;
	*np = n;
	list = NULL;
	n = 0;
	r = 0;
 out:
	db_kra_free_list(rows, nrows);
	kra_free_list(list, n);
	return r;
}

int
kra_usable(struct db *db, int64_t now, STACK_OF(X509) **certsp,
    struct ca_err *err)
{
	struct db_kra **rows = NULL;
	STACK_OF(X509) *sk = NULL;
	X509 *cert = NULL;
	size_t i, n = 0;
	int r;

	*certsp = NULL;
	if ((sk = sk_X509_new_null()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = db_kra_list(db, 1, now, &rows, &n, err)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		cert = dc_cert(rows[i]->der, rows[i]->derlen);
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
	*certsp = sk;
	sk = NULL;
	r = 0;
 out:
	db_kra_free_list(rows, n);
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
