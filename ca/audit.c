/*
 * The append-only, hash-chained audit log.
 *
 * Row hash (lower-case hex) = SHA-256 over
 *	prev_hash				64 hex characters
 *	ns(id) ns(ts) ns(actor) ns(action) ns(object) ns(detail)
 * where ns(x) is the netstring "<decimal byte length>:<bytes>," and the
 * integers are written in decimal. The first row's prev_hash is 64 '0's.
 * audit_head keeps the last id, its hash and the row count, so a removed
 * tail is caught as well. Anyone can re-check a row with a shell; row 1,
 * written at 1700000000 by admin, action init, object Lab CA, detail x:
 *	printf '%064d1:1,10:1700000000,5:admin,4:init,6:Lab CA,1:x,' 0 |
 *	    sha256sum
 */
#include "ac-config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "ca/audit.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/util.h"

#define AUDIT_ZERO_HASH \
	"0000000000000000000000000000000000000000000000000000000000000000"

struct audit_head {
	int present;
	int64_t last_id;
	int64_t count;
	char last_hash[65];
};

static int audit_fail(sqlite3 *, struct ca_err *, const char *);
static int audit_ns(EVP_MD_CTX *, const void *, size_t);
static int audit_ns_int(EVP_MD_CTX *, int64_t);
static int audit_hash(const char *, int64_t, int64_t, const char *,
    const char *, const char *, const char *, char[65]);
static int audit_read_head(sqlite3 *, struct audit_head *, struct ca_err *);
static const char *col_text(sqlite3_stmt *, int);
static void audit_bad(struct audit_result *, int64_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
audit_fail(sqlite3 *h, struct ca_err *err, const char *what)
{
	return ca_err_set(err, CA_ERR_DB, "audit log: %s: %s", what,
	    sqlite3_errmsg(h));
}

/* Feeds one netstring. */
static int
audit_ns(EVP_MD_CTX *md, const void *buf, size_t len)
{
	char pre[32];
	int n;

	n = snprintf(pre, sizeof(pre), "%zu:", len);
	if (n < 0 || (size_t)n >= sizeof(pre) ||
	    EVP_DigestUpdate(md, pre, (size_t)n) != 1 ||
	    EVP_DigestUpdate(md, buf, len) != 1 ||
	    EVP_DigestUpdate(md, ",", 1) != 1)
		return -1;
	return 0;
}

static int
audit_ns_int(EVP_MD_CTX *md, int64_t v)
{
	char buf[32];
	int n;

	n = snprintf(buf, sizeof(buf), "%" PRId64, v);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return audit_ns(md, buf, (size_t)n);
}

static int
audit_hash(const char *prev, int64_t id, int64_t ts, const char *actor,
    const char *action, const char *object, const char *detail,
    char out[65])
{
	EVP_MD_CTX *md = NULL;
	unsigned char dg[EVP_MAX_MD_SIZE];
	unsigned int dglen = 0;
	int r = -1;

	out[0] = '\0';
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, prev, strlen(prev)) != 1 ||
	    audit_ns_int(md, id) != 0 || audit_ns_int(md, ts) != 0 ||
	    audit_ns(md, actor, strlen(actor)) != 0 ||
	    audit_ns(md, action, strlen(action)) != 0 ||
	    audit_ns(md, object, strlen(object)) != 0 ||
	    audit_ns(md, detail, strlen(detail)) != 0 ||
	    EVP_DigestFinal_ex(md, dg, &dglen) != 1 || dglen != 32)
		goto out;
	util_hex(dg, dglen, out);
	r = 0;
 out:
	EVP_MD_CTX_free(md);
	return r;
}

/* TEXT column or "" for NULL (a tampered row may hold anything). */
static const char *
col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s != NULL ? (const char *)s : "";
}

static int
audit_read_head(sqlite3 *h, struct audit_head *hd, struct ca_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	memset(hd, 0, sizeof(*hd));
	if (sqlite3_prepare_v2(h, "SELECT last_id, last_hash, count FROM "
	    "audit_head WHERE one = 1", -1, &st, NULL) != SQLITE_OK)
		return audit_fail(h, err, "reading the head record");
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		hd->present = 1;
		hd->last_id = sqlite3_column_int64(st, 0);
		snprintf(hd->last_hash, sizeof(hd->last_hash), "%s",
		    col_text(st, 1));
		hd->count = sqlite3_column_int64(st, 2);
		r = 0;
		break;
	case SQLITE_DONE:
		r = 0;
		break;
	default:
		r = audit_fail(h, err, "reading the head record");
		break;
	}
	sqlite3_finalize(st);
	return r;
}

int
audit_append(struct db *db, const char *actor, const char *action,
    const char *object, const char *detail, struct ca_err *err)
{
	sqlite3 *h = db_handle(db);
	sqlite3_stmt *st = NULL;
	struct audit_head hd;
	char hash[65];
	int64_t id, ts = (int64_t)time(NULL);
	int r;

	if (sqlite3_get_autocommit(h))
		return ca_err_set(err, CA_ERR_INTERNAL, "audit log: %s %s "
		    "appended outside a transaction", action, object);
	if ((r = audit_read_head(h, &hd, err)) != 0)
		return r;
	if (!hd.present)
		return ca_err_set(err, CA_ERR_DB, "audit log: the head record "
		    "is missing; the log has been tampered with (run "
		    "`smimeca audit verify`)");
	id = hd.last_id + 1;
	if (audit_hash(hd.last_hash, id, ts, actor, action, object, detail,
	    hash) != 0)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "audit log: hashing row "
		    "%lld", (long long)id);
	if (sqlite3_prepare_v2(h, "INSERT INTO audit(id, ts, actor, action, "
	    "object, detail, prev_hash, hash) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
	    -1, &st, NULL) != SQLITE_OK) {
		r = audit_fail(h, err, "preparing the insert");
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, ts);
	sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, object, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, detail, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, hd.last_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(h) ==
		    SQLITE_CONSTRAINT_PRIMARYKEY)
			r = ca_err_set(err, CA_ERR_DB, "audit log: row %lld "
			    "exists but the head ends at row %lld; the log "
			    "has been tampered with (run `smimeca audit "
			    "verify`)", (long long)id, (long long)hd.last_id);
		else
			r = audit_fail(h, err, "appending a row");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(h, "UPDATE audit_head SET last_id = ?, "
	    "last_hash = ?, count = ? WHERE one = 1", -1, &st, NULL) !=
	    SQLITE_OK) {
		r = audit_fail(h, err, "preparing the head update");
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, hd.count + 1);
	if (sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(h) != 1) {
		r = audit_fail(h, err, "updating the head record");
		goto out;
	}
	r = 0;
 out:
	sqlite3_finalize(st);
	return r;
}

static void
audit_bad(struct audit_result *res, int64_t id, const char *fmt, ...)
{
	va_list ap;

	res->bad_id = id;
	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
}

int
audit_verify(struct db *db, struct audit_result *res, struct ca_err *err)
{
	sqlite3 *h = db_handle(db);
	sqlite3_stmt *st = NULL;
	struct audit_head hd;
	char prev[65], calc[65];
	const char *stored_prev, *stored;
	int64_t id, expect = 1, last = 0;
	int r, rc, in_sp = 0;

	memset(res, 0, sizeof(*res));
	snprintf(prev, sizeof(prev), "%s", AUDIT_ZERO_HASH);
	/* One read snapshot for the head and the rows, in or out of a tx. */
	if (sqlite3_exec(h, "SAVEPOINT audit_verify", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return audit_fail(h, err, "starting to verify");
	in_sp = 1;
	if ((r = audit_read_head(h, &hd, err)) != 0)
		goto out;
	if (sqlite3_prepare_v2(h, "SELECT id, ts, actor, action, object, "
	    "detail, prev_hash, hash FROM audit ORDER BY id", -1, &st,
	    NULL) != SQLITE_OK) {
		r = audit_fail(h, err, "reading the rows");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		if (id < expect) {
			audit_bad(res, id, "row %lld: ids start at 1 "
			    "(inserted)", (long long)id);
			goto done;
		}
		if (id == expect + 1) {
			audit_bad(res, expect, "row %lld missing (deleted) "
			    "before row %lld", (long long)expect,
			    (long long)id);
			goto done;
		}
		if (id > expect) {
			audit_bad(res, expect, "rows %lld to %lld missing "
			    "(deleted) before row %lld", (long long)expect,
			    (long long)(id - 1), (long long)id);
			goto done;
		}
		stored_prev = col_text(st, 6);
		stored = col_text(st, 7);
		if (audit_hash(stored_prev, id, sqlite3_column_int64(st, 1),
		    col_text(st, 2), col_text(st, 3), col_text(st, 4),
		    col_text(st, 5), calc) != 0) {
			r = ca_err_ssl(err, CA_ERR_CRYPTO, "audit log: hashing "
			    "row %lld", (long long)id);
			goto out;
		}
		if (strcmp(calc, stored) != 0) {
			audit_bad(res, id, "row %lld: hash does not match its "
			    "contents (changed)", (long long)id);
			goto done;
		}
		if (strcmp(stored_prev, prev) != 0) {
			if (id == 1)
				audit_bad(res, id, "row 1: does not start the "
				    "chain (replaced or inserted)");
			else
				audit_bad(res, id, "row %lld: not linked to "
				    "row %lld (inserted or reordered)",
				    (long long)id, (long long)(id - 1));
			goto done;
		}
		snprintf(prev, sizeof(prev), "%s", stored);
		last = id;
		expect = id + 1;
		res->rows++;
	}
	if (rc != SQLITE_DONE) {
		r = audit_fail(h, err, "reading the rows");
		goto out;
	}
	/* The head catches what the chain cannot: a cut or grown tail. */
	if (!hd.present)
		audit_bad(res, last > 0 ? last : 1, "the head record is "
		    "missing (deleted), so rows after %lld may be missing "
		    "too", (long long)last);
	else if (hd.last_id == last + 1)
		audit_bad(res, hd.last_id, "last row %lld missing (deleted; "
		    "the head says %lld rows)", (long long)hd.last_id,
		    (long long)hd.count);
	else if (hd.last_id > last)
		audit_bad(res, last + 1, "rows %lld to %lld missing at the "
		    "end (deleted; the head says %lld rows)",
		    (long long)(last + 1), (long long)hd.last_id,
		    (long long)hd.count);
	else if (hd.last_id < last)
		audit_bad(res, hd.last_id + 1, "row %lld is past the head, "
		    "which ends at row %lld (appended outside smimeca)",
		    (long long)(hd.last_id + 1), (long long)hd.last_id);
	else if (strcmp(hd.last_hash, prev) != 0)
		audit_bad(res, last > 0 ? last : 1, "row %lld: hash differs "
		    "from the one the head recorded (replaced)",
		    (long long)last);
	else if (hd.count != res->rows)
		audit_bad(res, last > 0 ? last : 1, "the head counts %lld "
		    "rows, the log holds %lld (head changed)",
		    (long long)hd.count, (long long)res->rows);
 done:
	r = 0;
 out:
	sqlite3_finalize(st);
	if (in_sp)
		sqlite3_exec(h, "RELEASE audit_verify", NULL, NULL, NULL);
	return r;
}

int
audit_foreach(struct db *db, audit_row_fn fn, void *ctx, struct ca_err *err)
{
	sqlite3 *h = db_handle(db);
	sqlite3_stmt *st = NULL;
	int64_t id;
	int r, rc;

	if (sqlite3_prepare_v2(h, "SELECT id, ts, actor, action, object, "
	    "detail FROM audit ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return audit_fail(h, err, "listing the rows");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		if ((r = fn(ctx, id, sqlite3_column_int64(st, 1),
		    col_text(st, 2), col_text(st, 3), col_text(st, 4),
		    col_text(st, 5))) != 0) {
			if (r < 0)
				r = ca_err_set(err, r, "audit log: listing "
				    "stopped at row %lld: %s", (long long)id,
				    ca_strerror(r));
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		r = audit_fail(h, err, "listing the rows");
		goto out;
	}
	r = 0;
 out:
	sqlite3_finalize(st);
	return r;
}
