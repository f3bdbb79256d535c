/* The append-only, hash-chained audit log. */
#ifndef CA_AUDIT_H
#define CA_AUDIT_H

#include <stdint.h>

struct ca_err;
struct db;

/*
 * Appends a row inside the caller's transaction. Each row stores
 * SHA-256(previous row's hash || this row's fields); a head record holds
 * the last id and hash so that a removed last row is caught too.
 */
int audit_append(struct db *db, const char *actor, const char *action,
    const char *object, const char *detail, struct ca_err *err);

struct audit_result {
	int64_t rows;		/* rows checked */
	int64_t bad_id;		/* first bad row id, 0 when intact */
	char why[256];		/* what is wrong with it */
};

/* Returns 0 and bad_id == 0 when the chain is intact. */
int audit_verify(struct db *db, struct audit_result *res, struct ca_err *err);

/* Calls fn for every row in order (for `smimeca audit list`). */
typedef int (*audit_row_fn)(void *ctx, int64_t id, int64_t ts,
    const char *actor, const char *action, const char *object,
    const char *detail);
int audit_foreach(struct db *db, audit_row_fn fn, void *ctx,
    struct ca_err *err);

#endif
