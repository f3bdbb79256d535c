/* Local accounts and their single-use enrollment codes. */
#include "ac-config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/db.h"
#include "ca/db_int.h"
#include "ca/err.h"
#include "ca/user.h"

static const char SQL_USER_ADD[] =
	"INSERT INTO users(email, cn, pwhash, disabled, created) "
	"VALUES(?, ?, ?, 0, ?)";
static const char SQL_USER_DISABLE[] =
	"UPDATE users SET disabled = ? WHERE email = ?";
static const char SQL_USER_PWHASH[] =
	"UPDATE users SET pwhash = ? WHERE email = ?";
#define USER_COLS	"SELECT id, email, cn, disabled, created, pwhash " \
	"FROM users "
static const char SQL_USER_GET[] = USER_COLS "WHERE email = ?";
static const char SQL_USER_LIST[] = USER_COLS "ORDER BY email";
/* One live code an account: a new one retires the unused older. */
static const char SQL_CODE_RETIRE[] =
	"UPDATE enroll_codes SET expires = ? WHERE used = 0 AND "
	"expires >= ? AND user_id = (SELECT id FROM users WHERE email = ?)";
static const char SQL_CODE_ADD[] =
	"INSERT INTO enroll_codes(user_id, codehash, expires, used) "
	"SELECT id, ?, ?, 0 FROM users WHERE email = ? AND disabled = 0";
static const char SQL_CODE_LIVE[] =
	"SELECT c.id, c.codehash FROM enroll_codes c JOIN users u ON "
	"u.id = c.user_id WHERE u.email = ? AND c.used = 0 AND "
	"c.expires >= ? ORDER BY c.id DESC LIMIT 1";
static const char SQL_CODE_USE[] =
	"UPDATE enroll_codes SET used = ? WHERE id = ? AND used = 0";

static int user_from_row(sqlite3_stmt *, struct user **, struct ca_err *);
static int user_make(struct db *, sqlite3_stmt *, void **, struct ca_err *);
static void user_free_v(void *);
static int user_update(struct db *, const char *, const char *, int,
    const char *, struct ca_err *);

int
db_user_add(struct db *db, const char *mail, const char *cn,
    const char *pwhash, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r = 0;

	if ((st = db_stmt(db, SQL_USER_ADD)) == NULL)
		return db_fail(db, err, "users");
	sqlite3_bind_text(st, 1, mail, -1, SQLITE_STATIC);
	if (cn != NULL)
		sqlite3_bind_text(st, 2, cn, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, pwhash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	if (sqlite3_step(st) != SQLITE_DONE)
		r = sqlite3_extended_errcode(db->h) ==
		    SQLITE_CONSTRAINT_UNIQUE ?
		    ca_err_set(err, CA_ERR_EXISTS, "account %s exists "
		    "already", mail) : db_fail(db, err, "users");
	db_done(db, st);
	return r;
}

/* Sets a column of the account mail (a value or, sval NULL, ival). */
static int
user_update(struct db *db, const char *sql, const char *mail, int ival,
    const char *sval, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_stmt(db, sql)) == NULL)
		return db_fail(db, err, "users");
	if (sval != NULL)
		sqlite3_bind_text(st, 1, sval, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int(st, 1, ival);
	sqlite3_bind_text(st, 2, mail, -1, SQLITE_STATIC);
	if ((r = db_run(db, st, err, "users")) == 0 && db_changes(db) == 0)
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no account %s (see "
		    "smimeca user list)", mail);
	db_done(db, st);
	return r;
}

int
db_user_set_disabled(struct db *db, const char *mail, int disabled,
    struct ca_err *err)
{
	return user_update(db, SQL_USER_DISABLE, mail, disabled ? 1 : 0, NULL,
	    err);
}

int
db_user_set_pwhash(struct db *db, const char *mail, const char *pwhash,
    struct ca_err *err)
{
	return user_update(db, SQL_USER_PWHASH, mail, 0, pwhash, err);
}

/* Row: id, email, cn, disabled, created (USER_COLS). */
static int
user_from_row(sqlite3_stmt *st, struct user **up, struct ca_err *err)
{
	struct user *u;
	int oom = 0;

	*up = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return db_nomem(err);
	u->id = sqlite3_column_int64(st, 0);
	u->email = db_col_strdup(st, 1, &oom);
	u->cn = db_col_strdup(st, 2, &oom);
	u->disabled = sqlite3_column_int(st, 3);
	u->created = sqlite3_column_int64(st, 4);
	if (oom || u->email == NULL) {
		user_free(u);
		return db_nomem(err);
	}
	*up = u;
	return 0;
}

int
db_user_get(struct db *db, const char *email, struct user **up,
    char **pwhashp, struct ca_err *err)
{
	sqlite3_stmt *st;
	struct user *u = NULL;
	int oom = 0, r;

	*up = NULL;
	if (pwhashp != NULL)
		*pwhashp = NULL;
	if ((st = db_stmt(db, SQL_USER_GET)) == NULL)
		return db_fail(db, err, "users");
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	if ((r = db_get(db, st, err, "users")) == CA_ERR_NOTFOUND)
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no account %s", email);
	if (r == 0)
		r = user_from_row(st, &u, err);
	if (r == 0 && pwhashp != NULL) {
		*pwhashp = db_col_strdup(st, 5, &oom);
		if (oom) {
			user_free(u);
			u = NULL;
			r = db_nomem(err);
		}
	}
	db_done(db, st);
	*up = u;
	return r;
}

static int
user_make(struct db *db, sqlite3_stmt *st, void **objp, struct ca_err *err)
{
	struct user *u;
	int r;

	(void)db;
	if ((r = user_from_row(st, &u, err)) == 0)
		*objp = u;
	return r;
}

static void
user_free_v(void *u)
{
	user_free(u);
}

int
db_user_list(struct db *db, struct user ***listp, size_t *np,
    struct ca_err *err)
{
	sqlite3_stmt *st;

	*listp = NULL;
	*np = 0;
	if ((st = db_stmt(db, SQL_USER_LIST)) == NULL)
		return db_fail(db, err, "users");
	return db_list(db, st, user_make, user_free_v, listp, np, err,
	    "users");
}

int
db_code_add(struct db *db, const char *mail, const char *codehash,
    int64_t now, int64_t expires, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_stmt(db, SQL_CODE_RETIRE)) == NULL)
		return db_fail(db, err, "codes");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(now - 1));
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	sqlite3_bind_text(st, 3, mail, -1, SQLITE_STATIC);
	r = db_run(db, st, err, "codes");
	db_done(db, st);
	if (r != 0)
		return r;
	if ((st = db_stmt(db, SQL_CODE_ADD)) == NULL)
		return db_fail(db, err, "codes");
	sqlite3_bind_text(st, 1, codehash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)expires);
	sqlite3_bind_text(st, 3, mail, -1, SQLITE_STATIC);
	if ((r = db_run(db, st, err, "codes")) == 0 && db_changes(db) == 0)
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no enabled account %s "
		    "(add it with smimeca user add %s)", mail, mail);
	db_done(db, st);
	return r;
}

int
db_code_live(struct db *db, const char *mail, int64_t now, int64_t *idp,
    char **hashp)
{
	sqlite3_stmt *st;
	int r = 1;

	*idp = 0;
	*hashp = NULL;
	if ((st = db_stmt(db, SQL_CODE_LIVE)) == NULL)
		return 1;
	sqlite3_bind_text(st, 1, mail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (*hashp = strdup(db_col_text(st, 1))) != NULL) {
		*idp = sqlite3_column_int64(st, 0);
		r = 0;
	}
	db_done(db, st);
	return r;
}

int
db_code_use(struct db *db, int64_t id, int64_t now)
{
	sqlite3_stmt *st;
	int r = -1;

	if ((st = db_stmt(db, SQL_CODE_USE)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	if (sqlite3_step(st) == SQLITE_DONE && db_changes(db) == 1)
		r = 0;
	db_done(db, st);
	return r;
}
