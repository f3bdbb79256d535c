/* Raw SQL for the unit tests (see ca/db_test.h); not in the programs. */
#include "ac-config.h"

#include <stdlib.h>
#include <string.h>

#include "ca/db_int.h"
#include "ca/db_test.h"
#include "ca/err.h"

static int first_row(struct db *, const char *, const char *,
    sqlite3_stmt **, struct ca_err *);

int
db_test_exec(struct db *db, const char *sql, struct ca_err *err)
{
	char *msg = NULL;
	int rc;

	if ((rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg)) != SQLITE_OK) {
		rc = sqlite3_extended_errcode(db->h);
		ca_err_set(err, CA_ERR_DB, "%s", msg != NULL ? msg : "?");
	}
	sqlite3_free(msg);
	return rc;
}

/* Prepares sql, binds arg and steps to the first row. */
static int
first_row(struct db *db, const char *sql, const char *arg,
    sqlite3_stmt **stp, struct ca_err *err)
{
	*stp = NULL;
	if (sqlite3_prepare_v2(db->h, sql, -1, stp, NULL) != SQLITE_OK)
		return db_fail(db, err, "%s", sql);
	if (arg != NULL)
		sqlite3_bind_text(*stp, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(*stp) != SQLITE_ROW)
		return db_fail(db, err, "%s: no row", sql);
	return 0;
}

int
db_test_int(struct db *db, const char *sql, const char *arg, int64_t *vp,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	*vp = -1;
	if ((r = first_row(db, sql, arg, &st, err)) == 0)
		*vp = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return r;
}

int
db_test_text(struct db *db, const char *sql, const char *arg, char **sp,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int oom = 0, r;

	*sp = NULL;
	if ((r = first_row(db, sql, arg, &st, err)) == 0) {
		*sp = db_col_strdup(st, 0, &oom);
		if (oom)
			r = db_nomem(err);
	}
	sqlite3_finalize(st);
	return r;
}
