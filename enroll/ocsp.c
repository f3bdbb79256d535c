/*
 * OCSP over HTTP (RFC 6960 appendix A, RFC 5019): POST /ocsp and
 * GET /ocsp/{url-encoded base64 of the DER request}; the responder itself
 * is ca/ocsp.c. A thread keeps the pre-produced responses signed.
 */
#include "ac-config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "ca/err.h"
#include "ca/ocsp.h"
#include "ca/util.h"
#include "enroll/handlers.h"
#include "enroll/http.h"
#include "enroll/log.h"
#include "enroll/metrics.h"
#include "enroll/srv.h"

#define CT_OCSP_REQ	"application/ocsp-request"
#define CT_OCSP_RESP	"application/ocsp-response"
/* How long a thread keeps its signer before looking for a newer one. */
#define SIGNER_RECHECK	60
/* The refresher: seconds between rounds, responses signed per round. */
#define REFRESH_POLL	60
#define REFRESH_BATCH	500

static pthread_t rf_thread;
static pthread_mutex_t rf_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rf_cv = PTHREAD_COND_INITIALIZER;
static int rf_stop, rf_running;

static struct ocsp_signer *signer_of(struct wk *, int64_t, struct ca_err *);
static void answer(struct req *, struct resp *, const unsigned char *,
    size_t, int);
static void http_date(int64_t, char *, size_t);
static void *refresher(void *);

/* This thread's signer, looked up again now and then (another rolled). */
static struct ocsp_signer *
signer_of(struct wk *w, int64_t now, struct ca_err *err)
{
	if (w->ocsp != NULL && ocsp_signer_usable(w->ocsp, now) &&
	    now - w->ocsp_checked < SIGNER_RECHECK && now >= w->ocsp_checked)
		return w->ocsp;
	ocsp_signer_free(w->ocsp);
	w->ocsp = NULL;
	if (ocsp_signer_get(w->ca, now, &w->ocsp, err) != 0)
		return NULL;
	w->ocsp_checked = now;
	return w->ocsp;
}

static void
http_date(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Answers DER request der; get: a GET, whose answer caches may keep. */
static void
answer(struct req *rq, struct resp *rs, const unsigned char *der,
    size_t len, int get)
{
	struct ca_err err;
	struct ocsp_answer a;
	struct ocsp_signer *s;
	struct wk *w;
	int64_t now = (int64_t)time(NULL);
	const char *inm;
	char lm[64], ex[64], tag[48];
	int r, cacheable;

	ca_err_clear(&err);
	memset(&a, 0, sizeof(a));
	if ((w = srv_worker_req(rq, rs)) == NULL)
		return;
	if (der == NULL)
		r = ocsp_unsuccessful(&a, OCSP_R_MALFORMED, "the GET path is "
		    "not the base64 of a DER OCSPRequest");
	else if ((s = signer_of(w, now, &err)) == NULL) {
		/* Our fault, not the client's: internalError. */
		r = ocsp_unsuccessful(&a, OCSP_R_ERROR, err.msg);
		r = r != 0 ? r : CA_ERR_INTERNAL;
	} else
		r = ocsp_respond(w->ca, s, der, len, now, &a, &err);
	if (r != 0 && a.result == OCSP_R_ERROR)
		log_err("OCSP %s %s: %s", rq->method, rq->path, err.msg);
	else if (a.result == OCSP_R_MALFORMED ||
	    a.result == OCSP_R_UNAUTHORIZED)
		log_info("OCSP %s: %s", ocsp_result_name(a.result), a.why);
	metrics_ocsp(a.result, a.preproduced);
	if (a.der == NULL) {
		resp_text(rs, 500, "out of memory");
		return;
	}
	cacheable = get && !a.nonce && a.next_update > now;
	snprintf(tag, sizeof(tag), "\"%s\"", a.etag);
	if (cacheable && (inm = req_header(rq, "If-None-Match")) != NULL &&
	    strstr(inm, tag) != NULL) {
		/* The client's copy is this one (RFC 9110 13.1.2). */
		resp_owned(rs, 304, CT_OCSP_RESP, NULL, 0);
	} else {
		resp_owned(rs, a.result == OCSP_R_ERROR ? 500 : 200,
		    CT_OCSP_RESP, (char *)a.der, a.len);
		a.der = NULL;
	}
	/* RFC 5019 6.2: caches may keep it until nextUpdate. */
	if (cacheable) {
		http_date(a.this_update, lm, sizeof(lm));
		http_date(a.next_update, ex, sizeof(ex));
		if (asprintf(&rs->headers, "Cache-Control: max-age=%lld, "
		    "public, no-transform, must-revalidate\nETag: %s\n"
		    "Last-Modified: %s\nExpires: %s\n",
		    (long long)(a.next_update - now), tag, lm, ex) == -1)
			rs->headers = NULL;
	}
	ocsp_answer_clear(&a);
}

void
ocsp_http_post(struct req *rq, struct resp *rs)
{
	char mt[64];

	req_media_type(rq, mt, sizeof(mt));
	if (*mt != '\0' && strcmp(mt, CT_OCSP_REQ) != 0) {
		resp_text(rs, 415, "an OCSP request is POSTed as %s, not %s",
		    CT_OCSP_REQ, mt);
		return;
	}
	answer(rq, rs, rq->body, rq->bodylen, 0);
}

void
ocsp_http_get(struct req *rq, struct resp *rs)
{
	const char *in = rq->path + strlen("/ocsp/");
	char b64[1024], *out = b64;
	unsigned char *der = NULL;
	size_t len = 0;
	struct ca_err err;
	unsigned v;

	/*
	 * The server decoded %XX already; a client that left them, or a
	 * proxy that turned '+' into ' ', is forgiven. The path is bounded
	 * (414 past it), so b64 always holds it.
	 */
	for (; *in != '\0' && out < b64 + sizeof(b64) - 1; in++) {
		if (*in == '%' && isxdigit((unsigned char)in[1]) &&
		    isxdigit((unsigned char)in[2])) {
			sscanf(in + 1, "%2x", &v);
			*out++ = (char)v;
			in += 2;
		} else
			*out++ = *in == ' ' ? '+' : *in;
	}
	*out = '\0';
	ca_err_clear(&err);
	if (util_b64_decode(b64, OCSP_REQ_MAX, &der, &len, &err) != 0) {
		free(der);
		der = NULL;
	}
	answer(rq, rs, der, len, 1);
	free(der);
}

/* Signs the pre-produced responses that are missing or due, in rounds. */
static void *
refresher(void *arg)
{
	struct srv *s = arg;
	struct ca *ca = NULL;
	struct ocsp_signer *sg = NULL;
	struct ca_err err;
	struct timespec until;
	unsigned gen = 0;
	int64_t now, checked = 0;
	size_t n;
	int wait, last_failed = 0;

	for (;;) {
		ca_err_clear(&err);
		wait = REFRESH_POLL;
		now = (int64_t)time(NULL);
		if (ca == NULL || gen != atomic_load(&s->gen)) {
			ocsp_signer_free(sg);
			sg = NULL;
			ca_close(ca);
			ca = NULL;
			gen = atomic_load(&s->gen);
			if (ca_open(s->dir, s->passphrase_file, CA_OPEN_KEY,
			    &ca, &err) != 0) {
				log_err("OCSP refresher: %s", err.msg);
				ca = NULL;
			} else
				ca_set_actor(ca, "smimecad");
		}
		if (ca != NULL && (!ocsp_signer_usable(sg, now) ||
		    now - checked >= SIGNER_RECHECK)) {
			ocsp_signer_free(sg);
			sg = NULL;
			if (ocsp_signer_get(ca, now, &sg, &err) != 0)
				log_err("OCSP refresher: no signer: %s",
				    err.msg);
			checked = now;
		}
		if (sg != NULL) {
			n = 0;
			if (ocsp_refresh(ca, sg, now, REFRESH_BATCH, &n,
			    &err) != 0) {
				if (!last_failed)
					log_warn("OCSP refresher: %s", err.msg);
				last_failed = 1;
			} else
				last_failed = 0;
			if (n >= REFRESH_BATCH)
				wait = 0;
		}
		pthread_mutex_lock(&rf_mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait;
		while (!rf_stop && wait > 0 &&
		    pthread_cond_timedwait(&rf_cv, &rf_mu, &until) == 0)
			;
		if (rf_stop) {
			pthread_mutex_unlock(&rf_mu);
			break;
		}
		pthread_mutex_unlock(&rf_mu);
	}
	ocsp_signer_free(sg);
	ca_close(ca);
	return NULL;
}

int
ocsp_http_start(struct srv *s, struct ca_err *err)
{
	if (pthread_create(&rf_thread, NULL, refresher, s) != 0)
		return ca_err_set(err, CA_ERR_NOMEM, "starting the OCSP "
		    "refresher");
	rf_running = 1;
	return 0;
}

void
ocsp_http_stop(void)
{
	if (!rf_running)
		return;
	pthread_mutex_lock(&rf_mu);
	rf_stop = 1;
	pthread_cond_signal(&rf_cv);
	pthread_mutex_unlock(&rf_mu);
	pthread_join(rf_thread, NULL);
	rf_running = 0;
}
