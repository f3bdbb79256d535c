/* SCEP one-time challenges and transactions (scep_challenges, scep_tx). */
#include "ac-config.h"

#include <stdlib.h>
#include <string.h>

#include "ca/db.h"
#include "ca/db_int.h"
#include "ca/err.h"

static const char SQL_CHAL_ADD[] =
	"INSERT INTO scep_challenges (hash, template, email, created, "
	"expires, created_by) VALUES (?, ?, ?, ?, ?, ?)";
static const char SQL_CHAL_GET[] =
	"SELECT id, hash, template, email, created, expires, used, "
	"created_by FROM scep_challenges WHERE id = ?";
static const char SQL_CHAL_USE[] =
	"UPDATE scep_challenges SET used = ? WHERE id = ? AND used IS NULL "
	"AND expires >= ?";
static const char SQL_TX_ADD[] =
	"INSERT INTO scep_tx (tid, keyhash, msgtype, template, state, "
	"cert_id, csr, mail, cn, owner, requester, subject, created, "
	"serial) "
	"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
#define TX_COLS	"id, tid, keyhash, msgtype, template, state, cert_id, " \
	"csr, mail, cn, owner, requester, subject, created, decided, " \
	"decided_by, serial FROM scep_tx"
static const char SQL_TX_BY_TID[] = "SELECT " TX_COLS " WHERE tid = ? "
	"AND (msgtype = ? OR ? = 0) ORDER BY id DESC LIMIT 1";
static const char SQL_TX_BY_ID[] = "SELECT " TX_COLS " WHERE id = ?";
static const char SQL_TX_PENDING[] =
	"SELECT " TX_COLS " WHERE state = 'pending' ORDER BY id";
static const char SQL_TX_ALL[] = "SELECT " TX_COLS " ORDER BY id";
static const char SQL_TX_DECIDE[] =
	"UPDATE scep_tx SET state = ?, cert_id = ?, decided = ?, "
	"decided_by = ?, serial = ? WHERE id = ? AND state = 'pending'";

static int tx_from_row(sqlite3_stmt *, struct db_scep_tx **);
static int tx_make(struct db *, sqlite3_stmt *, void **, struct ca_err *);
static void tx_free_v(void *);

static void
bind_opt(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int
db_scep_chal_add(struct db *db, const struct db_scep_chal *c, int64_t *idp,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	*idp = 0;
	if ((st = db_stmt(db, SQL_CHAL_ADD)) == NULL)
		return db_fail(db, err, "scep_challenges");
	sqlite3_bind_text(st, 1, c->hash, -1, SQLITE_STATIC);
	bind_opt(st, 2, c->template);
	bind_opt(st, 3, c->email);
	sqlite3_bind_int64(st, 4, c->created);
	sqlite3_bind_int64(st, 5, c->expires);
	sqlite3_bind_text(st, 6, c->created_by, -1, SQLITE_STATIC);
	if ((r = db_run(db, st, err, "adding a SCEP challenge")) == 0)
		*idp = sqlite3_last_insert_rowid(db->h);
	db_done(db, st);
	return r;
}

int
db_scep_chal_get(struct db *db, int64_t id, struct db_scep_chal **cp,
    struct ca_err *err)
{
	struct db_scep_chal *c = NULL;
	sqlite3_stmt *st;
	int r, oom = 0;

	*cp = NULL;
	if ((st = db_stmt(db, SQL_CHAL_GET)) == NULL)
		return db_fail(db, err, "scep_challenges");
	sqlite3_bind_int64(st, 1, id);
	if ((r = db_get(db, st, err, "reading SCEP challenge %lld",
	    (long long)id)) != 0)
		goto out;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = db_nomem(err);
		goto out;
	}
	c->id = sqlite3_column_int64(st, 0);
	c->hash = db_col_strdup(st, 1, &oom);
	c->template = db_col_strdup(st, 2, &oom);
	c->email = db_col_strdup(st, 3, &oom);
	c->created = sqlite3_column_int64(st, 4);
	c->expires = sqlite3_column_int64(st, 5);
	c->used = sqlite3_column_int64(st, 6);
	c->created_by = db_col_strdup(st, 7, &oom);
	if (oom || c->hash == NULL) {
		r = oom ? db_nomem(err) : ca_err_set(err, CA_ERR_DB,
		    "SCEP challenge %lld has no hash", (long long)id);
		goto out;
	}
	*cp = c;
	c = NULL;
 out:
	db_done(db, st);
	db_scep_chal_free(c);
	return r;
}

int
db_scep_chal_use(struct db *db, int64_t id, int64_t now, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_stmt(db, SQL_CHAL_USE)) == NULL)
		return db_fail(db, err, "scep_challenges");
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_int64(st, 3, now);
	if ((r = db_run(db, st, err, "using SCEP challenge %lld",
	    (long long)id)) == 0 && db_changes(db) != 1)
		r = ca_err_set(err, CA_ERR_EXISTS, "the challenge was used "
		    "(or expired) meanwhile");
	db_done(db, st);
	return r;
}

void
db_scep_chal_free(struct db_scep_chal *c)
{
	if (c == NULL)
		return;
	free(c->hash);
	free(c->template);
	free(c->email);
	free(c->created_by);
	free(c);
}

int
db_scep_tx_add(struct db *db, const struct db_scep_tx *t, int64_t *idp,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int r = 0;

	*idp = 0;
	if ((st = db_stmt(db, SQL_TX_ADD)) == NULL)
		return db_fail(db, err, "scep_tx");
	sqlite3_bind_text(st, 1, t->tid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t->keyhash, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, t->msgtype);
	sqlite3_bind_text(st, 4, t->template, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, t->state, -1, SQLITE_STATIC);
	if (t->cert_id != 0)
		sqlite3_bind_int64(st, 6, t->cert_id);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_blob64(st, 7, t->csr, t->csrlen, SQLITE_STATIC);
	bind_opt(st, 8, t->mail);
	bind_opt(st, 9, t->cn);
	bind_opt(st, 10, t->owner);
	sqlite3_bind_text(st, 11, t->requester, -1, SQLITE_STATIC);
	bind_opt(st, 12, t->subject);
	sqlite3_bind_int64(st, 13, t->created);
	bind_opt(st, 14, t->serial[0] != '\0' ? t->serial : NULL);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = sqlite3_extended_errcode(db->h) ==
		    SQLITE_CONSTRAINT_UNIQUE ? ca_err_set(err, CA_ERR_EXISTS,
		    "SCEP transaction %s exists already", t->tid) :
		    db_fail(db, err, "scep_tx");
	else
		*idp = sqlite3_last_insert_rowid(db->h);
	db_done(db, st);
	return r;
}

static int
tx_from_row(sqlite3_stmt *st, struct db_scep_tx **tp)
{
	struct db_scep_tx *t;
	int oom = 0;

	*tp = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	t->id = sqlite3_column_int64(st, 0);
	t->tid = db_col_strdup(st, 1, &oom);
	db_col_copy(st, 2, t->keyhash, sizeof(t->keyhash));
	t->msgtype = sqlite3_column_int(st, 3);
	t->template = db_col_strdup(st, 4, &oom);
	t->state = db_col_strdup(st, 5, &oom);
	t->cert_id = sqlite3_column_int64(st, 6);
	if (db_col_blob(st, 7, &t->csr, &t->csrlen) != 0)
		oom = 1;
	t->mail = db_col_strdup(st, 8, &oom);
	t->cn = db_col_strdup(st, 9, &oom);
	t->owner = db_col_strdup(st, 10, &oom);
	t->requester = db_col_strdup(st, 11, &oom);
	t->subject = db_col_strdup(st, 12, &oom);
	t->created = sqlite3_column_int64(st, 13);
	t->decided = sqlite3_column_int64(st, 14);
	t->decided_by = db_col_strdup(st, 15, &oom);
	db_col_copy(st, 16, t->serial, sizeof(t->serial));
	if (oom || t->tid == NULL || t->template == NULL ||
	    t->state == NULL || t->requester == NULL) {
		db_scep_tx_free(t);
		return -1;
	}
	*tp = t;
	return 0;
}

int
db_scep_tx_get(struct db *db, const char *tid, int msgtype, int64_t id,
    struct db_scep_tx **tp, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	*tp = NULL;
	if ((st = db_stmt(db, tid != NULL ? SQL_TX_BY_TID :
	    SQL_TX_BY_ID)) == NULL)
		return db_fail(db, err, "scep_tx");
	if (tid != NULL) {
		sqlite3_bind_text(st, 1, tid, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, msgtype);
		sqlite3_bind_int(st, 3, msgtype);
	} else
		sqlite3_bind_int64(st, 1, id);
	if ((r = db_get(db, st, err, "reading a SCEP transaction")) == 0 &&
	    tx_from_row(st, tp) != 0)
		r = ca_err_set(err, CA_ERR_DB, "a SCEP transaction row is "
		    "incomplete (or out of memory)");
	db_done(db, st);
	return r;
}

static int
tx_make(struct db *db, sqlite3_stmt *st, void **objp, struct ca_err *err)
{
	struct db_scep_tx *t;

	(void)db;
	if (tx_from_row(st, &t) != 0)
		return ca_err_set(err, CA_ERR_DB, "a SCEP transaction row is "
		    "incomplete (or out of memory)");
	*objp = t;
	return 0;
}

static void
tx_free_v(void *t)
{
	db_scep_tx_free(t);
}

int
db_scep_tx_list(struct db *db, int all, struct db_scep_tx ***listp,
    size_t *np, struct ca_err *err)
{
	sqlite3_stmt *st;

	*listp = NULL;
	*np = 0;
	if ((st = db_stmt(db, all ? SQL_TX_ALL : SQL_TX_PENDING)) == NULL)
		return db_fail(db, err, "scep_tx");
	return db_list(db, st, tx_make, tx_free_v, listp, np, err,
	    "listing SCEP requests");
}

int
db_scep_tx_decide(struct db *db, int64_t id, const char *state,
    int64_t cert_id, const char *serial, int64_t now, const char *by,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_stmt(db, SQL_TX_DECIDE)) == NULL)
		return db_fail(db, err, "scep_tx");
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	if (cert_id != 0)
		sqlite3_bind_int64(st, 2, cert_id);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_text(st, 4, by, -1, SQLITE_STATIC);
	bind_opt(st, 5, serial);
	sqlite3_bind_int64(st, 6, id);
	if ((r = db_run(db, st, err, "deciding SCEP request %lld",
	    (long long)id)) == 0 && db_changes(db) != 1)
		r = ca_err_set(err, CA_ERR_EXISTS, "request %lld is not "
		    "pending (decided already, or no such request)",
		    (long long)id);
	db_done(db, st);
	return r;
}

void
db_scep_tx_free(struct db_scep_tx *t)
{
	if (t == NULL)
		return;
	free(t->tid);
	free(t->template);
	free(t->state);
	free(t->csr);
	free(t->mail);
	free(t->cn);
	free(t->owner);
	free(t->requester);
	free(t->subject);
	free(t->decided_by);
	free(t);
}

void
db_scep_tx_free_list(struct db_scep_tx **list, size_t n)
{
	db_free_list(list, n, tx_free_v);
}
