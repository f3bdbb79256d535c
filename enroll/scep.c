/*
 * SCEP (RFC 8894) over HTTP: GetCACaps, GetCACert and PKIOperation (GET
 * with message= or POST) on /scep, /scep/TEMPLATE and the paths NDES
 * clients use. The messages themselves are ca/scep.c's; SCEP protects
 * itself with CMS, so it is served on the plain-HTTP listener too.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/err.h"
#include "ca/scep.h"
#include "ca/template.h"
#include "enroll/body.h"
#include "enroll/handlers.h"
#include "enroll/http.h"
#include "enroll/log.h"
#include "enroll/metrics.h"
#include "enroll/srv.h"

#define CT_CAPS		"text/plain"
#define CT_CACERT	"application/x-x509-ca-ra-cert"
#define CT_PKIMSG	"application/x-pki-message"
#define SCEP_PREFIX	"/scep/"
#define NDES_PATH	"/certsrv/mscep/mscep.dll"

static const char *template_name(struct req *, struct resp *, struct wk *);
static void pkiop(struct req *, struct resp *, struct wk *,
    const struct tpl *);
static const char *type_name(int);
static const char *status_name(int);

static const char *
type_name(int t)
{
	switch (t) {
	case SCEP_PKCSREQ:	return "PKCSReq";
	case SCEP_RENEWALREQ:	return "RenewalReq";
	case SCEP_CERTPOLL:	return "CertPoll";
	case SCEP_GETCERT:	return "GetCert";
	case SCEP_GETCRL:	return "GetCRL";
	default:		return "other";
	}
}

static const char *
status_name(int s)
{
	switch (s) {
	case SCEP_SUCCESS:	return "SUCCESS";
	case SCEP_PENDING:	return "PENDING";
	default:		return "FAILURE";
	}
}

/* /scep/TEMPLATE names one; /scep and the NDES paths take the default. */
static const char *
template_name(struct req *rq, struct resp *rs, struct wk *w)
{
	const char *p = rq->path;

	if (strncmp(p, SCEP_PREFIX, strlen(SCEP_PREFIX)) == 0) {
		p += strlen(SCEP_PREFIX);
		if (*p == '\0' || strchr(p, '/') != NULL) {
			resp_text(rs, 404, "no such SCEP resource: %s (use "
			    "/scep or /scep/TEMPLATE)", rq->path);
			return NULL;
		}
		return p;
	}
	if (strncmp(p, NDES_PATH, strlen(NDES_PATH)) == 0 &&
	    p[strlen(NDES_PATH)] != '\0' &&
	    strcmp(p + strlen(NDES_PATH), "/pkiclient.exe") != 0) {
		resp_text(rs, 404, "no such SCEP resource: %s", rq->path);
		return NULL;
	}
	return ca_config(w->ca)->scep.template;
}

static struct scep *
worker_scep(struct wk *w, struct resp *rs)
{
	struct ca_err err;

	ca_err_clear(&err);
	if (w->scep == NULL && scep_new(w->ca, &w->scep, &err) != 0) {
		log_err("SCEP: %s", err.msg);
		resp_text(rs, 503, "SCEP is not available: %s", err.msg);
		return NULL;
	}
	return w->scep;
}

static void
pkiop(struct req *rq, struct resp *rs, struct wk *w, const struct tpl *t)
{
	struct scep_result res;
	struct ca_err err;
	struct scep *s;
	const char *m;
	unsigned char *der = NULL, *out = NULL;
	char *copy = NULL, *c;
	size_t len = 0, outlen = 0;
	int r;

	ca_err_clear(&err);
	if ((s = worker_scep(w, rs)) == NULL)
		return;
	if (strcmp(rq->method, "POST") == 0) {
		if (rq->bodylen == 0) {
			resp_text(rs, 400, "PKIOperation by POST needs the "
			    "pkiMessage (DER) as the body");
			return;
		}
		if (rq->bodylen > SCEP_MSG_MAX) {
			resp_text(rs, 413, "the pkiMessage is %zu bytes; SCEP "
			    "requests are at most %d", rq->bodylen,
			    SCEP_MSG_MAX);
			return;
		}
		if (body_decode(rq->body, rq->bodylen, &der, &len) != 0) {
			resp_text(rs, 400, "the body is neither a DER "
			    "pkiMessage nor base64");
			return;
		}
	} else {
		if ((m = req_arg(rq, "message")) == NULL || *m == '\0') {
			resp_text(rs, 400, "PKIOperation by GET needs "
			    "message=BASE64 (the pkiMessage)");
			return;
		}
		if (strlen(m) > 2 * SCEP_MSG_MAX) {
			resp_text(rs, 413, "message= is %zu characters; SCEP "
			    "requests are at most %d bytes", strlen(m),
			    SCEP_MSG_MAX);
			return;
		}
		/* An unescaped '+' reaches us as a space. */
		if ((copy = strdup(m)) == NULL) {
			resp_text(rs, 500, "out of memory");
			return;
		}
		for (c = copy; *c != '\0'; c++)
			if (*c == ' ')
				*c = '+';
		r = body_decode((unsigned char *)copy, strlen(copy), &der,
		    &len);
		free(copy);
		if (r != 0 || der == NULL || der[0] != 0x30) {
			resp_text(rs, 400, "message= is not base64 of a "
			    "pkiMessage");
			goto out;
		}
	}
	r = scep_pkiop(s, w->ca, t, der, len, (int64_t)time(NULL), &out,
	    &outlen, &res, &err);
	if (res.decrypted)
		metrics_scep_decrypt();
	if (r == CA_ERR_INVALID) {
		metrics_scep(res.msgtype, -1);
		log_info("scep %s tid=%s template=%s: refused: %s",
		    type_name(res.msgtype), res.tid[0] ? res.tid : "-",
		    t->name, err.msg);
		resp_text(rs, 400, "not a SCEP pkiMessage: %s", err.msg);
		goto out;
	}
	if (r != 0) {
		log_err("scep %s tid=%s template=%s: %s",
		    type_name(res.msgtype), res.tid, t->name, err.msg);
		resp_err(rq, rs, &err);
		goto out;
	}
	metrics_scep(res.msgtype, res.status);
	if (res.issued) {
		metrics_issued("scep");
		srv_publish_kick();
	}
	if (res.status == SCEP_FAILURE)
		log_info("scep %s tid=%s template=%s: FAILURE failInfo=%d: %s",
		    type_name(res.msgtype), res.tid, t->name, res.fail_info,
		    res.reason);
	else
		log_info("scep %s tid=%s template=%s: %s%s%s%s%s%s",
		    type_name(res.msgtype), res.tid, t->name,
		    status_name(res.status), res.serial[0] ? " serial=" : "",
		    res.serial, res.replay ? " (stored answer)" : "",
		    res.status == SCEP_PENDING ? ": " : "",
		    res.status == SCEP_PENDING ? res.reason : "");
	resp_owned(rs, 200, CT_PKIMSG, (char *)out, outlen);
	out = NULL;
 out:
	free(der);
	OPENSSL_free(out);
}

/* Every SCEP route: the operation is in the query. */
void
scep_serve(struct req *rq, struct resp *rs)
{
	struct ca_err err;
	struct scep *s;
	struct wk *w;
	const struct tpl *t;
	const char *op, *name;
	unsigned char *der = NULL;
	size_t len = 0;

	ca_err_clear(&err);
	if ((op = req_arg(rq, "operation")) == NULL) {
		resp_text(rs, 400, "SCEP needs ?operation=GetCACaps, "
		    "GetCACert or PKIOperation");
		return;
	}
	if ((w = srv_worker_req(rq, rs)) == NULL ||
	    (name = template_name(rq, rs, w)) == NULL)
		return;
	if ((t = wk_template(w, name)) == NULL) {
		resp_text(rs, 404, "no template named \"%s\" (the URL "
		    "/scep/TEMPLATE names one; see smimeca template list)",
		    name);
		return;
	}
	if (strcmp(op, "GetCACaps") == 0) {
		char *caps;

		/* One capability a line, LF only (RFC 8894 3.5.2). */
		if ((s = worker_scep(w, rs)) == NULL)
			return;
		if ((caps = strdup(scep_caps(s))) == NULL) {
			resp_text(rs, 500, "out of memory");
			return;
		}
		resp_owned(rs, 200, CT_CAPS, caps, strlen(caps));
		return;
	}
	if (strcmp(op, "GetCACert") == 0) {
		if ((s = worker_scep(w, rs)) == NULL)
			return;
		if (scep_cacert(s, w->ca, (int64_t)time(NULL), &der, &len,
		    &err) != 0) {
			log_err("scep GetCACert: %s", err.msg);
			resp_err(rq, rs, &err);
			return;
		}
		resp_der(rs, CT_CACERT, der, len);
		OPENSSL_free(der);
		return;
	}
	if (strcmp(op, "PKIOperation") == 0) {
		pkiop(rq, rs, w, t);
		return;
	}
	resp_text(rs, 400, "unknown SCEP operation \"%.64s\" (served: "
	    "GetCACaps, GetCACert, PKIOperation)", op);
}
