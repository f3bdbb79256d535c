/*
 * The audit log's rows and its head record. What the rows must satisfy
 * (the hash chain) is ca/audit.c's business; here they are only stored.
 */
#include "ac-config.h"

#include <stdio.h>
#include <string.h>

#include "ca/db.h"
#include "ca/db_int.h"
#include "ca/err.h"

static const char SQL_HEAD[] =
	"SELECT last_id, last_hash, count FROM audit_head WHERE one = 1";
static const char SQL_ROW_ADD[] =
	"INSERT INTO audit(id, ts, actor, action, object, detail, prev_hash, "
	"hash) VALUES(?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_HEAD_SET[] =
	"UPDATE audit_head SET last_id = ?, last_hash = ?, count = ? "
	"WHERE one = 1";
static const char SQL_ROWS[] =
	"SELECT id, ts, actor, action, object, detail, prev_hash, hash "
	"FROM audit ORDER BY id";

struct rows_ctx {
	db_audit_fn fn;
	void *ctx;
};

static int audit_row(void *, sqlite3_stmt *, struct ca_err *);

int
db_audit_head(struct db *db, struct db_audit_head *hd, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	memset(hd, 0, sizeof(*hd));
	if ((st = db_stmt(db, SQL_HEAD)) == NULL)
		return db_fail(db, err, "audit log: reading the head record");
	if ((r = db_get(db, st, err, "audit log: reading the head "
	    "record")) == 0) {
		hd->present = 1;
		hd->last_id = sqlite3_column_int64(st, 0);
		db_col_copy(st, 1, hd->last_hash, sizeof(hd->last_hash));
		hd->count = sqlite3_column_int64(st, 2);
	} else if (r == CA_ERR_NOTFOUND)
		r = 0;
	db_done(db, st);
	return r;
}

int
db_audit_add(struct db *db, const struct db_audit_row *row, int64_t count,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int r = 0;

	if ((st = db_stmt(db, SQL_ROW_ADD)) == NULL)
		return db_fail(db, err, "audit log: preparing the insert");
	sqlite3_bind_int64(st, 1, row->id);
	sqlite3_bind_int64(st, 2, row->ts);
	sqlite3_bind_text(st, 3, row->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, row->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, row->object, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, row->detail, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, row->prev_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, row->hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(db->h) ==
		    SQLITE_CONSTRAINT_PRIMARYKEY)
			r = ca_err_set(err, CA_ERR_DB, "audit log: row %lld "
			    "exists but the head ends at row %lld; the log "
			    "has been tampered with (run `smimeca audit "
			    "verify`)", (long long)row->id,
			    (long long)(row->id - 1));
		else
			r = db_fail(db, err, "audit log: appending a row");
	}
	db_done(db, st);
	if (r != 0)
		return r;
	if ((st = db_stmt(db, SQL_HEAD_SET)) == NULL)
		return db_fail(db, err, "audit log: preparing the head update");
	sqlite3_bind_int64(st, 1, row->id);
	sqlite3_bind_text(st, 2, row->hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, count);
	if (sqlite3_step(st) != SQLITE_DONE || db_changes(db) != 1)
		r = db_fail(db, err, "audit log: updating the head record");
	db_done(db, st);
	return r;
}

static int
audit_row(void *ctx, sqlite3_stmt *st, struct ca_err *err)
{
	struct rows_ctx *c = ctx;
	struct db_audit_row row;

	row.id = sqlite3_column_int64(st, 0);
	row.ts = sqlite3_column_int64(st, 1);
	row.actor = db_col_text(st, 2);
	row.action = db_col_text(st, 3);
	row.object = db_col_text(st, 4);
	row.detail = db_col_text(st, 5);
	row.prev_hash = db_col_text(st, 6);
	row.hash = db_col_text(st, 7);
	return c->fn(c->ctx, &row, err);
}

int
db_audit_rows(struct db *db, const char *what, db_audit_fn fn, void *ctx,
    struct ca_err *err)
{
	struct rows_ctx c = { fn, ctx };
	sqlite3_stmt *st;
	int r;

	if ((st = db_stmt(db, SQL_ROWS)) == NULL)
		return db_fail(db, err, "audit log: %s", what);
	r = db_rows(db, st, audit_row, &c, err, "audit log: %s", what);
	db_done(db, st);
	return r;
}

int
db_audit_snapshot(struct db *db, struct ca_err *err)
{
	if (sqlite3_exec(db->h, "SAVEPOINT audit_verify", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return db_fail(db, err, "audit log: starting to verify");
	return 0;
}

void
db_audit_snapshot_end(struct db *db)
{
	sqlite3_exec(db->h, "RELEASE audit_verify", NULL, NULL, NULL);
}
