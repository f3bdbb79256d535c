/* Counters and a latency histogram, served as Prometheus text. */
#include "ac-config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/keypair.h"
#include "ca/ocsp.h"
#include "ca/user.h"
#include "enroll/http.h"
#include "enroll/metrics.h"

static const char *const reason_names[METRIC_R_MAX] = {
	"none", "auth", "forbidden", "invalid", "not_found", "method",
	"too_large", "media_type", "internal",
};
static const double buckets[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};
#define NBUCKETS	(sizeof(buckets) / sizeof(buckets[0]))
static const char *const issued_names[] = { "est", "cmc", "serverkeygen",
	"scep" };
#define NISSUED		(sizeof(issued_names) / sizeof(issued_names[0]))

/* Status classes 2xx..5xx. */
static _Atomic uint64_t m_requests[METRIC_ROUTES_MAX + 1][4];
static _Atomic uint64_t m_rejected[METRIC_R_MAX];
static _Atomic uint64_t m_issued[NISSUED];
static _Atomic uint64_t m_hist[NBUCKETS + 1];
static _Atomic uint64_t m_count;
static _Atomic uint64_t m_sum_us;
static _Atomic uint64_t m_login_waits;
static _Atomic uint64_t m_login_busy;
static _Atomic unsigned m_login_queue;
static size_t m_nroutes;
/* lifecycle: counts of certificates expiring within 30 and 7 days. */
static _Atomic int64_t m_exp_at;	/* when counted; 0: never */
static _Atomic int64_t m_exp30;
static _Atomic int64_t m_exp7;
static _Atomic uint64_t m_ocsp[OCSP_R_MAX];
static _Atomic uint64_t m_ocsp_pre;
/* SCEP: messageType x pkiStatus, and envelopes opened. */
static const struct { int type; const char *name; } scep_types[] = {
	{ 19, "PKCSReq" }, { 17, "RenewalReq" }, { 20, "CertPoll" },
	{ 21, "GetCert" }, { 22, "GetCRL" }, { 0, "other" },
};
#define NSCEPT		(sizeof(scep_types) / sizeof(scep_types[0]))
static const char *const scep_status[] = {
	"SUCCESS", "FAILURE", "PENDING", "invalid"
};
static _Atomic uint64_t m_scep[NSCEPT][4];
static _Atomic uint64_t m_scep_decrypt;

void
metrics_init(size_t nroutes)
{
	m_nroutes = nroutes < METRIC_ROUTES_MAX ? nroutes : METRIC_ROUTES_MAX;
}

void
metrics_request(int route, unsigned status, enum metric_reason why,
    double seconds)
{
	size_t i, r = route >= 0 && (size_t)route < m_nroutes ?
	    (size_t)route : METRIC_ROUTES_MAX;
	unsigned cls = status >= 200 && status < 600 ? status / 100 - 2 : 3;

	atomic_fetch_add_explicit(&m_requests[r][cls], 1,
	    memory_order_relaxed);
	if (why != METRIC_R_NONE && why < METRIC_R_MAX)
		atomic_fetch_add_explicit(&m_rejected[why], 1,
		    memory_order_relaxed);
	for (i = 0; i < NBUCKETS && seconds > buckets[i]; i++)
		;
	atomic_fetch_add_explicit(&m_hist[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m_count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m_sum_us, (uint64_t)(seconds * 1e6),
	    memory_order_relaxed);
}

void
metrics_issued(const char *how)
{
	size_t i;

	for (i = 0; i < NISSUED; i++)
		if (strcmp(how, issued_names[i]) == 0)
			atomic_fetch_add_explicit(&m_issued[i], 1,
			    memory_order_relaxed);
}

void
metrics_scep(int msgtype, int status)
{
	size_t t, st;

	for (t = 0; t < NSCEPT - 1 && scep_types[t].type != msgtype; t++)
		;
	st = status == 0 ? 0 : status == 2 ? 1 : status == 3 ? 2 : 3;
	atomic_fetch_add_explicit(&m_scep[t][st], 1, memory_order_relaxed);
}

void
metrics_scep_decrypt(void)
{
	atomic_fetch_add_explicit(&m_scep_decrypt, 1, memory_order_relaxed);
}

void
metrics_login_wait(void)
{
	atomic_fetch_add_explicit(&m_login_waits, 1, memory_order_relaxed);
}

void
metrics_login_busy(void)
{
	atomic_fetch_add_explicit(&m_login_busy, 1, memory_order_relaxed);
}

void
metrics_login_queue(unsigned waiting)
{
	atomic_store_explicit(&m_login_queue, waiting, memory_order_relaxed);
}

void
metrics_ocsp(int result, int preproduced)
{
	if (result < 0 || result >= OCSP_R_MAX)
		result = OCSP_R_ERROR;
	atomic_fetch_add_explicit(&m_ocsp[result], 1, memory_order_relaxed);
	if (preproduced)
		atomic_fetch_add_explicit(&m_ocsp_pre, 1,
		    memory_order_relaxed);
}

int
metrics_expiring_due(int64_t now)
{
	int64_t at = atomic_load(&m_exp_at);

	return at == 0 || now - at >= METRICS_EXPIRING_TTL || now < at;
}

void
metrics_expiring_set(int64_t now, int64_t within30, int64_t within7)
{
	atomic_store(&m_exp30, within30);
	atomic_store(&m_exp7, within7);
	atomic_store(&m_exp_at, now);
}

int
metrics_render(uint64_t batches, uint64_t members, char **outp,
    size_t *lenp)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0, i, c;
	uint64_t cum = 0;

	*outp = NULL;
	if ((f = open_memstream(&buf, &len)) == NULL)
		return -1;
	fputs("# HELP smimecad_requests_total HTTP requests by route and "
	    "status class.\n# TYPE smimecad_requests_total counter\n", f);
	for (i = 0; i <= METRIC_ROUTES_MAX; i++) {
		const char *name;

		if (i < METRIC_ROUTES_MAX && i >= m_nroutes)
			continue;
		name = i < m_nroutes ? http_routes[i].name : "other";
		for (c = 0; c < 4; c++)
			fprintf(f, "smimecad_requests_total{route=\"%s\","
			    "code=\"%zuxx\"} %llu\n", name, c + 2,
			    (unsigned long long)atomic_load(
			    &m_requests[i][c]));
	}
	fputs("# HELP smimecad_issued_total Certificates issued, by how.\n"
	    "# TYPE smimecad_issued_total counter\n", f);
	for (i = 0; i < NISSUED; i++)
		fprintf(f, "smimecad_issued_total{via=\"%s\"} %llu\n",
		    issued_names[i],
		    (unsigned long long)atomic_load(&m_issued[i]));
	fputs("# HELP smimecad_rejected_total Requests refused, by reason.\n"
	    "# TYPE smimecad_rejected_total counter\n", f);
	for (i = 1; i < METRIC_R_MAX; i++)
		fprintf(f, "smimecad_rejected_total{reason=\"%s\"} %llu\n",
		    reason_names[i],
		    (unsigned long long)atomic_load(&m_rejected[i]));
	fprintf(f, "# HELP smimecad_db_commits_total Transactions that "
	    "stored issuances (group commit).\n"
	    "# TYPE smimecad_db_commits_total counter\n"
	    "smimecad_db_commits_total %llu\n"
	    "# HELP smimecad_db_commit_members_total Issuances those "
	    "transactions carried.\n"
	    "# TYPE smimecad_db_commit_members_total counter\n"
	    "smimecad_db_commit_members_total %llu\n",
	    (unsigned long long)batches, (unsigned long long)members);
	fprintf(f, "# HELP smimecad_key_pair_checks_total Checks that "
	    "an archived private key works for its public key.\n"
	    "# TYPE smimecad_key_pair_checks_total counter\n"
	    "smimecad_key_pair_checks_total %llu\n",
	    (unsigned long long)kp_pair_checks());
	fprintf(f, "# HELP smimecad_scrypt_total scrypt computations "
	    "(password and code checks, stand-ins included).\n"
	    "# TYPE smimecad_scrypt_total counter\n"
	    "smimecad_scrypt_total %llu\n"
	    "# HELP smimecad_login_waits_total Logins that waited for the "
	    "password check slot.\n"
	    "# TYPE smimecad_login_waits_total counter\n"
	    "smimecad_login_waits_total %llu\n"
	    "# HELP smimecad_login_busy_total Logins refused with 503 because "
	    "the queue for the password check slot was full.\n"
	    "# TYPE smimecad_login_busy_total counter\n"
	    "smimecad_login_busy_total %llu\n"
	    "# HELP smimecad_login_queue Logins waiting for the password "
	    "check slot now.\n"
	    "# TYPE smimecad_login_queue gauge\n"
	    "smimecad_login_queue %u\n",
	    (unsigned long long)user_scrypt_count(),
	    (unsigned long long)atomic_load(&m_login_waits),
	    (unsigned long long)atomic_load(&m_login_busy),
	    atomic_load(&m_login_queue));
	if (atomic_load(&m_exp_at) != 0)
		fprintf(f, "# HELP smimecad_certs_expiring Unrevoked "
		    "certificates of the issuing CA that expire within the "
		    "window (counted every %d s at most).\n"
		    "# TYPE smimecad_certs_expiring gauge\n"
		    "smimecad_certs_expiring{within=\"30d\"} %lld\n"
		    "smimecad_certs_expiring{within=\"7d\"} %lld\n",
		    METRICS_EXPIRING_TTL, (long long)atomic_load(&m_exp30),
		    (long long)atomic_load(&m_exp7));
	fputs("# HELP smimecad_ocsp_requests_total OCSP requests by result "
	    "(revoked or unknown when one CertID of the request is).\n"
	    "# TYPE smimecad_ocsp_requests_total counter\n", f);
	for (i = 0; i < OCSP_R_MAX; i++)
		fprintf(f, "smimecad_ocsp_requests_total{result=\"%s\"} %llu\n",
		    ocsp_result_name((int)i),
		    (unsigned long long)atomic_load(&m_ocsp[i]));
	fprintf(f, "# HELP smimecad_ocsp_preproduced_total OCSP answers "
	    "served from the pre-produced responses.\n"
	    "# TYPE smimecad_ocsp_preproduced_total counter\n"
	    "smimecad_ocsp_preproduced_total %llu\n",
	    (unsigned long long)atomic_load(&m_ocsp_pre));
	fputs("# HELP smimecad_scep_messages_total SCEP pkiMessages by "
	    "messageType and the pkiStatus answered (invalid: not a "
	    "pkiMessage, HTTP 400).\n"
	    "# TYPE smimecad_scep_messages_total counter\n", f);
	for (i = 0; i < NSCEPT; i++)
		for (c = 0; c < 4; c++)
			fprintf(f, "smimecad_scep_messages_total{type=\"%s\","
			    "status=\"%s\"} %llu\n", scep_types[i].name,
			    scep_status[c], (unsigned long long)atomic_load(
			    &m_scep[i][c]));
	fprintf(f, "# HELP smimecad_scep_decryptions_total SCEP "
	    "envelopes opened with the RA key.\n"
	    "# TYPE smimecad_scep_decryptions_total counter\n"
	    "smimecad_scep_decryptions_total %llu\n",
	    (unsigned long long)atomic_load(&m_scep_decrypt));
	fputs("# HELP smimecad_request_duration_seconds Time from the "
	    "request to the answer.\n"
	    "# TYPE smimecad_request_duration_seconds histogram\n", f);
	for (i = 0; i <= NBUCKETS; i++) {
		cum += atomic_load(&m_hist[i]);
		if (i < NBUCKETS)
			fprintf(f, "smimecad_request_duration_seconds_bucket"
			    "{le=\"%g\"} %llu\n", buckets[i],
			    (unsigned long long)cum);
		else
			fprintf(f, "smimecad_request_duration_seconds_bucket"
			    "{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	fprintf(f, "smimecad_request_duration_seconds_sum %.6f\n"
	    "smimecad_request_duration_seconds_count %llu\n",
	    (double)atomic_load(&m_sum_us) / 1e6,
	    (unsigned long long)atomic_load(&m_count));
	if (fclose(f) != 0) {
		free(buf);
		return -1;
	}
	*outp = buf;
	*lenp = len;
	return 0;
}
