/* Escrowed keys: the escrow records and their m-of-n shares. */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/db.h"
#include "ca/db_int.h"
#include "ca/err.h"

static const char SQL_ESCROW_ADD[] =
	"INSERT INTO escrow(cert_id, quorum, nshares, envelope, kras, "
	"created) VALUES(?, ?, ?, ?, ?, ?)";
static const char SQL_SHARE_ADD[] =
	"INSERT INTO escrow_shares(escrow_id, x, kra_sha256, envelope) "
	"VALUES(?, ?, ?, ?)";
static const char SQL_ESCROW_GET[] =
	"SELECT id, quorum, nshares, envelope FROM escrow WHERE cert_id = ?";
static const char SQL_SHARES[] =
	"SELECT x, kra_sha256, envelope FROM escrow_shares "
	"WHERE escrow_id = ? ORDER BY x";
static const char SQL_ESCROW_EMAILS[] =
	"SELECT DISTINCT c.email FROM certs c JOIN escrow e ON "
	"e.cert_id = c.id WHERE c.email IS NOT NULL ORDER BY c.email";

static int share_make(struct db *, sqlite3_stmt *, void **,
    struct ca_err *);
static void share_free(void *);

int
db_escrow_add(struct db *db, const struct db_escrow *e,
    const struct db_escrow_share *shares, size_t nshares, const char *serial,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int64_t escrow_id;
	size_t j;
	int rc, r = 0;

	if ((st = db_stmt(db, SQL_ESCROW_ADD)) == NULL)
		return db_fail(db, err, "escrow");
	sqlite3_bind_int64(st, 1, e->cert_id);
	sqlite3_bind_int(st, 2, e->quorum);
	sqlite3_bind_int64(st, 3, e->nshares);
	sqlite3_bind_blob(st, 4, e->env, (int)e->envlen, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e->kras, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, e->created);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		if (rc == SQLITE_CONSTRAINT_UNIQUE)
			r = ca_err_set(err, CA_ERR_EXISTS, "certificate %s has "
			    "an escrowed key already", serial);
		else
			r = db_fail(db, err, "escrow: storing the key of "
			    "certificate %s", serial);
	}
	db_done(db, st);
	if (r != 0 || nshares == 0)
		return r;
	escrow_id = sqlite3_last_insert_rowid(db->h);
	if ((st = db_stmt(db, SQL_SHARE_ADD)) == NULL)
		return db_fail(db, err, "escrow");
	for (j = 0; j < nshares && r == 0; j++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, escrow_id);
		sqlite3_bind_int(st, 2, shares[j].x);
		sqlite3_bind_text(st, 3, shares[j].kra_sha256, -1,
		    SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, shares[j].env, (int)shares[j].envlen,
		    SQLITE_STATIC);
		r = db_run(db, st, err, "escrow: storing share %zu of "
		    "certificate %s", j + 1, serial);
	}
	db_done(db, st);
	return r;
}

int
db_escrow_get(struct db *db, int64_t cert_id, struct db_escrow *e,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	memset(e, 0, sizeof(*e));
	if ((st = db_stmt(db, SQL_ESCROW_GET)) == NULL)
		return db_fail(db, err, "escrow");
	sqlite3_bind_int64(st, 1, cert_id);
	if ((r = db_get(db, st, err, "escrow")) == 0) {
		e->id = sqlite3_column_int64(st, 0);
		e->cert_id = cert_id;
		e->quorum = sqlite3_column_int(st, 1);
		e->nshares = sqlite3_column_int64(st, 2);
		if (db_col_blob(st, 3, &e->env, &e->envlen) != 0)
			r = db_nomem(err);
	}
	db_done(db, st);
	return r;
}

static int
share_make(struct db *db, sqlite3_stmt *st, void **objp, struct ca_err *err)
{
	struct db_escrow_share *s;

	(void)db;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return db_nomem(err);
	s->x = sqlite3_column_int(st, 0);
	db_col_copy(st, 1, s->kra_sha256, sizeof(s->kra_sha256));
	if (db_col_blob(st, 2, &s->env, &s->envlen) != 0) {
		share_free(s);
		return db_nomem(err);
	}
	*objp = s;
	return 0;
}

static void
share_free(void *p)
{
	struct db_escrow_share *s = p;

	if (s == NULL)
		return;
	free(s->env);
	free(s);
}

int
db_escrow_shares(struct db *db, int64_t escrow_id,
    struct db_escrow_share ***sharesp, size_t *np, struct ca_err *err)
{
	sqlite3_stmt *st;

	*sharesp = NULL;
	*np = 0;
	if ((st = db_stmt(db, SQL_SHARES)) == NULL)
		return db_fail(db, err, "escrow shares");
	sqlite3_bind_int64(st, 1, escrow_id);
	return db_list(db, st, share_make, share_free, sharesp, np, err,
	    "escrow shares");
}

void
db_escrow_shares_free(struct db_escrow_share **shares, size_t n)
{
	db_free_list(shares, n, share_free);
}

int
db_escrow_emails(struct db *db, char ***listp, size_t *np,
    struct ca_err *err)
{
	sqlite3_stmt *st;

	*listp = NULL;
	*np = 0;
	if ((st = db_stmt(db, SQL_ESCROW_EMAILS)) == NULL)
		return db_fail(db, err, "escrowed addresses");
	return db_strings(db, st, listp, np, err, "escrowed addresses");
}
