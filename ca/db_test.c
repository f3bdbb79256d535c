/* Raw SQL for the unit tests (see ca/db_test.h); not in the programs. */
#include "ac-config.h"

#include <stdio.h>
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

/* lifecycle: the plan of a statement the connection keeps prepared. */
int
db_test_plan(struct db *db, const char *part, char **planp,
    struct ca_err *err)
{
	sqlite3_stmt *st = NULL;
	const char *sql = NULL, *d;
	char *plan = NULL, *q = NULL, *grown;
	size_t i, len = 0, dl;
	int r;

	*planp = NULL;
	for (i = 0; i < DB_STMT_SLOTS && sql == NULL; i++)
		if (db->stmts[i].st != NULL &&
		    strstr(sqlite3_sql(db->stmts[i].st), part) != NULL)
			sql = sqlite3_sql(db->stmts[i].st);
	if (sql == NULL)
		return ca_err_set(err, CA_ERR_NOTFOUND, "no kept statement "
		    "holds \"%s\"", part);
	if (asprintf(&q, "EXPLAIN QUERY PLAN %s", sql) == -1)
		return db_nomem(err);
	if (sqlite3_prepare_v2(db->h, q, -1, &st, NULL) != SQLITE_OK) {
		r = db_fail(db, err, "%s", q);
		goto out;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		d = (const char *)sqlite3_column_text(st, 3);
		dl = d != NULL ? strlen(d) : 0;
		if ((grown = realloc(plan, len + dl + 2)) == NULL) {
			r = db_nomem(err);
			goto out;
		}
		plan = grown;
		memcpy(plan + len, d != NULL ? d : "", dl);
		len += dl;
		plan[len++] = '\n';
		plan[len] = '\0';
	}
	if (r != SQLITE_DONE) {
		r = db_fail(db, err, "%s", q);
		goto out;
	}
	*planp = plan != NULL ? plan : strdup("");
	plan = NULL;
	r = *planp != NULL ? 0 : db_nomem(err);
 out:
	sqlite3_finalize(st);
	free(plan);
	free(q);
	return r;
}
