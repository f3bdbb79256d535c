/*
 * Raw SQL on a connection, for the unit tests that look into the store or
 * tamper with it as someone holding the file would. ca/db_test.c is linked
 * into the unit tests only: the programs reach rows through ca/db.h.
 */
#ifndef CA_DB_TEST_H
#define CA_DB_TEST_H

#include <stdint.h>

struct ca_err;
struct db;

/*
 * Runs sql (one statement or several): 0, or SQLite's extended result code
 * (test_db tells a constraint from other failures) with its message in err.
 */
int db_test_exec(struct db *db, const char *sql, struct ca_err *err);
/* The first column of the first row of sql, ?1 bound to arg (or none). */
int db_test_int(struct db *db, const char *sql, const char *arg,
    int64_t *vp, struct ca_err *err);
/* As db_test_int, for text (*sp malloc'd; NULL for SQL NULL). */
int db_test_text(struct db *db, const char *sql, const char *arg, char **sp,
    struct ca_err *err);

/*
 * lifecycle: EXPLAIN QUERY PLAN of the statement db keeps prepared whose
 * SQL holds part (run the query once first): its detail lines, one a line.
 */
int db_test_plan(struct db *db, const char *part, char **planp,
    struct ca_err *err);

#endif
