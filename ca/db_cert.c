/*
 * Certificates and what they come from: the CA's own certificates,
 * templates in use, requests, issued certificates and CRLs.
 */
#include "ac-config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/db.h"
#include "ca/db_int.h"
#include "ca/err.h"

/* Longest SQL that db_cert_list assembles from its fixed fragments. */
#define DB_LIST_SQLMAX	1024

#define CERT_COLS \
	"id, serial, issuer_id, request_id, template, subject, email, " \
	"not_before, not_after, revoked, revoked_at, reason, sha1, sha256, " \
	"der, (SELECT owner FROM requests WHERE requests.id = " \
	"certs.request_id)"

static const char SQL_CA_CERT_ADD[] =
	"INSERT INTO ca_certs(role, der, key_file, not_before, not_after, "
	"created) VALUES(?, ?, ?, ?, ?, ?)";
static const char SQL_CA_CERT_CURRENT[] =
	"SELECT id, der FROM ca_certs WHERE role = ? "
	"ORDER BY not_after DESC, id DESC LIMIT 1";
static const char SQL_CA_CERT_LIST[] =
	"SELECT id, der, key_file, not_before, not_after FROM ca_certs "
	"WHERE role = ? ORDER BY not_after DESC, id DESC";
static const char SQL_TEMPLATE_ADD[] =
	"INSERT INTO templates(name, sha256, body, first_used) "
	"VALUES(?, ?, ?, ?) ON CONFLICT(name, sha256) DO NOTHING";
static const char SQL_TEMPLATE_ID[] =
	"SELECT id FROM templates WHERE name = ? AND sha256 = ?";
static const char SQL_REQUEST_ADD[] =
	"INSERT INTO requests(received, protocol, requester, template_id, "
	"csr, owner) VALUES(?, ?, ?, ?, ?, ?)";
static const char SQL_CERT_ADD[] =
	"INSERT INTO certs(serial, issuer_id, request_id, template, subject, "
	"email, not_before, not_after, revoked, revoked_at, reason, sha1, "
	"sha256, der) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_CERT_BY_SERIAL[] =
	"SELECT " CERT_COLS " FROM certs WHERE serial = ?";
static const char SQL_CERT_BY_SHA1[] =
	"SELECT " CERT_COLS " FROM certs WHERE sha1 = ?";
static const char SQL_CERT_REVOKE[] =
	"UPDATE certs SET revoked = 1, revoked_at = ?, reason = ? "
	"WHERE serial = ? AND revoked = 0";
static const char SQL_CERT_REVOKED[] =
	"SELECT revoked FROM certs WHERE serial = ?";
static const char SQL_CERT_EMAILS[] =
	"SELECT DISTINCT c.email FROM certs c JOIN ca_certs a ON "
	"a.id = c.issuer_id AND a.role = 'issuing' WHERE c.email IS NOT NULL "
	"ORDER BY c.email";
static const char SQL_CRL_NEXT[] =
	"SELECT COALESCE(MAX(number), 0) + 1 FROM crls WHERE issuer_id = ?";
static const char SQL_CRL_ADD[] =
	"INSERT INTO crls(issuer_id, number, this_update, next_update, der) "
	"VALUES(?, ?, ?, ?, ?)";
static const char SQL_CRL_LATEST[] =
	"SELECT der FROM crls WHERE issuer_id = ? ORDER BY number DESC "
	"LIMIT 1";

static const char *const status_sql[] = {
	[DB_ST_ANY] = "",
	[DB_ST_VALID] = " AND revoked = 0 AND not_after >= :now",
	[DB_ST_REVOKED] = " AND revoked <> 0",
	[DB_ST_EXPIRED] = " AND revoked = 0 AND not_after < :now",
};
#define NSTATUS	(sizeof(status_sql) / sizeof(status_sql[0]))

/* What keys the statement cache for each shape of db_cert_list's SQL. */
static const char cert_list_keys[16 * NSTATUS];

static int db_valid_serial(const char *);
static int cert_from_row(struct db *, sqlite3_stmt *, struct db_cert **,
    struct ca_err *);
static int cert_make(struct db *, sqlite3_stmt *, void **, struct ca_err *);
static void cert_free(void *);
static int cert_get_by(struct db *, const char *, const char *,
    struct db_cert **, struct ca_err *);
static int ca_cert_make(struct db *, sqlite3_stmt *, void **,
    struct ca_err *);
static void ca_cert_free(void *);

int
db_ca_cert_add(struct db *db, const char *role, const unsigned char *der,
    size_t derlen, const char *key_file, int64_t not_before,
    int64_t not_after, int64_t *idp, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if (idp != NULL)
		*idp = 0;
	if ((st = db_stmt(db, SQL_CA_CERT_ADD)) == NULL)
		return db_fail(db, err, "%s: adding a CA certificate: "
		    "preparing", db->path);
	sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 2, der, derlen, SQLITE_STATIC);
	if (key_file != NULL)
		sqlite3_bind_text(st, 3, key_file, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, not_before);
	sqlite3_bind_int64(st, 5, not_after);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	if ((r = db_run(db, st, err, "%s: adding the %s CA certificate",
	    db->path, role)) == 0 && idp != NULL)
		*idp = sqlite3_last_insert_rowid(db->h);
	db_done(db, st);
	return r;
}

int
db_ca_cert_current(struct db *db, const char *role, int64_t *idp,
    unsigned char **derp, size_t *derlenp, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if (idp != NULL)
		*idp = 0;
	if (derp != NULL)
		*derp = NULL;
	if (derlenp != NULL)
		*derlenp = 0;
	if ((st = db_stmt(db, SQL_CA_CERT_CURRENT)) == NULL)
		return db_fail(db, err, "%s: looking up a CA certificate: "
		    "preparing", db->path);
	sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
	if ((r = db_get(db, st, err, "%s: looking up the %s CA certificate",
	    db->path, role)) == CA_ERR_NOTFOUND)
		r = ca_err_set(err, CA_ERR_NOTFOUND, "%s: no %s CA "
		    "certificate in the database", db->path, role);
	if (r != 0)
		goto out;
	if (derp != NULL && db_col_blob(st, 1, derp, derlenp) != 0) {
		r = db_nomem(err);
		goto out;
	}
	if (idp != NULL)
		*idp = sqlite3_column_int64(st, 0);
 out:
	db_done(db, st);
	return r;
}

static int
ca_cert_make(struct db *db, sqlite3_stmt *st, void **objp,
    struct ca_err *err)
{
	struct db_ca_cert *c;
	int oom = 0;

	(void)db;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return db_nomem(err);
	c->id = sqlite3_column_int64(st, 0);
	if (db_col_blob(st, 1, &c->der, &c->derlen) != 0)
		oom = 1;
	c->key_file = db_col_strdup(st, 2, &oom);
	c->not_before = sqlite3_column_int64(st, 3);
	c->not_after = sqlite3_column_int64(st, 4);
	if (oom) {
		ca_cert_free(c);
		return db_nomem(err);
	}
	*objp = c;
	return 0;
}

static void
ca_cert_free(void *p)
{
	struct db_ca_cert *c = p;

	if (c == NULL)
		return;
	free(c->der);
	free(c->key_file);
	free(c);
}

int
db_ca_cert_list(struct db *db, const char *role, struct db_ca_cert ***listp,
    size_t *np, struct ca_err *err)
{
	sqlite3_stmt *st;

	*listp = NULL;
	*np = 0;
	if ((st = db_stmt(db, SQL_CA_CERT_LIST)) == NULL)
		return db_fail(db, err, "%s: reading the %s CA certificates",
		    db->path, role);
	sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
	return db_list(db, st, ca_cert_make, ca_cert_free, listp, np, err,
	    "%s: reading the %s CA certificates", db->path, role);
}

void
db_ca_cert_free_list(struct db_ca_cert **list, size_t n)
{
	db_free_list(list, n, ca_cert_free);
}

int
db_template_record(struct db *db, const char *name, const char *sha256,
    const char *body, size_t bodylen, int64_t *idp, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if (idp != NULL)
		*idp = 0;
	if ((st = db_stmt(db, SQL_TEMPLATE_ADD)) == NULL)
		return db_fail(db, err, "%s: recording a template: preparing",
		    db->path);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text64(st, 3, body, bodylen, SQLITE_STATIC, SQLITE_UTF8);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	r = db_run(db, st, err, "%s: recording template %s", db->path, name);
	db_done(db, st);
	if (r != 0)
		return r;
	if ((st = db_stmt(db, SQL_TEMPLATE_ID)) == NULL)
		return db_fail(db, err, "%s: looking up a template: preparing",
		    db->path);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
	/* The row is there (just inserted or found): none is a failure. */
	if (sqlite3_step(st) != SQLITE_ROW)
		r = db_fail(db, err, "%s: looking up template %s (sha256 %s)",
		    db->path, name, sha256);
	else if (idp != NULL)
		*idp = sqlite3_column_int64(st, 0);
	db_done(db, st);
	return r;
}

int
db_request_add(struct db *db, const struct db_request *req, int64_t *idp,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if (idp != NULL)
		*idp = 0;
	if ((st = db_stmt(db, SQL_REQUEST_ADD)) == NULL)
		return db_fail(db, err, "%s: recording a request: preparing",
		    db->path);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 2, req->protocol, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, req->requester, -1, SQLITE_STATIC);
	if (req->template_id != 0)
		sqlite3_bind_int64(st, 4, req->template_id);
	sqlite3_bind_blob64(st, 5, req->csr != NULL ? (const void *)req->csr :
	    (const void *)"", req->csrlen, SQLITE_STATIC);
	if (req->owner != NULL)
		sqlite3_bind_text(st, 6, req->owner, -1, SQLITE_STATIC);
	if ((r = db_run(db, st, err, "%s: recording the %s request of %s",
	    db->path, req->protocol, req->requester)) == 0 && idp != NULL)
		*idp = sqlite3_last_insert_rowid(db->h);
	db_done(db, st);
	return r;
}

/* Lower-case hex digits only, as util_serial_hex writes them. */
static int
db_valid_serial(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > 64)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int
db_cert_add(struct db *db, struct db_cert *c, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r = 0;

	if (!db_valid_serial(c->serial))
		return ca_err_set(err, CA_ERR_INVALID, "serial \"%s\" is not "
		    "lower-case hex", c->serial);
	if ((st = db_stmt(db, SQL_CERT_ADD)) == NULL)
		return db_fail(db, err, "%s: adding a certificate: preparing",
		    db->path);
	sqlite3_bind_text(st, 1, c->serial, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, c->issuer_id);
	if (c->request_id != 0)
		sqlite3_bind_int64(st, 3, c->request_id);
	sqlite3_bind_text(st, 4, c->template, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, c->subject, -1, SQLITE_STATIC);
	if (c->email != NULL)
		sqlite3_bind_text(st, 6, c->email, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, c->not_before);
	sqlite3_bind_int64(st, 8, c->not_after);
	sqlite3_bind_int(st, 9, c->revoked != 0);
	if (c->revoked) {
		sqlite3_bind_int64(st, 10, c->revoked_at);
		sqlite3_bind_int(st, 11, c->reason);
	}
	sqlite3_bind_text(st, 12, c->sha1, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, c->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 14, c->der != NULL ? (const void *)c->der :
	    (const void *)"", c->derlen, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(db->h) ==
		    SQLITE_CONSTRAINT_UNIQUE)
			r = ca_err_set(err, CA_ERR_EXISTS, "serial %s is in "
			    "use already (serials are never reused)",
			    c->serial);
		else
			r = db_fail(db, err, "%s: adding certificate %s",
			    db->path, c->serial);
	} else
		c->id = sqlite3_last_insert_rowid(db->h);
	db_done(db, st);
	return r;
}

/* Builds a db_cert from a row selected with CERT_COLS. */
static int
cert_from_row(struct db *db, sqlite3_stmt *st, struct db_cert **cp,
    struct ca_err *err)
{
	struct db_cert *c;
	int oom = 0;

	*cp = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return db_nomem(err);
	c->id = sqlite3_column_int64(st, 0);
	db_col_copy(st, 1, c->serial, sizeof(c->serial));
	c->issuer_id = sqlite3_column_int64(st, 2);
	c->request_id = sqlite3_column_int64(st, 3);
	c->template = db_col_strdup(st, 4, &oom);
	c->subject = db_col_strdup(st, 5, &oom);
	c->email = db_col_strdup(st, 6, &oom);
	c->not_before = sqlite3_column_int64(st, 7);
	c->not_after = sqlite3_column_int64(st, 8);
	c->revoked = sqlite3_column_int(st, 9) != 0;
	c->revoked_at = sqlite3_column_int64(st, 10);
	c->reason = sqlite3_column_int(st, 11);
	db_col_copy(st, 12, c->sha1, sizeof(c->sha1));
	db_col_copy(st, 13, c->sha256, sizeof(c->sha256));
	if (db_col_blob(st, 14, &c->der, &c->derlen) != 0)
		oom = 1;
	c->owner = db_col_strdup(st, 15, &oom);
	if (!oom && (c->template == NULL || c->subject == NULL)) {
		db_cert_free(c);
		return ca_err_set(err, CA_ERR_DB, "%s: certificate row %lld "
		    "lacks its template or subject", db->path,
		    (long long)sqlite3_column_int64(st, 0));
	}
	if (oom) {
		db_cert_free(c);
		return db_nomem(err);
	}
	*cp = c;
	return 0;
}

/* The certificate whose column col (serial or sha1) is val. */
static int
cert_get_by(struct db *db, const char *col, const char *val,
    struct db_cert **cp, struct ca_err *err)
{
	sqlite3_stmt *st;
	int sha1 = strcmp(col, "sha1") == 0, r;

	*cp = NULL;
	if ((st = db_stmt(db, sha1 ? SQL_CERT_BY_SHA1 :
	    SQL_CERT_BY_SERIAL)) == NULL)
		return db_fail(db, err, "%s: looking up a certificate: "
		    "preparing", db->path);
	sqlite3_bind_text(st, 1, val, -1, SQLITE_STATIC);
	if ((r = db_get(db, st, err, "%s: looking up certificate %s",
	    db->path, val)) == 0)
		r = cert_from_row(db, st, cp, err);
	else if (r == CA_ERR_NOTFOUND)
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no certificate with "
		    "%s %s (see `smimeca cert list`)", sha1 ?
		    "SHA-1 thumbprint" : "serial", val);
	db_done(db, st);
	return r;
}

int
db_cert_get(struct db *db, const char *serial, struct db_cert **cp,
    struct ca_err *err)
{
	return cert_get_by(db, "serial", serial, cp, err);
}

int
db_cert_get_sha1(struct db *db, const char *sha1, struct db_cert **cp,
    struct ca_err *err)
{
	char low[41];
	size_t i;

	for (i = 0; i < sizeof(low) - 1 && sha1[i] != '\0'; i++)
		low[i] = (char)tolower((unsigned char)sha1[i]);
	low[i] = '\0';
	return cert_get_by(db, "sha1", low, cp, err);
}

static int
cert_make(struct db *db, sqlite3_stmt *st, void **objp, struct ca_err *err)
{
	struct db_cert *c;
	int r;

	if ((r = cert_from_row(db, st, &c, err)) == 0)
		*objp = c;
	return r;
}

static void
cert_free(void *c)
{
	db_cert_free(c);
}

int
db_cert_list(struct db *db, const struct db_cert_filter *f,
    struct db_cert ***listp, size_t *np, struct ca_err *err)
{
	sqlite3_stmt *st;
	char sql[DB_LIST_SQLMAX];
	unsigned shape;
	int i;

	*listp = NULL;
	*np = 0;
	if ((unsigned)f->status >= NSTATUS)
		return ca_err_set(err, CA_ERR_INTERNAL, "db_cert_list: bad "
		    "status filter %d", (int)f->status);
	/* Fixed fragments only; the values are bound below. */
	snprintf(sql, sizeof(sql), "SELECT " CERT_COLS " FROM certs WHERE 1%s%s"
	    "%s%s%s ORDER BY id",
	    f->email != NULL ? " AND email = lower(:email)" : "",
	    f->template != NULL ? " AND template = :template" : "",
	    f->issuer_id != 0 ? " AND issuer_id = :issuer" : "",
	    f->issuing ? " AND issuer_id IN (SELECT id FROM ca_certs WHERE "
	    "role = 'issuing')" : "",
	    status_sql[f->status]);
	shape = (f->email != NULL) | (f->template != NULL) << 1 |
	    (f->issuer_id != 0) << 2 | (f->issuing != 0) << 3;
	if ((st = db_stmt_keyed(db, &cert_list_keys[shape * NSTATUS +
	    (unsigned)f->status], sql)) == NULL)
		return db_fail(db, err, "%s: listing certificates: preparing",
		    db->path);
	if ((i = sqlite3_bind_parameter_index(st, ":email")) > 0)
		sqlite3_bind_text(st, i, f->email, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(st, ":template")) > 0)
		sqlite3_bind_text(st, i, f->template, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(st, ":issuer")) > 0)
		sqlite3_bind_int64(st, i, f->issuer_id);
	if ((i = sqlite3_bind_parameter_index(st, ":now")) > 0)
		sqlite3_bind_int64(st, i, f->now);
	return db_list(db, st, cert_make, cert_free, listp, np, err,
	    "%s: listing certificates", db->path);
}

int
db_cert_revoke(struct db *db, const char *serial, int reason, int64_t when,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_stmt(db, SQL_CERT_REVOKE)) == NULL)
		return db_fail(db, err, "%s: revoking a certificate: "
		    "preparing", db->path);
	sqlite3_bind_int64(st, 1, when);
	sqlite3_bind_int(st, 2, reason);
	sqlite3_bind_text(st, 3, serial, -1, SQLITE_STATIC);
	r = db_run(db, st, err, "%s: revoking certificate %s", db->path,
	    serial);
	db_done(db, st);
	if (r != 0 || db_changes(db) == 1)
		return r;
	/* Nothing changed: tell a missing certificate from a revoked one. */
	if ((st = db_stmt(db, SQL_CERT_REVOKED)) == NULL)
		return db_fail(db, err, "%s: looking up a certificate: "
		    "preparing", db->path);
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	if ((r = db_get(db, st, err, "%s: looking up certificate %s",
	    db->path, serial)) == 0)
		r = ca_err_set(err, CA_ERR_EXISTS, "certificate %s is revoked "
		    "already", serial);
	else if (r == CA_ERR_NOTFOUND)
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no certificate with "
		    "serial %s (see `smimeca cert list`)", serial);
	db_done(db, st);
	return r;
}

int
db_cert_emails(struct db *db, char ***listp, size_t *np, struct ca_err *err)
{
	sqlite3_stmt *st;
	char what[1024];

	*listp = NULL;
	*np = 0;
	snprintf(what, sizeof(what), "%s: listing addresses", db->path);
	if ((st = db_stmt(db, SQL_CERT_EMAILS)) == NULL)
		return db_fail(db, err, "%s", what);
	return db_strings(db, st, listp, np, err, what);
}

void
db_cert_free(struct db_cert *c)
{
	if (c == NULL)
		return;
	free(c->template);
	free(c->subject);
	free(c->email);
	free(c->owner);
	free(c->der);
	free(c);
}

void
db_cert_free_list(struct db_cert **list, size_t n)
{
	db_free_list(list, n, cert_free);
}

int
db_crl_next_number(struct db *db, int64_t issuer_id, int64_t *nump,
    struct ca_err *err)
{
	sqlite3_stmt *st;

	*nump = 0;
	if ((st = db_stmt(db, SQL_CRL_NEXT)) == NULL)
		return db_fail(db, err, "%s: numbering the CRL: preparing",
		    db->path);
	sqlite3_bind_int64(st, 1, issuer_id);
	/* An aggregate always gives a row. */
	if (sqlite3_step(st) != SQLITE_ROW) {
		db_done(db, st);
		return db_fail(db, err, "%s: numbering the CRL of issuer %lld",
		    db->path, (long long)issuer_id);
	}
	*nump = sqlite3_column_int64(st, 0);
	db_done(db, st);
	return 0;
}

int
db_crl_add(struct db *db, int64_t issuer_id, int64_t number,
    int64_t this_update, int64_t next_update, const unsigned char *der,
    size_t derlen, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r = 0;

	if ((st = db_stmt(db, SQL_CRL_ADD)) == NULL)
		return db_fail(db, err, "%s: storing a CRL: preparing",
		    db->path);
	sqlite3_bind_int64(st, 1, issuer_id);
	sqlite3_bind_int64(st, 2, number);
	sqlite3_bind_int64(st, 3, this_update);
	sqlite3_bind_int64(st, 4, next_update);
	sqlite3_bind_blob64(st, 5, der != NULL ? (const void *)der :
	    (const void *)"", derlen, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(db->h) ==
		    SQLITE_CONSTRAINT_UNIQUE)
			r = ca_err_set(err, CA_ERR_EXISTS, "CRL number %lld "
			    "of issuer %lld exists already", (long long)number,
			    (long long)issuer_id);
		else
			r = db_fail(db, err, "%s: storing CRL number %lld",
			    db->path, (long long)number);
	}
	db_done(db, st);
	return r;
}

int
db_crl_latest(struct db *db, int64_t issuer_id, unsigned char **derp,
    size_t *derlenp, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	*derp = NULL;
	if (derlenp != NULL)
		*derlenp = 0;
	if ((st = db_stmt(db, SQL_CRL_LATEST)) == NULL)
		return db_fail(db, err, "%s: looking up the CRL: preparing",
		    db->path);
	sqlite3_bind_int64(st, 1, issuer_id);
	if ((r = db_get(db, st, err, "%s: looking up the latest CRL",
	    db->path)) == 0 && db_col_blob(st, 0, derp, derlenp) != 0)
		r = db_nomem(err);
	else if (r == CA_ERR_NOTFOUND)
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no CRL has been issued "
		    "yet (run `smimeca crl`)");
	db_done(db, st);
	return r;
}

/* CERT_COLS without the DER (an empty blob): a listing needs none. */
#define EXPIRING_COLS \
	"id, serial, issuer_id, request_id, template, subject, email, " \
	"not_before, not_after, revoked, revoked_at, reason, sha1, sha256, " \
	"x'', (SELECT owner FROM requests WHERE requests.id = " \
	"certs.request_id)"

/*
 * Expiring certificates (lifecycle). The outer query walks certs_expiry
 * over [now, until) (reason 4 is superseded); the successor is one lookup
 * in certs_active (template, email) per row. "certs" inside the subquery
 * is the outer row: the inner table is called n.
 */
static const char SQL_CERT_EXPIRING[] =
	"SELECT " EXPIRING_COLS ", "
	"(SELECT n.serial || ' ' || n.not_after FROM certs n "
	"  WHERE n.template = certs.template AND n.email = certs.email "
	"  AND n.revoked = 0 AND n.not_after > certs.not_after "
	"  AND n.not_before <= :now AND n.issuer_id IN "
	"  (SELECT id FROM ca_certs WHERE role = 'issuing') "
	"  ORDER BY n.not_after DESC, n.id DESC LIMIT 1), "
	"EXISTS(SELECT 1 FROM escrow e WHERE e.cert_id = certs.id) "
	"FROM certs WHERE (revoked = 0 OR (:superseded AND reason = 4)) "
	"AND not_after >= :now "
	"AND not_after < :until "
	"AND issuer_id IN (SELECT id FROM ca_certs WHERE role = 'issuing') "
	"AND (:template IS NULL OR template = :template) "
	"ORDER BY not_after, id";
static const char SQL_CERT_COUNT_EXPIRING[] =
	"SELECT COUNT(*) FROM certs WHERE revoked = 0 AND not_after >= ?1 "
	"AND not_after < ?2 "
	"AND issuer_id IN (SELECT id FROM ca_certs WHERE role = 'issuing')";
/* In CRL order: as integers, which for canonical hex is length, then text. */
static const char SQL_CERT_REVOKED_EACH[] =
	"SELECT serial, revoked_at, reason FROM certs "
	"WHERE issuer_id = ? AND revoked <> 0 ORDER BY length(serial), serial";

static int expiring_make(struct db *, sqlite3_stmt *, void **,
    struct ca_err *);
static void expiring_free(void *);
static int revoked_row(void *, sqlite3_stmt *, struct ca_err *);

struct revoked_ctx {
	db_revoked_fn fn;
	void *ctx;
	size_t n;
};

static int
expiring_make(struct db *db, sqlite3_stmt *st, void **objp,
    struct ca_err *err)
{
	struct db_expiring *e;
	const char *nx;
	char *sp;
	size_t len;
	int r;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return db_nomem(err);
	if ((r = cert_from_row(db, st, &e->cert, err)) != 0) {
		free(e);
		return r;
	}
	/* "SERIAL NOTAFTER" of the successor, or NULL. */
	nx = db_col_text(st, 16);
	if ((sp = strchr(nx, ' ')) != NULL &&
	    (len = (size_t)(sp - nx)) < sizeof(e->newer)) {
		memcpy(e->newer, nx, len);
		e->newer[len] = '\0';
		e->newer_not_after = strtoll(sp + 1, NULL, 10);
	}
	e->escrowed = sqlite3_column_int(st, 17) != 0;
	*objp = e;
	return 0;
}

static void
expiring_free(void *p)
{
	struct db_expiring *e = p;

	if (e == NULL)
		return;
	db_cert_free(e->cert);
	free(e);
}

int
db_cert_expiring(struct db *db, const struct db_expiring_filter *f,
    struct db_expiring ***listp, size_t *np, struct ca_err *err)
{
	sqlite3_stmt *st;
	int i;

	*listp = NULL;
	*np = 0;
	if ((st = db_stmt(db, SQL_CERT_EXPIRING)) == NULL)
		return db_fail(db, err, "%s: listing expiring certificates: "
		    "preparing", db->path);
	if ((i = sqlite3_bind_parameter_index(st, ":now")) > 0)
		sqlite3_bind_int64(st, i, f->now);
	if ((i = sqlite3_bind_parameter_index(st, ":until")) > 0)
		sqlite3_bind_int64(st, i, f->until);
	if ((i = sqlite3_bind_parameter_index(st, ":superseded")) > 0)
		sqlite3_bind_int(st, i, f->superseded != 0);
	if ((i = sqlite3_bind_parameter_index(st, ":template")) > 0 &&
	    f->template != NULL)
		sqlite3_bind_text(st, i, f->template, -1, SQLITE_STATIC);
	return db_list(db, st, expiring_make, expiring_free, listp, np, err,
	    "%s: listing expiring certificates", db->path);
}

void
db_expiring_free(struct db_expiring *e)
{
	expiring_free(e);
}

void
db_expiring_free_list(struct db_expiring **list, size_t n)
{
	db_free_list(list, n, expiring_free);
}

int
db_cert_count_expiring(struct db *db, int64_t now, int64_t until,
    int64_t *np, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	*np = 0;
	if ((st = db_stmt(db, SQL_CERT_COUNT_EXPIRING)) == NULL)
		return db_fail(db, err, "%s: counting expiring certificates: "
		    "preparing", db->path);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, until);
	/* An aggregate always gives a row. */
	if ((r = db_get(db, st, err, "%s: counting expiring certificates",
	    db->path)) == 0)
		*np = sqlite3_column_int64(st, 0);
	else if (r == CA_ERR_NOTFOUND)
		r = db_fail(db, err, "%s: counting expiring certificates",
		    db->path);
	db_done(db, st);
	return r;
}

static int
revoked_row(void *vctx, sqlite3_stmt *st, struct ca_err *err)
{
	struct revoked_ctx *c = vctx;
	int r;

	if ((r = c->fn(c->ctx, db_col_text(st, 0),
	    sqlite3_column_int64(st, 1), sqlite3_column_int(st, 2),
	    err)) == 0)
		c->n++;
	return r;
}

int
db_cert_revoked_each(struct db *db, int64_t issuer_id, db_revoked_fn fn,
    void *ctx, size_t *np, struct ca_err *err)
{
	struct revoked_ctx c = { fn, ctx, 0 };
	sqlite3_stmt *st;
	int r;

	if (np != NULL)
		*np = 0;
	if ((st = db_stmt(db, SQL_CERT_REVOKED_EACH)) == NULL)
		return db_fail(db, err, "%s: reading revoked certificates: "
		    "preparing", db->path);
	sqlite3_bind_int64(st, 1, issuer_id);
	r = db_rows(db, st, revoked_row, &c, err, "%s: reading revoked "
	    "certificates", db->path);
	db_done(db, st);
	if (np != NULL)
		*np = c.n;
	return r;
}

static const char SQL_CRL_LATEST_UNTIL[] =
	"SELECT der, next_update FROM crls WHERE issuer_id = ? "
	"ORDER BY number DESC LIMIT 1";

int
db_crl_latest_until(struct db *db, int64_t issuer_id, unsigned char **derp,
    size_t *derlenp, int64_t *nextp, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	*derp = NULL;
	*derlenp = 0;
	*nextp = 0;
	if ((st = db_stmt(db, SQL_CRL_LATEST_UNTIL)) == NULL)
		return db_fail(db, err, "%s: looking up the CRL: preparing",
		    db->path);
	sqlite3_bind_int64(st, 1, issuer_id);
	if ((r = db_get(db, st, err, "%s: looking up the latest CRL",
	    db->path)) == 0) {
		if (db_col_blob(st, 0, derp, derlenp) != 0)
			r = db_nomem(err);
		else
			*nextp = sqlite3_column_int64(st, 1);
	} else if (r == CA_ERR_NOTFOUND)
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no CRL has been issued "
		    "yet (run `smimeca crl`)");
	db_done(db, st);
	return r;
}
