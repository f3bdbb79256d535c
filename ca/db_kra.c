/* Key Recovery Agent certificates registered with the CA. */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/db.h"
#include "ca/db_int.h"
#include "ca/err.h"

static const char SQL_KRA_ADD[] =
	"INSERT INTO kras(sha1, sha256, subject, der, not_after, added) "
	"VALUES(?, ?, ?, ?, ?, ?)";
static const char SQL_KRA_BY_SHA1[] =
	"SELECT id, sha1, retired FROM kras WHERE sha1 = ?";
static const char SQL_KRA_BY_SHA256[] =
	"SELECT id, sha1, retired FROM kras WHERE sha256 = ?";
static const char SQL_KRA_RETIRE[] =
	"UPDATE kras SET retired = 1, retired_at = ? WHERE id = ?";
#define KRA_COLS \
	"SELECT id, sha1, sha256, subject, der, not_after, added, retired " \
	"FROM kras "
static const char SQL_KRA_LIST[] = KRA_COLS "ORDER BY id";
static const char SQL_KRA_USABLE[] =
	KRA_COLS "WHERE retired = 0 AND not_after >= ? ORDER BY id";

static int kra_make(struct db *, sqlite3_stmt *, void **, struct ca_err *);
static void kra_free(void *);

int
db_kra_add(struct db *db, const struct db_kra *k, struct ca_err *err)
{
	sqlite3_stmt *st;
	int rc, r = 0;

	if ((st = db_stmt(db, SQL_KRA_ADD)) == NULL)
		return db_fail(db, err, "KRA certificates: registering");
	sqlite3_bind_text(st, 1, k->sha1, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, k->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, k->subject, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, k->der, (int)k->derlen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, k->not_after);
	sqlite3_bind_int64(st, 6, k->added);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		if ((rc & 0xff) == SQLITE_CONSTRAINT)
			r = ca_err_set(err, CA_ERR_EXISTS, "KRA certificate "
			    "%s (SHA-1 %s) is already registered (see "
			    "`smimeca kra list`)", k->subject, k->sha1);
		else
			r = db_fail(db, err, "KRA certificates: registering");
	}
	db_done(db, st);
	return r;
}

int
db_kra_retire(struct db *db, const char *fp, int64_t when, char sha1[41],
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int64_t id;
	int r;

	sha1[0] = '\0';
	if ((st = db_stmt(db, strlen(fp) == 40 ? SQL_KRA_BY_SHA1 :
	    SQL_KRA_BY_SHA256)) == NULL)
		return db_fail(db, err, "KRA certificates: looking up");
	sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
	if ((r = db_get(db, st, err, "KRA certificates: looking up")) ==
	    CA_ERR_NOTFOUND)
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no KRA certificate with "
		    "fingerprint %s is registered (see `smimeca kra list`)",
		    fp);
	if (r == 0) {
		id = sqlite3_column_int64(st, 0);
		db_col_copy(st, 1, sha1, 41);
		if (sqlite3_column_int(st, 2) != 0)
			r = ca_err_set(err, CA_ERR_EXISTS, "KRA certificate %s "
			    "is retired already", sha1);
	}
	db_done(db, st);
	if (r != 0)
		return r;
	if ((st = db_stmt(db, SQL_KRA_RETIRE)) == NULL)
		return db_fail(db, err, "KRA certificates: retiring");
	sqlite3_bind_int64(st, 1, when);
	sqlite3_bind_int64(st, 2, id);
	r = db_run(db, st, err, "KRA certificates: retiring");
	db_done(db, st);
	return r;
}

/* Row: id, sha1, sha256, subject, der, not_after, added, retired. */
static int
kra_make(struct db *db, sqlite3_stmt *st, void **objp, struct ca_err *err)
{
	struct db_kra *k;

	(void)db;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return db_nomem(err);
	k->id = sqlite3_column_int64(st, 0);
	db_col_copy(st, 1, k->sha1, sizeof(k->sha1));
	db_col_copy(st, 2, k->sha256, sizeof(k->sha256));
	k->not_after = sqlite3_column_int64(st, 5);
	k->added = sqlite3_column_int64(st, 6);
	k->retired = sqlite3_column_int(st, 7) != 0;
	if ((k->subject = strdup(db_col_text(st, 3))) == NULL ||
	    db_col_blob(st, 4, &k->der, &k->derlen) != 0) {
		kra_free(k);
		return db_nomem(err);
	}
	*objp = k;
	return 0;
}

static void
kra_free(void *p)
{
	struct db_kra *k = p;

	if (k == NULL)
		return;
	free(k->subject);
	free(k->der);
	free(k);
}

int
db_kra_list(struct db *db, int usable, int64_t now, struct db_kra ***listp,
    size_t *np, struct ca_err *err)
{
	const char *what = usable ? "KRA certificates: listing the usable "
	    "ones" : "KRA certificates: listing";
	sqlite3_stmt *st;

	*listp = NULL;
	*np = 0;
	if ((st = db_stmt(db, usable ? SQL_KRA_USABLE : SQL_KRA_LIST)) ==
	    NULL)
		return db_fail(db, err, "%s", what);
	if (usable)
		sqlite3_bind_int64(st, 1, now);
	return db_list(db, st, kra_make, kra_free, listp, np, err, "%s",
	    what);
}

void
db_kra_free_list(struct db_kra **list, size_t n)
{
	db_free_list(list, n, kra_free);
}
