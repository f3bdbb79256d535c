/*
 * MDM export, the recovery half: a user's escrowed keys come back through
 * the same recovery blob an administrator hands a recovery officer (so the
 * export is audited as a recovery), opened with the officers' KRA keys.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "archive/mdm.h"
#include "archive/recover.h"
#include "archive/shamir.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/template.h"
#include "ca/util.h"

static int open_one(const struct rcv_blob *, size_t,
    const struct mdm_officer *, size_t, EVP_PKEY **, struct ca_err *);
static int open_quorum(const struct rcv_blob *, size_t,
    const struct mdm_officer *, size_t, EVP_PKEY **, struct ca_err *);
static int by_age(const void *, const void *);
static int order_and_mark(struct ca *, struct mdm_user *, int64_t,
    struct ca_err *);

/* Quorum 1: the first officer key that is a recipient opens the record. */
static int
open_one(const struct rcv_blob *b, size_t i, const struct mdm_officer *off,
    size_t noff, EVP_PKEY **keyp, struct ca_err *err)
{
	struct ca_err first, e;
	size_t k;

	ca_err_clear(&first);
	for (k = 0; k < noff; k++) {
		ca_err_clear(&e);
		if (rcv_open_key(b, i, off[k].key, off[k].cert, keyp, &e) == 0)
			return 0;
		if (k == 0)
			first = e;
	}
	if (noff == 0)
		return ca_err_set(err, CA_ERR_INVALID, "no recovery officer "
		    "key given (--kra-key OFFICER.p12)");
	ca_err_set(err, first.code, "%s", first.msg);
	return first.code;
}

/* Quorum m: each officer opens a share; m of them rebuild the key. */
static int
open_quorum(const struct rcv_blob *b, size_t i, const struct mdm_officer *off,
    size_t noff, EVP_PKEY **keyp, struct ca_err *err)
{
	struct shamir_share *shares = NULL;
	struct ca_err e, first;
	char serial[65];
	int q = rcv_blob_quorum(b, i), r;
	size_t k, got = 0;

	ca_err_clear(&first);
	util_serial_hex(X509_get0_serialNumber(rcv_blob_cert(b, i)), serial);
	if (noff > 0 && (shares = calloc(noff, sizeof(*shares))) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	for (k = 0; k < noff; k++) {
		ca_err_clear(&e);
		if (rcv_open_share(b, i, off[k].key, off[k].cert,
		    &shares[got], &e) == 0) {
			got++;
			continue;
		}
		shamir_share_clear(&shares[got]);
		if (first.count == 0)
			first = e;
	}
	if (got < (size_t)q) {
		r = ca_err_set(err, CA_ERR_POLICY, "certificate %s is escrowed "
		    "%d of n: it needs %d recovery officers' keys, and %zu of "
		    "the %zu given opened a share (give more --kra-key)",
		    serial, q, q, got, noff);
		if (first.count > 0)
			ca_err_set(err, first.code, "%s", first.msg);
		goto out;
	}
	r = rcv_combine(b, i, shares, (unsigned)got, keyp, err);
 out:
	for (k = 0; k < got; k++)
		shamir_share_clear(&shares[k]);
	free(shares);
	return r;
}

/* Issuance order: the database row, as notBefore has whole seconds. */
static int
by_age(const void *a, const void *b)
{
	const struct mdm_identity *x = a, *y = b;

	return x->cert_id < y->cert_id ? -1 : x->cert_id > y->cert_id;
}

/*
 * Each identity's row (for the order), then the newest whose certificate
 * is neither revoked nor expired is the current one.
 */
static int
order_and_mark(struct ca *ca, struct mdm_user *u, int64_t now,
    struct ca_err *err)
{
	struct db_cert *dc;
	size_t i;
	int r;

	for (i = 0; i < u->n; i++) {
		if ((r = db_cert_get(ca_db(ca), u->ids[i].serial, &dc,
		    err)) != 0)
			return r;
		u->ids[i].cert_id = dc->id;
		u->ids[i].valid = !dc->revoked && dc->not_before <= now &&
		    dc->not_after > now;
		db_cert_free(dc);
	}
	qsort(u->ids, u->n, sizeof(*u->ids), by_age);
	for (i = u->n; i-- > 0;)
		if (u->ids[i].valid) {
			u->ids[i].current = 1;
			break;
		}
	return 0;
}

int
mdm_recover(struct ca *ca, const char *email,
    const struct mdm_officer *officers, size_t nofficers, int64_t now,
    struct mdm_user **up, struct ca_err *err)
{
	struct mdm_user *u = NULL;
	struct rcv_blob *b = NULL;
	size_t i;
	int r;

	*up = NULL;
	if ((r = rcv_blob_load(ca, email, &b, err)) != 0)
		goto out;
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (u->email = strdup(email)) == NULL ||
	    (u->ids = calloc(rcv_blob_count(b), sizeof(*u->ids))) == NULL ||
	    (u->chain = X509_chain_up_ref(rcv_blob_chain(b))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < rcv_blob_count(b); i++) {
		struct mdm_identity *id = &u->ids[u->n];

		r = rcv_blob_quorum(b, i) > 1 ?
		    open_quorum(b, i, officers, nofficers, &id->key, err) :
		    open_one(b, i, officers, nofficers, &id->key, err);
		if (r != 0)
			goto out;
		id->cert = rcv_blob_cert(b, i);
		X509_up_ref(id->cert);
		u->n++;
		util_serial_hex(X509_get0_serialNumber(id->cert), id->serial);
		if (util_cert_sha1(id->cert, id->sha1) != 0) {
			r = ca_err_ssl(err, CA_ERR_CRYPTO, "certificate %s: "
			    "thumbprint", id->serial);
			goto out;
		}
	}
	if ((r = order_and_mark(ca, u, now, err)) != 0)
		goto out;
	*up = u;
	u = NULL;
	r = 0;
 out:
	mdm_user_free(u);
	rcv_blob_free(b);
	return r;
}

void
mdm_user_free(struct mdm_user *u)
{
	size_t i;

	if (u == NULL)
		return;
	for (i = 0; i < u->n; i++) {
		EVP_PKEY_free(u->ids[i].key);
		X509_free(u->ids[i].cert);
	}
	free(u->ids);
	free(u->email);
	sk_X509_pop_free(u->chain, X509_free);
	free(u);
}

int
mdm_escrowed_emails(struct ca *ca, char ***listp, size_t *np,
    struct ca_err *err)
{
	return db_escrow_emails(ca_db(ca), listp, np, err);
}

void
mdm_free_strings(char **list, size_t n)
{
	db_free_strings(list, n);
}

int
mdm_uuid(char out[37], struct ca_err *err)
{
	unsigned char u[16];

	if (RAND_bytes(u, sizeof(u)) != 1)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "random UUID");
	u[6] = (u[6] & 0x0f) | 0x40;	/* version 4 */
	u[8] = (u[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-"
	    "%02X%02X%02X%02X%02X%02X", u[0], u[1], u[2], u[3], u[4], u[5],
	    u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

int
mdm_check_device_cert(X509 *dev, const char *trust_file, int64_t now,
    struct ca_err *err)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	char *subj = util_name_oneline(X509_get_subject_name(dev));
	int r;

	if ((store = X509_STORE_new()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (X509_STORE_load_file(store, trust_file) != 1) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "%s: cannot read the "
		    "device CA certificates (PEM)", trust_file);
		goto out;
	}
	if (!X509_STORE_CTX_init(ctx, store, dev, NULL) ||
	    !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT)) {
		r = ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* An issuing CA alone in trust_file is enough to pin it. */
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
	    X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx),
	    (time_t)now);
	if (X509_verify_cert(ctx) != 1) {
		r = ca_err_set(err, CA_ERR_AUTH, "the device certificate %s "
		    "was not issued by the device CA of %s (%s): refusing to "
		    "hand keys or passwords to a key that may not be the "
		    "device's; issue it with the device-auth template",
		    subj != NULL ? subj : "?", trust_file,
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	/* A device identity: clientAuth named, not a CA. */
	if (!(X509_get_extension_flags(dev) & EXFLAG_XKUSAGE) ||
	    !(X509_get_extended_key_usage(dev) & XKU_SSL_CLIENT) ||
	    X509_check_ca(dev) != 0) {
		r = ca_err_set(err, CA_ERR_POLICY, "the device certificate %s "
		    "is not a device (clientAuth) certificate: issue it with "
		    "the device-auth template", subj != NULL ? subj : "?");
		goto out;
	}
	r = 0;
 out:
	free(subj);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return r;
}

int
mdm_check_device_record(struct ca *ca, X509 *dev, const char *email,
    char **ownerp, struct ca_err *err)
{
	struct ca_err lerr;
	struct db_cert *dc = NULL;
	struct tpl *t = NULL;
	char serial[65], want[65];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int r;

	util_serial_hex(X509_get0_serialNumber(dev), serial);
	if (X509_digest(dev, EVP_sha256(), md, &mdlen) != 1)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "device certificate %s",
		    serial);
	util_hex(md, mdlen, want);
	ca_err_clear(&lerr);
	if ((r = db_cert_get(ca_db(ca), serial, &dc, &lerr)) != 0 &&
	    r != CA_ERR_NOTFOUND) {
		r = ca_err_set(err, r, "%s", lerr.msg);
		goto out;
	}
	if (r != 0 || strcmp(dc->sha256, want) != 0) {
		r = ca_err_set(err, CA_ERR_AUTH, "device certificate %s is not "
		    "one this CA issued (see smimeca cert list)", serial);
		goto out;
	}
	if (dc->revoked) {
		r = ca_err_set(err, CA_ERR_POLICY, "device certificate %s is "
		    "revoked: a lost or retired device gets no keys", serial);
		goto out;
	}
	if (tpl_load(ca_config(ca)->template_dir, dc->template, &t,
	    NULL) != 0 || t->purpose != TPL_PURPOSE_DEVICE) {
		r = ca_err_set(err, CA_ERR_POLICY, "certificate %s was issued "
		    "under template %s, not a device template (device-auth)",
		    serial, dc->template);
		goto out;
	}
	/*
	 * A device an account enrolled (or renewed from one it enrolled)
	 * gets only that account's keys; the administrator's gets anybody's.
	 */
	if (email != NULL && dc->owner != NULL &&
	    strcasecmp(dc->owner, email) != 0) {
		r = ca_err_set(err, CA_ERR_POLICY, "device certificate %s was "
		    "enrolled by %s, not by %s: refusing to hand %s's keys to "
		    "another user's device", serial, dc->owner, email, email);
		goto out;
	}
	if (ownerp != NULL && dc->owner != NULL &&
	    (*ownerp = strdup(dc->owner)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = 0;
 out:
	tpl_free(t);
	db_cert_free(dc);
	return r;
}

int
mdm_check_key_for_owner(struct ca *ca, const char *thumb, const char *owner,
    struct ca_err *err)
{
	struct ca_err lerr;
	struct db_cert *dc = NULL;
	int r;

	ca_err_clear(&lerr);
	if ((r = db_cert_get_sha1(ca_db(ca), thumb, &dc, &lerr)) != 0) {
		if (r == CA_ERR_NOTFOUND)
			r = ca_err_set(err, CA_ERR_POLICY, "certificate %s is "
			    "not one this CA issued: its key goes to no device "
			    "of this CA's users", thumb);
		else
			r = ca_err_set(err, r, "%s", lerr.msg);
		return r;
	}
	if (dc->email == NULL || strcasecmp(dc->email, owner) != 0) {
		r = ca_err_set(err, CA_ERR_POLICY, "certificate %s is %s's, "
		    "and the device was enrolled by %s: refusing to hand "
		    "another user's key to it", thumb, dc->email != NULL ?
		    dc->email : "nobody", owner);
		goto out;
	}
	r = 0;
 out:
	db_cert_free(dc);
	return r;
}
