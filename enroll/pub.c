/* What anyone may fetch: CA and exchange certificates, CRL, health. */
#include "ac-config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "archive/xchg.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/revoke.h"
#include "enroll/handlers.h"
#include "enroll/http.h"
#include "enroll/log.h"
#include "enroll/metrics.h"
#include "enroll/srv.h"

#define CT_CERT		"application/pkix-cert"
#define CT_CRL		"application/pkix-crl"
#define CT_P7C		"application/pkcs7-mime"
#define CT_PEM		"application/x-pem-file"

static void cert_answer(struct req *, struct resp *, X509 *);
static int crl_path_ok(const struct ca_config *, const char *);
static void metrics_expiring(struct wk *);

/* DER, or PEM with ?format=pem. */
static void
cert_answer(struct req *rq, struct resp *rs, X509 *cert)
{
	const char *fmt = req_arg(rq, "format");
	unsigned char *der = NULL;
	BIO *b = NULL;
	char *p;
	long n;
	int len;

	if (fmt != NULL && strcmp(fmt, "pem") != 0 && strcmp(fmt, "der") != 0) {
		resp_text(rs, 400, "format=%s: use format=pem or format=der",
		    fmt);
		return;
	}
	if (fmt != NULL && strcmp(fmt, "pem") == 0) {
		if ((b = BIO_new(BIO_s_mem())) == NULL ||
		    !PEM_write_bio_X509(b, cert) ||
		    (n = BIO_get_mem_data(b, &p)) <= 0)
			resp_text(rs, 500, "encoding the certificate failed");
		else
			resp_der(rs, CT_PEM, (unsigned char *)p, (size_t)n);
		BIO_free(b);
		return;
	}
	if ((len = i2d_X509(cert, &der)) <= 0) {
		resp_text(rs, 500, "encoding the certificate failed");
		return;
	}
	resp_der(rs, CT_CERT, der, (size_t)len);
	OPENSSL_free(der);
}

void
pub_exchange(struct req *rq, struct resp *rs)
{
	struct ca_err err;
	struct wk *w;
	X509 *cert = NULL;

	ca_err_clear(&err);
	if ((w = srv_worker_req(rq, rs)) == NULL)
		return;
	/* Makes a new one when the current one is too close to its end. */
	if (xchg_current(w->ca, (int64_t)time(NULL), &cert, &err) != 0) {
		resp_err(rq, rs, &err);
		return;
	}
	cert_answer(rq, rs, cert);
	X509_free(cert);
}

void
pub_ca_cert(struct req *rq, struct resp *rs)
{
	struct wk *w;

	if ((w = srv_worker_req(rq, rs)) != NULL)
		cert_answer(rq, rs, ca_cert(w->ca));
}

void
pub_chain(struct req *rq, struct resp *rs)
{
	struct wk *w;
	PKCS7 *p7 = NULL;
	STACK_OF(X509) *chain;
	unsigned char *der = NULL;
	int i, len = 0;

	if ((w = srv_worker_req(rq, rs)) == NULL)
		return;
	chain = ca_chain(w->ca);
	if ((p7 = PKCS7_new()) != NULL && PKCS7_set_type(p7,
	    NID_pkcs7_signed) && PKCS7_content_new(p7, NID_pkcs7_data)) {
		for (i = 0; i < sk_X509_num(chain); i++)
			if (!PKCS7_add_certificate(p7, sk_X509_value(chain,
			    i)))
				break;
		if (i == sk_X509_num(chain))
			len = i2d_PKCS7(p7, &der);
	}
	if (len <= 0)
		resp_text(rs, 500, "encoding the chain failed");
	else
		resp_der(rs, CT_P7C, der, (size_t)len);
	OPENSSL_free(der);
	PKCS7_free(p7);
}

/*
 * This CA's CRL paths: /crl/ca.crl, as init writes <crl-url>, and the path
 * of each <crl-url>; another name is not a CRL of this CA.
 */
static int
crl_path_ok(const struct ca_config *cfg, const char *path)
{
	const char *p;
	size_t i;

	if (strcmp(path, "/crl/ca.crl") == 0)
		return 1;
	for (i = 0; i < cfg->ncdp; i++)
		if ((p = strstr(cfg->cdp_urls[i], "://")) != NULL &&
		    (p = strchr(p + 3, '/')) != NULL && strcmp(p, path) == 0)
			return 1;
	return 0;
}

/*
 * /crl/NAME.crl: the issuing CA's latest CRL; a new one is made when
 * there is none yet or the latest has passed its nextUpdate.
 */
void
pub_crl(struct req *rq, struct resp *rs)
{
	struct ca_err err;
	struct wk *w;
	const char *name = rq->path + strlen("/crl/");
	unsigned char *der = NULL, *nd = NULL;
	size_t len = 0, nlen = 0;
	int64_t next = 0;
	int r;

	ca_err_clear(&err);
	if (strlen(name) < 5 || strcmp(name + strlen(name) - 4, ".crl") != 0 ||
	    strchr(name, '/') != NULL) {
		resp_text(rs, 404, "no such CRL: %s (try /crl/ca.crl)",
		    rq->path);
		return;
	}
	if ((w = srv_worker_req(rq, rs)) == NULL)
		return;
	if (!crl_path_ok(ca_config(w->ca), rq->path)) {
		resp_text(rs, 404, "no such CRL: %s is not a CRL of this CA "
		    "(its CRL is /crl/ca.crl, or a <crl-url> of smimeca.conf)",
		    rq->path);
		return;
	}
	/* The stored nextUpdate says whether it is current: no parse. */
	r = db_crl_latest_until(ca_db(w->ca), ca_cert_id(w->ca), &der, &len,
	    &next, &err);
	if (r != 0 && r != CA_ERR_NOTFOUND) {
		resp_err(rq, rs, &err);
		goto out;
	}
	if (r == CA_ERR_NOTFOUND || next <= (int64_t)time(NULL)) {
		ca_err_clear(&err);
		if (rev_crl_generate_der(w->ca, &nd, &nlen, &err) != 0) {
			resp_err(rq, rs, &err);
			goto out;
		}
		resp_der(rs, CT_CRL, nd, nlen);
		goto out;
	}
	resp_der(rs, CT_CRL, der, len);
 out:
	OPENSSL_free(nd);
	free(der);
}

void
pub_healthz(struct req *rq, struct resp *rs)
{
	struct ca_err err;
	struct wk *w;

	if ((w = srv_worker_req(rq, rs)) == NULL)
		return;
	ca_err_clear(&err);
	if (db_ping(ca_db(w->ca), &err) != 0)
		resp_text(rs, 503, "%s", err.msg);
	else
		resp_text(rs, 200, "ok");
}

/*
 * lifecycle: recounts the certificates behind the smimecad_certs_expiring
 * gauges when the last count is stale; two index range counts. A failure
 * keeps the previous counts (and is not the scrape's business).
 */
static void
metrics_expiring(struct wk *w)
{
	struct ca_err err;
	int64_t now = (int64_t)time(NULL), n30, n7;

	if (!metrics_expiring_due(now))
		return;
	ca_err_clear(&err);
	if (db_cert_count_expiring(ca_db(w->ca), now, now + 30 * 86400, &n30,
	    &err) == 0 &&
	    db_cert_count_expiring(ca_db(w->ca), now, now + 7 * 86400, &n7,
	    &err) == 0)
		metrics_expiring_set(now, n30, n7);
}

void
pub_metrics(struct req *rq, struct resp *rs)
{
	struct ca_err err;
	struct wk *w;
	uint64_t batches = 0, members = 0;
	char *buf;
	size_t len;

	/* The counters are served even when the CA cannot be opened. */
	ca_err_clear(&err);
	if ((w = srv_worker(rq->srv, &err)) != NULL) {
		db_group_stats(ca_db(w->ca), &batches, &members);
		metrics_expiring(w);
	}
	if (metrics_render(batches, members, &buf, &len) != 0) {
		resp_text(rs, 500, "out of memory");
		return;
	}
	resp_owned(rs, 200, "text/plain; version=0.0.4; charset=utf-8", buf,
	    len);
}
