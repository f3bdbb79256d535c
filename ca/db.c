/*
 * The CA's SQLite store, its core: opening a connection, the schema and
 * its migrations, transactions, the statement cache and the helpers the
 * table files (ca/db_*.c) share.
 */
#include "ac-config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/db.h"
#include "ca/db_int.h"
#include "ca/err.h"

/*
 * Writers of one process queue here instead of in SQLite's busy handler,
 * which sleeps in steps of milliseconds; other processes (the CLI next to
 * the daemon) still meet the busy timeout.
 */
static pthread_mutex_t db_write_lock = PTHREAD_MUTEX_INITIALIZER;

static void db_unlock(struct db *);
static void db_stmt_flush(struct db *);
static int db_vfail(struct db *, struct ca_err *, const char *, va_list)
    __attribute__((format(printf, 3, 0)));
static int db_pragmas(struct db *, struct ca_err *);
static int db_user_version(struct db *, int *, struct ca_err *);
static int db_check_version(struct db *, int, struct ca_err *);
static int db_migrate(struct db *, struct ca_err *);
static int db_vrows(struct db *, sqlite3_stmt *, db_row_fn, void *,
    struct ca_err *, const char *, va_list)
    __attribute__((format(printf, 6, 0)));
static int db_list_row(void *, sqlite3_stmt *, struct ca_err *);
static int db_string_make(struct db *, sqlite3_stmt *, void **,
    struct ca_err *);

/*
 * Forward migrations: migrations[i] takes the schema from version i to
 * i + 1. Append only; never edit an entry once released.
 */
static const char *const migrations[] = {
	/* 0 -> 1: the core tables. */
	"CREATE TABLE ca_certs ("
	"  id INTEGER PRIMARY KEY,"
	"  role TEXT NOT NULL,"
	"  der BLOB NOT NULL,"
	"  key_file TEXT,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE templates ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  body TEXT NOT NULL,"
	"  first_used INTEGER NOT NULL,"
	"  UNIQUE(name, sha256));"
	"CREATE TABLE requests ("
	"  id INTEGER PRIMARY KEY,"
	"  received INTEGER NOT NULL,"
	"  protocol TEXT NOT NULL,"
	"  requester TEXT NOT NULL,"
	"  template_id INTEGER REFERENCES templates(id),"
	"  csr BLOB NOT NULL);"
	"CREATE TABLE certs ("
	"  id INTEGER PRIMARY KEY,"
	"  serial TEXT NOT NULL UNIQUE,"
	"  issuer_id INTEGER NOT NULL REFERENCES ca_certs(id),"
	"  request_id INTEGER REFERENCES requests(id),"
	"  template TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  email TEXT,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  revoked INTEGER NOT NULL DEFAULT 0,"
	"  revoked_at INTEGER,"
	"  reason INTEGER,"
	"  sha1 TEXT NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  der BLOB NOT NULL);"
	"CREATE INDEX certs_email ON certs(email);"
	"CREATE INDEX certs_template_email ON certs(template, email);"
	"CREATE TABLE crls ("
	"  id INTEGER PRIMARY KEY,"
	"  issuer_id INTEGER NOT NULL REFERENCES ca_certs(id),"
	"  number INTEGER NOT NULL,"
	"  this_update INTEGER NOT NULL,"
	"  next_update INTEGER NOT NULL,"
	"  der BLOB NOT NULL,"
	"  UNIQUE(issuer_id, number));"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  object TEXT NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  prev_hash TEXT NOT NULL,"
	"  hash TEXT NOT NULL);"
	"CREATE TABLE audit_head ("
	"  one INTEGER PRIMARY KEY CHECK(one = 1),"
	"  last_id INTEGER NOT NULL,"
	"  last_hash TEXT NOT NULL,"
	"  count INTEGER NOT NULL);"
	"INSERT INTO audit_head(one, last_id, last_hash, count) VALUES(1, 0,"
	"  '0000000000000000000000000000000000000000000000000000000000000000',"
	"  0);"
	/*
	 * Keep honest code from rewriting history. An attacker with the file
	 * drops these; audit_verify's hash chain still catches the change.
	 */
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN"
	"  SELECT RAISE(ABORT, 'the audit log is append-only');"
	"END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN"
	"  SELECT RAISE(ABORT, 'the audit log is append-only');"
	"END;"
	"CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head BEGIN"
	"  SELECT RAISE(ABORT, 'the audit head record must stay');"
	"END;",
	/* 1 -> 2: key escrow (archive/) and local accounts. */
	"CREATE TABLE kras ("
	"  id INTEGER PRIMARY KEY,"
	"  sha1 TEXT NOT NULL UNIQUE,"
	"  sha256 TEXT NOT NULL UNIQUE,"
	"  subject TEXT NOT NULL,"
	"  der BLOB NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  added INTEGER NOT NULL,"
	"  retired INTEGER NOT NULL DEFAULT 0,"
	"  retired_at INTEGER);"
	"CREATE TABLE escrow ("
	"  id INTEGER PRIMARY KEY,"
	"  cert_id INTEGER NOT NULL UNIQUE REFERENCES certs(id),"
	"  quorum INTEGER NOT NULL,"
	"  nshares INTEGER NOT NULL,"
	"  envelope BLOB NOT NULL,"
	"  kras TEXT NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE escrow_shares ("
	"  escrow_id INTEGER NOT NULL REFERENCES escrow(id),"
	"  x INTEGER NOT NULL,"
	"  kra_sha256 TEXT NOT NULL,"
	"  envelope BLOB NOT NULL,"
	"  PRIMARY KEY(escrow_id, x));"
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  email TEXT NOT NULL UNIQUE,"
	"  cn TEXT,"
	"  pwhash TEXT NOT NULL,"
	"  disabled INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE enroll_codes ("
	"  id INTEGER PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id),"
	"  codehash TEXT NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  used INTEGER NOT NULL DEFAULT 0);",
	/*
	 * 2 -> 3: the publish outbox (ca/publish.c). A job is written in the
	 * transaction that issues, revokes or signs a CRL; the worker applies
	 * it to the directory later, with retries. next_attempt doubles as
	 * the lease a worker takes while it works on the job.
	 */
	"CREATE TABLE pub_jobs ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL"
	"    CHECK(kind IN ('add', 'delete', 'expire', 'crl')),"
	"  cert_id INTEGER REFERENCES certs(id),"
	"  email TEXT,"
	"  crl_number INTEGER,"
	"  state TEXT NOT NULL DEFAULT 'pending'"
	"    CHECK(state IN ('pending', 'done', 'failed')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  result TEXT,"
	"  created INTEGER NOT NULL,"
	"  done_at INTEGER);"
	"CREATE INDEX pub_jobs_due ON pub_jobs(state, next_attempt);"
	"CREATE INDEX pub_jobs_cert ON pub_jobs(cert_id);"
	"CREATE INDEX pub_jobs_email ON pub_jobs(email);",
	/* 4: the active-limit check reads only unrevoked certificates. */
	"CREATE INDEX certs_active ON certs(template, email) "
	"WHERE revoked = 0;",
	/*
	 * 4 -> 5: who a certificate belongs to, as data (db_request.owner).
	 * Older rows get it once from their requester: "local:", "code:" and
	 * "dir:" name the account; "renew:SERIAL" takes the owner at the end
	 * of its chain of renewals; anything else is the administrator's.
	 */
	"ALTER TABLE requests ADD COLUMN owner TEXT;"
	"UPDATE requests SET owner ="
	"  lower(substr(requester, instr(requester, ':') + 1))"
	"  WHERE (requester LIKE 'local:%' OR requester LIKE 'code:%' OR"
	"  requester LIKE 'dir:%') AND instr(requester, '@') > 0;"
	"WITH RECURSIVE up(id, cur) AS ("
	"  SELECT id, id FROM requests WHERE requester LIKE 'renew:%'"
	"  UNION"
	"  SELECT up.id, c.request_id FROM up"
	"  JOIN requests r ON r.id = up.cur AND r.requester LIKE 'renew:%'"
	"  JOIN certs c ON c.serial = substr(r.requester, 7)"
	"  WHERE c.request_id IS NOT NULL)"
	"UPDATE requests SET owner = ("
	"  SELECT r.owner FROM up JOIN requests r ON r.id = up.cur"
	"  WHERE up.id = requests.id AND r.requester NOT LIKE 'renew:%')"
	"  WHERE requester LIKE 'renew:%';",
	/*
	 * 5 -> 6: Intune-style SCEP challenges (ca/mdmchal.c). A row is
	 * written when the challenge is made and marked used in the
	 * transaction that issues its certificate: single use.
	 */
	"CREATE TABLE mdm_challenges ("
	"  id INTEGER PRIMARY KEY,"
	"  template TEXT NOT NULL,"
	"  email TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  device TEXT,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  used INTEGER);",
	/*
	 * 6 -> 7 (lifecycle): certificates by notAfter, for db_cert_expiring
	 * and the expiry gauges (a window of days is a short range of it);
	 * revoked ones by issuer and serial with what a CRL entry needs, so
	 * the CRL reads the index alone and in order. revoked is a column of
	 * certs_revoked too: SQLite 3.40 reads a partial index alone only
	 * when it holds every column the query names. IF NOT EXISTS: test_db
	 * rebuilds an older file by lowering user_version alone.
	 */
	"CREATE INDEX IF NOT EXISTS certs_expiry ON "
	"certs(not_after, issuer_id, revoked, reason);"
	"CREATE INDEX IF NOT EXISTS certs_revoked ON certs(issuer_id, "
	"length(serial), serial, revoked_at, reason, revoked) "
	"WHERE revoked <> 0;",
	/*
	 * 7 -> 8: pre-produced OCSP responses (ca/ocsp.c), one per
	 * certificate and CertID hash. revoked is the status the response
	 * carries, so that a reader sees at once when the row is stale.
	 */
	"CREATE TABLE IF NOT EXISTS ocsp_responses ("
	"  cert_id INTEGER NOT NULL REFERENCES certs(id),"
	"  hash TEXT NOT NULL CHECK(hash IN ('sha1', 'sha256')),"
	"  serial TEXT NOT NULL,"
	"  revoked INTEGER NOT NULL,"
	"  signer_id INTEGER NOT NULL,"
	"  this_update INTEGER NOT NULL,"
	"  next_update INTEGER NOT NULL,"
	"  der BLOB NOT NULL,"
	"  PRIMARY KEY(cert_id, hash));",
	/*
	 * 8 -> 9: a certificate by its SHA-1 thumbprint (the MDM connector's
	 * check of each key it hands out) without reading every row.
	 */
	"CREATE INDEX IF NOT EXISTS certs_sha1 ON certs(sha1);",
	/*
	 * 9 -> 10: SCEP (ca/scep.c). One-time challenges, stored hashed and
	 * used up in the transaction that issues (or holds) the request;
	 * SCEP transactions by transactionID, UNIQUE so that a replay never
	 * issues twice, and pending requests waiting for approval.
	 */
	"CREATE TABLE scep_challenges ("
	"  id INTEGER PRIMARY KEY,"
	"  hash TEXT NOT NULL,"
	"  template TEXT,"
	"  email TEXT,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  used INTEGER,"
	"  created_by TEXT NOT NULL);"
	"CREATE TABLE scep_tx ("
	"  id INTEGER PRIMARY KEY,"
	"  tid TEXT NOT NULL,"
	"  keyhash TEXT NOT NULL,"
	"  msgtype INTEGER NOT NULL,"
	"  template TEXT NOT NULL,"
	"  state TEXT NOT NULL"
	"    CHECK(state IN ('pending', 'issued', 'denied')),"
	"  cert_id INTEGER REFERENCES certs(id),"
	"  serial TEXT,"
	"  csr BLOB NOT NULL,"
	"  mail TEXT,"
	"  cn TEXT,"
	"  owner TEXT,"
	"  requester TEXT NOT NULL,"
	"  subject TEXT,"
	"  created INTEGER NOT NULL,"
	"  decided INTEGER,"
	"  decided_by TEXT);"
	"CREATE UNIQUE INDEX scep_tx_tid ON scep_tx(tid, msgtype);"
	"CREATE INDEX scep_tx_state ON scep_tx(state);",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) ==
    DB_SCHEMA_VERSION, "one migration per schema version");

static void
db_unlock(struct db *db)
{
	if (db->write_locked) {
		db->write_locked = 0;
		pthread_mutex_unlock(&db_write_lock);
	}
}

static int
db_vfail(struct db *db, struct ca_err *err, const char *fmt, va_list ap)
{
	char what[512];

	vsnprintf(what, sizeof(what), fmt, ap);
	return ca_err_set(err, CA_ERR_DB, "%s: %s", what,
	    sqlite3_errmsg(db->h));
}

int
db_fail(struct db *db, struct ca_err *err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = db_vfail(db, err, fmt, ap);
	va_end(ap);
	return r;
}

int
db_nomem(struct ca_err *err)
{
	return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
}

int
db_exec(struct db *db, const char *sql, const char *what, struct ca_err *err)
{
	if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, err, "%s: %s", db->path, what);
	return 0;
}

sqlite3_stmt *
db_stmt(struct db *db, const char *sql)
{
	return db_stmt_keyed(db, sql, sql);
}

/*
 * Open addressing on the key's address. A key already handed out (a
 * statement used again while its rows are still being read) and a full
 * table get a statement of their own, which db_done finalizes.
 */
sqlite3_stmt *
db_stmt_keyed(struct db *db, const void *key, const char *sql)
{
	struct db_stmt_slot *s = NULL;
	sqlite3_stmt *st = NULL;
	uintptr_t k = (uintptr_t)key;
	size_t i, n;

	i = (size_t)((k >> 4) ^ (k >> 12)) & (DB_STMT_SLOTS - 1);
	for (n = 0; n < DB_STMT_SLOTS; n++, i = (i + 1) & (DB_STMT_SLOTS - 1)) {
		if (db->stmts[i].key == key) {
			if (db->stmts[i].busy)
				break;
			db->stmts[i].busy = 1;
			return db->stmts[i].st;
		}
		if (db->stmts[i].key == NULL) {
			s = &db->stmts[i];
			break;
		}
	}
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return NULL;
	}
	if (s != NULL) {
		s->key = key;
		s->st = st;
		s->busy = 1;
	}
	return st;
}

void
db_done(struct db *db, sqlite3_stmt *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < DB_STMT_SLOTS; i++) {
		if (db->stmts[i].st != st)
			continue;
		/* No read left open, no pointer of the caller's kept. */
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		db->stmts[i].busy = 0;
		return;
	}
	sqlite3_finalize(st);
}

/* Finalizes every kept statement (before the connection closes). */
static void
db_stmt_flush(struct db *db)
{
	size_t i;

	for (i = 0; i < DB_STMT_SLOTS; i++)
		sqlite3_finalize(db->stmts[i].st);
	memset(db->stmts, 0, sizeof(db->stmts));
}

static int
db_vrows(struct db *db, sqlite3_stmt *st, db_row_fn fn, void *ctx,
    struct ca_err *err, const char *fmt, va_list ap)
{
	int r, rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((r = fn(ctx, st, err)) != 0)
			return r;
	return rc == SQLITE_DONE ? 0 : db_vfail(db, err, fmt, ap);
}

int
db_rows(struct db *db, sqlite3_stmt *st, db_row_fn fn, void *ctx,
    struct ca_err *err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = db_vrows(db, st, fn, ctx, err, fmt, ap);
	va_end(ap);
	return r;
}

int
db_get(struct db *db, sqlite3_stmt *st, struct ca_err *err,
    const char *fmt, ...)
{
	va_list ap;
	int r;

	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		return 0;
	case SQLITE_DONE:
		return CA_ERR_NOTFOUND;
	default:
		va_start(ap, fmt);
		r = db_vfail(db, err, fmt, ap);
		va_end(ap);
		return r;
	}
}

int
db_run(struct db *db, sqlite3_stmt *st, struct ca_err *err,
    const char *fmt, ...)
{
	va_list ap;
	int r;

	if (sqlite3_step(st) == SQLITE_DONE)
		return 0;
	va_start(ap, fmt);
	r = db_vfail(db, err, fmt, ap);
	va_end(ap);
	return r;
}

int64_t
db_changes(struct db *db)
{
	return sqlite3_changes(db->h);
}

struct db_list {
	struct db *db;
	db_make_fn make;
	db_free_fn free;
	void **v;
	size_t n, cap;
};

static int
db_list_row(void *ctx, sqlite3_stmt *st, struct ca_err *err)
{
	struct db_list *l = ctx;
	void *obj = NULL, **nv;
	size_t cap;
	int r;

	if ((r = l->make(l->db, st, &obj, err)) != 0 || obj == NULL)
		return r;
	if (l->n == l->cap) {
		cap = l->cap == 0 ? 16 : l->cap * 2;
		if ((nv = reallocarray(l->v, cap, sizeof(*nv))) == NULL) {
			l->free(obj);
			return db_nomem(err);
		}
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = obj;
	return 0;
}

int
db_list(struct db *db, sqlite3_stmt *st, db_make_fn make, db_free_fn free_fn,
    void *listp, size_t *np, struct ca_err *err, const char *fmt, ...)
{
	struct db_list l = { db, make, free_fn, NULL, 0, 0 };
	va_list ap;
	int r;

	*(void ***)listp = NULL;
	*np = 0;
	va_start(ap, fmt);
	r = db_vrows(db, st, db_list_row, &l, err, fmt, ap);
	va_end(ap);
	db_done(db, st);
	if (r != 0) {
		db_free_list(l.v, l.n, free_fn);
		return r;
	}
	*(void ***)listp = l.v;
	*np = l.n;
	return 0;
}

void
db_free_list(void *list, size_t n, db_free_fn free_fn)
{
	void **v = list;
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free_fn(v[i]);
	free(v);
}

static int
db_string_make(struct db *db, sqlite3_stmt *st, void **objp,
    struct ca_err *err)
{
	const unsigned char *s;

	(void)db;
	if ((s = sqlite3_column_text(st, 0)) == NULL)
		return 0;
	if ((*objp = strdup((const char *)s)) == NULL)
		return db_nomem(err);
	return 0;
}

int
db_strings(struct db *db, sqlite3_stmt *st, char ***listp, size_t *np,
    struct ca_err *err, const char *what)
{
	return db_list(db, st, db_string_make, free, listp, np, err, "%s",
	    what);
}

void
db_free_strings(char **list, size_t n)
{
	db_free_list(list, n, free);
}

char *
db_col_strdup(sqlite3_stmt *st, int col, int *oom)
{
	const unsigned char *s;
	char *p;

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NULL;
	if ((s = sqlite3_column_text(st, col)) == NULL ||
	    (p = strdup((const char *)s)) == NULL) {
		*oom = 1;
		return NULL;
	}
	return p;
}

void
db_col_copy(sqlite3_stmt *st, int col, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", db_col_text(st, col));
}

const char *
db_col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s != NULL ? (const char *)s : "";
}

int
db_col_blob(sqlite3_stmt *st, int col, unsigned char **bufp, size_t *lenp)
{
	const void *p = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);

	*bufp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	if ((*bufp = malloc(n > 0 ? (size_t)n : 1)) == NULL)
		return -1;
	if (n > 0)
		memcpy(*bufp, p, (size_t)n);
	if (lenp != NULL)
		*lenp = (size_t)n;
	return 0;
}

static int
db_pragmas(struct db *db, struct ca_err *err)
{
	sqlite3_stmt *st = NULL;
	const char *mode;
	int r;

	if (sqlite3_prepare_v2(db->h, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK) {
		r = db_fail(db, err, "%s: journal_mode: preparing", db->path);
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = db_fail(db, err, "%s: switching to WAL mode", db->path);
		goto out;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	if (mode == NULL || sqlite3_stricmp(mode, "wal") != 0) {
		r = ca_err_set(err, CA_ERR_DB, "%s: cannot switch to WAL "
		    "journal mode (still \"%s\"); keep the CA directory on a "
		    "local file system", db->path, mode ? mode : "?");
		goto out;
	}
	if ((r = db_exec(db, "PRAGMA synchronous = FULL",
	    "setting synchronous=FULL", err)) != 0 ||
	    (r = db_exec(db, "PRAGMA foreign_keys = ON",
	    "enabling foreign keys", err)) != 0)
		goto out;
	r = 0;
 out:
	sqlite3_finalize(st);
	return r;
}

static int
db_user_version(struct db *db, int *vp, struct ca_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	*vp = -1;
	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK) {
		r = db_fail(db, err, "%s: reading the schema version: "
		    "preparing", db->path);
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = db_fail(db, err, "%s: reading the schema version",
		    db->path);
		goto out;
	}
	*vp = sqlite3_column_int(st, 0);
	r = 0;
 out:
	sqlite3_finalize(st);
	return r;
}

/* Refuses, before changing anything, a file this release cannot use. */
static int
db_check_version(struct db *db, int create, struct ca_err *err)
{
	int r, v;

	if ((r = db_user_version(db, &v, err)) != 0)
		return r;
	if (v > DB_SCHEMA_VERSION)
		return ca_err_set(err, CA_ERR_DB, "%s: database schema version "
		    "%d is newer than this smimeca understands (%d); use the "
		    "smimeca release that wrote it, or a newer one", db->path,
		    v, DB_SCHEMA_VERSION);
	if (v == 0 && !create)
		return ca_err_set(err, CA_ERR_NOTFOUND, "%s: not an smimeca "
		    "database (it holds no schema; create a CA with "
		    "`smimeca init`)", db->path);
	return 0;
}

/* Runs the migrations from the current version up, one transaction each. */
static int
db_migrate(struct db *db, struct ca_err *err)
{
	char sql[64], what[64];
	int r, v, in_tx = 0;

	if ((r = db_user_version(db, &v, err)) != 0)
		goto out;
	while (v < DB_SCHEMA_VERSION) {
		if ((r = db_exec(db, "BEGIN IMMEDIATE",
		    "starting a schema migration", err)) != 0)
			goto out;
		in_tx = 1;
		/* Another process may have migrated while we waited. */
		if ((r = db_user_version(db, &v, err)) != 0)
			goto out;
		if (v >= DB_SCHEMA_VERSION) {
			if ((r = db_exec(db, "COMMIT", "ending the migration",
			    err)) != 0)
				goto out;
			in_tx = 0;
			break;
		}
		snprintf(what, sizeof(what), "migrating the schema from "
		    "version %d to %d", v, v + 1);
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if ((r = db_exec(db, migrations[v], what, err)) != 0 ||
		    (r = db_exec(db, sql, what, err)) != 0 ||
		    (r = db_exec(db, "COMMIT", what, err)) != 0)
			goto out;
		in_tx = 0;
		v++;
	}
	r = 0;
 out:
	if (in_tx)
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int
db_open(const char *path, int create, struct db **dbp, struct ca_err *err)
{
	struct db *db = NULL;
	struct stat st;
	int fd, flags, r;

	*dbp = NULL;
	if ((db = calloc(1, sizeof(*db))) == NULL ||
	    (db->path = strdup(path)) == NULL) {
		r = db_nomem(err);
		goto out;
	}
	if (create) {
		/* SQLite gives its -wal and -shm files the same mode. */
		if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		    0600)) == -1) {
			r = ca_err_set(err, CA_ERR_IO, "%s: cannot create the "
			    "database: %s", path, strerror(errno));
			goto out;
		}
		close(fd);
	} else if (stat(path, &st) == -1) {
		if (errno == ENOENT)
			r = ca_err_set(err, CA_ERR_NOTFOUND, "%s: no such "
			    "database (create a CA with `smimeca init`, or "
			    "point --dir at an existing one)", path);
		else
			r = ca_err_set(err, CA_ERR_IO, "%s: %s", path,
			    strerror(errno));
		goto out;
	}
	flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &db->h, flags, NULL) != SQLITE_OK) {
		r = ca_err_set(err, CA_ERR_DB, "%s: cannot open the database: "
		    "%s", path, db->h != NULL ? sqlite3_errmsg(db->h) :
		    "out of memory");
		goto out;
	}
	sqlite3_extended_result_codes(db->h, 1);
	if (sqlite3_busy_timeout(db->h, 5000) != SQLITE_OK) {
		r = db_fail(db, err, "%s: setting the busy timeout", db->path);
		goto out;
	}
	if ((r = db_check_version(db, create, err)) != 0 ||
	    (r = db_pragmas(db, err)) != 0 ||
	    (r = db_migrate(db, err)) != 0 ||
	    (r = db_group_join(db, err)) != 0)
		goto out;
	*dbp = db;
	db = NULL;
	r = 0;
 out:
	db_close(db);
	return r;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	db_rollback(db);
	db_group_leave(db);
	db_stmt_flush(db);
	if (db->h != NULL)
		sqlite3_close_v2(db->h);
	free(db->path);
	free(db);
}

int
db_begin(struct db *db, struct ca_err *err)
{
	int r;

	pthread_mutex_lock(&db_write_lock);
	db->write_locked = 1;
	if ((r = db_exec(db, "BEGIN IMMEDIATE", "starting a transaction",
	    err)) != 0)
		db_unlock(db);
	return r;
}

int
db_commit(struct db *db, struct ca_err *err)
{
	int r;

	/* A failed commit is rolled back here: the lock is never kept. */
	if ((r = db_exec(db, "COMMIT", "committing the transaction",
	    err)) != 0 && !sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	db_unlock(db);
	return r;
}

void
db_rollback(struct db *db)
{
	if (db != NULL && db->h != NULL && !sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	if (db != NULL)
		db_unlock(db);
}

int
db_in_transaction(struct db *db)
{
	return !sqlite3_get_autocommit(db->h);
}

int
db_schema_version(struct db *db)
{
	int v;

	if (db_user_version(db, &v, NULL) != 0)
		return -1;
	return v;
}

int
db_ping(struct db *db, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_stmt(db, "SELECT count(*) FROM ca_certs")) == NULL)
		return db_fail(db, err, "database");
	r = db_get(db, st, err, "database");
	db_done(db, st);
	return r;
}
