/* Unit tests for the SQLite store (ca/db.c) and the audit log (ca/audit.c). */
#include "ac-config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* For SQLite's result codes and version alone: rows go through ca/. */
#include <sqlite3.h>

#include "ca/audit.h"
#include "ca/db.h"
#include "ca/db_test.h"
#include "ca/err.h"
#include "ca/revoke.h"
#include "ca/util.h"
#include "tests/unit/tap.h"

#define AUDIT_ROWS	12

static char tmpdir[] = "/tmp/test_db.XXXXXX";
/* The database nested_row lists again. */
static struct db *db_nested;

static char *dbpath(const char *);
static void rm_tmpdir(void);
static int64_t q_int(struct db *, const char *);
static char *q_text(struct db *, const char *);
static int sql_exec(struct db *, const char *);
static void fill_cert(struct db_cert *, const char *, int64_t, int64_t,
    const char *, const char *, int64_t);
static void test_open(void);
static void test_ca_certs(struct db *, int64_t *);
static void test_certs(struct db *, int64_t);
static void test_crls(struct db *, int64_t);
static void test_audit(struct db *);
static int append_rows(struct db *, struct ca_err *);
static struct db *audit_db(const char *);
static void row_hash(const char *, int64_t, int64_t, const char *,
    const char *, const char *, const char *, char[65]);
static void insert_row(struct db *, int64_t, int64_t, const char *,
    const char *, const char *, const char *, const char *, const char *);
static void expect_bad(const char *, const char *, int64_t, const char *);
static void test_tamper(void);
static void test_reasons(void);
static void owner_row(struct db *, int64_t, const char *, const char *,
    const char *);
static char *owner_of(struct db *, const char *);
static void test_owner(void);
static int count_row(void *, int64_t, int64_t, const char *, const char *,
    const char *, const char *);
static int stop_row(void *, int64_t, int64_t, const char *, const char *,
    const char *, const char *);
static int nested_row(void *, int64_t, int64_t, const char *, const char *,
    const char *, const char *);
static void test_stmt_cache(struct db *);

static char *
dbpath(const char *name)
{
	return tap_path(tmpdir, name);
}

static void
rm_tmpdir(void)
{
	tap_rmtree(tmpdir);
}

/* First column of the first row as an integer, -1 on any failure. */
static int64_t
q_int(struct db *db, const char *sql)
{
	int64_t v = -1;

	db_test_int(db, sql, NULL, &v, NULL);
	return v;
}

static char *
q_text(struct db *db, const char *sql)
{
	char *v = NULL;

	db_test_text(db, sql, NULL, &v, NULL);
	return v;
}

static int
sql_exec(struct db *db, const char *sql)
{
	struct ca_err err;
	int rc;

	ca_err_clear(&err);
	if ((rc = db_test_exec(db, sql, &err)) != SQLITE_OK)
		printf("# sql: %s: %s\n", sql, err.msg);
	return rc;
}

static void
fill_cert(struct db_cert *c, const char *serial, int64_t issuer,
    int64_t not_after, const char *tpl, const char *email, int64_t req)
{
	static unsigned char der[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };

	memset(c, 0, sizeof(*c));
	snprintf(c->serial, sizeof(c->serial), "%s", serial);
	c->issuer_id = issuer;
	c->request_id = req;
	c->template = (char *)tpl;
	c->subject = (char *)(email != NULL ? email : "CN=Device");
	c->email = (char *)email;
	c->not_before = not_after - 86400 * 365;
	c->not_after = not_after;
	util_sha1_hex(der, sizeof(der), c->sha1);
	util_sha256_hex(der, sizeof(der), c->sha256);
	c->der = der;
	c->derlen = sizeof(der);
}

static void
test_open(void)
{
	struct db *db = NULL;
	struct ca_err err;
	struct stat st;
	char *path = dbpath("store.db"), *wal = dbpath("store.db-wal");
	static const char junk_data[] = "this is no SQLite database, but long "
	    "enough to have a header that SQLite reads and refuses.\n"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "0123456789012345678901234567890123456789012345678901234567890123";
	char *newer = dbpath("newer.db"), *empty = dbpath("empty.db");
	char *junk = dbpath("junk.db");
	char *s;
	int fd, r;

	ca_err_clear(&err);
	r = db_open(path, 0, &db, &err);
	TAP_INT_EQ(r, CA_ERR_NOTFOUND, "open without create: missing file");
	TAP_OK(db == NULL, "no handle for a missing file");
	TAP_OK(strstr(err.msg, path) != NULL &&
	    strstr(err.msg, "smimeca init") != NULL,
	    "message names the path and smimeca init: %s", err.msg);
	TAP_OK(access(path, F_OK) == -1, "open without create makes no file");

	ca_err_clear(&err);
	r = db_open(path, 1, &db, &err);
	TAP_INT_EQ(r, 0, "create the database: %s", err.msg);
	if (db == NULL)
		exit(tap_done());
	TAP_OK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "database file has mode 0600");
	s = q_text(db, "PRAGMA journal_mode");
	TAP_STR_EQ(s, "wal", "journal_mode is WAL");
	free(s);
	TAP_INT_EQ(q_int(db, "PRAGMA synchronous"), 2, "synchronous is FULL");
	TAP_INT_EQ(q_int(db, "PRAGMA foreign_keys"), 1, "foreign keys on");
	TAP_INT_EQ(q_int(db, "PRAGMA user_version"), DB_SCHEMA_VERSION,
	    "user_version is the schema version");
	TAP_INT_EQ(db_schema_version(db), DB_SCHEMA_VERSION,
	    "db_schema_version");
	TAP_INT_EQ(q_int(db, "SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'table' AND name IN ('ca_certs', 'templates', 'requests', "
	    "'certs', 'crls', 'audit', 'audit_head')"), 7, "all tables exist");
	TAP_INT_EQ(q_int(db, "SELECT count(*) FROM audit_head"), 1,
	    "audit head record exists");
	TAP_INT_EQ(q_int(db, "SELECT count(*) FROM pragma_index_info("
	    "'certs_sha1') WHERE name = 'sha1'"), 1,
	    "certificates are indexed by SHA-1 thumbprint");
	r = sql_exec(db, "INSERT INTO audit_head VALUES(2, 0, 'x', 0)");
	TAP_INT_EQ(r & 0xff, SQLITE_CONSTRAINT, "only one audit head record");
	TAP_OK(stat(wal, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "WAL file has mode 0600");
	db_close(db);
	db = NULL;

	ca_err_clear(&err);
	r = db_open(path, 0, &db, &err);
	TAP_INT_EQ(r, 0, "reopen without create: %s", err.msg);
	TAP_INT_EQ(db_schema_version(db), DB_SCHEMA_VERSION,
	    "reopen keeps the schema version");
	db_close(db);
	db = NULL;

	/* A database from a newer release is refused. */
	ca_err_clear(&err);
	r = db_open(newer, 1, &db, &err);
	TAP_INT_EQ(r, 0, "create a second database");
	TAP_INT_EQ(sql_exec(db, "PRAGMA user_version = 99"), SQLITE_OK,
	    "bump its user_version");
	db_close(db);
	db = NULL;
	ca_err_clear(&err);
	r = db_open(newer, 0, &db, &err);
	TAP_INT_EQ(r, CA_ERR_DB, "newer schema refused");
	TAP_OK(db == NULL && strstr(err.msg, "newer") != NULL &&
	    strstr(err.msg, "99") != NULL, "message says newer: %s", err.msg);

	/* An existing file without our schema is not opened as a CA. */
	if ((fd = open(empty, O_CREAT | O_WRONLY, 0600)) != -1)
		close(fd);
	ca_err_clear(&err);
	r = db_open(empty, 0, &db, &err);
	TAP_INT_EQ(r, CA_ERR_NOTFOUND, "empty file is not an smimeca db");
	TAP_OK(db == NULL && strstr(err.msg, "smimeca init") != NULL,
	    "message suggests init: %s", err.msg);

	/* Not a SQLite file at all. */
	if ((fd = open(junk, O_CREAT | O_WRONLY, 0600)) != -1) {
		if (write(fd, junk_data, sizeof(junk_data)) == -1)
			perror("write");
		close(fd);
	}
	ca_err_clear(&err);
	r = db_open(junk, 0, &db, &err);
	TAP_INT_EQ(r, CA_ERR_DB, "a file that is no database is refused");
	TAP_OK(db == NULL && strstr(err.msg, junk) != NULL &&
	    strstr(err.msg, "not a database") != NULL, "message: %s", err.msg);
	free(junk);
	free(empty);
	free(newer);
	free(wal);
	free(path);
}

static void
test_ca_certs(struct db *db, int64_t *issuerp)
{
	static const unsigned char old_der[] = { 0x30, 0x01, 0x00 };
	static const unsigned char new_der[] = { 0x30, 0x02, 0x05, 0x00 };
	struct ca_err err;
	unsigned char *der = NULL;
	size_t derlen = 0;
	int64_t id_old = 0, id_new = 0, id = 0, t1, t2;
	int r;

	ca_err_clear(&err);
	r = db_ca_cert_add(db, "issuing", old_der, sizeof(old_der),
	    "private/ca.key", 1000, 2000, &id_old, &err);
	TAP_INT_EQ(r, 0, "add a CA certificate: %s", err.msg);
	r = db_ca_cert_add(db, "issuing", new_der, sizeof(new_der), NULL,
	    1500, 3000, &id_new, &err);
	TAP_INT_EQ(r, 0, "add a newer CA certificate");
	TAP_OK(id_old > 0 && id_new > id_old, "ids assigned");
	r = db_ca_cert_current(db, "issuing", &id, &der, &derlen, &err);
	TAP_INT_EQ(r, 0, "current issuing certificate");
	TAP_INT_EQ(id, id_new, "current is the one with the latest notAfter");
	TAP_OK(der != NULL && derlen == sizeof(new_der) &&
	    memcmp(der, new_der, derlen) == 0, "its DER comes back");
	free(der);
	der = NULL;
	ca_err_clear(&err);
	r = db_ca_cert_current(db, "root", &id, &der, &derlen, &err);
	TAP_INT_EQ(r, CA_ERR_NOTFOUND, "no root certificate");
	TAP_OK(der == NULL && id == 0, "outputs cleared when not found");

	ca_err_clear(&err);
	r = db_template_record(db, "smime-encryption", "aa", "<t/>", 4, &t1,
	    &err);
	TAP_INT_EQ(r, 0, "record a template: %s", err.msg);
	r = db_template_record(db, "smime-encryption", "aa", "<t/>", 4, &t2,
	    &err);
	TAP_OK(r == 0 && t1 == t2 && t1 > 0, "same template, same id");
	r = db_template_record(db, "smime-encryption", "bb", "<t2/>", 5, &t2,
	    &err);
	TAP_OK(r == 0 && t2 != t1, "changed template body, new id");
	TAP_INT_EQ(q_int(db, "SELECT count(*) FROM templates"), 2,
	    "two template rows");
	*issuerp = id_new;
}

static void
test_certs(struct db *db, int64_t issuer)
{
	static const unsigned char csr[] = { 0x30, 0x00 };
	struct ca_err err;
	struct db_request req;
	struct db_cert c, *g = NULL, **list = NULL;
	struct db_cert_filter f;
	int64_t now = (int64_t)time(NULL), req_id = 0, tpl;
	size_t n = 0;
	int r;

	ca_err_clear(&err);
	r = db_template_record(db, "smime-signature", "cc", "<s/>", 4, &tpl,
	    &err);
	memset(&req, 0, sizeof(req));
	req.protocol = "cli";
	req.requester = "admin";
	req.template_id = tpl;
	req.csr = csr;
	req.csrlen = sizeof(csr);
	r = db_request_add(db, &req, &req_id, &err);
	TAP_OK(r == 0 && req_id > 0, "record a request: %s", err.msg);

	fill_cert(&c, "0a1b", issuer, now + 1000, "smime-encryption",
	    "alice@lab.example", req_id);
	r = db_cert_add(db, &c, &err);
	TAP_OK(r == 0 && c.id > 0, "add alice's valid cert: %s", err.msg);
	fill_cert(&c, "0a1c", issuer, now - 10, "smime-encryption",
	    "alice@lab.example", 0);
	TAP_INT_EQ(db_cert_add(db, &c, &err), 0, "add alice's expired cert");
	fill_cert(&c, "0b01", issuer, now + 1000, "smime-signature",
	    "bob@lab.example", 0);
	TAP_INT_EQ(db_cert_add(db, &c, &err), 0, "add bob's cert");
	fill_cert(&c, "0c01", issuer, now + 1000, "device-auth", NULL, 0);
	TAP_INT_EQ(db_cert_add(db, &c, &err), 0, "add a device cert");
	TAP_INT_EQ(q_int(db, "SELECT count(*) FROM certs"), 4, "four certs");

	fill_cert(&c, "0a1b", issuer, now + 5000, "smime-signature",
	    "mallory@lab.example", 0);
	ca_err_clear(&err);
	r = db_cert_add(db, &c, &err);
	TAP_INT_EQ(r, CA_ERR_EXISTS, "duplicate serial refused");
	TAP_OK(strstr(err.msg, "0a1b") != NULL, "message names the serial: %s",
	    err.msg);
	TAP_INT_EQ(q_int(db, "SELECT count(*) FROM certs"), 4,
	    "nothing inserted on a duplicate serial");
	TAP_INT_EQ(q_int(db, "SELECT count(*) FROM certs WHERE email = "
	    "'mallory@lab.example'"), 0, "the duplicate left no row");

	fill_cert(&c, "XYZ", issuer, now, "t", NULL, 0);
	ca_err_clear(&err);
	TAP_INT_EQ(db_cert_add(db, &c, &err), CA_ERR_INVALID,
	    "non-hex serial refused");
	fill_cert(&c, "0d01", issuer + 100, now, "t", NULL, 0);
	ca_err_clear(&err);
	TAP_INT_EQ(db_cert_add(db, &c, &err), CA_ERR_DB,
	    "unknown issuer refused (foreign key)");
	TAP_OK(strstr(err.msg, "FOREIGN KEY") != NULL,
	    "message carries sqlite's reason: %s", err.msg);

	/* A taken serial inside a transaction leaves it usable (retry). */
	ca_err_clear(&err);
	TAP_INT_EQ(db_begin(db, &err), 0, "begin");
	fill_cert(&c, "0b01", issuer, now + 1000, "t", "eve@lab.example", 0);
	TAP_INT_EQ(db_cert_add(db, &c, &err), CA_ERR_EXISTS,
	    "duplicate inside a transaction");
	fill_cert(&c, "0e01", issuer, now + 1000, "t", "eve@lab.example", 0);
	TAP_INT_EQ(db_cert_add(db, &c, &err), 0, "retry with another serial");
	db_rollback(db);
	TAP_INT_EQ(q_int(db, "SELECT count(*) FROM certs WHERE serial = "
	    "'0e01'"), 0, "rollback drops the insert");
	TAP_INT_EQ(db_begin(db, &err), 0, "begin again");
	TAP_INT_EQ(db_cert_add(db, &c, &err), 0, "insert eve's cert");
	TAP_INT_EQ(db_commit(db, &err), 0, "commit");
	TAP_INT_EQ(q_int(db, "SELECT count(*) FROM certs WHERE serial = "
	    "'0e01'"), 1, "commit keeps the insert");

	ca_err_clear(&err);
	r = db_cert_get(db, "0a1b", &g, &err);
	TAP_INT_EQ(r, 0, "get by serial: %s", err.msg);
	if (g != NULL) {
		TAP_STR_EQ(g->serial, "0a1b", "serial");
		TAP_STR_EQ(g->template, "smime-encryption", "template");
		TAP_STR_EQ(g->email, "alice@lab.example", "email");
		TAP_STR_EQ(g->subject, "alice@lab.example", "subject");
		TAP_INT_EQ(g->issuer_id, issuer, "issuer id");
		TAP_INT_EQ(g->request_id, req_id, "request id");
		TAP_INT_EQ(g->not_after, now + 1000, "not_after");
		TAP_INT_EQ(g->revoked, 0, "not revoked");
		TAP_OK(g->derlen == 5 && g->der[0] == 0x30, "der");
		TAP_INT_EQ(strlen(g->sha256), 64, "sha256 thumbprint");
		TAP_INT_EQ(strlen(g->sha1), 40, "sha1 thumbprint");
	}
	db_cert_free(g);
	g = NULL;
	ca_err_clear(&err);
	r = db_cert_get(db, "ffff", &g, &err);
	TAP_INT_EQ(r, CA_ERR_NOTFOUND, "unknown serial");
	TAP_OK(g == NULL && strstr(err.msg, "ffff") != NULL,
	    "not found names the serial: %s", err.msg);

	ca_err_clear(&err);
	r = db_cert_revoke(db, "0b01", 1, now - 5, &err);
	TAP_INT_EQ(r, 0, "revoke bob's cert: %s", err.msg);
	r = db_cert_revoke(db, "0b01", 4, now, &err);
	TAP_INT_EQ(r, CA_ERR_EXISTS, "revoke twice");
	ca_err_clear(&err);
	r = db_cert_revoke(db, "ffff", 1, now, &err);
	TAP_INT_EQ(r, CA_ERR_NOTFOUND, "revoke unknown serial");
	r = db_cert_get(db, "0b01", &g, &err);
	TAP_OK(r == 0 && g->revoked && g->reason == 1 &&
	    g->revoked_at == now - 5, "revocation recorded, first reason kept");
	db_cert_free(g);
	g = NULL;

	memset(&f, 0, sizeof(f));
	f.now = now;
	r = db_cert_list(db, &f, &list, &n, &err);
	TAP_OK(r == 0 && n == 5, "list all: %zu", n);
	if (r == 0 && n == 5)
		TAP_OK(strcmp(list[0]->serial, "0a1b") == 0 &&
		    strcmp(list[1]->serial, "0a1c") == 0 &&
		    strcmp(list[2]->serial, "0b01") == 0 &&
		    strcmp(list[3]->serial, "0c01") == 0 &&
		    strcmp(list[4]->serial, "0e01") == 0 &&
		    list[3]->email == NULL, "in id order");
	db_cert_free_list(list, n);

	f.email = "ALICE@lab.example";
	r = db_cert_list(db, &f, &list, &n, &err);
	TAP_OK(r == 0 && n == 2, "filter by email (case-insensitive): %zu",
	    n);
	db_cert_free_list(list, n);

	f.status = DB_ST_VALID;
	r = db_cert_list(db, &f, &list, &n, &err);
	TAP_OK(r == 0 && n == 1 && strcmp(list[0]->serial, "0a1b") == 0,
	    "alice's valid certs: %zu", n);
	db_cert_free_list(list, n);

	f.status = DB_ST_EXPIRED;
	r = db_cert_list(db, &f, &list, &n, &err);
	TAP_OK(r == 0 && n == 1 && strcmp(list[0]->serial, "0a1c") == 0,
	    "alice's expired certs: %zu", n);
	db_cert_free_list(list, n);

	f.email = NULL;
	f.status = DB_ST_VALID;
	r = db_cert_list(db, &f, &list, &n, &err);
	TAP_OK(r == 0 && n == 3, "all valid (not revoked, unexpired): %zu", n);
	db_cert_free_list(list, n);

	f.status = DB_ST_REVOKED;
	r = db_cert_list(db, &f, &list, &n, &err);
	TAP_OK(r == 0 && n == 1 && strcmp(list[0]->serial, "0b01") == 0,
	    "revoked: %zu", n);
	db_cert_free_list(list, n);

	/* Expired relative to f->now: move now past everything. */
	f.status = DB_ST_EXPIRED;
	f.now = now + 2000;
	r = db_cert_list(db, &f, &list, &n, &err);
	TAP_OK(r == 0 && n == 4, "expired later on (revoked excluded): %zu",
	    n);
	db_cert_free_list(list, n);

	f.status = DB_ST_ANY;
	f.template = "smime-encryption";
	f.email = "alice@lab.example";
	f.issuer_id = issuer;
	r = db_cert_list(db, &f, &list, &n, &err);
	TAP_OK(r == 0 && n == 2, "template + email + issuer: %zu", n);
	db_cert_free_list(list, n);

	f.issuer_id = issuer + 100;
	r = db_cert_list(db, &f, &list, &n, &err);
	TAP_OK(r == 0 && n == 0 && list == NULL, "other issuer: none");
	db_cert_free_list(list, n);
}

static void
test_crls(struct db *db, int64_t issuer)
{
	static const unsigned char d1[] = { 0x30, 0x01, 0x01 };
	static const unsigned char d2[] = { 0x30, 0x01, 0x02 };
	struct ca_err err;
	unsigned char *der = NULL;
	size_t len = 0;
	int64_t num = 0;
	int r;

	ca_err_clear(&err);
	r = db_crl_latest(db, issuer, &der, &len, &err);
	TAP_INT_EQ(r, CA_ERR_NOTFOUND, "no CRL yet");
	ca_err_clear(&err);
	r = db_crl_next_number(db, issuer, &num, &err);
	TAP_OK(r == 0 && num == 1, "first CRL number is 1: %lld",
	    (long long)num);
	r = db_crl_add(db, issuer, num, 100, 200, d1, sizeof(d1), &err);
	TAP_INT_EQ(r, 0, "store CRL 1: %s", err.msg);
	r = db_crl_next_number(db, issuer, &num, &err);
	TAP_OK(r == 0 && num == 2, "next CRL number is 2");
	r = db_crl_add(db, issuer, num, 200, 300, d2, sizeof(d2), &err);
	TAP_INT_EQ(r, 0, "store CRL 2");
	r = db_crl_next_number(db, issuer, &num, &err);
	TAP_OK(r == 0 && num == 3, "next CRL number is 3");
	r = db_crl_add(db, issuer, 2, 300, 400, d1, sizeof(d1), &err);
	TAP_INT_EQ(r, CA_ERR_EXISTS, "CRL numbers are unique per issuer");
	ca_err_clear(&err);
	r = db_crl_latest(db, issuer, &der, &len, &err);
	TAP_OK(r == 0 && len == sizeof(d2) && memcmp(der, d2, len) == 0,
	    "latest CRL is number 2");
	free(der);
}

static int
count_row(void *ctx, int64_t id, int64_t ts, const char *actor,
    const char *action, const char *object, const char *detail)
{
	int64_t *n = ctx;

	if (id != *n + 1 || strcmp(actor, "tester") != 0 ||
	    strcmp(action, "step") != 0 || ts <= 0)
		return CA_ERR_INTERNAL;
	(*n)++;
	return 0;
}

/* Lists the whole log again from inside the listing, on the first row. */
static int
nested_row(void *ctx, int64_t id, int64_t ts, const char *actor,
    const char *action, const char *object, const char *detail)
{
	int64_t *n = ctx, inner = 0;

	if (id == 1 && (audit_foreach(db_nested, count_row, &inner,
	    NULL) != 0 || inner != AUDIT_ROWS))
		return CA_ERR_INTERNAL;
	return count_row(ctx, id, ts, actor, action, object, detail) != 0 ||
	    *n > AUDIT_ROWS ? CA_ERR_INTERNAL : 0;
}

/*
 * A kept statement forgets what its last use bound, and one that is read
 * again while still being read is another statement.
 */
static void
test_stmt_cache(struct db *db)
{
	static const unsigned char csr[] = { 0x30, 0x00 };
	struct ca_err err;
	struct db_request req;
	int64_t tpl = 0, id1 = 0, id2 = 0, n = 0;
	char sql[160];
	int r;

	ca_err_clear(&err);
	r = db_template_record(db, "cache", "dd", "<c/>", 4, &tpl, &err);
	memset(&req, 0, sizeof(req));
	req.protocol = "est";
	req.requester = "local:alice@lab.example";
	req.owner = "alice@lab.example";
	req.template_id = tpl;
	req.csr = csr;
	req.csrlen = sizeof(csr);
	if (r == 0)
		r = db_request_add(db, &req, &id1, &err);
	req.requester = "admin";
	req.owner = NULL;
	req.template_id = 0;
	if (r == 0)
		r = db_request_add(db, &req, &id2, &err);
	TAP_INT_EQ(r, 0, "two requests through one kept statement: %s",
	    err.msg);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM requests WHERE "
	    "id = %lld AND owner IS NULL AND template_id IS NULL",
	    (long long)id2);
	TAP_INT_EQ(q_int(db, sql), 1, "the second request has no owner and "
	    "no template: nothing bound before is left");

	db_nested = db;
	ca_err_clear(&err);
	r = audit_foreach(db, nested_row, &n, &err);
	TAP_OK(r == 0 && n == AUDIT_ROWS, "a listing inside a listing of the "
	    "same rows: both see every row once (%lld)", (long long)n);
	db_nested = NULL;
}

static int
stop_row(void *ctx, int64_t id, int64_t ts, const char *actor,
    const char *action, const char *object, const char *detail)
{
	return id == 3 ? CA_ERR_NOMEM : 0;
}

/* The documented construction, written independently of ca/audit.c. */
static void
row_hash(const char *prev, int64_t id, int64_t ts, const char *actor,
    const char *action, const char *object, const char *detail,
    char out[65])
{
	char ids[32], tss[32], buf[2048];

	snprintf(ids, sizeof(ids), "%" PRId64, id);
	snprintf(tss, sizeof(tss), "%" PRId64, ts);
	snprintf(buf, sizeof(buf), "%s%zu:%s,%zu:%s,%zu:%s,%zu:%s,%zu:%s,"
	    "%zu:%s,", prev, strlen(ids), ids, strlen(tss), tss,
	    strlen(actor), actor, strlen(action), action, strlen(object),
	    object, strlen(detail), detail);
	util_sha256_hex((const unsigned char *)buf, strlen(buf), out);
}

static void
insert_row(struct db *db, int64_t id, int64_t ts, const char *actor,
    const char *action, const char *object, const char *detail,
    const char *prev, const char *hash)
{
	char *sql;
	int rc = -1;

	if ((sql = sqlite3_mprintf("INSERT INTO audit(id, ts, actor, action, "
	    "object, detail, prev_hash, hash) VALUES(%lld, %lld, %Q, %Q, %Q, "
	    "%Q, %Q, %Q)", (long long)id, (long long)ts, actor, action, object,
	    detail, prev, hash)) != NULL)
		rc = sql_exec(db, sql);
	sqlite3_free(sql);
	TAP_INT_EQ(rc, SQLITE_OK, "forged row %lld inserted", (long long)id);
}

static void
test_audit(struct db *db)
{
	struct ca_err err;
	struct audit_result res;
	char calc[65], *prev, *hash;
	int64_t n = 0, ts;
	int r;

	ca_err_clear(&err);
	r = audit_verify(db, &res, &err);
	TAP_OK(r == 0 && res.bad_id == 0 && res.rows == 0,
	    "empty log verifies");
	r = audit_append(db, "tester", "step", "x", "outside", &err);
	TAP_INT_EQ(r, CA_ERR_INTERNAL, "append outside a transaction refused");
	TAP_INT_EQ(q_int(db, "SELECT count(*) FROM audit"), 0,
	    "nothing appended outside a transaction");

	ca_err_clear(&err);
	TAP_INT_EQ(db_begin(db, &err), 0, "begin");
	r = append_rows(db, &err);
	TAP_INT_EQ(r, 0, "append %d rows: %s", AUDIT_ROWS, err.msg);
	TAP_INT_EQ(db_commit(db, &err), 0, "commit");

	r = audit_verify(db, &res, &err);
	TAP_OK(r == 0 && res.bad_id == 0, "chain verifies: %s", res.why);
	TAP_INT_EQ(res.rows, AUDIT_ROWS, "all rows checked");
	TAP_INT_EQ(q_int(db, "SELECT last_id FROM audit_head"), AUDIT_ROWS,
	    "head last_id");
	TAP_INT_EQ(q_int(db, "SELECT count FROM audit_head"), AUDIT_ROWS,
	    "head count");
	hash = q_text(db, "SELECT last_hash FROM audit_head");
	prev = q_text(db, "SELECT hash FROM audit WHERE id = 12");
	TAP_OK(hash != NULL && prev != NULL && strcmp(hash, prev) == 0,
	    "head hash is the last row's hash");
	free(hash);
	free(prev);

	/* The stored hash follows the documented construction. */
	prev = q_text(db, "SELECT prev_hash FROM audit WHERE id = 1");
	TAP_STR_EQ(prev, "00000000000000000000000000000000"
	    "00000000000000000000000000000000", "row 1 links to zeros");
	ts = q_int(db, "SELECT ts FROM audit WHERE id = 1");
	row_hash(prev ? prev : "", 1, ts, "tester", "step", "obj1", "n=1",
	    calc);
	hash = q_text(db, "SELECT hash FROM audit WHERE id = 1");
	TAP_STR_EQ(hash, calc, "row hash = SHA-256(prev || netstrings)");
	free(hash);
	free(prev);
	prev = q_text(db, "SELECT prev_hash FROM audit WHERE id = 2");
	hash = q_text(db, "SELECT hash FROM audit WHERE id = 1");
	TAP_OK(prev != NULL && hash != NULL && strcmp(prev, hash) == 0,
	    "row 2 links to row 1");
	free(hash);
	free(prev);

	r = audit_foreach(db, count_row, &n, &err);
	TAP_OK(r == 0 && n == AUDIT_ROWS, "foreach visits every row in order");
	ca_err_clear(&err);
	r = audit_foreach(db, stop_row, NULL, &err);
	TAP_INT_EQ(r, CA_ERR_NOMEM, "foreach stops on a callback error");

	/* TAP_OK evaluates its condition twice: no side effects inside. */
	r = sql_exec(db, "UPDATE audit SET detail = 'x' WHERE id = 3");
	TAP_INT_EQ(r & 0xff, SQLITE_CONSTRAINT,
	    "trigger refuses UPDATE on audit");
	r = sql_exec(db, "DELETE FROM audit WHERE id = 3");
	TAP_INT_EQ(r & 0xff, SQLITE_CONSTRAINT,
	    "trigger refuses DELETE on audit");
	r = sql_exec(db, "DELETE FROM audit_head");
	TAP_INT_EQ(r & 0xff, SQLITE_CONSTRAINT,
	    "trigger refuses DELETE on the head");
	r = audit_verify(db, &res, &err);
	TAP_OK(r == 0 && res.bad_id == 0, "still intact");
}

/* Rows 1..AUDIT_ROWS: actor tester, action step, object objN, detail n=N. */
static int
append_rows(struct db *db, struct ca_err *err)
{
	char obj[32], detail[32];
	int i, r = 0;

	for (i = 1; i <= AUDIT_ROWS && r == 0; i++) {
		snprintf(obj, sizeof(obj), "obj%d", i);
		snprintf(detail, sizeof(detail), "n=%d", i);
		r = audit_append(db, "tester", "step", obj, detail, err);
	}
	return r;
}

/* A fresh database with AUDIT_ROWS audit rows and the triggers dropped. */
static struct db *
audit_db(const char *name)
{
	struct ca_err err;
	struct db *db = NULL;
	char *path = dbpath(name);
	int r;

	ca_err_clear(&err);
	if ((r = db_open(path, 1, &db, &err)) != 0 ||
	    (r = db_begin(db, &err)) != 0) {
		printf("# %s: %s\n", path, err.msg);
		exit(1);
	}
	if ((r = append_rows(db, &err)) != 0 ||
	    (r = db_commit(db, &err)) != 0) {
		printf("# %s: %s\n", path, err.msg);
		exit(1);
	}
	free(path);
	/* As an attacker with the file would. */
	if (sql_exec(db, "DROP TRIGGER audit_no_update; DROP TRIGGER "
	    "audit_no_delete; DROP TRIGGER audit_head_no_delete") !=
	    SQLITE_OK)
		exit(1);
	return db;
}

static void
expect_bad(const char *name, const char *tamper, int64_t bad_id,
    const char *why)
{
	struct ca_err err;
	struct audit_result res;
	struct db *db = audit_db(name);
	int r;

	ca_err_clear(&err);
	TAP_INT_EQ(sql_exec(db, tamper), SQLITE_OK, "%s: tamper: %s", name,
	    tamper);
	r = audit_verify(db, &res, &err);
	TAP_INT_EQ(r, 0, "%s: verify runs", name);
	TAP_INT_EQ(res.bad_id, bad_id, "%s: detected at row %lld: %s", name,
	    (long long)bad_id, res.why);
	TAP_OK(strstr(res.why, why) != NULL, "%s: why says \"%s\"", name, why);
	db_close(db);
}

static void
test_tamper(void)
{
	struct ca_err err;
	struct audit_result res;
	struct db *db;
	char calc[65], *prev, *row;
	int64_t ts;
	int r;

	expect_bad("t-update.db",
	    "UPDATE audit SET detail = 'n=700' WHERE id = 7", 7,
	    "row 7: hash does not match its contents (changed)");
	expect_bad("t-delete-mid.db", "DELETE FROM audit WHERE id = 5", 5,
	    "row 5 missing (deleted) before row 6");
	expect_bad("t-delete-two.db",
	    "DELETE FROM audit WHERE id IN (5, 6)", 5,
	    "rows 5 to 6 missing (deleted) before row 7");
	expect_bad("t-delete-last.db", "DELETE FROM audit WHERE id = 12", 12,
	    "last row 12 missing (deleted; the head says 12 rows)");
	expect_bad("t-delete-first.db", "DELETE FROM audit WHERE id = 1", 1,
	    "row 1 missing (deleted) before row 2");
	expect_bad("t-insert-junk.db", "INSERT INTO audit VALUES(13, 1, "
	    "'mallory', 'issue', 'ff', 'forged', (SELECT hash FROM audit "
	    "WHERE id = 12), 'deadbeef')", 13,
	    "row 13: hash does not match its contents (changed)");
	expect_bad("t-prevhash.db", "UPDATE audit SET prev_hash = "
	    "(SELECT hash FROM audit WHERE id = 2) WHERE id = 4", 4,
	    "row 4: hash does not match");
	expect_bad("t-head.db", "UPDATE audit_head SET count = 99", 12,
	    "head changed");
	expect_bad("t-head-gone.db", "DELETE FROM audit_head", 12,
	    "head record is missing");

	/* A forged row whose hash is right: only the head catches it. */
	db = audit_db("t-append.db");
	prev = q_text(db, "SELECT hash FROM audit WHERE id = 12");
	ts = q_int(db, "SELECT ts FROM audit WHERE id = 12");
	row_hash(prev ? prev : "", 13, ts, "mallory", "issue", "ff", "forged",
	    calc);
	insert_row(db, 13, ts, "mallory", "issue", "ff", "forged",
	    prev ? prev : "", calc);
	free(prev);
	ca_err_clear(&err);
	r = audit_verify(db, &res, &err);
	TAP_OK(r == 0 && res.bad_id == 13, "well-hashed appended row "
	    "detected at 13: %s", res.why);
	TAP_OK(strstr(res.why, "appended outside smimeca") != NULL,
	    "why says appended outside smimeca");
	TAP_INT_EQ(db_begin(db, &err), 0, "begin");
	r = audit_append(db, "tester", "step", "x", "y", &err);
	TAP_INT_EQ(r, CA_ERR_DB, "honest append refuses to write after it");
	TAP_OK(strstr(err.msg, "tampered") != NULL, "says tampered: %s",
	    err.msg);
	db_rollback(db);
	db_close(db);

	/* A row replaced by one that hashes right but breaks the link. */
	db = audit_db("t-replace.db");
	prev = q_text(db, "SELECT prev_hash FROM audit WHERE id = 5");
	ts = q_int(db, "SELECT ts FROM audit WHERE id = 5");
	row_hash(prev ? prev : "", 5, ts, "tester", "step", "obj5",
	    "n=500", calc);
	TAP_INT_EQ(sql_exec(db, "DELETE FROM audit WHERE id = 5"), SQLITE_OK,
	    "delete row 5");
	insert_row(db, 5, ts, "tester", "step", "obj5", "n=500",
	    prev ? prev : "", calc);
	free(prev);
	r = audit_verify(db, &res, &err);
	TAP_OK(r == 0 && res.bad_id == 6, "replaced row 5 detected at 6: %s",
	    res.why);
	TAP_OK(strstr(res.why, "row 6: not linked to row 5 (inserted or "
	    "reordered)") != NULL, "why says not linked");
	db_close(db);

	/* The whole tail rewritten consistently: only the head catches it. */
	db = audit_db("t-rewrite.db");
	row = q_text(db, "SELECT prev_hash FROM audit WHERE id = 12");
	ts = q_int(db, "SELECT ts FROM audit WHERE id = 12");
	row_hash(row ? row : "", 12, ts, "tester", "step", "obj12",
	    "n=1200", calc);
	TAP_INT_EQ(sql_exec(db, "DELETE FROM audit WHERE id = 12"), SQLITE_OK,
	    "delete row 12");
	insert_row(db, 12, ts, "tester", "step", "obj12", "n=1200",
	    row ? row : "", calc);
	free(row);
	r = audit_verify(db, &res, &err);
	TAP_OK(r == 0 && res.bad_id == 12 &&
	    strstr(res.why, "replaced") != NULL,
	    "rewritten last row detected at 12: %s", res.why);
	db_close(db);
}

static void
test_reasons(void)
{
	TAP_INT_EQ(rev_reason_parse("unspecified"), 0, "unspecified");
	TAP_INT_EQ(rev_reason_parse("KEYCOMPROMISE"), 1, "case-insensitive");
	TAP_INT_EQ(rev_reason_parse("superseded"), 4, "superseded");
	TAP_INT_EQ(rev_reason_parse("removeFromCRL"), 8, "removeFromCRL");
	TAP_INT_EQ(rev_reason_parse("aACompromise"), 10, "aACompromise");
	TAP_INT_EQ(rev_reason_parse("7"), -1, "unknown name");
	TAP_STR_EQ(rev_reason_name(9), "privilegeWithdrawn", "name of 9");
	TAP_STR_EQ(rev_reason_name(7), "unknown", "name of unused 7");
}

/* A request by requester for owner, and certificate serial issued from it. */
static void
owner_row(struct db *db, int64_t issuer, const char *requester,
    const char *owner, const char *serial)
{
	static const unsigned char csr[] = { 0x30, 0x00 };
	struct ca_err err;
	struct db_request req;
	struct db_cert c;
	int64_t id = 0;
	int r;

	ca_err_clear(&err);
	memset(&req, 0, sizeof(req));
	req.protocol = "est";
	req.requester = requester;
	req.owner = owner;
	req.csr = csr;
	req.csrlen = sizeof(csr);
	r = db_request_add(db, &req, &id, &err);
	fill_cert(&c, serial, issuer, (int64_t)time(NULL) + 1000,
	    "device-auth", NULL, id);
	if (r == 0)
		r = db_cert_add(db, &c, &err);
	TAP_INT_EQ(r, 0, "request of %s, certificate %s: %s", requester,
	    serial, err.msg);
}

/* The owner db_cert_get reports for serial, "(null)" or "(error)". */
static char *
owner_of(struct db *db, const char *serial)
{
	struct ca_err err;
	struct db_cert *c = NULL;
	char *o;

	ca_err_clear(&err);
	if (db_cert_get(db, serial, &c, &err) != 0)
		return strdup("(error)");
	o = strdup(c->owner != NULL ? c->owner : "(null)");
	db_cert_free(c);
	return o;
}

/*
 * Who a certificate belongs to: stored with its request, read back with
 * the certificate, and derived once from old requester strings by the
 * 4 -> 5 migration (renewals follow their chain to the account).
 */
static void
test_owner(void)
{
	static const unsigned char der[] = { 0x30, 0x01, 0x00 };
	static const struct {
		const char *requester, *serial, *want;
	} old[] = {
		{ "local:Alice@Lab.Example", "a1", "alice@lab.example" },
		{ "renew:a1", "a2", "alice@lab.example" },
		{ "renew:a2", "a3", "alice@lab.example" },
		{ "code:bob@lab.example", "b1", "bob@lab.example" },
		{ "dir:carol@lab.example", "c1", "carol@lab.example" },
		{ "renew:c1", "c2", "carol@lab.example" },
		{ "admin", "d1", "(null)" },
		{ "renew:d1", "d2", "(null)" },
		{ "root@ca-host", "d3", "(null)" },
		{ "renew:ffff", "e1", "(null)" },
	};
	struct ca_err err;
	struct db *db = NULL;
	char *path = dbpath("owner.db"), *o;
	int64_t issuer = 0;
	size_t i;
	int r;

	ca_err_clear(&err);
	if ((r = db_open(path, 1, &db, &err)) == 0)
		r = db_ca_cert_add(db, "issuing", der, sizeof(der), NULL, 0,
		    4000000000LL, &issuer, &err);
	TAP_INT_EQ(r, 0, "owner.db: %s", err.msg);
	if (r != 0)
		goto out;
	owner_row(db, issuer, "local:alice@lab.example", "alice@lab.example",
	    "01");
	owner_row(db, issuer, "renew:01", "alice@lab.example", "02");
	owner_row(db, issuer, "admin", NULL, "03");
	TAP_STR_EQ(o = owner_of(db, "02"), "alice@lab.example",
	    "a renewal's stored owner comes back with the certificate");
	free(o);
	TAP_STR_EQ(o = owner_of(db, "03"), "(null)",
	    "the administrator's certificate has no owner");
	free(o);

	if (sqlite3_libversion_number() < 3035000) {
		printf("ok %d - # SKIP SQLite %s cannot drop a column to "
		    "rebuild a version 4 file\n", ++tap_n,
		    sqlite3_libversion());
		goto out;
	}
	for (i = 0; i < sizeof(old) / sizeof(old[0]); i++)
		owner_row(db, issuer, old[i].requester, NULL, old[i].serial);
	/*
	 * Back to version 4: requester strings only, and none of the tables
	 * later versions add.
	 */
	TAP_INT_EQ(sql_exec(db, "ALTER TABLE requests DROP COLUMN owner;"
	    "DROP TABLE mdm_challenges;"
	    "DROP TABLE scep_tx; DROP TABLE scep_challenges;"
	    "PRAGMA user_version = 4"), SQLITE_OK, "rebuild a version 4 file");
	db_close(db);
	db = NULL;
	r = db_open(path, 0, &db, &err);
	TAP_INT_EQ(r, 0, "reopen: migrates to %d: %s", DB_SCHEMA_VERSION,
	    err.msg);
	if (r != 0)
		goto out;
	TAP_INT_EQ(q_int(db, "PRAGMA user_version"), DB_SCHEMA_VERSION,
	    "schema version after the migration");
	for (i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		TAP_STR_EQ(o = owner_of(db, old[i].serial), old[i].want,
		    "migrated: %s (%s)", old[i].serial, old[i].requester);
		free(o);
	}
	TAP_STR_EQ(o = owner_of(db, "02"), "alice@lab.example",
	    "renew:01 follows 01 to alice");
	free(o);
 out:
	db_close(db);
	free(path);
}

int
main(void)
{
	struct ca_err err;
	struct db *db = NULL;
	char *path;
	int64_t issuer = 0;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_open();

	path = dbpath("store.db");
	ca_err_clear(&err);
	if (db_open(path, 0, &db, &err) != 0) {
		printf("# %s\n", err.msg);
		rm_tmpdir();
		free(path);
		return 1;
	}
	free(path);
	test_ca_certs(db, &issuer);
	test_certs(db, issuer);
	test_crls(db, issuer);
	test_audit(db);
	test_stmt_cache(db);
	db_close(db);

	test_tamper();
	test_reasons();
	test_owner();
	rm_tmpdir();
	return tap_done();
}
