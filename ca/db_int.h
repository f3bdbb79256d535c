/*
 * Inside the storage layer: the connection and the helpers its files
 * (ca/db*.c) share. Only they include this header; SQLite stops here.
 */
#ifndef CA_DB_INT_H
#define CA_DB_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

struct ca_err;
struct db_group;

/* Statements a connection keeps prepared; a power of two. */
#define DB_STMT_SLOTS	128

/*
 * A prepared statement kept for the next call. The key is the address of
 * its constant SQL text (or of a static byte standing for built text), so
 * a lookup never compares strings.
 */
struct db_stmt_slot {
	const void *key;
	sqlite3_stmt *st;
	int busy;		/* handed out, not given back yet */
};

/*
 * One connection. It is used by one thread at a time: its owner's, or,
 * while the owner waits in db_group_run, never (the leader runs the batch
 * on its own connection). So its statement cache needs no lock.
 */
struct db {
	sqlite3 *h;
	char *path;
	int write_locked;	/* holds the process's write lock */
	struct db_group *group;	/* the batches of its database file */
	struct db_stmt_slot stmts[DB_STMT_SLOTS];
};

/* The row callback of db_rows: 0 goes on, anything else stops. */
typedef int (*db_row_fn)(void *ctx, sqlite3_stmt *st, struct ca_err *err);

/* Runs constant SQL (never data); on failure err gets "what: message". */
int db_exec(struct db *db, const char *sql, const char *what,
    struct ca_err *err);
/*
 * The statement for constant sql, prepared once per connection and kept.
 * NULL when it does not prepare (db_fail tells why). Give it back with
 * db_done, which resets it and clears its bindings; a statement asked for
 * again before that is prepared anew and finalized by db_done.
 */
sqlite3_stmt *db_stmt(struct db *db, const char *sql);
/* As db_stmt for built SQL: key (a static address) stands for its text. */
sqlite3_stmt *db_stmt_keyed(struct db *db, const void *key, const char *sql);
void db_done(struct db *db, sqlite3_stmt *st);

/* Sets err to "what: SQLite's message" and returns CA_ERR_DB. */
int db_fail(struct db *db, struct ca_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "out of memory", CA_ERR_NOMEM. */
int db_nomem(struct ca_err *err);
/*
 * Steps st to its end, calling fn on every row; returns 0, the first
 * nonzero return of fn, or (a step failed) db_fail with what.
 */
int db_rows(struct db *db, sqlite3_stmt *st, db_row_fn fn, void *ctx,
    struct ca_err *err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/*
 * Steps st once for a row: 0 when there is one, CA_ERR_NOTFOUND (err left
 * alone) when there is none, db_fail with what when the step fails.
 */
int db_get(struct db *db, sqlite3_stmt *st, struct ca_err *err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Steps a write to its end: 0, or db_fail with what. */
int db_run(struct db *db, sqlite3_stmt *st, struct ca_err *err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Rows the last write changed. */
int64_t db_changes(struct db *db);
/*
 * Makes the object of one row: 0 and *objp (NULL skips the row), or an
 * error with err set.
 */
typedef int (*db_make_fn)(struct db *db, sqlite3_stmt *st, void **objp,
    struct ca_err *err);
typedef void (*db_free_fn)(void *obj);
/*
 * The objects of every row of st, made by make, into a list of pointers
 * (*listp, a T ** for make's T *); gives st back (db_done). On failure
 * nothing is handed out: what was made is freed with free_fn.
 */
int db_list(struct db *db, sqlite3_stmt *st, db_make_fn make,
    db_free_fn free_fn, void *listp, size_t *np, struct ca_err *err,
    const char *fmt, ...) __attribute__((format(printf, 8, 9)));
/* Frees the n objects of list with free_fn, then list. */
void db_free_list(void *list, size_t n, db_free_fn free_fn);
/* Column 0 of every row (NULLs skipped), copied; gives st back. */
int db_strings(struct db *db, sqlite3_stmt *st, char ***listp, size_t *np,
    struct ca_err *err, const char *what);

/* strdup of a TEXT column; NULL for SQL NULL, *oom set on failure. */
char *db_col_strdup(sqlite3_stmt *st, int col, int *oom);
/* A TEXT column into a fixed buffer ("" for NULL). */
void db_col_copy(sqlite3_stmt *st, int col, char *out, size_t outlen);
/* A TEXT column, or "" for NULL (a tampered row may hold anything). */
const char *db_col_text(sqlite3_stmt *st, int col);
/*
 * A BLOB column in malloc'd memory, never NULL on success (1 byte for an
 * empty one); -1 when out of memory.
 */
int db_col_blob(sqlite3_stmt *st, int col, unsigned char **bufp,
    size_t *lenp);

/* Group commit (ca/db_group.c): db_open joins, db_close leaves. */
int db_group_join(struct db *db, struct ca_err *err);
void db_group_leave(struct db *db);

#endif
