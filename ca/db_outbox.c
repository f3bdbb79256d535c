/*
 * The publish outbox: jobs written in the transaction that issues,
 * revokes or signs a CRL, taken by the publisher under a lease.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/db.h"
#include "ca/db_int.h"
#include "ca/err.h"
#include "ca/publish.h"

static const char *const kind_names[] = {
	[PUB_ADD] = "add",
	[PUB_DELETE] = "delete",
	[PUB_EXPIRE] = "expire",
	[PUB_CRL] = "crl",
};

static const char SQL_JOB_ADD[] =
	"INSERT INTO pub_jobs(kind, cert_id, email, crl_number, state, "
	"next_attempt, created) VALUES(?, ?, ?, ?, 'pending', ?, ?)";
static const char SQL_QUEUE_EXPIRED[] =
	"INSERT INTO pub_jobs(kind, cert_id, email, state, next_attempt, "
	"created) SELECT 'expire', c.id, c.email, 'pending', ?1, ?1 FROM "
	"certs c WHERE c.revoked = 0 AND c.not_after < ?1 AND c.email IS NOT "
	"NULL AND EXISTS (SELECT 1 FROM pub_jobs j WHERE j.cert_id = c.id AND "
	"j.kind = 'add') AND NOT EXISTS (SELECT 1 FROM pub_jobs j WHERE "
	"j.cert_id = c.id AND j.kind IN ('delete', 'expire'))";
static const char SQL_JOBS_DUE[] =
	"SELECT id, kind, cert_id, email, crl_number, attempts FROM pub_jobs "
	"WHERE state = 'pending' AND next_attempt <= ? ORDER BY id LIMIT ?";
static const char SQL_JOB_LEASE[] =
	"UPDATE pub_jobs SET next_attempt = ? WHERE id = ?";
static const char SQL_JOB_DONE[] =
	"UPDATE pub_jobs SET state = 'done', attempts = attempts + 1, "
	"done_at = ?, result = ?, last_error = NULL WHERE id = ?";
static const char SQL_JOB_FAILED[] =
	"UPDATE pub_jobs SET state = ?, attempts = attempts + 1, "
	"next_attempt = ?, last_error = ? WHERE id = ?";
static const char SQL_NEXT_DUE[] =
	"SELECT MIN(next_attempt) FROM pub_jobs WHERE state = 'pending'";
static const char SQL_STATUS[] =
	"SELECT "
	"(SELECT count(*) FROM pub_jobs WHERE state = 'pending' AND "
	"  next_attempt <= ?1), "
	"(SELECT count(*) FROM pub_jobs WHERE state = 'pending' AND "
	"  next_attempt > ?1), "
	"(SELECT count(*) FROM pub_jobs WHERE state = 'failed'), "
	"(SELECT count(*) FROM pub_jobs WHERE state = 'done'), "
	"(SELECT MIN(next_attempt) FROM pub_jobs WHERE state = 'pending')";
static const char SQL_OLDEST[] =
	"SELECT id, kind, email, crl_number, state, created, attempts, "
	"last_error FROM pub_jobs WHERE state <> 'done' ORDER BY id LIMIT 1";
static const char SQL_RETRY_EMAIL[] =
	"UPDATE pub_jobs SET state = 'pending', next_attempt = ?, "
	"attempts = 0 WHERE state IN ('pending', 'failed') AND "
	"email = lower(?)";
static const char SQL_RETRY_ALL[] =
	"UPDATE pub_jobs SET state = 'pending', next_attempt = ?, "
	"attempts = 0 WHERE state IN ('pending', 'failed')";
static const char SQL_CLOSE_EMAIL[] =
	"UPDATE pub_jobs SET state = 'done', done_at = ?1, result = "
	"'by resync', last_error = NULL WHERE state <> 'done' AND "
	"created <= ?2 AND email = ?3";
static const char SQL_CLOSE_CRL[] =
	"UPDATE pub_jobs SET state = 'done', done_at = ?1, result = "
	"'by resync', last_error = NULL WHERE state <> 'done' AND "
	"created <= ?2 AND kind = 'crl'";

static int job_make(struct db *, sqlite3_stmt *, void **, struct ca_err *);
static void job_free(void *);
static int claim(struct db *, int64_t, int, int64_t, struct db_pub_job ***,
    size_t *, struct ca_err *);
static int write_alone(struct db *, sqlite3_stmt *, int64_t *, const char *,
    struct ca_err *);

const char *
db_pub_kind_name(int kind)
{
	if (kind < 0 || kind > PUB_CRL)
		return "?";
	return kind_names[kind];
}

int
db_pub_add(struct db *db, int kind, int64_t cert_id, const char *email,
    int64_t crl_number, int64_t now, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_stmt(db, SQL_JOB_ADD)) == NULL)
		return db_fail(db, err, "queueing a directory job");
	sqlite3_bind_text(st, 1, db_pub_kind_name(kind), -1, SQLITE_STATIC);
	if (cert_id != 0)
		sqlite3_bind_int64(st, 2, cert_id);
	if (email != NULL)
		sqlite3_bind_text(st, 3, email, -1, SQLITE_STATIC);
	if (kind == PUB_CRL)
		sqlite3_bind_int64(st, 4, crl_number);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, now);
	r = db_run(db, st, err, "queueing a directory job");
	db_done(db, st);
	return r;
}

static int
job_make(struct db *db, sqlite3_stmt *st, void **objp, struct ca_err *err)
{
	struct db_pub_job *j;
	const char *kind;
	int k, oom = 0;

	(void)db;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return db_nomem(err);
	j->id = sqlite3_column_int64(st, 0);
	kind = db_col_text(st, 1);
	j->kind = PUB_ADD;
	for (k = 0; k <= PUB_CRL; k++)
		if (strcmp(kind, kind_names[k]) == 0)
			j->kind = k;
	j->cert_id = sqlite3_column_int64(st, 2);
	j->email = db_col_strdup(st, 3, &oom);
	j->crl_number = sqlite3_column_int64(st, 4);
	j->attempts = sqlite3_column_int(st, 5);
	if (oom) {
		job_free(j);
		return db_nomem(err);
	}
	*objp = j;
	return 0;
}

static void
job_free(void *p)
{
	struct db_pub_job *j = p;

	if (j == NULL)
		return;
	free(j->email);
	free(j);
}

/* The statements of db_pub_claim, inside its transaction. */
static int
claim(struct db *db, int64_t now, int max, int64_t lease_until,
    struct db_pub_job ***jobsp, size_t *np, struct ca_err *err)
{
	sqlite3_stmt *st;
	size_t i;
	int r;

	if ((st = db_stmt(db, SQL_QUEUE_EXPIRED)) == NULL)
		return db_fail(db, err, "%s: queueing expired certificates",
		    db->path);
	sqlite3_bind_int64(st, 1, now);
	r = db_run(db, st, err, "%s: queueing expired certificates",
	    db->path);
	db_done(db, st);
	if (r != 0)
		return r;
	if ((st = db_stmt(db, SQL_JOBS_DUE)) == NULL)
		return db_fail(db, err, "%s: taking directory jobs", db->path);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, max > 0 ? max : -1);
	if ((r = db_list(db, st, job_make, job_free, jobsp, np, err,
	    "%s: taking directory jobs", db->path)) != 0)
		return r;
	if ((st = db_stmt(db, SQL_JOB_LEASE)) == NULL)
		return db_fail(db, err, "%s: leasing directory jobs",
		    db->path);
	for (i = 0; i < *np && r == 0; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, lease_until);
		sqlite3_bind_int64(st, 2, (*jobsp)[i]->id);
		r = db_run(db, st, err, "%s: leasing directory jobs",
		    db->path);
	}
	db_done(db, st);
	return r;
}

int
db_pub_claim(struct db *db, int64_t now, int max, int64_t lease_until,
    struct db_pub_job ***jobsp, size_t *np, struct ca_err *err)
{
	struct db_pub_job **jobs = NULL;
	size_t n = 0;
	int r;

	*jobsp = NULL;
	*np = 0;
	if ((r = db_begin(db, err)) != 0)
		return r;
	if ((r = claim(db, now, max, lease_until, &jobs, &n, err)) != 0)
		db_rollback(db);
	else
		r = db_commit(db, err);
	if (r != 0) {
		db_pub_jobs_free(jobs, n);
		return r;
	}
	*jobsp = jobs;
	*np = n;
	return 0;
}

void
db_pub_jobs_free(struct db_pub_job **jobs, size_t n)
{
	db_free_list(jobs, n, job_free);
}

/*
 * Runs one prepared write in a transaction of its own, so that it queues
 * behind the other writers of this process; *changesp: rows changed.
 */
static int
write_alone(struct db *db, sqlite3_stmt *st, int64_t *changesp,
    const char *what, struct ca_err *err)
{
	int r;

	if ((r = db_begin(db, err)) != 0)
		return r;
	if ((r = db_run(db, st, err, "%s", what)) != 0) {
		db_rollback(db);
		return r;
	}
	if (changesp != NULL)
		*changesp = db_changes(db);
	return db_commit(db, err);
}

int
db_pub_done(struct db *db, int64_t id, int64_t now, const char *result,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_stmt(db, SQL_JOB_DONE)) == NULL)
		return db_fail(db, err, "%s: recording a directory job",
		    db->path);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, result, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, id);
	r = write_alone(db, st, NULL, "recording a directory job", err);
	db_done(db, st);
	return r;
}

int
db_pub_failed(struct db *db, int64_t id, int permanent, int64_t next,
    const char *error, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_stmt(db, SQL_JOB_FAILED)) == NULL)
		return db_fail(db, err, "%s: recording a directory job",
		    db->path);
	sqlite3_bind_text(st, 1, permanent ? "failed" : "pending", -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, next);
	sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, id);
	r = write_alone(db, st, NULL, "recording a directory job", err);
	db_done(db, st);
	return r;
}

int
db_pub_next_due(struct db *db, int64_t *whenp, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	*whenp = 0;
	if ((st = db_stmt(db, SQL_NEXT_DUE)) == NULL)
		return db_fail(db, err, "%s: reading the outbox", db->path);
	/* An aggregate always gives a row. */
	if ((r = db_get(db, st, err, "%s: reading the outbox",
	    db->path)) == 0)
		*whenp = sqlite3_column_int64(st, 0);
	else if (r == CA_ERR_NOTFOUND)
		r = db_fail(db, err, "%s: reading the outbox", db->path);
	db_done(db, st);
	return r;
}

int
db_pub_status(struct db *db, int64_t now, struct pub_status *ps,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	memset(ps, 0, sizeof(*ps));
	if ((st = db_stmt(db, SQL_STATUS)) == NULL)
		return db_fail(db, err, "%s: reading the outbox", db->path);
	sqlite3_bind_int64(st, 1, now);
	if ((r = db_get(db, st, err, "%s: reading the outbox",
	    db->path)) == CA_ERR_NOTFOUND)
		r = db_fail(db, err, "%s: reading the outbox", db->path);
	if (r == 0) {
		ps->due = sqlite3_column_int64(st, 0);
		ps->waiting = sqlite3_column_int64(st, 1);
		ps->failed = sqlite3_column_int64(st, 2);
		ps->done = sqlite3_column_int64(st, 3);
		ps->next_due = sqlite3_column_int64(st, 4);
	}
	db_done(db, st);
	if (r != 0)
		return r;
	if ((st = db_stmt(db, SQL_OLDEST)) == NULL)
		return db_fail(db, err, "%s: reading the outbox", db->path);
	if ((r = db_get(db, st, err, "%s: reading the outbox",
	    db->path)) == 0) {
		ps->oldest_id = sqlite3_column_int64(st, 0);
		db_col_copy(st, 1, ps->oldest_kind, sizeof(ps->oldest_kind));
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			db_col_copy(st, 2, ps->oldest_object,
			    sizeof(ps->oldest_object));
		else
			snprintf(ps->oldest_object, sizeof(ps->oldest_object),
			    "CRL %lld", (long long)sqlite3_column_int64(st, 3));
		db_col_copy(st, 4, ps->oldest_state, sizeof(ps->oldest_state));
		ps->oldest_created = sqlite3_column_int64(st, 5);
		ps->oldest_attempts = sqlite3_column_int(st, 6);
		db_col_copy(st, 7, ps->oldest_error, sizeof(ps->oldest_error));
	} else if (r == CA_ERR_NOTFOUND)
		r = 0;
	db_done(db, st);
	return r;
}

int
db_pub_retry(struct db *db, const char *email, int64_t now, int64_t *np,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	*np = 0;
	if ((st = db_stmt(db, email != NULL ? SQL_RETRY_EMAIL :
	    SQL_RETRY_ALL)) == NULL)
		return db_fail(db, err, "%s: retrying directory jobs",
		    db->path);
	sqlite3_bind_int64(st, 1, now);
	if (email != NULL)
		sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC);
	r = write_alone(db, st, np, "retrying directory jobs", err);
	db_done(db, st);
	return r;
}

int
db_pub_close(struct db *db, const char *email, int64_t since, int64_t now,
    struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_stmt(db, email != NULL ? SQL_CLOSE_EMAIL :
	    SQL_CLOSE_CRL)) == NULL)
		return db_fail(db, err, "%s: closing directory jobs",
		    db->path);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, since);
	if (email != NULL)
		sqlite3_bind_text(st, 3, email, -1, SQLITE_STATIC);
	r = write_alone(db, st, NULL, "closing directory jobs", err);
	db_done(db, st);
	return r;
}
