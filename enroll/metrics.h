/* Counters and a latency histogram, served as Prometheus text. */
#ifndef ENROLL_METRICS_H
#define ENROLL_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Why a request was refused (label "reason" of smimecad_rejected_total). */
enum metric_reason {
	METRIC_R_NONE,
	METRIC_R_AUTH,		/* 401 */
	METRIC_R_FORBIDDEN,	/* 403: policy, identity, HTTPS only */
	METRIC_R_INVALID,	/* 400 */
	METRIC_R_NOT_FOUND,	/* 404 */
	METRIC_R_METHOD,	/* 405 */
	METRIC_R_TOO_LARGE,	/* 413 */
	METRIC_R_MEDIA_TYPE,	/* 415 */
	METRIC_R_INTERNAL,	/* 5xx */
	METRIC_R_MAX
};

/* Routes are counted by index into http_routes; this one is "other". */
#define METRIC_ROUTES_MAX	32

void metrics_init(size_t nroutes);
void metrics_request(int route, unsigned status, enum metric_reason why,
    double seconds);
void metrics_issued(const char *how);	/* "est", "cmc", "serverkeygen" */
/* A SCEP message: messageType, pkiStatus (-1: not a pkiMessage). */
void metrics_scep(int msgtype, int status);
/* The RA key opened an envelope (the private-key work SCEP costs). */
void metrics_scep_decrypt(void);
/* The login queue (enroll/auth.c): one waited, one refused, how many wait. */
void metrics_login_wait(void);
void metrics_login_busy(void);
void metrics_login_queue(unsigned waiting);
/* An OCSP request answered: result is enum ocsp_result (ca/ocsp.h). */
void metrics_ocsp(int result, int preproduced);
/*
 * lifecycle: the smimecad_certs_expiring gauges. metrics_expiring_due says
 * whether the counts are older than METRICS_EXPIRING_TTL seconds (or were
 * never taken); metrics_expiring_set stores the counts of certificates
 * expiring within 30 and 7 days, taken at now.
 */
#define METRICS_EXPIRING_TTL	30
int metrics_expiring_due(int64_t now);
void metrics_expiring_set(int64_t now, int64_t within30, int64_t within7);

/*
 * The Prometheus text exposition; *outp is malloc'ed. batches and members
 * are the database's group commit counters (db_group_stats).
 */
int metrics_render(uint64_t batches, uint64_t members, char **outp,
    size_t *lenp);

#endif
