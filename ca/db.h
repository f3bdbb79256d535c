/* The CA's SQLite store. */
#ifndef CA_DB_H
#define CA_DB_H

#include <stddef.h>
#include <stdint.h>

struct ca_err;
struct db;

#define DB_SCHEMA_VERSION 5

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

/* Opens (create: creates) the database, sets WAL, synchronous=FULL,
 * foreign_keys=ON, busy timeout, and migrates to DB_SCHEMA_VERSION. */
int db_open(const char *path, int create, struct db **dbp, struct ca_err *err);
void db_close(struct db *db);
int db_begin(struct db *db, struct ca_err *err);	/* BEGIN IMMEDIATE */
int db_commit(struct db *db, struct ca_err *err);
void db_rollback(struct db *db);
int db_schema_version(struct db *db);

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
/* The sqlite3 handle, for modules that add tables (archive/, enroll/). */
void *db_handle(struct db *db);

/* ca_certs: role is "root", "issuing" (and later "xchg", "tls", "ra"). */
int db_ca_cert_add(struct db *db, const char *role, const unsigned char *der,
    size_t derlen, const char *key_file, int64_t not_before,
    int64_t not_after, int64_t *idp, struct ca_err *err);
/* The certificate of that role with the latest notAfter. */
int db_ca_cert_current(struct db *db, const char *role, int64_t *idp,
    unsigned char **derp, size_t *derlenp, struct ca_err *err);

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

#endif
