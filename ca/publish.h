/*
 * Publishing certificates and CRLs to the directory through an outbox:
 * the queue in outbox.c (enqueue, run, status, retry), the directory
 * made to agree in publish.c (the jobs' work, resync).
 */
#ifndef CA_PUBLISH_H
#define CA_PUBLISH_H

#include <stdint.h>

struct ca;
struct ca_err;
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

#endif
