/*
 * The CA's store: the one layer that speaks SQL. ca/db.c opens it and runs
 * transactions, ca/db_group.c shares commits between threads, and one file
 * per family of tables reads and writes the rows: ca/db_cert.c (CA
 * certificates, templates, requests, certificates, CRLs), db_escrow.c,
 * db_kra.c, db_user.c (accounts and enrollment codes), db_outbox.c (the
 * publish jobs) and db_audit.c. Nothing above ca/ sees SQLite.
 */
#ifndef CA_DB_H
#define CA_DB_H

#include <stddef.h>
#include <stdint.h>

struct ca_err;
struct db;

#define DB_SCHEMA_VERSION 10

/* A row of the certs table. Strings and der are owned by the struct. */
struct db_cert {
	int64_t id;
	char serial[65];	/* lower-case hex, whole bytes */
	int64_t issuer_id;	/* ca_certs.id */
	int64_t request_id;	/* requests.id, 0 if none */
	char *template;		/* template name */
	char *subject;		/* one-line subject */
	char *email;		/* lower-case mail, or NULL */
	char *owner;		/* its request's owner, or NULL */
	int64_t not_before;
	int64_t not_after;
	int revoked;		/* 0 = not revoked */
	int64_t revoked_at;
	int reason;		/* CRL reason code when revoked */
	char sha1[41];		/* thumbprint */
	char sha256[65];
	unsigned char *der;
	size_t derlen;
};

struct db_cert_filter {
	const char *email;	/* NULL = any */
	const char *template;	/* NULL = any */
	int64_t issuer_id;	/* 0 = any */
	int issuing;		/* only those of an issuing CA certificate */
	enum { DB_ST_ANY, DB_ST_VALID, DB_ST_REVOKED, DB_ST_EXPIRED } status;
	int64_t now;		/* reference time for valid/expired */
};

struct db_request {
	int64_t id;
	const char *protocol;	/* "cli", "est", ... */
	const char *requester;	/* account or "admin", for the record */
	/*
	 * The account the certificate belongs to: the lower-case mail of the
	 * account that enrolled it, carried over unchanged by its renewals.
	 * NULL: issued by the administrator (at the CLI), nobody's own.
	 */
	const char *owner;
	int64_t template_id;
	const unsigned char *csr;	/* DER */
	size_t csrlen;
};

/* --- the connection and its transactions (ca/db.c) --- */

/* Opens (create: creates) the database, sets WAL, synchronous=FULL,
 * foreign_keys=ON, busy timeout, and migrates to DB_SCHEMA_VERSION. */
int db_open(const char *path, int create, struct db **dbp, struct ca_err *err);
void db_close(struct db *db);
int db_begin(struct db *db, struct ca_err *err);	/* BEGIN IMMEDIATE */
int db_commit(struct db *db, struct ca_err *err);
void db_rollback(struct db *db);
/* Whether a transaction (or savepoint) is open on db. */
int db_in_transaction(struct db *db);
int db_schema_version(struct db *db);
/* Whether the store answers a query; err says why not ("database: ..."). */
int db_ping(struct db *db, struct ca_err *err);
/* Frees a list of strings (db_cert_emails, db_escrow_emails). */
void db_free_strings(char **list, size_t n);

/* --- group commit (ca/db_group.c) --- */

/*
 * Group commit. Runs fn(ctx, txdb, err) inside a write transaction that
 * the other threads of the process calling db_group_run on the same file
 * may share, so that one COMMIT (and one fsync) covers them all. fn issues
 * every statement on txdb, which is another thread's handle when that one
 * leads the batch, and it may be called on that thread; it must not begin
 * or end a transaction. Each fn runs under a savepoint of its own: one that
 * fails is rolled back alone and the others go on. Returns 0 only after
 * the COMMIT that covers fn's rows succeeded; when that COMMIT (or BEGIN)
 * fails, every member of the batch gets the error and nothing of any of
 * them is stored. A caller that finds no batch open leads at once.
 */
typedef int (*db_group_fn)(void *ctx, struct db *txdb, struct ca_err *err);
int db_group_run(struct db *db, db_group_fn fn, void *ctx,
    struct ca_err *err);
/*
 * Transactions that stored rows through db_group_run on db's file, and the
 * members they stored (0 and 0 for a memory database).
 */
void db_group_stats(struct db *db, uint64_t *batchesp, uint64_t *membersp);

/* --- certificates and what they come from (ca/db_cert.c) --- */

/* ca_certs: role is "root", "issuing" (and later "xchg", "tls", "ra"). */
int db_ca_cert_add(struct db *db, const char *role, const unsigned char *der,
    size_t derlen, const char *key_file, int64_t not_before,
    int64_t not_after, int64_t *idp, struct ca_err *err);
/* The certificate of that role with the latest notAfter. */
int db_ca_cert_current(struct db *db, const char *role, int64_t *idp,
    unsigned char **derp, size_t *derlenp, struct ca_err *err);

/* A row of ca_certs. */
struct db_ca_cert {
	int64_t id;
	unsigned char *der;
	size_t derlen;
	char *key_file;		/* NULL if none */
	int64_t not_before;
	int64_t not_after;
};

/* Every CA certificate of that role, the latest notAfter first. */
int db_ca_cert_list(struct db *db, const char *role,
    struct db_ca_cert ***listp, size_t *np, struct ca_err *err);
void db_ca_cert_free_list(struct db_ca_cert **list, size_t n);

/* templates in use: inserts (name, sha256, body) once, returns its id. */
int db_template_record(struct db *db, const char *name, const char *sha256,
    const char *body, size_t bodylen, int64_t *idp, struct ca_err *err);

int db_request_add(struct db *db, const struct db_request *req, int64_t *idp,
    struct ca_err *err);

/* CA_ERR_EXISTS when the serial is taken (the caller draws another). */
int db_cert_add(struct db *db, struct db_cert *c, struct ca_err *err);
int db_cert_get(struct db *db, const char *serial, struct db_cert **cp,
    struct ca_err *err);
/* The certificate of that SHA-1 thumbprint (hex, either case). */
int db_cert_get_sha1(struct db *db, const char *sha1, struct db_cert **cp,
    struct ca_err *err);
int db_cert_list(struct db *db, const struct db_cert_filter *f,
    struct db_cert ***listp, size_t *np, struct ca_err *err);
/* Marks revoked; CA_ERR_EXISTS if already revoked, CA_ERR_NOTFOUND if none. */
int db_cert_revoke(struct db *db, const char *serial, int reason,
    int64_t when, struct ca_err *err);
/* The addresses of certificates of an issuing CA certificate, sorted. */
int db_cert_emails(struct db *db, char ***listp, size_t *np,
    struct ca_err *err);
void db_cert_free(struct db_cert *c);
void db_cert_free_list(struct db_cert **list, size_t n);

/* CRLs: the next number is one more than the highest stored (1 at first). */
int db_crl_next_number(struct db *db, int64_t issuer_id, int64_t *nump,
    struct ca_err *err);
int db_crl_add(struct db *db, int64_t issuer_id, int64_t number,
    int64_t this_update, int64_t next_update, const unsigned char *der,
    size_t derlen, struct ca_err *err);
/* The newest CRL of an issuer. */
int db_crl_latest(struct db *db, int64_t issuer_id, unsigned char **derp,
    size_t *derlenp, struct ca_err *err);

/* --- lifecycle: expiring certificates, CRL entries (ca/db_cert.c) --- */

/* A certificate that expires soon, and its successor if it has one. */
struct db_expiring {
	struct db_cert *cert;	/* without its DER (derlen 0) */
	/*
	 * The serial of the newest valid certificate (unrevoked, begun,
	 * expiring later) of an issuing CA certificate for the same address
	 * and template; "" when there is none.
	 */
	char newer[65];
	int64_t newer_not_after;
	int escrowed;		/* its key is in escrow */
};

struct db_expiring_filter {
	int64_t now;
	int64_t until;		/* notAfter in [now, until) */
	const char *template;	/* NULL = any */
	/*
	 * Also those revoked as superseded: a renewal under <active-limit
	 * on-limit="supersede"> revokes the certificate an MDM still holds.
	 */
	int superseded;
};

/*
 * The unrevoked certificates of an issuing CA certificate whose notAfter
 * falls in [now, until), soonest first (index certs_expiry).
 */
int db_cert_expiring(struct db *db, const struct db_expiring_filter *f,
    struct db_expiring ***listp, size_t *np, struct ca_err *err);
void db_expiring_free(struct db_expiring *e);
void db_expiring_free_list(struct db_expiring **list, size_t n);
/* How many db_cert_expiring would list (any template); reads the index. */
int db_cert_count_expiring(struct db *db, int64_t now, int64_t until,
    int64_t *np, struct ca_err *err);
/*
 * Calls fn for every revoked certificate of issuer issuer_id in serial
 * order (as integers), stopping at its first nonzero return, which it
 * returns; *np (may be NULL) gets how many rows fn took.
 */
typedef int (*db_revoked_fn)(void *ctx, const char *serial,
    int64_t revoked_at, int reason, struct ca_err *err);
int db_cert_revoked_each(struct db *db, int64_t issuer_id, db_revoked_fn fn,
    void *ctx, size_t *np, struct ca_err *err);
/*
 * As db_crl_latest, with the nextUpdate the row records, so that serving
 * the CRL needs no parse of it.
 */
int db_crl_latest_until(struct db *db, int64_t issuer_id, unsigned char **derp,
    size_t *derlenp, int64_t *nextp, struct ca_err *err);

/* --- escrow and its shares (ca/db_escrow.c) --- */

/* A share of an m-of-n escrow record: its envelope to one KRA. */
struct db_escrow_share {
	int x;
	char kra_sha256[65];
	unsigned char *env;	/* envlen 0 when the row holds none */
	size_t envlen;
};

/* A row of escrow. */
struct db_escrow {
	int64_t id;
	int64_t cert_id;
	int quorum;		/* m; 1 = any one KRA */
	int64_t nshares;	/* as the row says; 1 with quorum 1 */
	unsigned char *env;	/* envlen 0 when the row holds none */
	size_t envlen;
	const char *kras;	/* comma-separated KRA SHA-1s (db_escrow_add) */
	int64_t created;	/* (db_escrow_add) */
};

/*
 * Inside the caller's transaction: stores e and its shares. serial names
 * the certificate in errors; CA_ERR_EXISTS when it has an escrowed key.
 */
int db_escrow_add(struct db *db, const struct db_escrow *e,
    const struct db_escrow_share *shares, size_t nshares, const char *serial,
    struct ca_err *err);
/*
 * The escrow record of a certificate; CA_ERR_NOTFOUND, without a message,
 * when it has none. Free e->env.
 */
int db_escrow_get(struct db *db, int64_t cert_id, struct db_escrow *e,
    struct ca_err *err);
/* The shares of an escrow record, by x. */
int db_escrow_shares(struct db *db, int64_t escrow_id,
    struct db_escrow_share ***sharesp, size_t *np, struct ca_err *err);
void db_escrow_shares_free(struct db_escrow_share **shares, size_t n);
/* The addresses of certificates with an escrowed key, sorted. */
int db_escrow_emails(struct db *db, char ***listp, size_t *np,
    struct ca_err *err);

/* --- Key Recovery Agent certificates (ca/db_kra.c) --- */

struct db_kra {
	int64_t id;
	char sha1[41];		/* fingerprints of the DER, lower-case hex */
	char sha256[65];
	char *subject;
	unsigned char *der;
	size_t derlen;
	int64_t not_after;
	int64_t added;
	int retired;
};

/* Inside the caller's transaction; CA_ERR_EXISTS when it is registered. */
int db_kra_add(struct db *db, const struct db_kra *k, struct ca_err *err);
/*
 * Inside the caller's transaction: retires the KRA of fingerprint fp (SHA-1
 * or SHA-256, lower-case hex) at when; sha1 gets its SHA-1. CA_ERR_NOTFOUND
 * when none has it, CA_ERR_EXISTS when it is retired already.
 */
int db_kra_retire(struct db *db, const char *fp, int64_t when,
    char sha1[41], struct ca_err *err);
/*
 * Every KRA, or (usable) those neither retired nor expired at now, in
 * registration order.
 */
int db_kra_list(struct db *db, int usable, int64_t now,
    struct db_kra ***listp, size_t *np, struct ca_err *err);
void db_kra_free_list(struct db_kra **list, size_t n);

/* --- local accounts and enrollment codes (ca/db_user.c) --- */

struct user;

/*
 * The writes run in the caller's transaction; mail is lower-case.
 * CA_ERR_EXISTS when the account exists.
 */
int db_user_add(struct db *db, const char *mail, const char *cn,
    const char *pwhash, struct ca_err *err);
/* CA_ERR_NOTFOUND when there is no such account. */
int db_user_set_disabled(struct db *db, const char *mail, int disabled,
    struct ca_err *err);
int db_user_set_pwhash(struct db *db, const char *mail, const char *pwhash,
    struct ca_err *err);
/*
 * The account of that address, and (pwhashp not NULL) its password hash;
 * CA_ERR_NOTFOUND ("no account ...") when there is none.
 */
int db_user_get(struct db *db, const char *email, struct user **up,
    char **pwhashp, struct ca_err *err);
/* Every account, by address. */
int db_user_list(struct db *db, struct user ***listp, size_t *np,
    struct ca_err *err);
/*
 * Retires the account's unused codes and stores the hash of a new one that
 * expires at expires; CA_ERR_NOTFOUND unless the account is enabled.
 */
int db_code_add(struct db *db, const char *mail, const char *codehash,
    int64_t now, int64_t expires, struct ca_err *err);
/*
 * The account's newest code unused and unexpired at now: 0, its id and
 * hash (free it); 1 when it has none or the store fails.
 */
int db_code_live(struct db *db, const char *mail, int64_t now, int64_t *idp,
    char **hashp);
/* Uses code id up at now: 0, or -1 when another request did first. */
int db_code_use(struct db *db, int64_t id, int64_t now);

/* --- the publish outbox (ca/db_outbox.c) --- */

struct pub_status;

/* A job of the outbox. */
struct db_pub_job {
	int64_t id;
	int kind;		/* enum pub_kind */
	int64_t cert_id;	/* 0: none */
	char *email;		/* NULL: none */
	int64_t crl_number;
	int attempts;
};

/* The name a kind is stored under ("add", "delete", "expire", "crl"). */
const char *db_pub_kind_name(int kind);
/* Inside the caller's transaction; email lower-case or NULL. */
int db_pub_add(struct db *db, int kind, int64_t cert_id, const char *email,
    int64_t crl_number, int64_t now, struct ca_err *err);
/*
 * In a transaction of its own: queues an expiry job for every published
 * certificate that expired by now, then takes up to max (0: all) due
 * jobs, oldest first, leasing them until lease_until.
 */
int db_pub_claim(struct db *db, int64_t now, int max, int64_t lease_until,
    struct db_pub_job ***jobsp, size_t *np, struct ca_err *err);
void db_pub_jobs_free(struct db_pub_job **jobs, size_t n);
/* Each in a transaction of its own: the outcome of a job. */
int db_pub_done(struct db *db, int64_t id, int64_t now, const char *result,
    struct ca_err *err);
/* permanent: failed until db_pub_retry; else pending again at next. */
int db_pub_failed(struct db *db, int64_t id, int permanent, int64_t next,
    const char *error, struct ca_err *err);
/* When the next pending job is due; 0: none pending. */
int db_pub_next_due(struct db *db, int64_t *whenp, struct ca_err *err);
int db_pub_status(struct db *db, int64_t now, struct pub_status *st,
    struct ca_err *err);
/*
 * Makes the pending and failed jobs (of email; NULL: all) due at now with
 * no attempt made; *np gets how many.
 */
int db_pub_retry(struct db *db, const char *email, int64_t now, int64_t *np,
    struct ca_err *err);
/* Closes the jobs of email (NULL: the CRL jobs) written by since. */
int db_pub_close(struct db *db, const char *email, int64_t since,
    int64_t now, struct ca_err *err);

/* --- the audit log's rows (ca/db_audit.c; the chain is ca/audit.c's) --- */

struct db_audit_head {
	int present;
	int64_t last_id;
	int64_t count;
	char last_hash[65];
};

struct db_audit_row {
	int64_t id;
	int64_t ts;
	const char *actor;
	const char *action;
	const char *object;
	const char *detail;
	const char *prev_hash;
	const char *hash;
};

int db_audit_head(struct db *db, struct db_audit_head *hd,
    struct ca_err *err);
/*
 * Inside the caller's transaction: appends row and moves the head to it,
 * which then counts count rows.
 */
int db_audit_add(struct db *db, const struct db_audit_row *row,
    int64_t count, struct ca_err *err);
/*
 * Calls fn for every row in order, stopping at its first nonzero return,
 * which it returns; what names the reading in errors.
 */
typedef int (*db_audit_fn)(void *ctx, const struct db_audit_row *row,
    struct ca_err *err);
int db_audit_rows(struct db *db, const char *what, db_audit_fn fn,
    void *ctx, struct ca_err *err);
/* One read snapshot for the head and the rows, in or out of a transaction. */
int db_audit_snapshot(struct db *db, struct ca_err *err);
void db_audit_snapshot_end(struct db *db);

/* --- bound SCEP challenges (ca/db_mdmchal.c; ca/mdmchal.c) --- */

/* A row of mdm_challenges; the challenge string itself is not stored. */
struct db_mdmchal {
	const char *tpl;
	const char *email;
	const char *subject;	/* "/CN=..." */
	const char *device;	/* NULL: none */
	int64_t created;
	int64_t expires;
};

/* Inside the caller's transaction: records a challenge, *idp its id. */
int db_mdmchal_add(struct db *db, const struct db_mdmchal *c, int64_t *idp,
    struct ca_err *err);
/*
 * Read-only: *usedp = when the challenge was used, 0 when it is not;
 * CA_ERR_NOTFOUND (no message) when there is no such challenge.
 */
int db_mdmchal_used(struct db *db, int64_t id, int64_t *usedp,
    struct ca_err *err);
/*
 * Inside the caller's transaction: marks it used at now. CA_ERR_EXISTS
 * when it was used already, CA_ERR_NOTFOUND when there is none.
 */
int db_mdmchal_use(struct db *db, int64_t id, int64_t now,
    struct ca_err *err);

/* --- pre-produced OCSP responses (ca/db_ocsp.c) --- */

/* A row of ocsp_responses, with the state of its certificate now. */
struct db_ocsp {
	int64_t cert_id;
	char serial[65];	/* the serial the response is about */
	int revoked;		/* the status the response carries */
	int64_t signer_id;	/* ca_certs.id of the signer */
	int64_t this_update;
	int64_t next_update;
	unsigned char *der;	/* the OCSPResponse */
	size_t derlen;
	/* The certificate's row as it is now. */
	char cert_serial[65];
	int cert_revoked;
	int64_t cert_issuer_id;
};

/*
 * The stored response for the certificate of that serial and CertID hash
 * ("sha1", "sha256"); CA_ERR_NOTFOUND, without a message, when there is
 * none. Free o->der.
 */
int db_ocsp_get(struct db *db, const char *serial, const char *hash,
    struct db_ocsp *o, struct ca_err *err);
/*
 * Stores (replaces) o->der for o->cert_id and hash, unless the
 * certificate's revocation state is no longer o->revoked (a revocation
 * committed meanwhile): then *storedp is 0 and nothing is written.
 */
int db_ocsp_put(struct db *db, const struct db_ocsp *o, const char *hash,
    int *storedp, struct ca_err *err);
/* Inside the caller's transaction: drops the responses of a certificate. */
int db_ocsp_drop(struct db *db, int64_t cert_id, struct ca_err *err);
/*
 * Up to max certificates of issuer issuer_id, unexpired at now, whose
 * hash response is missing, stale (state changed, another signer) or due
 * by refresh_at (next_update <= refresh_at): their serials (free with
 * db_free_strings).
 */
int db_ocsp_due(struct db *db, int64_t issuer_id, const char *hash,
    int64_t signer_id, int64_t now, int64_t refresh_at, int max,
    char ***serialsp, size_t *np, struct ca_err *err);

/* --- SCEP challenges and transactions (ca/db_scep.c) --- */

/* A one-time SCEP challenge (scep_challenges). */
struct db_scep_chal {
	int64_t id;
	char *hash;		/* "pbkdf2-sha256$iter$salt$hash" */
	char *template;		/* NULL: any template */
	char *email;		/* NULL: any address */
	int64_t created;
	int64_t expires;
	int64_t used;		/* 0: not used */
	char *created_by;
};

/* A SCEP transaction (scep_tx): held, issued or denied. */
struct db_scep_tx {
	int64_t id;
	char *tid;		/* transactionID as the client sent it */
	char keyhash[65];	/* SHA-256 of the requester's public key */
	int msgtype;		/* 19 PKCSReq, 17 RenewalReq */
	char *template;
	char *state;		/* "pending", "issued", "denied" */
	int64_t cert_id;	/* 0 unless issued */
	char serial[65];	/* its serial, "" unless issued */
	unsigned char *csr;	/* DER */
	size_t csrlen;
	char *mail, *cn, *owner;	/* the account it is for, or NULL */
	char *requester;
	char *subject;		/* the request's subject, one line */
	int64_t created;
	int64_t decided;
	char *decided_by;
};

int db_scep_chal_add(struct db *db, const struct db_scep_chal *c,
    int64_t *idp, struct ca_err *err);
int db_scep_chal_get(struct db *db, int64_t id, struct db_scep_chal **cp,
    struct ca_err *err);
/*
 * Marks the challenge used at now when it is unused and unexpired;
 * CA_ERR_EXISTS when another request used it first.
 */
int db_scep_chal_use(struct db *db, int64_t id, int64_t now,
    struct ca_err *err);
void db_scep_chal_free(struct db_scep_chal *c);

/* CA_ERR_EXISTS when the transactionID is taken for that messageType. */
int db_scep_tx_add(struct db *db, const struct db_scep_tx *t, int64_t *idp,
    struct ca_err *err);
/*
 * By transactionID and messageType (0: the latest of any type), or (tid
 * NULL) by id; CA_ERR_NOTFOUND if none.
 */
int db_scep_tx_get(struct db *db, const char *tid, int msgtype, int64_t id,
    struct db_scep_tx **tp, struct ca_err *err);
/* Pending transactions (all: every state), oldest first. */
int db_scep_tx_list(struct db *db, int all, struct db_scep_tx ***listp,
    size_t *np, struct ca_err *err);
/*
 * Decides a pending transaction: state "issued" (with cert_id) or
 * "denied"; CA_ERR_EXISTS when it is no longer pending.
 */
int db_scep_tx_decide(struct db *db, int64_t id, const char *state,
    int64_t cert_id, const char *serial, int64_t now, const char *by,
    struct ca_err *err);
void db_scep_tx_free(struct db_scep_tx *t);
void db_scep_tx_free_list(struct db_scep_tx **list, size_t n);

#endif
