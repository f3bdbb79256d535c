/*
 * The publish outbox: jobs written inside the transaction that issued,
 * revoked or signed a CRL; a run that leases due jobs, has the directory
 * reconciled for each (publish.c) and stores the outcome, with a growing
 * delay before a retry; and the administrator's status and retry.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/publish.h"
#include "ca/publish_int.h"
#include "ca/util.h"

#define PUB_LEASE	120	/* seconds a worker owns the jobs it took */

static int enqueue(struct ca *, enum pub_kind, int64_t, const char *,
    int64_t, struct ca_err *);
static int64_t backoff(const struct cfg_ldap *, int);
static int record(struct db *, const struct cfg_ldap *,
    const struct db_pub_job *, int, const char *, const char *,
    struct ca_err *);

static int
enqueue(struct ca *ca, enum pub_kind kind, int64_t cert_id,
    const char *email, int64_t crl_number, struct ca_err *err)
{
	char *lower = NULL;
	int r;

	if (email != NULL) {
		if ((lower = strdup(email)) == NULL)
			return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		util_lower(lower);
	}
	r = db_pub_add(ca_db(ca), kind, cert_id, lower, crl_number,
	    (int64_t)time(NULL), err);
	free(lower);
	return r;
}

int
pub_enqueue_cert(struct ca *ca, int64_t cert_id, const char *email,
    enum pub_kind kind, struct ca_err *err)
{
	if (ca_config(ca)->ldap == NULL || email == NULL || *email == '\0' ||
	    kind == PUB_CRL)
		return 0;
	return enqueue(ca, kind, cert_id, email, 0, err);
}

int
pub_enqueue_crl(struct ca *ca, int64_t crl_number, struct ca_err *err)
{
	const struct cfg_ldap *l = ca_config(ca)->ldap;

	if (l == NULL || l->ca_dn == NULL)
		return 0;
	return enqueue(ca, PUB_CRL, 0, NULL, crl_number, err);
}

/* Delay before attempt number attempts + 1. */
static int64_t
backoff(const struct cfg_ldap *l, int attempts)
{
	int64_t d = l->retry_min > 0 ? l->retry_min : 30;
	int64_t max = l->retry_max >= d ? l->retry_max : d;
	int i;

	for (i = 1; i < attempts && d < max; i++)
		d *= 2;
	return d < max ? d : max;
}

/* Stores a job's outcome: code 0 done, else retried or failed. */
static int
record(struct db *db, const struct cfg_ldap *l, const struct db_pub_job *j,
    int permanent, const char *result, const char *error,
    struct ca_err *err)
{
	int64_t now = (int64_t)time(NULL);

	if (error == NULL)
		return db_pub_done(db, j->id, now, result, err);
	return db_pub_failed(db, j->id, permanent, now + backoff(l,
	    j->attempts + 1), error, err);
}

int
pub_run(struct ca *ca, int max_jobs, struct pub_result *res,
    struct ca_err *err)
{
	struct pub_ctx *px = NULL;
	struct db *db = ca_db(ca);
	const struct cfg_ldap *l = ca_config(ca)->ldap;
	struct db_pub_job **jobs = NULL;
	struct ca_err jerr, first;
	char result[512], down[600];
	size_t i, n = 0;
	int64_t now = (int64_t)time(NULL);
	int r, permanent;

	memset(res, 0, sizeof(*res));
	ca_err_clear(&first);
	down[0] = '\0';
	if ((r = pub_ctx_new(ca, now, &px, err)) != 0)
		goto out;
	if (l == NULL) {
		r = 0;
		goto out;
	}
	if ((r = db_pub_claim(db, now, max_jobs, now + PUB_LEASE,
	    &jobs, &n, err)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		ca_err_clear(&jerr);
		res->tried++;
		/* Once the directory is unreachable, spare the others. */
		if (down[0] != '\0')
			r = ca_err_set(&jerr, CA_ERR_IO, "%s", down);
		else
			r = pub_ctx_apply(px, jobs[i], result, sizeof(result),
			    &jerr);
		if (r == 0) {
			if ((r = record(db, l, jobs[i], 0, result, NULL,
			    err)) != 0)
				goto out;
			res->done++;
			continue;
		}
		permanent = r == CA_ERR_NOTFOUND || r == CA_ERR_INVALID;
		if (permanent)
			res->failed++;
		else
			res->retrying++;
		if (first.count == 0)
			ca_err_set(&first, r, "job %lld (%s %s): %s",
			    (long long)jobs[i]->id,
			    db_pub_kind_name(jobs[i]->kind),
			    jobs[i]->email != NULL ? jobs[i]->email :
			    "CA entry", jerr.msg);
		if (!permanent && down[0] == '\0') {
			snprintf(down, sizeof(down), "%.590s", jerr.msg);
			pub_ctx_hangup(px);
		}
		if ((r = record(db, l, jobs[i], permanent, NULL, jerr.msg,
		    err)) != 0)
			goto out;
	}
	r = 0;
	if (res->retrying > 0 || res->failed > 0)
		r = ca_err_set(err, CA_ERR_IO, "%d of %d directory jobs not "
		    "applied (%d to be retried, %d failed until `smimeca "
		    "publish retry`); first: %s", res->retrying + res->failed,
		    res->tried, res->retrying, res->failed, first.msg);
 out:
	if (r != CA_ERR_DB) {
		struct ca_err nerr;

		ca_err_clear(&nerr);
		db_pub_next_due(db, &res->next_due, &nerr);
	}
	db_pub_jobs_free(jobs, n);
	pub_ctx_free(px);
	return r;
}

int
pub_status(struct ca *ca, struct pub_status *st, struct ca_err *err)
{
	return db_pub_status(ca_db(ca), (int64_t)time(NULL), st, err);
}

int
pub_retry(struct ca *ca, const char *email, int64_t *np, struct ca_err *err)
{
	return db_pub_retry(ca_db(ca), email, (int64_t)time(NULL), np, err);
}
