/*
 * Publishing certificates and CRLs to the directory through an outbox:
 * the queue in outbox.c (enqueue, run, status, retry), the directory
 * made to agree in publish.c (the jobs' work, resync).
 */
#ifndef CA_PUBLISH_H
#define CA_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct ca;
struct ca_config;
struct ca_err;
struct cfg_ldap;
struct dir_entry;
struct tpl;

/*
 * Why a job was written. Whatever the kind, a job for a certificate makes
 * the user's entry agree with the database: every valid certificate of
 * this CA for that address present, revoked, expired and unknown ones of
 * this CA gone, certificates of other issuers left alone.
 */
enum pub_kind {
	PUB_ADD,		/* issued */
	PUB_DELETE,		/* revoked (superseded included) */
	PUB_EXPIRE,		/* expired (written by pub_run) */
	PUB_CRL,		/* a CRL was signed */
};

/* Whether certificates of this template go to the directory (S/MIME). */
int pub_template_publishes(const struct tpl *t);

/*
 * Write a job inside the caller's transaction. Nothing is written when no
 * directory is configured (no <ldap>), for a certificate without a mail
 * address, or for a CRL without <ca-entry>.
 */
int pub_enqueue_cert(struct ca *ca, int64_t cert_id, const char *email,
    enum pub_kind kind, struct ca_err *err);
int pub_enqueue_crl(struct ca *ca, int64_t crl_number, struct ca_err *err);

struct pub_result {
	int tried;		/* jobs worked on */
	int done;		/* applied */
	int retrying;		/* failed; retried after a delay */
	int failed;		/* failed until `smimeca publish retry` */
	int64_t next_due;	/* when the next pending job is due; 0: none */
};

/*
 * Applies up to max_jobs due jobs (0: every due job) and returns. Jobs are
 * leased in a short transaction, the directory is written outside any
 * transaction, and each outcome is stored on its own, so one thread may
 * run this on its own struct ca while others issue on theirs. A failed job
 * is retried after initial-seconds, doubling up to max-seconds
 * (<ldap><retry>); one whose user has no entry, or that the directory
 * refuses for good, waits for `smimeca publish retry`.
 * Returns 0 when every job tried was applied (or none was due),
 * CA_ERR_IO when some were not (err says why; they stay queued), another
 * code when the database failed. Without <ldap> it does nothing.
 */
int pub_run(struct ca *ca, int max_jobs, struct pub_result *res,
    struct ca_err *err);

struct pub_status {
	int64_t due;		/* pending and due now */
	int64_t waiting;	/* pending, waiting for their next attempt */
	int64_t failed;		/* waiting for publish retry */
	int64_t done;
	int64_t next_due;	/* 0: nothing pending */
	/* The oldest job not done (id 0: none). */
	int64_t oldest_id;
	char oldest_kind[8];
	char oldest_object[80];	/* mail address or CRL number */
	char oldest_state[8];
	int64_t oldest_created;
	int oldest_attempts;
	char oldest_error[512];
};

int pub_status(struct ca *ca, struct pub_status *st, struct ca_err *err);

/*
 * Makes pending and failed jobs (of one address; email NULL: all) due now,
 * with a fresh retry delay; *np gets how many.
 */
int pub_retry(struct ca *ca, const char *email, int64_t *np,
    struct ca_err *err);

/* What a resync did (or would do) to one entry. */
typedef void (*pub_report_fn)(void *ctx, const char *who, const char *dn,
    int added, int deleted, const char *error);

/*
 * Reconciles the directory with the database, now, for one address or
 * (email NULL) for every address with certificates of this CA and every
 * entry that holds a value: adds missing valid certificates, deletes
 * revoked, expired, superseded and unknown ones issued by this CA, leaves
 * other issuers' certificates alone; and the CA entry. dry_run: changes
 * nothing, reports what it would do. Jobs of the addresses reconciled are
 * marked done. CA_ERR_IO and friends when some entry could not be synced
 * (reported through fn as well).
 */
int pub_resync(struct ca *ca, const char *email, int dry_run,
    pub_report_fn fn, void *ctx, struct ca_err *err);

/*
 * The Active Directory layout: <attributes certificate="userCertificate">
 * (no ;binary).
 */
int pub_layout_ad(const struct cfg_ldap *l);

/*
 * Under the AD layout, why entry e will not reach Exchange Online (no
 * mailNickname: ADSync does not copy its userCertificate); NULL when
 * nothing is wrong or the layout is another.
 */
const char *pub_entry_warning(const struct cfg_ldap *l,
    const struct dir_entry *e);

/* An entry the directory check warns about. */
typedef void (*pub_warn_fn)(void *ctx, const char *dn, const char *mail,
    const char *why);

/*
 * Under the AD layout, calls fn for every entry of <users filter> (with *
 * for the address) that has no mailNickname, and sets *np to how many;
 * otherwise does nothing. Needs the directory (CA_ERR_IO when it cannot
 * be reached).
 */
int pub_check_entries(const struct ca_config *cfg, pub_warn_fn fn,
    void *ctx, size_t *np, struct ca_err *err);

/* --- directory values (pubvalue.c) --- */

/* What one value of userCertificate or userSMIMECertificate holds. */
enum pub_value_kind {
	PUB_VALUE_OURS,		/* a certificate one of issuers signed */
	PUB_VALUE_FOREIGN,	/* only certificates of other issuers */
	PUB_VALUE_UNDECODABLE,	/* no certificate: publish clean keeps it */
};

/* x was issued (and signed) by one of issuers. */
int pub_value_ours(const STACK_OF(X509) *issuers, X509 *x);
/*
 * Decodes one value read from the directory: a DER certificate, or
 * (smime) a PKCS#7 SignedData as Outlook writes userSMIMECertificate,
 * ours when any certificate in it is. The whole value must decode.
 * *certp gets the certificate (a bundle's end entity) for OURS and
 * FOREIGN, NULL for UNDECODABLE. Needs no directory and no CA.
 */
enum pub_value_kind pub_value_classify(const unsigned char *data,
    size_t len, int smime, const STACK_OF(X509) *issuers, X509 **certp);

/* A value of another issuer that publish clean removes (or would). */
struct pub_clean_item {
	const char *dn;
	const char *attr;	/* as configured, e.g. userCertificate;binary */
	const char *subject;	/* RFC 2253 */
	const char *issuer;	/* RFC 2253 */
	const char *serial;	/* hex */
	const char *sha1;	/* SHA-1 of the certificate's DER, hex */
	int removed;		/* removed and audited (never under dry_run) */
	const char *error;	/* why it could not be removed, or NULL */
	/*
	 * No certificate could be decoded from the value: kept, never
	 * removed; subject, issuer and serial are "", sha1 is the value's.
	 */
	int undecodable;
	size_t len;		/* of the value */
};
typedef void (*pub_clean_fn)(void *ctx, const struct pub_clean_item *it);

/*
 * Removes from attr ("userCertificate" or "userSMIMECertificate") the
 * values holding certificates that this CA did not issue (Outlook's, an
 * earlier CA's), in the entry of email or (email NULL) in every entry
 * under <users base> that has the attribute; each removal is written to
 * the audit log ("publish-clean"). Values of this CA stay, and so do
 * values from which no certificate decodes whole (reported through fn as
 * undecodable). dry_run: only reports. Only this function removes other
 * issuers' values; publishing never does. CA_ERR_IO when some value
 * could not be removed (reported through fn as well).
 */
int pub_clean(struct ca *ca, const char *attr, const char *email,
    int dry_run, pub_clean_fn fn, void *ctx, struct ca_err *err);

#endif
