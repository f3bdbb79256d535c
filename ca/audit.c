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

#include "ca/audit.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/util.h"

#define AUDIT_ZERO_HASH \
	"0000000000000000000000000000000000000000000000000000000000000000"

/* Where audit_verify is along the chain. */
struct verify_ctx {
	struct audit_result *res;
	char prev[65];
	int64_t expect;
	int64_t last;
};

/* audit_foreach's callback and its context. */
struct foreach_ctx {
	audit_row_fn fn;
	void *ctx;
};

static int audit_ns(EVP_MD_CTX *, const void *, size_t);
static int audit_ns_int(EVP_MD_CTX *, int64_t);
static int audit_hash(const char *, int64_t, int64_t, const char *,
    const char *, const char *, const char *, char[65]);
static int verify_row(void *, const struct db_audit_row *, struct ca_err *);
static int foreach_row(void *, const struct db_audit_row *, struct ca_err *);
static void audit_bad(struct audit_result *, int64_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

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

int
audit_append(struct db *db, const char *actor, const char *action,
    const char *object, const char *detail, struct ca_err *err)
{
	struct db_audit_head hd;
	struct db_audit_row row;
	char hash[65];
	int r;

	if (!db_in_transaction(db))
		return ca_err_set(err, CA_ERR_INTERNAL, "audit log: %s %s "
		    "appended outside a transaction", action, object);
	if ((r = db_audit_head(db, &hd, err)) != 0)
		return r;
	if (!hd.present)
		return ca_err_set(err, CA_ERR_DB, "audit log: the head record "
		    "is missing; the log has been tampered with (run "
		    "`smimeca audit verify`)");
	row.id = hd.last_id + 1;
	row.ts = (int64_t)time(NULL);
	row.actor = actor;
	row.action = action;
	row.object = object;
	row.detail = detail;
	row.prev_hash = hd.last_hash;
	row.hash = hash;
	if (audit_hash(hd.last_hash, row.id, row.ts, actor, action, object,
	    detail, hash) != 0)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "audit log: hashing row "
		    "%lld", (long long)row.id);
	return db_audit_add(db, &row, hd.count + 1, err);
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

/* Checks one row against the chain so far; 1 stops at the first bad. */
static int
verify_row(void *ctx, const struct db_audit_row *row, struct ca_err *err)
{
	struct verify_ctx *v = ctx;
	struct audit_result *res = v->res;
	char calc[65];
	int64_t id = row->id;

	if (id < v->expect) {
		audit_bad(res, id, "row %lld: ids start at 1 (inserted)",
		    (long long)id);
		return 1;
	}
	if (id == v->expect + 1) {
		audit_bad(res, v->expect, "row %lld missing (deleted) before "
		    "row %lld", (long long)v->expect, (long long)id);
		return 1;
	}
	if (id > v->expect) {
		audit_bad(res, v->expect, "rows %lld to %lld missing (deleted) "
		    "before row %lld", (long long)v->expect,
		    (long long)(id - 1), (long long)id);
		return 1;
	}
	if (audit_hash(row->prev_hash, id, row->ts, row->actor, row->action,
	    row->object, row->detail, calc) != 0)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "audit log: hashing "
		    "row %lld", (long long)id);
	if (strcmp(calc, row->hash) != 0) {
		audit_bad(res, id, "row %lld: hash does not match its "
		    "contents (changed)", (long long)id);
		return 1;
	}
	if (strcmp(row->prev_hash, v->prev) != 0) {
		if (id == 1)
			audit_bad(res, id, "row 1: does not start the chain "
			    "(replaced or inserted)");
		else
			audit_bad(res, id, "row %lld: not linked to row %lld "
			    "(inserted or reordered)", (long long)id,
			    (long long)(id - 1));
		return 1;
	}
	snprintf(v->prev, sizeof(v->prev), "%s", row->hash);
	v->last = id;
	v->expect = id + 1;
	res->rows++;
	return 0;
}

int
audit_verify(struct db *db, struct audit_result *res, struct ca_err *err)
{
	struct db_audit_head hd;
	struct verify_ctx v;
	int64_t last;
	const char *prev;
	int r;

	memset(res, 0, sizeof(*res));
	memset(&v, 0, sizeof(v));
	v.res = res;
	v.expect = 1;
	snprintf(v.prev, sizeof(v.prev), "%s", AUDIT_ZERO_HASH);
	/* One read snapshot for the head and the rows, in or out of a tx. */
	if ((r = db_audit_snapshot(db, err)) != 0)
		return r;
	if ((r = db_audit_head(db, &hd, err)) != 0 ||
	    (r = db_audit_rows(db, "reading the rows", verify_row, &v,
	    err)) < 0)
		goto out;
	if (r > 0)
		goto done;
	last = v.last;
	prev = v.prev;
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
	db_audit_snapshot_end(db);
	return r;
}

static int
foreach_row(void *ctx, const struct db_audit_row *row, struct ca_err *err)
{
	struct foreach_ctx *c = ctx;
	int r;

	if ((r = c->fn(c->ctx, row->id, row->ts, row->actor, row->action,
	    row->object, row->detail)) < 0)
		r = ca_err_set(err, r, "audit log: listing stopped at row "
		    "%lld: %s", (long long)row->id, ca_strerror(r));
	return r;
}

int
audit_foreach(struct db *db, audit_row_fn fn, void *ctx, struct ca_err *err)
{
	struct foreach_ctx c = { fn, ctx };

	return db_audit_rows(db, "listing the rows", foreach_row, &c, err);
}
