/* smimecad's HTTP layer: one route table, bounded requests, answers. */
#include "ac-config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ca/config.h"
#include "ca/dynbuf.h"
#include "ca/err.h"
#include "enroll/daemon.h"
#include "enroll/http.h"
#include "enroll/log.h"
#include "enroll/metrics.h"
#include "enroll/srv.h"

#define EST_PREFIX	"/.well-known/est/"
#define PATH_MAX_LEN	512
#define TLS_PRIORITIES	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
/* Past the body limit, bytes read and dropped before the answer. */
#define HTTP_DISCARD_MAX	(4 * 1024 * 1024)

/* Per connection-request state, from the first call to completion. */
struct cstate {
	struct dynbuf body;		/* secret: a body may carry a key */
	int too_large;
	int answered;
	size_t seen;			/* body bytes received */
	struct timespec start;
};

/* What each listener's callbacks get. */
struct listener {
	struct srv *srv;
	int tls;
	int fd;				/* ours until MHD takes it; -1 */
	char where[INET6_ADDRSTRLEN + 9];	/* "ADDR:PORT", "[V6]:PORT" */
	struct MHD_Daemon *d;
};

static struct listener https_l = { .tls = 1, .fd = -1 };
static struct listener http_l = { .tls = 0, .fd = -1 };

static double elapsed(const struct timespec *);
static enum metric_reason reason_of(unsigned);
static int label_ok(const char *, size_t);
static void dispatch(struct listener *, struct req *, struct resp *,
    int *);
static enum MHD_Result send_resp(struct MHD_Connection *, struct resp *);
static enum MHD_Result on_request(void *, struct MHD_Connection *,
    const char *, const char *, const char *, const char *, size_t *,
    void **);
static void on_completed(void *, struct MHD_Connection *, void **,
    enum MHD_RequestTerminationCode);
static void mhd_log(void *, const char *, va_list);
static void free_secret(void *);
static int sockaddr_of(const char *, int, struct sockaddr_storage *,
    socklen_t *);
static int listen_one(struct listener *, const char *, int,
    struct ca_err *);
static void close_listeners(void);
static struct MHD_Daemon *start_one(struct listener *,
    const struct cfg_daemon *, const char *, const char *, const char *,
    unsigned, struct ca_err *);

void
resp_text(struct resp *rs, unsigned status, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rs->owned != NULL) {
		if (rs->secret)
			OPENSSL_cleanse(rs->owned, strlen(rs->owned));
		free(rs->owned);
	}
	free(rs->headers);
	memset(rs, 0, sizeof(*rs));
	rs->status = status;
	rs->content_type = "text/plain; charset=utf-8";
	if (n < 0) {
		rs->body = "error\n";
		rs->len = 6;
		return;
	}
	/* One line, ending in a newline. */
	for (char *p = s; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if ((rs->owned = realloc(s, (size_t)n + 2)) == NULL) {
		free(s);
		rs->body = "error\n";
		rs->len = 6;
		return;
	}
	rs->owned[n++] = '\n';
	rs->owned[n] = '\0';
	rs->body = rs->owned;
	rs->len = (size_t)n;
}

void
resp_err(struct req *rq, struct resp *rs, const struct ca_err *err)
{
	char line[1024];
	const char *m = err->msg;
	size_t n = strcspn(m, "\n");
	unsigned status;

	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, m, n);
	line[n] = '\0';
	switch (err->code) {
	case CA_ERR_INVALID:
		status = 400;
		break;
	case CA_ERR_AUTH:
		status = 401;
		break;
	case CA_ERR_POLICY:
	case CA_ERR_EXISTS:
		status = 403;
		break;
	case CA_ERR_NOTFOUND:
		status = 404;
		break;
	default:
		/* Details of our own failures go to the log only. */
		log_err("%s %s: %s", rq->method, rq->path, err->msg);
		resp_text(rs, 500, "internal error while serving %s; the "
		    "server log has the details", rq->path);
		return;
	}
	resp_text(rs, status, "%s", *line ? line : "request refused");
	if (status == 401)
		rs->www_authenticate = "Basic realm=\"smimeca\", "
		    "charset=\"UTF-8\"";
}

void
resp_owned(struct resp *rs, unsigned status, const char *ctype, char *buf,
    size_t len)
{
	free(rs->owned);
	free(rs->headers);
	memset(rs, 0, sizeof(*rs));
	rs->status = status;
	rs->content_type = ctype;
	rs->owned = buf;
	rs->body = buf;
	rs->len = len;
}

void
resp_base64(struct resp *rs, unsigned status, const char *ctype,
    const unsigned char *der, size_t len)
{
	char *b64;
	int n;

	if (len > (size_t)INT32_MAX / 2 ||
	    (b64 = malloc(4 * ((len + 2) / 3) + 1)) == NULL) {
		resp_text(rs, 500, "out of memory");
		return;
	}
	n = EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
	resp_owned(rs, status, ctype, b64, (size_t)n);
	rs->extra_header = "Content-Transfer-Encoding: base64";
}

void
resp_der(struct resp *rs, const char *ctype, const unsigned char *der,
    size_t len)
{
	char *b;

	if ((b = malloc(len ? len : 1)) == NULL) {
		resp_text(rs, 500, "out of memory");
		return;
	}
	memcpy(b, der, len);
	resp_owned(rs, 200, ctype, b, len);
}

const char *
req_header(const struct req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *
req_arg(const struct req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn,
	    MHD_GET_ARGUMENT_KIND, name);
}

X509 *
req_client_cert(const struct req *rq)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *peers;
	const unsigned char *p;
	unsigned int n = 0;

	if (!rq->tls || (ci = MHD_get_connection_info(rq->conn,
	    MHD_CONNECTION_INFO_GNUTLS_SESSION)) == NULL ||
	    ci->tls_session == NULL)
		return NULL;
	peers = gnutls_certificate_get_peers(
	    (gnutls_session_t)ci->tls_session, &n);
	if (peers == NULL || n == 0)
		return NULL;
	p = peers[0].data;
	return d2i_X509(NULL, &p, (long)peers[0].size);
}

void
req_media_type(const struct req *rq, char *buf, size_t len)
{
	const char *ct = req_header(rq, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t i = 0;

	if (ct != NULL)
		while (*ct == ' ')
			ct++;
	for (; ct != NULL && ct[i] != '\0' && ct[i] != ';' &&
	    ct[i] != ' ' && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)ct[i]);
	buf[i] = '\0';
}

static double
elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static enum metric_reason
reason_of(unsigned status)
{
	switch (status) {
	case 401:
		return METRIC_R_AUTH;
	case 403:
		return METRIC_R_FORBIDDEN;
	case 404:
		return METRIC_R_NOT_FOUND;
	case 405:
		return METRIC_R_METHOD;
	case 413:
		return METRIC_R_TOO_LARGE;
	case 415:
		return METRIC_R_MEDIA_TYPE;
	default:
		if (status >= 500)
			return METRIC_R_INTERNAL;
		if (status >= 400)
			return METRIC_R_INVALID;
		return METRIC_R_NONE;
	}
}

static int
label_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	return s[0] != '.';
}

/* Finds the route and runs it; *routep gets its index (-1: none). */
static void
dispatch(struct listener *l, struct req *rq, struct resp *rs, int *routep)
{
	const struct route *rt;
	char path[PATH_MAX_LEN + 32], allow[64] = "";
	const char *p = rq->path, *q;
	int i, est = 0, found = -1;

	*routep = -1;
	if (strlen(p) > PATH_MAX_LEN) {
		resp_text(rs, 414, "the path is longer than %d bytes (an "
		    "OCSP request that long is POSTed to /ocsp)",
		    PATH_MAX_LEN);
		return;
	}
	/*
	 * /TEMPLATE/.well-known/est/op, for clients that take a base URL and
	 * append the well-known path (strongSwan pki --est).
	 */
	if (p[0] == '/' && (q = strchr(p + 1, '/')) != NULL &&
	    strncmp(q, EST_PREFIX, strlen(EST_PREFIX)) == 0 &&
	    label_ok(p + 1, (size_t)(q - p - 1)) &&
	    strchr(q + strlen(EST_PREFIX), '/') == NULL) {
		memcpy(rq->label, p + 1, (size_t)(q - p - 1));
		rq->label[q - p - 1] = '\0';
		snprintf(path, sizeof(path), "%s", q);
		p = path;
		est = 1;
	} else if (strncmp(p, EST_PREFIX, strlen(EST_PREFIX)) == 0) {
		/* /.well-known/est/LABEL/op names a template. */
		const char *rest = p + strlen(EST_PREFIX), *slash;

		est = 1;
		if ((slash = strchr(rest, '/')) != NULL) {
			if (!label_ok(rest, (size_t)(slash - rest)) ||
			    strchr(slash + 1, '/') != NULL) {
				resp_text(rs, 404, "no such EST resource: %s "
				    "(use %sOPERATION or %sTEMPLATE/"
				    "OPERATION)", p, EST_PREFIX, EST_PREFIX);
				return;
			}
			memcpy(rq->label, rest, (size_t)(slash - rest));
			rq->label[slash - rest] = '\0';
			snprintf(path, sizeof(path), "%s%s", EST_PREFIX,
			    slash + 1);
			p = path;
		}
	}
	for (i = 0; http_routes[i].path != NULL; i++) {
		rt = &http_routes[i];
		if (rt->flags & ROUTE_PREFIX) {
			if (strncmp(p, rt->path, strlen(rt->path)) != 0)
				continue;
		} else if (strcmp(p, rt->path) != 0)
			continue;
		if (rq->label[0] != '\0' && !(rt->flags & ROUTE_EST))
			continue;
		if (strcmp(rq->method, rt->method) == 0 ||
		    (strcmp(rq->method, "HEAD") == 0 &&
		    strcmp(rt->method, "GET") == 0)) {
			found = i;
			break;
		}
		if (strlen(allow) + strlen(rt->method) + 3 < sizeof(allow))
			snprintf(allow + strlen(allow),
			    sizeof(allow) - strlen(allow), "%s%s",
			    *allow ? ", " : "", rt->method);
	}
	if (found < 0) {
		if (*allow != '\0') {
			resp_text(rs, 405, "%s does not take %s (use %s)",
			    rq->path, rq->method, allow);
			rs->extra_header = NULL;
			rs->allow = strdup(allow);
		} else
			resp_text(rs, 404, "no such resource: %s%s",
			    rq->path, est ? " (EST operations: cacerts, "
			    "simpleenroll, simplereenroll, serverkeygen, "
			    "fullcmc, csrattrs)" : "");
		return;
	}
	rt = &http_routes[found];
	*routep = found;
	if (!l->tls && !(rt->flags & ROUTE_PLAIN) &&
	    !((rt->flags & ROUTE_EST) &&
	    atomic_load(&l->srv->est_over_http))) {
		resp_text(rs, 403, "%s is served over HTTPS only (port %d)",
		    rq->path, l->srv->https_port);
		return;
	}
	rt->fn(rq, rs);
}

static void
free_secret(void *p)
{
	OPENSSL_cleanse(p, strlen(p));
	free(p);
}

static enum MHD_Result
send_resp(struct MHD_Connection *conn, struct resp *rs)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;
	char name[64];
	const char *colon;

	if (rs->owned != NULL && rs->body == rs->owned) {
		mr = MHD_create_response_from_buffer_with_free_callback(rs->len,
		    rs->owned, rs->secret ? free_secret : free);
		if (mr != NULL)
			rs->owned = NULL;
	} else
		mr = MHD_create_response_from_buffer(rs->len,
		    (void *)(uintptr_t)rs->body, MHD_RESPMEM_MUST_COPY);
	if (mr == NULL)
		return MHD_NO;
	if (rs->content_type != NULL)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
		    rs->content_type);
	if (rs->www_authenticate != NULL)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    rs->www_authenticate);
	if (rs->allow != NULL)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, rs->allow);
	if (rs->extra_header != NULL &&
	    (colon = strchr(rs->extra_header, ':')) != NULL &&
	    (size_t)(colon - rs->extra_header) < sizeof(name)) {
		memcpy(name, rs->extra_header,
		    (size_t)(colon - rs->extra_header));
		name[colon - rs->extra_header] = '\0';
		MHD_add_response_header(mr, name, colon + 2);
	}
	for (const char *h = rs->headers, *e; h != NULL && *h != '\0';
	    h = *e != '\0' ? e + 1 : e) {
		char line[256];
		size_t n;

		e = h + strcspn(h, "\n");
		n = (size_t)(e - h);
		if (n >= sizeof(line) || (colon = memchr(h, ':', n)) == NULL)
			continue;
		memcpy(line, h, n);
		line[n] = '\0';
		line[colon - h] = '\0';
		MHD_add_response_header(mr, line, line + (colon - h) + 2);
	}
	ret = MHD_queue_response(conn, rs->status, mr);
	MHD_destroy_response(mr);
	return ret;
}

static void
resp_clear(struct resp *rs)
{
	if (rs->owned != NULL) {
		if (rs->secret)
			OPENSSL_cleanse(rs->owned, rs->len);
		free(rs->owned);
	}
	free(rs->allow);
	free(rs->headers);
	memset(rs, 0, sizeof(*rs));
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *data,
    size_t *data_size, void **con_cls)
{
	struct listener *l = cls;
	struct cstate *cs = *con_cls;
	struct req rq;
	struct resp rs;
	enum MHD_Result ret;
	const char *cl;
	unsigned long long clen;
	int route = -1;
	char *end;

	(void)version;
	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	if (cs == NULL) {
		if ((cs = calloc(1, sizeof(*cs))) == NULL)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &cs->start);
		dynbuf_init(&cs->body, (size_t)atomic_load(&l->srv->body_max),
		    1);
		*con_cls = cs;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && ((clen = strtoull(cl, &end, 10)),
		    *end != '\0' || clen > cs->body.max)) {
			/*
			 * A body a little too large is read and dropped, so
			 * that the client, still sending, reads the answer
			 * rather than a reset; a huge one is refused at once.
			 */
			if (*end == '\0' && clen <= HTTP_DISCARD_MAX) {
				cs->too_large = 1;
				return MHD_YES;
			}
			resp_text(&rs, 413, "request body too large: %s bytes "
			    "(the limit is %zu; see <limits body-bytes> in "
			    "smimeca.conf)", cl, cs->body.max);
			cs->answered = 1;
			goto answer;
		}
		return MHD_YES;
	}
	if (*data_size > 0) {
		cs->seen += *data_size;
		/* A chunked body past any reason: the connection is cut. */
		if (cs->too_large && cs->seen > HTTP_DISCARD_MAX) {
			metrics_request(-1, 413, METRIC_R_TOO_LARGE,
			    elapsed(&cs->start));
			log_access("%s %s: body over %d bytes, connection "
			    "closed", method, url, HTTP_DISCARD_MAX);
			return MHD_NO;
		}
		if (!cs->too_large) {
			switch (dynbuf_add(&cs->body, data, *data_size)) {
			case 0:
				break;
			case DYNBUF_TOOBIG:
				cs->too_large = 1;
				dynbuf_free(&cs->body);
				break;
			default:
				return MHD_NO;
			}
		}
		*data_size = 0;
		return MHD_YES;
	}
	if (cs->answered)
		return MHD_YES;
	cs->answered = 1;
	if (cs->too_large) {
		resp_text(&rs, 413, "request body too large (the limit is %zu "
		    "bytes; see <limits body-bytes> in smimeca.conf)",
		    cs->body.max);
		goto answer;
	}
	rq.srv = l->srv;
	rq.conn = conn;
	rq.method = method;
	rq.path = url;
	rq.body = cs->body.buf;
	rq.bodylen = cs->body.len;
	rq.tls = l->tls;
	dispatch(l, &rq, &rs, &route);
	if (rs.status == 0)
		resp_text(&rs, 500, "internal error: no answer for %s", url);
 answer:
	{
		double secs = elapsed(&cs->start);
		const union MHD_ConnectionInfo *ci;
		char addr[INET6_ADDRSTRLEN] = "?";

		metrics_request(route, rs.status, reason_of(rs.status), secs);
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci != NULL && ci->client_addr != NULL)
			getnameinfo(ci->client_addr,
			    ci->client_addr->sa_family == AF_INET6 ?
			    sizeof(struct sockaddr_in6) :
			    sizeof(struct sockaddr_in), addr, sizeof(addr),
			    NULL, 0, NI_NUMERICHOST);
		int why = rs.status >= 400 && rs.content_type != NULL &&
		    strncmp(rs.content_type, "text/", 5) == 0;

		/* The reason without its newline. */
		log_access("%s %s %s %u %.1fms%s%s%s%.*s", addr, method, url,
		    rs.status, secs * 1000, rq.user ? " user=" : "",
		    rq.user ? rq.user : "", why ? " " : "",
		    why ? (int)strcspn((const char *)rs.body, "\n") : 0,
		    why ? (const char *)rs.body : "");
	}
	ret = send_resp(conn, &rs);
	resp_clear(&rs);
	free((char *)rq.user);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct cstate *cs = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (cs == NULL)
		return;
	dynbuf_free(&cs->body);
	free(cs);
	*con_cls = NULL;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	log_warn("http: %s", line);
}

static int
sockaddr_of(const char *addr, int port, struct sockaddr_storage *ss,
    socklen_t *lenp)
{
	struct addrinfo hints, *ai = NULL;
	char ps[16];

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(addr, ps, &hints, &ai) != 0 || ai == NULL)
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*lenp = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/*
 * Binds and listens on ADDR:PORT ourselves, so that a port in use is known
 * for what it is (EADDRINUSE), before daemon(3) while stderr is still there.
 * SO_REUSEADDR lets a restart bind at once past the old connections in
 * TIME_WAIT; SO_REUSEPORT is never set, since it would let a second daemon
 * bind the same address and the kernel split the connections between them.
 */
static int
listen_one(struct listener *l, const char *addr, int port, struct ca_err *err)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *opt = l->tls ? "https" : "http";
	int fd = -1, on = 1, e;

	if (sockaddr_of(addr, port, &ss, &sl) != 0) {
		ca_err_set(err, CA_ERR_CONFIG, "listen address \"%s\" is not "
		    "a numeric IPv4 or IPv6 address (smimeca.conf <daemon>, "
		    "or smimecad --%s)", addr, opt);
		return CA_ERR_CONFIG;
	}
	snprintf(l->where, sizeof(l->where), ss.ss_family == AF_INET6 ?
	    "[%s]:%d" : "%s:%d", addr, port);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, sl) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		e = errno;
		if (fd != -1)
			close(fd);
		if (e == EADDRINUSE)
			ca_err_set(err, CA_ERR_IO, "cannot listen for %s: %s "
			    "is already in use (stop the other server, or "
			    "choose another port in smimeca.conf <daemon> or "
			    "with smimecad --%s)", l->tls ? "HTTPS" : "HTTP",
			    l->where, opt);
		else
			ca_err_set(err, CA_ERR_IO, "cannot listen for %s on "
			    "%s: %s (smimeca.conf <daemon>, or smimecad --%s)",
			    l->tls ? "HTTPS" : "HTTP", l->where, strerror(e),
			    opt);
		return CA_ERR_IO;
	}
	l->fd = fd;
	return 0;
}

static void
close_listeners(void)
{
	if (https_l.fd != -1)
		close(https_l.fd);
	if (http_l.fd != -1)
		close(http_l.fd);
	https_l.fd = http_l.fd = -1;
}

int
http_listen(const char *https_addr, int https_port, const char *http_addr,
    int http_port, struct ca_err *err)
{
	int r;

	if ((r = listen_one(&https_l, https_addr, https_port, err)) != 0)
		return r;
	if (http_addr != NULL && (r = listen_one(&http_l, http_addr,
	    http_port, err)) != 0) {
		if (strcmp(https_l.where, http_l.where) == 0)
			ca_err_set(err, CA_ERR_CONFIG, "HTTPS and HTTP both "
			    "name %s (give each its own port in smimeca.conf "
			    "<daemon>, or with smimecad --https and --http)",
			    http_l.where);
		close_listeners();
		return r;
	}
	return 0;
}

/* Serves l->fd, which MHD then owns. */
static struct MHD_Daemon *
start_one(struct listener *l, const struct cfg_daemon *dm, const char *cert,
    const char *key, const char *trust, unsigned threads,
    struct ca_err *err)
{
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
	    MHD_USE_ITC;
	struct MHD_OptionItem ops[16];
	struct MHD_Daemon *d;
	size_t n;

	if (l->tls)
		flags |= MHD_USE_TLS;
	n = 0;
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER,
	    (intptr_t)mhd_log, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET,
	    (intptr_t)l->fd, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
	    (intptr_t)threads, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
	    (intptr_t)dm->timeout, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (intptr_t)dm->per_client, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
	    (intptr_t)dm->max_conns, NULL };
	/* The pool holds the request line and headers. */
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (intptr_t)dm->header_max * 2, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
	    (intptr_t)on_completed, NULL };
	if (l->tls) {
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY,
		    0, (void *)(uintptr_t)key };
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT,
		    0, (void *)(uintptr_t)cert };
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST,
		    0, (void *)(uintptr_t)trust };
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES,
		    0, (void *)(uintptr_t)TLS_PRIORITIES };
	}
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l,
	    MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
	if (d == NULL) {
		ca_err_set(err, CA_ERR_IO, "cannot serve %s on %s (the server "
		    "log has libmicrohttpd's reason)",
		    l->tls ? "HTTPS" : "HTTP", l->where);
		/* MHD may have closed it on the way out: not ours now. */
	}
	l->fd = -1;
	return d;
}

int
http_start(struct srv *s, const char *cert, const char *key,
    const char *trust, unsigned threads, struct ca_err *err)
{
	const struct cfg_daemon *dm = &s->cfg->daemon;

	metrics_init(http_routes_count());
	https_l.srv = http_l.srv = s;
	if (https_l.fd == -1) {
		ca_err_set(err, CA_ERR_IO, "http_start before http_listen");
		return CA_ERR_IO;
	}
	if ((https_l.d = start_one(&https_l, dm, cert, key, trust, threads,
	    err)) == NULL) {
		close_listeners();
		return CA_ERR_IO;
	}
	if (http_l.fd != -1 && (http_l.d = start_one(&http_l, dm, NULL, NULL,
	    NULL, threads, err)) == NULL) {
		MHD_stop_daemon(https_l.d);
		https_l.d = NULL;
		return CA_ERR_IO;
	}
	return 0;
}

/* The quiesced sockets come back to us, closed once the threads are gone. */
void
http_quiesce(void)
{
	if (https_l.d != NULL)
		https_l.fd = MHD_quiesce_daemon(https_l.d);
	if (http_l.d != NULL)
		http_l.fd = MHD_quiesce_daemon(http_l.d);
}

void
http_stop(void)
{
	if (https_l.d != NULL)
		MHD_stop_daemon(https_l.d);
	if (http_l.d != NULL)
		MHD_stop_daemon(http_l.d);
	https_l.d = http_l.d = NULL;
	close_listeners();
}
