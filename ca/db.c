/* The CA's SQLite store: schema, migrations and the core tables. */
#include "ac-config.h"

#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdarg.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <openssl/err.h>

#include "ca/db.h"
#include "ca/err.h"

struct db_group;

struct db {
	sqlite3 *h;
	char *path;
	int write_locked;	/* holds db_write_lock */
	struct db_group *group;	/* the batches of its database file */
};

/* A caller of db_group_run, on its own stack while it waits. */
struct db_member {
	db_group_fn fn;
	void *ctx;
	struct ca_err *err;
	int rc;
	enum { DB_M_QUEUED, DB_M_LEAD, DB_M_DONE } state;
	pthread_cond_t cv;
	struct db_member *next;
};

/*
 * The group commit of one database file, shared by the process's handles
 * on it. busy is set while a leader forms or runs a batch; callers that
 * come meanwhile queue, and the leader hands the queue on when it is done.
 */
struct db_group {
	char *path;
	unsigned refs;
	pthread_mutex_t mu;
	pthread_cond_t arrive;	/* signalled when a member queues */
	int busy;
	int lingering;		/* a leader waits on arrive */
	struct db_member *head, **tail;
	size_t queued;
	uint64_t batches, members;
	struct db_group *next;
};

/*
 * Writers of one process queue here instead of in SQLite's busy handler,
 * which sleeps in steps of milliseconds; other processes (the CLI next to
 * the daemon) still meet the busy timeout.
 */
static pthread_mutex_t db_write_lock = PTHREAD_MUTEX_INITIALIZER;

/* Every db_group of the process, by file name. */
static pthread_mutex_t db_groups_lock = PTHREAD_MUTEX_INITIALIZER;
static struct db_group *db_groups;

/*
 * A leader that finds others queued waits this long for one more before
 * it starts, again after each arrival, at most DB_GROUP_LINGER_MAX in all.
 */
#define DB_GROUP_LINGER_US	50
#define DB_GROUP_LINGER_MAX_US	500
#define DB_GROUP_MAX		64	/* members of one transaction */

static void
db_unlock(struct db *db)
{
	if (db->write_locked) {
		db->write_locked = 0;
		pthread_mutex_unlock(&db_write_lock);
	}
}

/* Longest SQL that db_cert_list assembles from its fixed fragments. */
#define DB_LIST_SQLMAX	1024

static int db_fail(struct db *, struct ca_err *, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));
static int db_exec(struct db *, const char *, const char *, struct ca_err *);
static int db_prepare(struct db *, const char *, sqlite3_stmt **,
    const char *, struct ca_err *);
static int db_pragmas(struct db *, struct ca_err *);
static int db_user_version(struct db *, int *, struct ca_err *);
static int db_check_version(struct db *, int, struct ca_err *);
static int db_migrate(struct db *, struct ca_err *);
static int db_copy_blob(sqlite3_stmt *, int, unsigned char **, size_t *);
static char *db_col_strdup(sqlite3_stmt *, int, int *);
static void db_col_copy(sqlite3_stmt *, int, char *, size_t);
static int db_cert_from_row(struct db *, sqlite3_stmt *, struct db_cert **,
    struct ca_err *);
static int db_valid_serial(const char *);
static int db_group_get(struct db *, struct ca_err *);
static void db_group_put(struct db_group *);
static void db_group_enqueue(struct db_group *, struct db_member *);
static struct db_member *db_group_take(struct db_group *);
static void db_ts_add_us(struct timespec *, long);
static int db_ts_before(const struct timespec *, const struct timespec *);
static void db_group_fail(struct db_member *, int, const struct ca_err *);
static size_t db_group_commit(struct db *, struct db_member *);

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
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) ==
    DB_SCHEMA_VERSION, "one migration per schema version");

#define CERT_COLS \
	"id, serial, issuer_id, request_id, template, subject, email, " \
	"not_before, not_after, revoked, revoked_at, reason, sha1, sha256, " \
	"der, (SELECT owner FROM requests WHERE requests.id = " \
	"certs.request_id)"

/* Appends "what: sqlite's message" to err and returns code. */
static int
db_fail(struct db *db, struct ca_err *err, int code, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return ca_err_set(err, code, "%s: %s: %s", db->path, what,
	    sqlite3_errmsg(db->h));
}

/* Runs constant SQL (never data) through sqlite3_exec. */
static int
db_exec(struct db *db, const char *sql, const char *what, struct ca_err *err)
{
	if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, err, CA_ERR_DB, "%s", what);
	return 0;
}

static int
db_prepare(struct db *db, const char *sql, sqlite3_stmt **stp,
    const char *what, struct ca_err *err)
{
	*stp = NULL;
	if (sqlite3_prepare_v2(db->h, sql, -1, stp, NULL) != SQLITE_OK) {
		*stp = NULL;
		return db_fail(db, err, CA_ERR_DB, "%s: preparing", what);
	}
	return 0;
}

static int
db_pragmas(struct db *db, struct ca_err *err)
{
	sqlite3_stmt *st = NULL;
	const char *mode;
	int r;

	if ((r = db_prepare(db, "PRAGMA journal_mode = WAL", &st,
	    "journal_mode", err)) != 0)
		goto out;
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = db_fail(db, err, CA_ERR_DB, "switching to WAL mode");
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
	if ((r = db_prepare(db, "PRAGMA user_version", &st,
	    "reading the schema version", err)) != 0)
		return r;
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = db_fail(db, err, CA_ERR_DB, "reading the schema version");
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
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
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
		r = db_fail(db, err, CA_ERR_DB, "setting the busy timeout");
		goto out;
	}
	if ((r = db_check_version(db, create, err)) != 0 ||
	    (r = db_pragmas(db, err)) != 0 ||
	    (r = db_migrate(db, err)) != 0 ||
	    (r = db_group_get(db, err)) != 0)
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
	db_group_put(db->group);
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
db_schema_version(struct db *db)
{
	int v;

	if (db_user_version(db, &v, NULL) != 0)
		return -1;
	return v;
}

/* Joins (or starts) the group of db's file, by SQLite's full file name. */
static int
db_group_get(struct db *db, struct ca_err *err)
{
	struct db_group *g;
	pthread_condattr_t attr;
	const char *name;

	/* A memory or temporary database has no name to share: no group. */
	if ((name = sqlite3_db_filename(db->h, "main")) == NULL ||
	    *name == '\0') {
		db->group = NULL;
		return 0;
	}
	pthread_mutex_lock(&db_groups_lock);
	for (g = db_groups; g != NULL; g = g->next)
		if (strcmp(g->path, name) == 0)
			break;
	if (g == NULL) {
		if ((g = calloc(1, sizeof(*g))) == NULL ||
		    (g->path = strdup(name)) == NULL) {
			free(g);
			pthread_mutex_unlock(&db_groups_lock);
			return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		}
		/* The linger is a short relative wait: not clock steps. */
		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&g->arrive, &attr);
		pthread_condattr_destroy(&attr);
		pthread_mutex_init(&g->mu, NULL);
		g->tail = &g->head;
		g->next = db_groups;
		db_groups = g;
	}
	g->refs++;
	db->group = g;
	pthread_mutex_unlock(&db_groups_lock);
	return 0;
}

static void
db_group_put(struct db_group *g)
{
	struct db_group **gp;

	if (g == NULL)
		return;
	pthread_mutex_lock(&db_groups_lock);
	if (--g->refs == 0) {
		for (gp = &db_groups; *gp != g; gp = &(*gp)->next)
			;
		*gp = g->next;
		pthread_cond_destroy(&g->arrive);
		pthread_mutex_destroy(&g->mu);
		free(g->path);
		free(g);
	}
	pthread_mutex_unlock(&db_groups_lock);
}

/* With g->mu held. */
static void
db_group_enqueue(struct db_group *g, struct db_member *m)
{
	m->next = NULL;
	*g->tail = m;
	g->tail = &m->next;
	g->queued++;
	if (g->lingering)
		pthread_cond_signal(&g->arrive);
}

/*
 * With g->mu held, by the leader: lingers while others keep arriving (never
 * when it is alone, so one caller waits for nothing), then detaches up to
 * DB_GROUP_MAX members from the queue, the leader first among them.
 */
static struct db_member *
db_group_take(struct db_group *g)
{
	struct db_member *batch, **mp;
	struct timespec end, until;
	size_t n, seen;

	if (g->queued > 1) {
		clock_gettime(CLOCK_MONOTONIC, &end);
		db_ts_add_us(&end, DB_GROUP_LINGER_MAX_US);
		g->lingering = 1;
		while ((seen = g->queued) < DB_GROUP_MAX) {
			clock_gettime(CLOCK_MONOTONIC, &until);
			db_ts_add_us(&until, DB_GROUP_LINGER_US);
			if (db_ts_before(&end, &until))
				until = end;
			while (g->queued == seen && pthread_cond_timedwait(
			    &g->arrive, &g->mu, &until) == 0)
				;
			if (g->queued == seen || !db_ts_before(&until, &end))
				break;
		}
		g->lingering = 0;
	}
	batch = g->head;
	for (n = 0, mp = &g->head; *mp != NULL && n < DB_GROUP_MAX; n++)
		mp = &(*mp)->next;
	g->head = *mp;
	*mp = NULL;
	if (g->head == NULL)
		g->tail = &g->head;
	g->queued -= n;
	return batch;
}

static void
db_ts_add_us(struct timespec *ts, long us)
{
	ts->tv_nsec += us * 1000L;
	ts->tv_sec += ts->tv_nsec / 1000000000L;
	ts->tv_nsec %= 1000000000L;
}

static int
db_ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Fails every member not failed already, with the batch's error. */
static void
db_group_fail(struct db_member *batch, int code, const struct ca_err *why)
{
	struct db_member *m;

	for (m = batch; m != NULL; m = m->next) {
		if (m->rc != 0)
			continue;
		m->rc = ca_err_set(m->err, code, "%s (nothing of this "
		    "request was stored)", why->msg);
	}
}

/*
 * Runs the batch on the leader's handle: BEGIN IMMEDIATE, each member
 * under a savepoint, COMMIT. A member that fails is rolled back to its
 * savepoint; should SQLite have ended the whole transaction meanwhile
 * (I/O error, full disk), everything fails. Returns the members stored.
 */
static size_t
db_group_commit(struct db *db, struct db_member *batch)
{
	struct db_member *m;
	struct ca_err berr;
	size_t stored = 0;
	int r;

	ca_err_clear(&berr);
	if ((r = db_begin(db, &berr)) != 0) {
		db_group_fail(batch, r, &berr);
		return 0;
	}
	for (m = batch; m != NULL; m = m->next) {
		if ((r = db_exec(db, "SAVEPOINT db_group_member",
		    "starting a savepoint", &berr)) != 0)
			goto fail;
		/* OpenSSL's error queue is per thread: not the last one's. */
		ERR_clear_error();
		if ((m->rc = m->fn(m->ctx, db, m->err)) == 0) {
			if ((r = db_exec(db, "RELEASE db_group_member",
			    "releasing a savepoint", &berr)) != 0)
				goto fail;
			stored++;
			continue;
		}
		if (sqlite3_get_autocommit(db->h)) {
			r = ca_err_set(&berr, CA_ERR_DB, "%s: the transaction "
			    "was rolled back by a failure of another request "
			    "in it", db->path);
			goto fail;
		}
		if ((r = db_exec(db, "ROLLBACK TO db_group_member",
		    "rolling back a savepoint", &berr)) != 0 ||
		    (r = db_exec(db, "RELEASE db_group_member",
		    "releasing a savepoint", &berr)) != 0)
			goto fail;
	}
	if (stored == 0) {
		db_rollback(db);
		return 0;
	}
	if ((r = db_commit(db, &berr)) != 0) {
		db_group_fail(batch, r, &berr);
		return 0;
	}
	return stored;
 fail:
	db_rollback(db);
	db_group_fail(batch, r, &berr);
	return 0;
}

int
db_group_run(struct db *db, db_group_fn fn, void *ctx, struct ca_err *err)
{
	struct db_group *g = db->group;
	struct db_member self, *batch, *m, *next;
	size_t stored;

	if (db->write_locked)
		return ca_err_set(err, CA_ERR_INTERNAL, "%s: group commit "
		    "called inside a transaction", db->path);
	memset(&self, 0, sizeof(self));
	self.fn = fn;
	self.ctx = ctx;
	self.err = err;
	if (g == NULL) {
		/* Nobody to share with: a batch of one. */
		db_group_commit(db, &self);
		return self.rc;
	}
	pthread_cond_init(&self.cv, NULL);
	pthread_mutex_lock(&g->mu);
	db_group_enqueue(g, &self);
	if (!g->busy) {
		g->busy = 1;
		self.state = DB_M_LEAD;
	}
	while (self.state == DB_M_QUEUED)
		pthread_cond_wait(&self.cv, &g->mu);
	if (self.state == DB_M_LEAD) {
		batch = db_group_take(g);
		pthread_mutex_unlock(&g->mu);
		stored = db_group_commit(db, batch);
		pthread_mutex_lock(&g->mu);
		if (stored > 0) {
			g->batches++;
			g->members += stored;
		}
		/* A woken member returns and its stack is gone: next first. */
		for (m = batch; m != NULL; m = next) {
			next = m->next;
			if (m == &self)
				continue;
			m->state = DB_M_DONE;
			pthread_cond_signal(&m->cv);
		}
		if (g->head != NULL) {
			g->head->state = DB_M_LEAD;
			pthread_cond_signal(&g->head->cv);
		} else
			g->busy = 0;
	}
	pthread_mutex_unlock(&g->mu);
	pthread_cond_destroy(&self.cv);
	return self.rc;
}

void
db_group_stats(struct db *db, uint64_t *batchesp, uint64_t *membersp)
{
	struct db_group *g = db->group;

	*batchesp = *membersp = 0;
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	*batchesp = g->batches;
	*membersp = g->members;
	pthread_mutex_unlock(&g->mu);
}

void *
db_handle(struct db *db)
{
	return db->h;
}

int
db_ca_cert_add(struct db *db, const char *role, const unsigned char *der,
    size_t derlen, const char *key_file, int64_t not_before,
    int64_t not_after, int64_t *idp, struct ca_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (idp != NULL)
		*idp = 0;
	if ((r = db_prepare(db, "INSERT INTO ca_certs(role, der, key_file, "
	    "not_before, not_after, created) VALUES(?, ?, ?, ?, ?, ?)", &st,
	    "adding a CA certificate", err)) != 0)
		return r;
	sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 2, der, derlen, SQLITE_STATIC);
	if (key_file != NULL)
		sqlite3_bind_text(st, 3, key_file, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, not_before);
	sqlite3_bind_int64(st, 5, not_after);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = db_fail(db, err, CA_ERR_DB, "adding the %s CA certificate",
		    role);
		goto out;
	}
	if (idp != NULL)
		*idp = sqlite3_last_insert_rowid(db->h);
	r = 0;
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_ca_cert_current(struct db *db, const char *role, int64_t *idp,
    unsigned char **derp, size_t *derlenp, struct ca_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (idp != NULL)
		*idp = 0;
	if (derp != NULL)
		*derp = NULL;
	if (derlenp != NULL)
		*derlenp = 0;
	if ((r = db_prepare(db, "SELECT id, der FROM ca_certs WHERE role = ? "
	    "ORDER BY not_after DESC, id DESC LIMIT 1", &st,
	    "looking up a CA certificate", err)) != 0)
		return r;
	sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		break;
	case SQLITE_DONE:
		r = ca_err_set(err, CA_ERR_NOTFOUND, "%s: no %s CA "
		    "certificate in the database", db->path, role);
		goto out;
	default:
		r = db_fail(db, err, CA_ERR_DB, "looking up the %s CA "
		    "certificate", role);
		goto out;
	}
	if (derp != NULL && db_copy_blob(st, 1, derp, derlenp) != 0) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (idp != NULL)
		*idp = sqlite3_column_int64(st, 0);
	r = 0;
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_template_record(struct db *db, const char *name, const char *sha256,
    const char *body, size_t bodylen, int64_t *idp, struct ca_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (idp != NULL)
		*idp = 0;
	if ((r = db_prepare(db, "INSERT INTO templates(name, sha256, body, "
	    "first_used) VALUES(?, ?, ?, ?) ON CONFLICT(name, sha256) "
	    "DO NOTHING", &st, "recording a template", err)) != 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text64(st, 3, body, bodylen, SQLITE_STATIC, SQLITE_UTF8);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = db_fail(db, err, CA_ERR_DB, "recording template %s", name);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((r = db_prepare(db, "SELECT id FROM templates WHERE name = ? AND "
	    "sha256 = ?", &st, "looking up a template", err)) != 0)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = db_fail(db, err, CA_ERR_DB, "looking up template %s "
		    "(sha256 %s)", name, sha256);
		goto out;
	}
	if (idp != NULL)
		*idp = sqlite3_column_int64(st, 0);
	r = 0;
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_request_add(struct db *db, const struct db_request *req, int64_t *idp,
    struct ca_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (idp != NULL)
		*idp = 0;
	if ((r = db_prepare(db, "INSERT INTO requests(received, protocol, "
	    "requester, template_id, csr, owner) VALUES(?, ?, ?, ?, ?, ?)",
	    &st, "recording a request", err)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 2, req->protocol, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, req->requester, -1, SQLITE_STATIC);
	if (req->template_id != 0)
		sqlite3_bind_int64(st, 4, req->template_id);
	sqlite3_bind_blob64(st, 5, req->csr != NULL ? (const void *)req->csr :
	    (const void *)"", req->csrlen, SQLITE_STATIC);
	if (req->owner != NULL)
		sqlite3_bind_text(st, 6, req->owner, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = db_fail(db, err, CA_ERR_DB, "recording the %s request of "
		    "%s", req->protocol, req->requester);
		goto out;
	}
	if (idp != NULL)
		*idp = sqlite3_last_insert_rowid(db->h);
	r = 0;
 out:
	sqlite3_finalize(st);
	return r;
}

/* Lower-case hex digits only, as util_serial_hex writes them. */
static int
db_valid_serial(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > 64)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int
db_cert_add(struct db *db, struct db_cert *c, struct ca_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (!db_valid_serial(c->serial))
		return ca_err_set(err, CA_ERR_INVALID, "serial \"%s\" is not "
		    "lower-case hex", c->serial);
	if ((r = db_prepare(db, "INSERT INTO certs(serial, issuer_id, "
	    "request_id, template, subject, email, not_before, not_after, "
	    "revoked, revoked_at, reason, sha1, sha256, der) "
	    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &st,
	    "adding a certificate", err)) != 0)
		return r;
	sqlite3_bind_text(st, 1, c->serial, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, c->issuer_id);
	if (c->request_id != 0)
		sqlite3_bind_int64(st, 3, c->request_id);
	sqlite3_bind_text(st, 4, c->template, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, c->subject, -1, SQLITE_STATIC);
	if (c->email != NULL)
		sqlite3_bind_text(st, 6, c->email, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, c->not_before);
	sqlite3_bind_int64(st, 8, c->not_after);
	sqlite3_bind_int(st, 9, c->revoked != 0);
	if (c->revoked) {
		sqlite3_bind_int64(st, 10, c->revoked_at);
		sqlite3_bind_int(st, 11, c->reason);
	}
	sqlite3_bind_text(st, 12, c->sha1, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, c->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 14, c->der != NULL ? (const void *)c->der :
	    (const void *)"", c->derlen, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(db->h) ==
		    SQLITE_CONSTRAINT_UNIQUE)
			r = ca_err_set(err, CA_ERR_EXISTS, "serial %s is in "
			    "use already (serials are never reused)",
			    c->serial);
		else
			r = db_fail(db, err, CA_ERR_DB, "adding certificate "
			    "%s", c->serial);
		goto out;
	}
	c->id = sqlite3_last_insert_rowid(db->h);
	r = 0;
 out:
	sqlite3_finalize(st);
	return r;
}

/* Copies a BLOB column into malloc'd memory (never NULL on success). */
static int
db_copy_blob(sqlite3_stmt *st, int col, unsigned char **bufp, size_t *lenp)
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

/* strdup of a TEXT column; NULL for SQL NULL, *oom set on failure. */
static char *
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

static void
db_col_copy(sqlite3_stmt *st, int col, char *out, size_t outlen)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(out, outlen, "%s", s != NULL ? (const char *)s : "");
}

/* Builds a db_cert from a row selected with CERT_COLS. */
static int
db_cert_from_row(struct db *db, sqlite3_stmt *st, struct db_cert **cp,
    struct ca_err *err)
{
	struct db_cert *c;
	int oom = 0;

	*cp = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	c->id = sqlite3_column_int64(st, 0);
	db_col_copy(st, 1, c->serial, sizeof(c->serial));
	c->issuer_id = sqlite3_column_int64(st, 2);
	c->request_id = sqlite3_column_int64(st, 3);
	c->template = db_col_strdup(st, 4, &oom);
	c->subject = db_col_strdup(st, 5, &oom);
	c->email = db_col_strdup(st, 6, &oom);
	c->not_before = sqlite3_column_int64(st, 7);
	c->not_after = sqlite3_column_int64(st, 8);
	c->revoked = sqlite3_column_int(st, 9) != 0;
	c->revoked_at = sqlite3_column_int64(st, 10);
	c->reason = sqlite3_column_int(st, 11);
	db_col_copy(st, 12, c->sha1, sizeof(c->sha1));
	db_col_copy(st, 13, c->sha256, sizeof(c->sha256));
	if (db_copy_blob(st, 14, &c->der, &c->derlen) != 0)
		oom = 1;
	c->owner = db_col_strdup(st, 15, &oom);
	if (!oom && (c->template == NULL || c->subject == NULL)) {
		db_cert_free(c);
		return ca_err_set(err, CA_ERR_DB, "%s: certificate row %lld "
		    "lacks its template or subject", db->path,
		    (long long)sqlite3_column_int64(st, 0));
	}
	if (oom) {
		db_cert_free(c);
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	}
	*cp = c;
	return 0;
}

/* The certificate whose column col (serial or sha1) is val. */
static int
cert_get_by(struct db *db, const char *col, const char *val,
    struct db_cert **cp, struct ca_err *err)
{
	char sql[sizeof(CERT_COLS) + 64];
	sqlite3_stmt *st = NULL;
	int r;

	*cp = NULL;
	snprintf(sql, sizeof(sql), "SELECT " CERT_COLS " FROM certs WHERE "
	    "%s = ?", col);
	if ((r = db_prepare(db, sql, &st, "looking up a certificate",
	    err)) != 0)
		return r;
	sqlite3_bind_text(st, 1, val, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		r = db_cert_from_row(db, st, cp, err);
		break;
	case SQLITE_DONE:
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no certificate with "
		    "%s %s (see `smimeca cert list`)", strcmp(col, "sha1") == 0 ?
		    "SHA-1 thumbprint" : "serial", val);
		break;
	default:
		r = db_fail(db, err, CA_ERR_DB, "looking up certificate %s",
		    val);
		break;
	}
	sqlite3_finalize(st);
	return r;
}

int
db_cert_get(struct db *db, const char *serial, struct db_cert **cp,
    struct ca_err *err)
{
	return cert_get_by(db, "serial", serial, cp, err);
}

int
db_cert_get_sha1(struct db *db, const char *sha1, struct db_cert **cp,
    struct ca_err *err)
{
	char low[41];
	size_t i;

	for (i = 0; i < sizeof(low) - 1 && sha1[i] != '\0'; i++)
		low[i] = (char)tolower((unsigned char)sha1[i]);
	low[i] = '\0';
	return cert_get_by(db, "sha1", low, cp, err);
}

int
db_cert_list(struct db *db, const struct db_cert_filter *f,
    struct db_cert ***listp, size_t *np, struct ca_err *err)
{
	static const char *const status_sql[] = {
		[DB_ST_ANY] = "",
		[DB_ST_VALID] = " AND revoked = 0 AND not_after >= :now",
		[DB_ST_REVOKED] = " AND revoked <> 0",
		[DB_ST_EXPIRED] = " AND revoked = 0 AND not_after < :now",
	};
	sqlite3_stmt *st = NULL;
	struct db_cert **list = NULL, **nl, *c;
	size_t n = 0, cap = 0;
	char sql[DB_LIST_SQLMAX];
	int i, r, rc;

	*listp = NULL;
	*np = 0;
	if ((unsigned)f->status >= sizeof(status_sql) / sizeof(status_sql[0]))
		return ca_err_set(err, CA_ERR_INTERNAL, "db_cert_list: bad "
		    "status filter %d", (int)f->status);
	/* Fixed fragments only; the values are bound below. */
	snprintf(sql, sizeof(sql), "SELECT " CERT_COLS " FROM certs WHERE 1%s%s"
	    "%s%s ORDER BY id",
	    f->email != NULL ? " AND email = lower(:email)" : "",
	    f->template != NULL ? " AND template = :template" : "",
	    f->issuer_id != 0 ? " AND issuer_id = :issuer" : "",
	    status_sql[f->status]);
	if ((r = db_prepare(db, sql, &st, "listing certificates", err)) != 0)
		return r;
	if ((i = sqlite3_bind_parameter_index(st, ":email")) > 0)
		sqlite3_bind_text(st, i, f->email, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(st, ":template")) > 0)
		sqlite3_bind_text(st, i, f->template, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(st, ":issuer")) > 0)
		sqlite3_bind_int64(st, i, f->issuer_id);
	if ((i = sqlite3_bind_parameter_index(st, ":now")) > 0)
		sqlite3_bind_int64(st, i, f->now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			if ((nl = reallocarray(list, cap,
			    sizeof(*list))) == NULL) {
				r = ca_err_set(err, CA_ERR_NOMEM,
				    "out of memory");
				goto out;
			}
			list = nl;
		}
		if ((r = db_cert_from_row(db, st, &c, err)) != 0)
			goto out;
		list[n++] = c;
	}
	if (rc != SQLITE_DONE) {
		r = db_fail(db, err, CA_ERR_DB, "listing certificates");
		goto out;
	}
	*listp = list;
	*np = n;
	list = NULL;
	n = 0;
	r = 0;
 out:
	sqlite3_finalize(st);
	db_cert_free_list(list, n);
	return r;
}

int
db_cert_revoke(struct db *db, const char *serial, int reason, int64_t when,
    struct ca_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = db_prepare(db, "UPDATE certs SET revoked = 1, revoked_at = ?, "
	    "reason = ? WHERE serial = ? AND revoked = 0", &st,
	    "revoking a certificate", err)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, when);
	sqlite3_bind_int(st, 2, reason);
	sqlite3_bind_text(st, 3, serial, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = db_fail(db, err, CA_ERR_DB, "revoking certificate %s",
		    serial);
		goto out;
	}
	if (sqlite3_changes(db->h) == 1) {
		r = 0;
		goto out;
	}
	/* Nothing changed: tell a missing certificate from a revoked one. */
	sqlite3_finalize(st);
	st = NULL;
	if ((r = db_prepare(db, "SELECT revoked FROM certs WHERE serial = ?",
	    &st, "looking up a certificate", err)) != 0)
		goto out;
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		r = ca_err_set(err, CA_ERR_EXISTS, "certificate %s is revoked "
		    "already", serial);
		break;
	case SQLITE_DONE:
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no certificate with "
		    "serial %s (see `smimeca cert list`)", serial);
		break;
	default:
		r = db_fail(db, err, CA_ERR_DB, "looking up certificate %s",
		    serial);
		break;
	}
 out:
	sqlite3_finalize(st);
	return r;
}

void
db_cert_free(struct db_cert *c)
{
	if (c == NULL)
		return;
	free(c->template);
	free(c->subject);
	free(c->email);
	free(c->owner);
	free(c->der);
	free(c);
}

void
db_cert_free_list(struct db_cert **list, size_t n)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++)
		db_cert_free(list[i]);
	free(list);
}

int
db_crl_next_number(struct db *db, int64_t issuer_id, int64_t *nump,
    struct ca_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	*nump = 0;
	if ((r = db_prepare(db, "SELECT COALESCE(MAX(number), 0) + 1 FROM crls "
	    "WHERE issuer_id = ?", &st, "numbering the CRL", err)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, issuer_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = db_fail(db, err, CA_ERR_DB, "numbering the CRL of issuer "
		    "%lld", (long long)issuer_id);
		goto out;
	}
	*nump = sqlite3_column_int64(st, 0);
	r = 0;
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_crl_add(struct db *db, int64_t issuer_id, int64_t number,
    int64_t this_update, int64_t next_update, const unsigned char *der,
    size_t derlen, struct ca_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = db_prepare(db, "INSERT INTO crls(issuer_id, number, "
	    "this_update, next_update, der) VALUES(?, ?, ?, ?, ?)", &st,
	    "storing a CRL", err)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, issuer_id);
	sqlite3_bind_int64(st, 2, number);
	sqlite3_bind_int64(st, 3, this_update);
	sqlite3_bind_int64(st, 4, next_update);
	sqlite3_bind_blob64(st, 5, der != NULL ? (const void *)der :
	    (const void *)"", derlen, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(db->h) ==
		    SQLITE_CONSTRAINT_UNIQUE)
			r = ca_err_set(err, CA_ERR_EXISTS, "CRL number %lld "
			    "of issuer %lld exists already", (long long)number,
			    (long long)issuer_id);
		else
			r = db_fail(db, err, CA_ERR_DB, "storing CRL number "
			    "%lld", (long long)number);
		goto out;
	}
	r = 0;
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_crl_latest(struct db *db, int64_t issuer_id, unsigned char **derp,
    size_t *derlenp, struct ca_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	*derp = NULL;
	if (derlenp != NULL)
		*derlenp = 0;
	if ((r = db_prepare(db, "SELECT der FROM crls WHERE issuer_id = ? "
	    "ORDER BY number DESC LIMIT 1", &st, "looking up the CRL",
	    err)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, issuer_id);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		if (db_copy_blob(st, 0, derp, derlenp) != 0)
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		break;
	case SQLITE_DONE:
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no CRL has been issued "
		    "yet (run `smimeca crl`)");
		break;
	default:
		r = db_fail(db, err, CA_ERR_DB, "looking up the latest CRL");
		break;
	}
	sqlite3_finalize(st);
	return r;
}
