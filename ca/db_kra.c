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

struct kra_list {
	struct db_kra **v;
	size_t n, cap;
};

static int kra_row(void *, sqlite3_stmt *, struct ca_err *);
static void kra_free(struct db_kra *);

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
kra_row(void *ctx, sqlite3_stmt *st, struct ca_err *err)
{
	struct kra_list *l = ctx;
	struct db_kra *k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return db_nomem(err);
	k->id = sqlite3_column_int64(st, 0);
	db_col_copy(st, 1, k->sha1, sizeof(k->sha1));
	db_col_copy(st, 2, k->sha256, sizeof(k->sha256));
	k->not_after = sqlite3_column_int64(st, 5);
	k->added = sqlite3_column_int64(st, 6);
	k->retired = sqlite3_column_int(st, 7) != 0;
	if ((k->subject = strdup(db_col_text(st, 3))) == NULL ||
	    db_col_blob(st, 4, &k->der, &k->derlen) != 0 ||
	    db_push(&l->v, &l->n, &l->cap, k) != 0) {
		kra_free(k);
		return db_nomem(err);
	}
	return 0;
}

int
db_kra_list(struct db *db, int usable, int64_t now, struct db_kra ***listp,
    size_t *np, struct ca_err *err)
{
	struct kra_list l = { NULL, 0, 0 };
	const char *what = usable ? "KRA certificates: listing the usable "
	    "ones" : "KRA certificates: listing";
	sqlite3_stmt *st;
	int r;

	*listp = NULL;
	*np = 0;
	if ((st = db_stmt(db, usable ? SQL_KRA_USABLE : SQL_KRA_LIST)) ==
	    NULL)
		return db_fail(db, err, "%s", what);
	if (usable)
		sqlite3_bind_int64(st, 1, now);
	r = db_rows(db, st, kra_row, &l, err, "%s", what);
	db_done(db, st);
	if (r != 0) {
		db_kra_free_list(l.v, l.n);
		return r;
	}
	*listp = l.v;
	*np = l.n;
	return 0;
}

static void
kra_free(struct db_kra *k)
{
	if (k == NULL)
		return;
	free(k->subject);
	free(k->der);
	free(k);
}

void
db_kra_free_list(struct db_kra **list, size_t n)
{
	size_t i;

	for (i = 0; list != NULL && i < n; i++)
		kra_free(list[i]);
	free(list);
}
