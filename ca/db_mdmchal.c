/* Bound SCEP challenges: the rows that make each one single use. */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/db.h"
#include "ca/db_int.h"
#include "ca/err.h"

static const char SQL_MDMCHAL_ADD[] =
	"INSERT INTO mdm_challenges(template, email, subject, device, "
	"created, expires) VALUES(?, ?, ?, ?, ?, ?)";
static const char SQL_MDMCHAL_USED[] =
	"SELECT used FROM mdm_challenges WHERE id = ?";
static const char SQL_MDMCHAL_USE[] =
	"UPDATE mdm_challenges SET used = ? WHERE id = ? AND used IS NULL";

int
db_mdmchal_add(struct db *db, const struct db_mdmchal *c, int64_t *idp,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	*idp = 0;
	if ((st = db_stmt(db, SQL_MDMCHAL_ADD)) == NULL)
		return db_fail(db, err, "SCEP challenges: recording one");
	sqlite3_bind_text(st, 1, c->tpl, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->subject, -1, SQLITE_STATIC);
	if (c->device != NULL)
		sqlite3_bind_text(st, 4, c->device, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)c->created);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)c->expires);
	if ((r = db_run(db, st, err, "SCEP challenges: recording one for "
	    "%s", c->email)) == 0)
		*idp = sqlite3_last_insert_rowid(db->h);
	db_done(db, st);
	return r;
}

int
db_mdmchal_used(struct db *db, int64_t id, int64_t *usedp,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	*usedp = 0;
	if ((st = db_stmt(db, SQL_MDMCHAL_USED)) == NULL)
		return db_fail(db, err, "SCEP challenges: reading one");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if ((r = db_get(db, st, err, "SCEP challenges: reading %lld",
	    (long long)id)) == 0 && sqlite3_column_type(st, 0) != SQLITE_NULL)
		*usedp = sqlite3_column_int64(st, 0);
	db_done(db, st);
	return r;
}

int
db_mdmchal_use(struct db *db, int64_t id, int64_t now, struct ca_err *err)
{
	sqlite3_stmt *st;
	int64_t used;
	int r;

	if ((st = db_stmt(db, SQL_MDMCHAL_USE)) == NULL)
		return db_fail(db, err, "SCEP challenges: using one");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	r = db_run(db, st, err, "SCEP challenges: using %lld", (long long)id);
	db_done(db, st);
	if (r != 0 || db_changes(db) == 1)
		return r;
	/* Nothing changed: used by another request, or no such row. */
	if ((r = db_mdmchal_used(db, id, &used, err)) == CA_ERR_NOTFOUND)
		return ca_err_set(err, CA_ERR_NOTFOUND, "SCEP challenge %lld: "
		    "this CA has no record of it", (long long)id);
	if (r != 0)
		return r;
	return ca_err_set(err, CA_ERR_EXISTS, "SCEP challenge %lld: used "
	    "already (single use)", (long long)id);
}
