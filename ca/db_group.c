/*
 * Group commit: the writers of one process that store rows through
 * db_group_run share one transaction, and so one COMMIT and one fsync.
 */
#include "ac-config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "ca/db.h"
#include "ca/db_int.h"
#include "ca/err.h"

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

static void db_group_enqueue(struct db_group *, struct db_member *);
static struct db_member *db_group_take(struct db_group *);
static void db_ts_add_us(struct timespec *, long);
static int db_ts_before(const struct timespec *, const struct timespec *);
static void db_group_fail(struct db_member *, int, const struct ca_err *);
static size_t db_group_commit(struct db *, struct db_member *);

/* Joins (or starts) the group of db's file, by SQLite's full file name. */
int
db_group_join(struct db *db, struct ca_err *err)
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

void
db_group_leave(struct db *db)
{
	struct db_group *g = db->group, **gp;

	if (g == NULL)
		return;
	db->group = NULL;
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
		if (!db_in_transaction(db)) {
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
