/*
 * EST client (RFC 7030) for smimeca-enroll. OpenSSL 3.0's OSSL_HTTP
 * client neither hands out the body of an error answer (the server's
 * reason) nor the Content-Type of an answer (the multipart boundary), so
 * this is a minimal HTTP/1.1 client of its own: one request per
 * connection, Connection: close, answers bounded by ESTC_MAX_RESP.
 */
#include "ac-config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "archive/cmc_asn1.h"
#include "ca/err.h"
#include "tools/estclient.h"

#define EST_PREFIX	"/.well-known/est/"
#define CT_PKCS10	"application/pkcs10"
#define CT_CMC_REQ	"application/pkcs7-mime; smime-type=CMC-request"
#define ESTC_TIMEOUT	60	/* seconds, per connect, read and write */
#define ESTC_DEADLINE	300	/* seconds for a whole answer */
#define REASON_MAX	300	/* bytes of a server's reason we print */
#define MAX_PARTS	8
/* After a failure with a TLS client certificate in play. */
#define CERT_HINT	"did the server refuse the TLS client certificate? " \
	"Renewing over TLS needs a certificate whose key may sign (keyUsage " \
	"digitalSignature)"

struct estc {
	SSL_CTX *ctx;
	char *host;		/* as in the URL, without brackets */
	char *port;
	char *hostport;		/* for Host: and messages */
	char *cafile;
	char *auth;		/* "Basic ...", a secret */
	int is_ip;
	int client_cert;	/* a TLS client certificate is set */
};

static int parse_url(struct estc *, const char *, struct ca_err *);
static int dial(const struct estc *, int *, struct ca_err *);
static int tls_open(const struct estc *, int, SSL **, struct ca_err *);
static int send_all(const struct estc *, SSL *, const char *, size_t,
    struct ca_err *);
static int recv_resp(const struct estc *, SSL *, struct estc_resp **,
    struct ca_err *);
static int io_error(const struct estc *, SSL *, int, const char *,
    struct ca_err *);
static const unsigned char *next_line(const unsigned char *,
    const unsigned char *, const unsigned char **);
static int header_is(const unsigned char *, size_t, const char *);
static int dechunk(const unsigned char *, const unsigned char *,
    unsigned char *, size_t *);
static int est_path(const char *, const char *, char *, size_t,
    struct ca_err *);
static int post_der(struct estc *, const char *, const char *,
    const char *, const unsigned char *, size_t, struct estc_resp **,
    struct ca_err *);
static int media_is(const struct estc_resp *, const char *, const char *,
    struct ca_err *);
static int param_of(const char *, const char *, char *, size_t);
static const unsigned char *find_delim(const unsigned char *,
    const unsigned char *, const char *, size_t);
static void printable(const unsigned char *, size_t, char *, size_t);
static int cmc_controls(CMC_PKIRESPONSE *, struct estc_cmc *,
    struct ca_err *);
static int octets(const ASN1_TYPE *, unsigned char *, size_t *);

/* https://HOST[:PORT] or https://[V6]:PORT, with nothing after but "/". */
static int
parse_url(struct estc *c, const char *url, struct ca_err *err)
{
	const char *p, *h, *hend, *port = "443";
	char pbuf[8];
	size_t n;
	long v;
	char *ep;

	if (strncasecmp(url, "https://", 8) != 0)
		return ca_err_set(err, CA_ERR_INVALID, "--url %s: give an "
		    "https:// URL (EST runs over TLS only)", url);
	p = url + 8;
	if (*p == '[') {
		h = p + 1;
		if ((hend = strchr(h, ']')) == NULL)
			goto bad;
		p = hend + 1;
	} else {
		h = p;
		p += strcspn(p, ":/?#@");
		hend = p;
	}
	if (hend == h || *p == '@')
		goto bad;
	if (*p == ':') {
		n = strcspn(p + 1, "/?#");
		if (n == 0 || n >= sizeof(pbuf))
			goto bad;
		memcpy(pbuf, p + 1, n);
		pbuf[n] = '\0';
		v = strtol(pbuf, &ep, 10);
		if (*ep != '\0' || pbuf[0] < '0' || pbuf[0] > '9' || v < 1 ||
		    v > 65535)
			goto bad;
		port = pbuf;
		p += 1 + n;
	}
	if (*p != '\0' && strcmp(p, "/") != 0)
		return ca_err_set(err, CA_ERR_INVALID, "--url %s: give the "
		    "server's origin only, https://HOST[:PORT] (the EST "
		    "paths under /.well-known/est/ are added)", url);
	if ((c->host = strndup(h, (size_t)(hend - h))) == NULL ||
	    (c->port = strdup(port)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	for (ep = c->host; *ep != '\0'; ep++)
		if (!(*ep >= 'a' && *ep <= 'z') &&
		    !(*ep >= 'A' && *ep <= 'Z') &&
		    !(*ep >= '0' && *ep <= '9') && strchr(".-:", *ep) == NULL)
			goto bad;
	{
		unsigned char a[16];

		c->is_ip = inet_pton(AF_INET, c->host, a) == 1 ||
		    inet_pton(AF_INET6, c->host, a) == 1;
	}
	if (asprintf(&c->hostport, strchr(c->host, ':') != NULL ?
	    "[%s]:%s" : "%s:%s", c->host, c->port) == -1) {
		c->hostport = NULL;
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	}
	return 0;
 bad:
	return ca_err_set(err, CA_ERR_INVALID, "--url %s: not a URL of the "
	    "form https://HOST[:PORT]", url);
}

int
estc_url_check(const char *url, struct ca_err *err)
{
	struct estc c;
	int r;

	memset(&c, 0, sizeof(c));
	r = parse_url(&c, url, err);
	free(c.host);
	free(c.port);
	free(c.hostport);
	return r;
}

int
estc_new(const char *url, const char *cafile, struct estc **cp,
    struct ca_err *err)
{
	struct estc *c;
	int r;

	*cp = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if ((r = parse_url(c, url, err)) != 0)
		goto out;
	if ((c->cafile = strdup(cafile)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    !SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "setting up TLS");
		goto out;
	}
	if (!SSL_CTX_load_verify_locations(c->ctx, cafile, NULL)) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "--cacert %s: cannot read "
		    "CA certificates (PEM) from it", cafile);
		goto out;
	}
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	/* Answers are framed by Content-Length or chunks, not by EOF. */
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	*cp = c;
	c = NULL;
	r = 0;
 out:
	estc_free(c);
	return r;
}

int
estc_set_basic(struct estc *c, const char *user, const char *pass,
    struct ca_err *err)
{
	char *plain = NULL, *b64 = NULL;
	size_t n, i;
	int r = CA_ERR_NOMEM;

	for (i = 0; user[i] != '\0'; i++)
		if ((unsigned char)user[i] < 0x20 || user[i] == ':' ||
		    user[i] == 0x7f)
			return ca_err_set(err, CA_ERR_INVALID, "--user %s: an "
			    "account name has no colon or control "
			    "characters", user);
	if (asprintf(&plain, "%s:%s", user, pass) == -1) {
		plain = NULL;
		goto out;
	}
	n = strlen(plain);
	if ((b64 = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		goto out;
	EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)plain,
	    (int)n);
	if (c->auth != NULL)
		OPENSSL_clear_free(c->auth, strlen(c->auth));
	if (asprintf(&c->auth, "Basic %s", b64) == -1) {
		c->auth = NULL;
		goto out;
	}
	r = 0;
 out:
	if (r != 0)
		ca_err_set(err, r, "out of memory");
	if (plain != NULL)
		OPENSSL_clear_free(plain, strlen(plain));
	if (b64 != NULL)
		OPENSSL_clear_free(b64, strlen(b64));
	return r;
}

int
estc_set_client_cert(struct estc *c, const char *certfile,
    const char *keyfile, struct ca_err *err)
{
	/* The key first: a certificate that does not match drops it. */
	if (SSL_CTX_use_PrivateKey_file(c->ctx, keyfile,
	    SSL_FILETYPE_PEM) != 1)
		return ca_err_ssl(err, CA_ERR_INVALID, "--key %s: cannot "
		    "read an unencrypted PEM private key from it", keyfile);
	if (SSL_CTX_use_certificate_chain_file(c->ctx, certfile) != 1)
		return ca_err_ssl(err, CA_ERR_INVALID, "--cert %s: cannot "
		    "read a PEM certificate from it", certfile);
	if (SSL_CTX_check_private_key(c->ctx) != 1) {
		ERR_clear_error();
		return ca_err_set(err, CA_ERR_INVALID, "--key %s is not the "
		    "key of the certificate in %s", keyfile, certfile);
	}
	c->client_cert = 1;
	return 0;
}

X509_STORE *
estc_store(const struct estc *c)
{
	return SSL_CTX_get_cert_store(c->ctx);
}

void
estc_free(struct estc *c)
{
	if (c == NULL)
		return;
	SSL_CTX_free(c->ctx);
	free(c->host);
	free(c->port);
	free(c->hostport);
	free(c->cafile);
	if (c->auth != NULL)
		OPENSSL_clear_free(c->auth, strlen(c->auth));
	free(c);
}

static int
dial(const struct estc *c, int *fdp, struct ca_err *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv;
	int fd = -1, e = 0, gai;

	*fdp = -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = getaddrinfo(c->host, c->port, &hints, &res)) != 0)
		return ca_err_set(err, CA_ERR_IO, "%s: cannot resolve the "
		    "host: %s", c->hostport, gai_strerror(gai));
	tv.tv_sec = ESTC_TIMEOUT;
	tv.tv_usec = 0;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol)) == -1) {
			e = errno;
			continue;
		}
		/* On Linux the send timeout bounds connect() too. */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv)) == 0 && setsockopt(fd, SOL_SOCKET,
		    SO_SNDTIMEO, &tv, sizeof(tv)) == 0 &&
		    connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		return ca_err_set(err, CA_ERR_IO, "cannot connect to %s: %s",
		    c->hostport, e == EINPROGRESS || e == EAGAIN ?
		    "timed out" : strerror(e));
	*fdp = fd;
	return 0;
}

static int
tls_open(const struct estc *c, int fd, SSL **sslp, struct ca_err *err)
{
	SSL *ssl;
	long vr;
	int ok;

	*sslp = NULL;
	if ((ssl = SSL_new(c->ctx)) == NULL || !SSL_set_fd(ssl, fd)) {
		SSL_free(ssl);
		return ca_err_ssl(err, CA_ERR_CRYPTO, "setting up TLS");
	}
	if (c->is_ip)
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    c->host);
	else
		ok = SSL_set1_host(ssl, c->host) &&
		    SSL_set_tlsext_host_name(ssl, c->host);
	if (!ok) {
		SSL_free(ssl);
		return ca_err_ssl(err, CA_ERR_CRYPTO, "setting up TLS for %s",
		    c->host);
	}
	if (SSL_connect(ssl) != 1) {
		vr = SSL_get_verify_result(ssl);
		if (vr == X509_V_ERR_HOSTNAME_MISMATCH ||
		    vr == X509_V_ERR_IP_ADDRESS_MISMATCH) {
			ERR_clear_error();
			ca_err_set(err, CA_ERR_AUTH, "TLS handshake with %s "
			    "failed: the server's certificate does not name "
			    "%s (%s); use a host name or address it names",
			    c->hostport, c->host,
			    X509_verify_cert_error_string(vr));
		} else if (vr != X509_V_OK) {
			ERR_clear_error();
			ca_err_set(err, CA_ERR_AUTH, "TLS handshake with %s "
			    "failed: the server's certificate does not verify "
			    "against --cacert %s: %s (give the CA that issued "
			    "the server's TLS certificate, e.g. the CA "
			    "directory's chain.pem)", c->hostport, c->cafile,
			    X509_verify_cert_error_string(vr));
		} else
			io_error(c, ssl, 0, "TLS handshake", err);
		SSL_free(ssl);
		return CA_ERR_AUTH;
	}
	*sslp = ssl;
	return 0;
}

/* Why a TLS read, write or handshake failed. */
static int
io_error(const struct estc *c, SSL *ssl, int ret, const char *what,
    struct ca_err *err)
{
	int e = errno, se = SSL_get_error(ssl, ret);
	const char *hint = c->client_cert ? " (" CERT_HINT ")" : "";

	if (se == SSL_ERROR_SYSCALL && (e == EAGAIN || e == EWOULDBLOCK))
		return ca_err_set(err, CA_ERR_IO, "%s with %s: timed out "
		    "after %d s", what, c->hostport, ESTC_TIMEOUT);
	if (se == SSL_ERROR_SYSCALL && e != 0)
		return ca_err_set(err, CA_ERR_IO, "%s with %s: %s%s", what,
		    c->hostport, strerror(e), hint);
	if (ERR_peek_error() != 0) {
		ca_err_ssl(err, CA_ERR_IO, "%s with %s failed", what,
		    c->hostport);
		if (c->client_cert)
			ca_err_set(err, CA_ERR_IO, "%s", CERT_HINT);
		return CA_ERR_IO;
	}
	return ca_err_set(err, CA_ERR_IO, "%s with %s failed: the server "
	    "closed the connection%s", what, c->hostport, hint);
}

static int
send_all(const struct estc *c, SSL *ssl, const char *buf, size_t len,
    struct ca_err *err)
{
	size_t off = 0, n;
	int ret;

	while (off < len) {
		errno = 0;
		if ((ret = SSL_write_ex(ssl, buf + off, len - off, &n)) != 1)
			return io_error(c, ssl, ret, "sending the request",
			    err);
		off += n;
	}
	return 0;
}

static int
recv_resp(const struct estc *c, SSL *ssl, struct estc_resp **respp,
    struct ca_err *err)
{
	unsigned char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n, ncap;
	time_t start = time(NULL);
	int r, ret, eof = 0;

	*respp = NULL;
	for (;;) {
		if (time(NULL) - start > ESTC_DEADLINE) {
			r = ca_err_set(err, CA_ERR_IO, "%s took more than %d s "
			    "to answer", c->hostport, ESTC_DEADLINE);
			goto out;
		}
		if (len == cap) {
			if (cap == ESTC_MAX_RESP) {
				r = ca_err_set(err, CA_ERR_INVALID, "the "
				    "answer of %s is larger than %d bytes",
				    c->hostport, ESTC_MAX_RESP);
				goto out;
			}
			ncap = cap == 0 ? 16384 : cap * 2;
			if (ncap > ESTC_MAX_RESP)
				ncap = ESTC_MAX_RESP;
			/* The answer may hold a private key: no realloc. */
			if ((nb = malloc(ncap)) == NULL) {
				r = ca_err_set(err, CA_ERR_NOMEM,
				    "out of memory");
				goto out;
			}
			if (len > 0)
				memcpy(nb, buf, len);
			if (buf != NULL)
				OPENSSL_clear_free(buf, cap);
			buf = nb;
			cap = ncap;
		}
		errno = 0;
		if ((ret = SSL_read_ex(ssl, buf + len, cap - len, &n)) == 1)
			len += n;
		else if (SSL_get_error(ssl, ret) == SSL_ERROR_ZERO_RETURN)
			eof = 1;
		else {
			r = io_error(c, ssl, ret, "reading the answer", err);
			goto out;
		}
		if (eof && len == 0) {
			r = ca_err_set(err, CA_ERR_IO, "%s closed the "
			    "connection without an answer%s", c->hostport,
			    c->client_cert ? " (" CERT_HINT ")" : "");
			goto out;
		}
		if ((r = estc_http_parse(buf, len, eof, respp, err)) !=
		    ESTC_MORE)
			goto out;
		if (eof) {
			r = ca_err_set(err, CA_ERR_INTERNAL, "incomplete "
			    "answer at EOF");
			goto out;
		}
	}
 out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, cap);
	return r;
}

int
estc_request(struct estc *c, const char *method, const char *path,
    const char *ctype, const void *body, size_t len,
    struct estc_resp **respp, struct ca_err *err)
{
	char *head = NULL;
	SSL *ssl = NULL;
	int fd = -1, n, r;

	*respp = NULL;
	n = asprintf(&head, "%s %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "User-Agent: smimeca-enroll/%s\r\n"
	    "Accept: */*\r\n"
	    "%s%s%s"
	    "%s%s%s"
	    "Content-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", method, path, c->hostport,
	    PACKAGE_VERSION,
	    c->auth != NULL ? "Authorization: " : "",
	    c->auth != NULL ? c->auth : "", c->auth != NULL ? "\r\n" : "",
	    ctype != NULL ? "Content-Type: " : "",
	    ctype != NULL ? ctype : "", ctype != NULL ? "\r\n" : "", len);
	if (n < 0) {
		head = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = dial(c, &fd, err)) != 0 ||
	    (r = tls_open(c, fd, &ssl, err)) != 0 ||
	    (r = send_all(c, ssl, head, (size_t)n, err)) != 0 ||
	    (len > 0 && (r = send_all(c, ssl, body, len, err)) != 0) ||
	    (r = recv_resp(c, ssl, respp, err)) != 0)
		goto out;
	r = 0;
 out:
	if (ssl != NULL) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	if (fd != -1)
		close(fd);
	if (head != NULL)
		OPENSSL_clear_free(head, strlen(head));
	ERR_clear_error();
	return r;
}

void
estc_resp_free(struct estc_resp *resp)
{
	if (resp == NULL)
		return;
	if (resp->body != NULL)
		OPENSSL_clear_free(resp->body, resp->len + 1);
	free(resp);
}

/* Bytes as one printable line, at most outlen - 1 of them. */
static void
printable(const unsigned char *s, size_t len, char *out, size_t outlen)
{
	size_t i, j = 0;

	for (i = 0; i < len && j + 1 < outlen; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			break;
		out[j++] = s[i] >= 0x20 && s[i] != 0x7f ? (char)s[i] : '?';
	}
	while (j > 0 && out[j - 1] == ' ')
		j--;
	out[j] = '\0';
}

int
estc_expect_ok(const struct estc_resp *resp, const char *what,
    struct ca_err *err)
{
	char mt[64], reason[REASON_MAX + 1] = "";

	if (resp->status == 200)
		return 0;
	estc_media_type(resp->ctype, mt, sizeof(mt));
	if (strncmp(mt, "text/", 5) == 0)
		printable(resp->body, resp->len, reason, sizeof(reason));
	if (resp->status == 202 && resp->retry_after >= 0)
		return ca_err_set(err, CA_ERR_POLICY, "server said 202: %s is "
		    "pending, nothing issued yet (retry after %ld s)%s%s",
		    what, resp->retry_after, *reason ? ": " : "", reason);
	if (resp->status == 202)
		return ca_err_set(err, CA_ERR_POLICY, "server said 202: %s is "
		    "pending, nothing issued yet%s%s", what,
		    *reason ? ": " : "", reason);
	if (*reason == '\0')
		return ca_err_set(err, resp->status == 401 ? CA_ERR_AUTH :
		    CA_ERR_POLICY, "server said %d (no reason given, "
		    "Content-Type \"%s\") to %s", resp->status, resp->ctype,
		    what);
	return ca_err_set(err, resp->status == 401 ? CA_ERR_AUTH :
	    CA_ERR_POLICY, "server said %d: %s", resp->status, reason);
}

void
estc_media_type(const char *ctype, char *buf, size_t len)
{
	size_t n;

	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	n = strcspn(ctype, ";");

	while (n > 0 && (ctype[n - 1] == ' ' || ctype[n - 1] == '\t'))
		n--;
	if (len == 0)
		return;
	if (n >= len)
		n = 0;	/* too long to be one we know */
	memcpy(buf, ctype, n);
	buf[n] = '\0';
	for (n = 0; buf[n] != '\0'; n++)
		if (buf[n] >= 'A' && buf[n] <= 'Z')
			buf[n] += 'a' - 'A';
}

/* The line at p (without CR LF) ends at *lendp; NULL if incomplete. */
static const unsigned char *
next_line(const unsigned char *p, const unsigned char *end,
    const unsigned char **lendp)
{
	const unsigned char *nl;

	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
		return NULL;
	*lendp = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
	return nl + 1;
}

/* Is the header line a "name:"? */
static int
header_is(const unsigned char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && line[n] == ':' &&
	    strncasecmp((const char *)line, name, n) == 0;
}

/*
 * Decodes a chunked body from p into out (*outlen bytes); 0 when complete,
 * ESTC_MORE when it stops early, -1 when malformed.
 */
static int
dechunk(const unsigned char *p, const unsigned char *end, unsigned char *out,
    size_t *outlen)
{
	const unsigned char *lend, *next;
	size_t size, o = 0;
	int digits;

	for (;;) {
		if ((next = next_line(p, end, &lend)) == NULL)
			return ESTC_MORE;
		size = 0;
		digits = 0;
		for (; p < lend && *p != ';'; p++, digits++) {
			int v;

			if (*p >= '0' && *p <= '9')
				v = *p - '0';
			else if (*p >= 'a' && *p <= 'f')
				v = *p - 'a' + 10;
			else if (*p >= 'A' && *p <= 'F')
				v = *p - 'A' + 10;
			else if (*p == ' ' || *p == '\t')
				break;
			else
				return -1;
			if (size > ESTC_MAX_RESP)
				return -1;
			size = size * 16 + (size_t)v;
		}
		if (digits == 0 || size > ESTC_MAX_RESP)
			return -1;
		p = next;
		if (size == 0)
			break;
		if ((size_t)(end - p) < size)
			return ESTC_MORE;
		memcpy(out + o, p, size);
		o += size;
		p += size;
		if ((next = next_line(p, end, &lend)) == NULL)
			return end - p < 2 ? ESTC_MORE : -1;
		if (lend != p)
			return -1;
		p = next;
	}
	/* Trailers, up to an empty line. */
	for (;;) {
		if ((next = next_line(p, end, &lend)) == NULL)
			return ESTC_MORE;
		if (lend == p)
			break;
		p = next;
	}
	*outlen = o;
	return 0;
}

int
estc_http_parse(const unsigned char *buf, size_t len, int eof,
    struct estc_resp **respp, struct ca_err *err)
{
	const unsigned char *p = buf, *end = buf + len, *lend, *next, *v;
	struct estc_resp *resp = NULL;
	size_t cl = 0, blen = 0, bcap = 0, n, vlen;
	int status = 0, have_cl = 0, chunked = 0, r, i;
	long retry = -1;
	char ctype[sizeof(resp->ctype)] = "";
	unsigned char *body = NULL;

	*respp = NULL;
 again:
	if ((next = next_line(p, end, &lend)) == NULL)
		goto more;
	if (lend - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    p[7] < '0' || p[7] > '9' || p[8] != ' ')
		goto bad;
	for (i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			goto bad;
		status = status * 10 + (p[i] - '0');
	}
	if (status < 100 || (lend - p > 12 && p[12] != ' '))
		goto bad;
	/* Headers, up to the empty line. */
	for (p = next;; p = next) {
		if ((next = next_line(p, end, &lend)) == NULL)
			goto more;
		if (lend == p)
			break;
		n = (size_t)(lend - p);
		if (*p == ' ' || *p == '\t' || memchr(p, ':', n) == NULL)
			goto bad;	/* folded or not a header */
		v = (const unsigned char *)memchr(p, ':', n) + 1;
		while (v < lend && (*v == ' ' || *v == '\t'))
			v++;
		vlen = (size_t)(lend - v);
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (header_is(p, n, "content-type")) {
			if (vlen >= sizeof(ctype))
				goto bad;
			memcpy(ctype, v, vlen);
			ctype[vlen] = '\0';
		} else if (header_is(p, n, "content-length")) {
			size_t x = 0, k;

			if (vlen == 0)
				goto bad;
			for (k = 0; k < vlen; k++) {
				if (v[k] < '0' || v[k] > '9' ||
				    x > ESTC_MAX_RESP)
					goto bad;
				x = x * 10 + (size_t)(v[k] - '0');
			}
			if (x > ESTC_MAX_RESP || (have_cl && x != cl))
				goto bad;
			cl = x;
			have_cl = 1;
		} else if (header_is(p, n, "transfer-encoding")) {
			const unsigned char *last = v + vlen;

			while (last > v && last[-1] != ',')
				last--;
			while (last < v + vlen && (*last == ' ' ||
			    *last == '\t'))
				last++;
			if ((size_t)(v + vlen - last) != 7 ||
			    strncasecmp((const char *)last, "chunked", 7) != 0)
				goto bad;
			chunked = 1;
		} else if (header_is(p, n, "retry-after")) {
			long x = 0;
			size_t k;

			for (k = 0; k < vlen && k < 9 && v[k] >= '0' &&
			    v[k] <= '9'; k++)
				x = x * 10 + (v[k] - '0');
			if (k == vlen && k > 0)
				retry = x;
		}
	}
	p = next;
	/* An interim answer (100 Continue): the real one follows. */
	if (status < 200) {
		status = 0;
		have_cl = chunked = 0;
		cl = 0;
		retry = -1;
		ctype[0] = '\0';
		goto again;
	}
	bcap = (size_t)(end - p) + 1;
	if ((body = malloc(bcap)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (status == 204 || status == 304)
		blen = 0;
	else if (chunked) {
		if ((r = dechunk(p, end, body, &blen)) == ESTC_MORE)
			goto more;
		if (r != 0)
			goto bad;
	} else if (have_cl) {
		if ((size_t)(end - p) < cl)
			goto more;
		memcpy(body, p, cl);
		blen = cl;
	} else {
		if (!eof)
			goto more;
		blen = (size_t)(end - p);
		memcpy(body, p, blen);
	}
	body[blen] = '\0';
	if ((resp = calloc(1, sizeof(*resp))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	resp->status = status;
	memcpy(resp->ctype, ctype, sizeof(ctype));
	resp->retry_after = retry;
	resp->body = body;
	resp->len = blen;
	body = NULL;
	*respp = resp;
	r = 0;
	goto out;
 more:
	r = ESTC_MORE;
	if (eof)
		r = ca_err_set(err, CA_ERR_INVALID, "the answer ended early "
		    "(%zu bytes; truncated)", len);
	goto out;
 bad:
	r = ca_err_set(err, CA_ERR_INVALID, "the answer is not HTTP/1.1 "
	    "this client can read");
 out:
	if (body != NULL)
		OPENSSL_clear_free(body, bcap);
	return r;
}

int
estc_unbase64(const unsigned char *in, size_t len, unsigned char **outp,
    size_t *lenp, struct ca_err *err)
{
	unsigned char *clean = NULL, *out = NULL;
	size_t i, n = 0, pad = 0;
	int dl, r = CA_ERR_INVALID;

	*outp = NULL;
	*lenp = 0;
	if (len > ESTC_MAX_RESP)
		return ca_err_set(err, CA_ERR_INVALID, "base64 too long");
	if ((clean = malloc(len + 1)) == NULL ||
	    (out = malloc(len / 4 * 3 + 3)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < len; i++) {
		unsigned char ch = in[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (pad > 0 && ch != '=')
			goto bad;	/* '=' only at the end */
		if (ch == '=')
			pad++;
		else if (!((ch >= 'A' && ch <= 'Z') ||
		    (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '+' || ch == '/'))
			goto bad;
		clean[n++] = ch;
	}
	if (n == 0 || n % 4 != 0 || pad > 2)
		goto bad;
	if ((dl = EVP_DecodeBlock(out, clean, (int)n)) < 0 ||
	    (size_t)dl < pad)
		goto bad;
	*lenp = (size_t)dl - pad;
	*outp = out;
	out = NULL;
	r = 0;
	goto out;
 bad:
	r = ca_err_set(err, CA_ERR_INVALID, "the answer is not base64");
 out:
	if (clean != NULL)
		OPENSSL_clear_free(clean, len + 1);
	if (out != NULL)
		OPENSSL_clear_free(out, len / 4 * 3 + 3);
	return r;
}

int
estc_certs_only(const unsigned char *der, size_t len,
    STACK_OF(X509) **certsp, struct ca_err *err)
{
	const unsigned char *p = der;
	STACK_OF(X509) *in, *certs = NULL;
	PKCS7 *p7 = NULL;
	X509 *x;
	int i, r = CA_ERR_INVALID;

	*certsp = NULL;
	if (len > LONG_MAX ||
	    (p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL ||
	    p != der + len || !PKCS7_type_is_signed(p7) ||
	    p7->d.sign == NULL || (in = p7->d.sign->cert) == NULL ||
	    sk_X509_num(in) == 0) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "the answer is not a "
		    "certs-only PKCS#7 with a certificate in it");
		goto out;
	}
	if ((certs = sk_X509_new_null()) == NULL)
		goto nomem;
	for (i = 0; i < sk_X509_num(in); i++) {
		x = sk_X509_value(in, i);
		if (!X509_up_ref(x))
			goto nomem;
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			goto nomem;
		}
	}
	*certsp = certs;
	certs = NULL;
	r = 0;
	goto out;
 nomem:
	r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
 out:
	sk_X509_pop_free(certs, X509_free);
	PKCS7_free(p7);
	return r;
}

/* A Content-Type parameter's value (token or quoted-string); 0 if found. */
static int
param_of(const char *ctype, const char *name, char *out, size_t outlen)
{
	const char *p = strchr(ctype, ';');
	size_t nlen = strlen(name), n;

	while (p != NULL) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == '=') {
			p += nlen + 1;
			if (*p == '"') {
				p++;
				n = strcspn(p, "\"");
				if (p[n] != '"')
					return -1;
			} else {
				n = strcspn(p, "; \t");
			}
			if (n == 0 || n >= outlen)
				return -1;
			memcpy(out, p, n);
			out[n] = '\0';
			return 0;
		}
		p = strchr(p, ';');
	}
	return -1;
}

/*
 * The next "--boundary" that starts a line and is followed by "--",
 * blanks or the end of the line; NULL if none.
 */
static const unsigned char *
find_delim(const unsigned char *p, const unsigned char *end,
    const char *delim, size_t dlen)
{
	const unsigned char *start = p, *q;

	while ((size_t)(end - p) >= dlen) {
		if ((q = memchr(p, '-', (size_t)(end - p) - dlen + 1)) ==
		    NULL)
			return NULL;
		if (memcmp(q, delim, dlen) == 0 &&
		    (q == start || q[-1] == '\n') &&
		    (q + dlen == end || q[dlen] == '-' || q[dlen] == ' ' ||
		    q[dlen] == '\t' || q[dlen] == '\r' || q[dlen] == '\n'))
			return q;
		p = q + 1;
	}
	return NULL;
}

int
estc_multipart(const char *ctype, const unsigned char *body, size_t len,
    struct estc_part *parts, size_t maxparts, size_t *np,
    struct ca_err *err)
{
	const unsigned char *end = body + len, *p, *d, *nd, *pend, *lend;
	const unsigned char *next, *v;
	char mt[64], boundary[71], delim[75];
	size_t dlen, n = 0, vlen;

	*np = 0;
	estc_media_type(ctype, mt, sizeof(mt));
	if (strncmp(mt, "multipart/", 10) != 0 ||
	    param_of(ctype, "boundary", boundary, sizeof(boundary)) != 0)
		return ca_err_set(err, CA_ERR_INVALID, "the answer is not "
		    "multipart with a boundary (Content-Type \"%s\")", ctype);
	dlen = (size_t)snprintf(delim, sizeof(delim), "--%s", boundary);
	if ((d = find_delim(body, end, delim, dlen)) == NULL)
		goto bad;
	for (;;) {
		p = d + dlen;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			break;	/* the close delimiter */
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p < end && *p == '\r')
			p++;
		if (p >= end || *p != '\n')
			goto bad;
		p++;
		if ((nd = find_delim(p, end, delim, dlen)) == NULL)
			goto bad;
		/* The line break before a delimiter belongs to it. */
		pend = nd;
		if (pend > p && pend[-1] == '\n')
			pend--;
		if (pend > p && pend[-1] == '\r')
			pend--;
		if (n == maxparts)
			return ca_err_set(err, CA_ERR_INVALID, "the multipart "
			    "answer has more than %zu parts", maxparts);
		memset(&parts[n], 0, sizeof(parts[n]));
		for (;; p = next) {
			if ((next = next_line(p, pend, &lend)) == NULL)
				goto bad;
			if (lend == p)
				break;
			if (!header_is(p, (size_t)(lend - p), "content-type"))
				continue;
			v = (const unsigned char *)memchr(p, ':',
			    (size_t)(lend - p)) + 1;
			while (v < lend && (*v == ' ' || *v == '\t'))
				v++;
			vlen = (size_t)(lend - v);
			if (vlen >= sizeof(parts[n].ctype))
				goto bad;
			memcpy(parts[n].ctype, v, vlen);
			parts[n].ctype[vlen] = '\0';
		}
		parts[n].body = next;
		parts[n].len = (size_t)(pend - next);
		n++;
		d = nd;
	}
	*np = n;
	return 0;
 bad:
	return ca_err_set(err, CA_ERR_INVALID, "the multipart answer is "
	    "malformed (boundary \"%s\")", boundary);
}

int
estc_label_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') &&
		    strchr("-_.", s[i]) == NULL)
			return 0;
	return i > 0 && i <= 63 && s[0] != '.';
}

static int
est_path(const char *label, const char *op, char *buf, size_t len,
    struct ca_err *err)
{
	if (label != NULL && !estc_label_ok(label))
		return ca_err_set(err, CA_ERR_INVALID, "template %s: a name "
		    "of letters, digits, '-', '_' and '.' (at most 63)",
		    label);
	snprintf(buf, len, "%s%s%s%s", EST_PREFIX, label ? label : "",
	    label ? "/" : "", op);
	return 0;
}

/* POSTs DER as base64 to the EST operation op; any answer comes back. */
static int
post_der(struct estc *c, const char *label, const char *op,
    const char *ctype, const unsigned char *der, size_t len,
    struct estc_resp **respp, struct ca_err *err)
{
	char path[128];
	char *b64 = NULL;
	int n, r;

	*respp = NULL;
	if ((r = est_path(label, op, path, sizeof(path), err)) != 0)
		return r;
	if (len > ESTC_MAX_RESP ||
	    (b64 = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	n = EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
	r = estc_request(c, "POST", path, ctype, b64, (size_t)n, respp, err);
	free(b64);
	return r;
}

static int
media_is(const struct estc_resp *resp, const char *want, const char *what,
    struct ca_err *err)
{
	char mt[64];

	estc_media_type(resp->ctype, mt, sizeof(mt));
	if (strcmp(mt, want) == 0)
		return 0;
	return ca_err_set(err, CA_ERR_INVALID, "%s: the server answered "
	    "\"%s\", not %s", what, resp->ctype, want);
}

int
estc_simpleenroll(struct estc *c, const char *label, X509_REQ *csr,
    int renew, STACK_OF(X509) **certsp, struct ca_err *err)
{
	const char *op = renew ? "simplereenroll" : "simpleenroll";
	struct estc_resp *resp = NULL;
	unsigned char *der = NULL, *p7 = NULL;
	size_t p7len;
	int len, r;

	*certsp = NULL;
	if ((len = i2d_X509_REQ(csr, &der)) <= 0)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the request");
	if ((r = post_der(c, label, op, CT_PKCS10, der, (size_t)len, &resp,
	    err)) != 0 ||
	    (r = estc_expect_ok(resp, op, err)) != 0 ||
	    (r = media_is(resp, "application/pkcs7-mime", op, err)) != 0 ||
	    (r = estc_unbase64(resp->body, resp->len, &p7, &p7len,
	    err)) != 0 ||
	    (r = estc_certs_only(p7, p7len, certsp, err)) != 0)
		goto out;
	r = 0;
 out:
	OPENSSL_free(der);
	free(p7);
	estc_resp_free(resp);
	return r;
}

int
estc_serverkeygen(struct estc *c, const char *label, X509_REQ *csr,
    EVP_PKEY **keyp, STACK_OF(X509) **certsp, struct ca_err *err)
{
	struct estc_resp *resp = NULL;
	struct estc_part parts[MAX_PARTS];
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	unsigned char *der = NULL, *kder = NULL, *cder = NULL;
	const unsigned char *p;
	size_t np = 0, klen = 0, clen, i;
	char mt[64], st[64];
	int len, r;

	*keyp = NULL;
	*certsp = NULL;
	if ((len = i2d_X509_REQ(csr, &der)) <= 0)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the request");
	if ((r = post_der(c, label, "serverkeygen", CT_PKCS10, der,
	    (size_t)len, &resp, err)) != 0 ||
	    (r = estc_expect_ok(resp, "serverkeygen", err)) != 0 ||
	    (r = estc_multipart(resp->ctype, resp->body, resp->len, parts,
	    MAX_PARTS, &np, err)) != 0)
		goto out;
	for (i = 0; i < np; i++) {
		estc_media_type(parts[i].ctype, mt, sizeof(mt));
		if (strcmp(mt, "application/pkcs8") == 0 && key == NULL) {
			if ((r = estc_unbase64(parts[i].body, parts[i].len,
			    &kder, &klen, err)) != 0)
				goto out;
			p = kder;
			if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p,
			    (long)klen)) == NULL || p != kder + klen ||
			    (key = EVP_PKCS82PKEY(p8)) == NULL) {
				r = ca_err_ssl(err, CA_ERR_INVALID,
				    "serverkeygen: the application/pkcs8 "
				    "part is not a PKCS#8 private key");
				goto out;
			}
		} else if (strcmp(mt, "application/pkcs7-mime") == 0 &&
		    (param_of(parts[i].ctype, "smime-type", st,
		    sizeof(st)) != 0 || strcasecmp(st, "certs-only") == 0) &&
		    certs == NULL) {
			if ((r = estc_unbase64(parts[i].body, parts[i].len,
			    &cder, &clen, err)) != 0 ||
			    (r = estc_certs_only(cder, clen, &certs,
			    err)) != 0)
				goto out;
		} else if (strcmp(mt, "application/pkcs7-mime") == 0) {
			r = ca_err_set(err, CA_ERR_INVALID, "serverkeygen: "
			    "the server sent the key encrypted (%s), which "
			    "this client does not take", parts[i].ctype);
			goto out;
		}
	}
	if (key == NULL || certs == NULL) {
		r = ca_err_set(err, CA_ERR_INVALID, "serverkeygen: the answer "
		    "lacks the %s part", key == NULL ? "application/pkcs8 "
		    "(key)" : "certs-only (certificate)");
		goto out;
	}
	*keyp = key;
	*certsp = certs;
	key = NULL;
	certs = NULL;
	r = 0;
 out:
	OPENSSL_free(der);
	if (kder != NULL)
		OPENSSL_clear_free(kder, klen);
	free(cder);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	estc_resp_free(resp);
	return r;
}

/* An OCTET STRING attribute value, copied if it fits. */
static int
octets(const ASN1_TYPE *t, unsigned char *out, size_t *lenp)
{
	int n;

	if (t == NULL || t->type != V_ASN1_OCTET_STRING ||
	    (n = ASN1_STRING_length(t->value.octet_string)) <= 0 ||
	    n > EVP_MAX_MD_SIZE)
		return -1;
	memcpy(out, ASN1_STRING_get0_data(t->value.octet_string),
	    (size_t)n);
	*lenp = (size_t)n;
	return 0;
}

static int
cmc_controls(CMC_PKIRESPONSE *resp, struct estc_cmc *cmc,
    struct ca_err *err)
{
	CMC_TAGGED_ATTR *ta;
	CMC_STATUS_INFO *si = NULL;
	CMC_ADD_ATTRS *aa = NULL;
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	char oid[80];
	int i, j, r = CA_ERR_INVALID;

	for (i = 0; i < sk_CMC_TAGGED_ATTR_num(resp->controls); i++) {
		ta = sk_CMC_TAGGED_ATTR_value(resp->controls, i);
		if (OBJ_obj2txt(oid, sizeof(oid), ta->type, 1) <= 0 ||
		    sk_ASN1_TYPE_num(ta->values) < 1)
			continue;
		t = sk_ASN1_TYPE_value(ta->values, 0);
		if (strcmp(oid, OID_CMC_STATUS_INFO) == 0) {
			if (t->type != V_ASN1_SEQUENCE || (si =
			    ASN1_item_unpack(t->value.sequence,
			    ASN1_ITEM_rptr(CMC_STATUS_INFO))) == NULL)
				goto bad;
			cmc->status = ASN1_INTEGER_get(si->status);
			if (si->fail_info != NULL)
				cmc->fail_info = ASN1_INTEGER_get(
				    si->fail_info);
			if (si->status_string != NULL)
				printable(ASN1_STRING_get0_data(
				    si->status_string),
				    (size_t)ASN1_STRING_length(
				    si->status_string), cmc->status_string,
				    sizeof(cmc->status_string));
			CMC_STATUS_INFO_free(si);
			si = NULL;
		} else if (strcmp(oid, OID_MS_CMC_ADD_ATTRS) == 0) {
			if (t->type != V_ASN1_SEQUENCE || (aa =
			    ASN1_item_unpack(t->value.sequence,
			    ASN1_ITEM_rptr(CMC_ADD_ATTRS))) == NULL)
				goto bad;
			for (j = 0; j < sk_X509_ATTRIBUTE_num(aa->attrs);
			    j++) {
				a = sk_X509_ATTRIBUTE_value(aa->attrs, j);
				if (OBJ_obj2txt(oid, sizeof(oid),
				    X509_ATTRIBUTE_get0_object(a), 1) <= 0)
					continue;
				if (strcmp(oid, OID_MS_ISSUED_CERT_HASH) == 0 &&
				    octets(X509_ATTRIBUTE_get0_type(a, 0),
				    cmc->cert_hash, &cmc->cert_hash_len) != 0)
					goto bad;
				if (strcmp(oid, OID_MS_ENC_KEY_HASH) == 0 &&
				    octets(X509_ATTRIBUTE_get0_type(a, 0),
				    cmc->key_hash, &cmc->key_hash_len) != 0)
					goto bad;
			}
			CMC_ADD_ATTRS_free(aa);
			aa = NULL;
		}
	}
	return 0;
 bad:
	r = ca_err_set(err, CA_ERR_INVALID, "the CMC response has a "
	    "malformed %s control", oid);
	CMC_STATUS_INFO_free(si);
	CMC_ADD_ATTRS_free(aa);
	return r;
}

int
estc_fullcmc(struct estc *c, const char *label, const unsigned char *req,
    size_t reqlen, struct estc_cmc *cmc, struct ca_err *err)
{
	struct estc_resp *resp = NULL;
	CMS_ContentInfo *cms = NULL;
	CMC_PKIRESPONSE *pr = NULL;
	STACK_OF(X509) *signers = NULL;
	ASN1_OBJECT *want = NULL;
	BIO *out = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	char *content;
	size_t len;
	long clen;
	int r;

	memset(cmc, 0, sizeof(*cmc));
	cmc->status = cmc->fail_info = -1;
	if ((r = post_der(c, label, "fullcmc", CT_CMC_REQ, req, reqlen, &resp,
	    err)) != 0 ||
	    (r = estc_expect_ok(resp, "fullcmc", err)) != 0 ||
	    (r = media_is(resp, "application/pkcs7-mime", "fullcmc",
	    err)) != 0 ||
	    (r = estc_unbase64(resp->body, resp->len, &der, &len, err)) != 0)
		goto out;
	r = CA_ERR_INVALID;
	p = der;
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL ||
	    p != der + len ||
	    OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    (want = OBJ_txt2obj(OID_CCT_PKIRESPONSE, 1)) == NULL ||
	    OBJ_cmp(CMS_get0_eContentType(cms), want) != 0) {
		ca_err_ssl(err, r, "fullcmc: the answer is not a CMS "
		    "SignedData of a CMC PKIResponse");
		goto out;
	}
	if ((out = BIO_new(BIO_s_mem())) == NULL ||
	    CMS_verify(cms, NULL, estc_store(c), NULL, out,
	    CMS_BINARY) != 1) {
		ca_err_ssl(err, CA_ERR_AUTH, "fullcmc: the signature of the "
		    "CMC response does not verify against --cacert %s",
		    c->cafile);
		r = CA_ERR_AUTH;
		goto out;
	}
	if ((signers = CMS_get0_signers(cms)) == NULL ||
	    sk_X509_num(signers) != 1 ||
	    X509_check_ca(sk_X509_value(signers, 0)) == 0) {
		r = ca_err_set(err, CA_ERR_AUTH, "fullcmc: the CMC response "
		    "is not signed by one CA certificate");
		goto out;
	}
	cmc->signer = sk_X509_value(signers, 0);
	if (!X509_up_ref(cmc->signer)) {
		cmc->signer = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	clen = BIO_get_mem_data(out, &content);
	p = (const unsigned char *)content;
	if ((pr = d2i_CMC_PKIRESPONSE(NULL, &p, clen)) == NULL ||
	    p != (const unsigned char *)content + clen) {
		ca_err_ssl(err, r, "fullcmc: the CMC response's content is "
		    "not a PKIResponse");
		goto out;
	}
	if ((r = cmc_controls(pr, cmc, err)) != 0)
		goto out;
	if ((cmc->certs = CMS_get1_certs(cms)) == NULL)
		cmc->certs = sk_X509_new_null();
	r = cmc->certs != NULL ? 0 : ca_err_set(err, CA_ERR_NOMEM,
	    "out of memory");
 out:
	if (r != 0)
		estc_cmc_clear(cmc);
	sk_X509_free(signers);
	CMC_PKIRESPONSE_free(pr);
	BIO_free(out);
	ASN1_OBJECT_free(want);
	CMS_ContentInfo_free(cms);
	free(der);
	estc_resp_free(resp);
	return r;
}

void
estc_cmc_clear(struct estc_cmc *cmc)
{
	sk_X509_pop_free(cmc->certs, X509_free);
	X509_free(cmc->signer);
	memset(cmc, 0, sizeof(*cmc));
	cmc->status = cmc->fail_info = -1;
}

int
estc_exchange(struct estc *c, X509 **certp, struct ca_err *err)
{
	struct estc_resp *resp = NULL;
	X509_STORE_CTX *ctx = NULL;
	EXTENDED_KEY_USAGE *eku = NULL;
	ASN1_OBJECT *want = NULL;
	X509 *x = NULL;
	BIO *b = NULL;
	int i, found = 0, r;

	*certp = NULL;
	if ((r = estc_request(c, "GET", "/ca/exchange?format=pem", NULL,
	    NULL, 0, &resp, err)) != 0 ||
	    (r = estc_expect_ok(resp, "/ca/exchange", err)) != 0)
		goto out;
	r = CA_ERR_INVALID;
	if ((b = BIO_new_mem_buf(resp->body, (int)resp->len)) == NULL ||
	    (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
		ca_err_ssl(err, r, "/ca/exchange: the answer is not a PEM "
		    "certificate");
		goto out;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, estc_store(c), x, NULL)) {
		r = ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		r = ca_err_set(err, CA_ERR_AUTH, "the CA exchange certificate "
		    "from %s does not verify against --cacert %s: %s",
		    c->hostport, c->cafile, X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if ((want = OBJ_txt2obj(OID_MS_KP_CA_EXCHANGE, 1)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	for (i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), want) == 0)
			found = 1;
	if (!found) {
		r = ca_err_set(err, CA_ERR_INVALID, "the certificate from "
		    "%s/ca/exchange lacks the CA exchange EKU %s",
		    c->hostport, OID_MS_KP_CA_EXCHANGE);
		goto out;
	}
	*certp = x;
	x = NULL;
	r = 0;
 out:
	ERR_clear_error();
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	ASN1_OBJECT_free(want);
	X509_STORE_CTX_free(ctx);
	BIO_free(b);
	X509_free(x);
	estc_resp_free(resp);
	return r;
}
