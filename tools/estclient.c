/*
 * EST client (RFC 7030) for smimeca-enroll: HTTPS through libcurl,
 * trusting the certificates of --cacert and nothing else. One curl handle
 * per client, so the requests of one enrollment share a connection; no
 * proxy, not even from the environment (a lab talks to its CA directly);
 * answers bounded by ESTC_MAX_RESP. estclient-parse.c reads the answers.
 */
#include "ac-config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "ca/dynbuf.h"
#include "ca/err.h"
#include "tools/estclient.h"

#define EST_PREFIX	"/.well-known/est/"
#define CT_PKCS10	"application/pkcs10"
#define CT_CMC_REQ	"application/pkcs7-mime; smime-type=CMC-request"
#define ESTC_TIMEOUT	60	/* seconds to connect, or with no byte */
#define ESTC_DEADLINE	300	/* seconds for a whole answer */
#define ESTC_REDIRS	5	/* redirects followed within the origin */
/* After a failure with a TLS client certificate in play. */
#define CERT_HINT	"did the server refuse the TLS client certificate? " \
	"Renewing over TLS needs a certificate whose key may sign (keyUsage " \
	"digitalSignature)"

struct estc {
	CURL *h;
	CURLU *base;		/* --url */
	X509_STORE *store;	/* --cacert, for what TLS does not check */
	char *host;		/* as curl has it, an IPv6 one in [] */
	char *hostport;		/* for messages */
	char *cafile;
	int client_cert;	/* a TLS client certificate is set */
	int global;		/* curl_global_init succeeded */
	char errbuf[CURL_ERROR_SIZE];
};

/* An answer's body as it arrives; it may hold a private key. */
struct sink {
	struct dynbuf d;	/* secret, capped at ESTC_MAX_RESP */
	int too_large;
	int nomem;
};

static int part_of(CURLU *, CURLUPart, char **);
static int parse_url(struct estc *, const char *, struct ca_err *);
static int no_pass(char *, int, int, void *);
static int setup(struct estc *, struct ca_err *);
static size_t on_body(char *, size_t, size_t, void *);
static int url_for(const struct estc *, const char *, char **,
    struct ca_err *);
static int same_origin(CURLU *, CURLU *);
static int redirect_url(struct estc *, int, char **, struct ca_err *);
static long retry_after(CURL *);
static int talk_error(const struct estc *, CURLcode, const struct sink *,
    struct ca_err *);
static int perform(struct estc *, const char *, struct curl_slist *,
    const void *, size_t, struct estc_resp **, struct ca_err *);
static int est_path(const char *, const char *, char *, size_t,
    struct ca_err *);
static int post_der(struct estc *, const char *, const char *,
    const char *, const unsigned char *, size_t, struct estc_resp **,
    struct ca_err *);

/* 1 if the URL has the part (a copy in *sp, for curl_free, if sp). */
static int
part_of(CURLU *u, CURLUPart what, char **sp)
{
	char *s = NULL;

	if (sp != NULL)
		*sp = NULL;
	if (curl_url_get(u, what, &s, what == CURLUPART_PORT ?
	    CURLU_DEFAULT_PORT : 0) != CURLUE_OK)
		return 0;
	if (sp != NULL)
		*sp = s;
	else
		curl_free(s);
	return 1;
}

/* https://HOST[:PORT] or https://[V6]:PORT, with nothing after but "/". */
static int
parse_url(struct estc *c, const char *url, struct ca_err *err)
{
	char *host = NULL, *port = NULL, *path = NULL, *ep;
	CURLUcode uc;
	long v;
	int r;

	if (strncasecmp(url, "https://", 8) != 0)
		return ca_err_set(err, CA_ERR_INVALID, "--url %s: give an "
		    "https:// URL (EST runs over TLS only)", url);
	if ((c->base = curl_url()) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if ((uc = curl_url_set(c->base, CURLUPART_URL, url, 0)) !=
	    CURLUE_OK) {
		r = ca_err_set(err, CA_ERR_INVALID, "--url %s: not a URL of "
		    "the form https://HOST[:PORT] (%s)", url,
		    curl_url_strerror(uc));
		goto out;
	}
	if (!part_of(c->base, CURLUPART_HOST, &host) ||
	    !part_of(c->base, CURLUPART_PORT, &port) ||
	    (v = strtol(port, &ep, 10)) < 1 || v > 65535 || *ep != '\0') {
		r = ca_err_set(err, CA_ERR_INVALID, "--url %s: not a URL of "
		    "the form https://HOST[:PORT]", url);
		goto out;
	}
	if ((part_of(c->base, CURLUPART_PATH, &path) &&
	    strcmp(path, "/") != 0) ||
	    part_of(c->base, CURLUPART_USER, NULL) ||
	    part_of(c->base, CURLUPART_PASSWORD, NULL) ||
	    part_of(c->base, CURLUPART_QUERY, NULL) ||
	    part_of(c->base, CURLUPART_FRAGMENT, NULL)) {
		r = ca_err_set(err, CA_ERR_INVALID, "--url %s: give the "
		    "server's origin only, https://HOST[:PORT] (the EST "
		    "paths under /.well-known/est/ are added)", url);
		goto out;
	}
	if (asprintf(&c->hostport, "%s:%s", host, port) == -1)
		c->hostport = NULL;
	if (c->hostport == NULL || (c->host = strdup(host)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = 0;
 out:
	curl_free(host);
	curl_free(port);
	curl_free(path);
	return r;
}

int
estc_url_check(const char *url, struct ca_err *err)
{
	struct estc c;
	int r;

	memset(&c, 0, sizeof(c));
	r = parse_url(&c, url, err);
	curl_url_cleanup(c.base);
	free(c.host);
	free(c.hostport);
	return r;
}

/* What libcurl does for every request of this client. */
static int
setup(struct estc *c, struct ca_err *err)
{
	CURL *h = c->h;

	if (curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https") !=
	    CURLE_OK ||
	    /* Redirects are ours to judge (redirect_url). */
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
	    /* "": no proxy, and none from http_proxy and its kin. */
	    curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CAINFO, c->cafile) != CURLE_OK ||
	    /* Not the system's CAs: --cacert alone. */
	    curl_easy_setopt(h, CURLOPT_CAPATH, NULL) != CURLE_OK ||
	    /* A chain ends at a root of --cacert, as estc_store checks. */
	    curl_easy_setopt(h, CURLOPT_SSL_OPTIONS,
	    (long)CURLSSLOPT_NO_PARTIALCHAIN) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT,
	    "smimeca-enroll/" PACKAGE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
	    (long)ESTC_TIMEOUT) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
	    (long)ESTC_TIMEOUT) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)ESTC_DEADLINE) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)ESTC_MAX_RESP) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK)
		return ca_err_set(err, CA_ERR_INTERNAL, "libcurl %s refuses "
		    "an option smimeca-enroll needs (libcurl 7.85 or later "
		    "with TLS is required)", curl_version_info(
		    CURLVERSION_NOW)->version);
	return 0;
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
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		r = ca_err_set(err, CA_ERR_INTERNAL, "libcurl does not start");
		goto out;
	}
	c->global = 1;
	if ((r = parse_url(c, url, err)) != 0)
		goto out;
	if ((c->cafile = strdup(cafile)) == NULL ||
	    (c->store = X509_STORE_new()) == NULL ||
	    (c->h = curl_easy_init()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (!X509_STORE_load_file(c->store, cafile)) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "--cacert %s: cannot read "
		    "CA certificates (PEM) from it", cafile);
		goto out;
	}
	if ((r = setup(c, err)) != 0)
		goto out;
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
	size_t i;

	for (i = 0; user[i] != '\0'; i++)
		if ((unsigned char)user[i] < 0x20 || user[i] == ':' ||
		    user[i] == 0x7f)
			return ca_err_set(err, CA_ERR_INVALID, "--user %s: an "
			    "account name has no colon or control "
			    "characters", user);
	/*
	 * libcurl keeps its own copy of the password until estc_free and
	 * sends it preemptively, and only to this origin.
	 */
	if (curl_easy_setopt(c->h, CURLOPT_HTTPAUTH,
	    (long)CURLAUTH_BASIC) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_USERNAME, user) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_PASSWORD, pass) != CURLE_OK)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	return 0;
}

/* A key file is read unencrypted or not at all: never a prompt. */
static int
no_pass(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

int
estc_set_client_cert(struct estc *c, const char *certfile,
    const char *keyfile, struct ca_err *err)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	BIO *b = NULL;
	int r;

	/* Checked here, where the messages can name the file at fault. */
	if ((b = BIO_new_file(keyfile, "r")) == NULL ||
	    (key = PEM_read_bio_PrivateKey(b, NULL, no_pass, NULL)) ==
	    NULL) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "--key %s: cannot read an "
		    "unencrypted PEM private key from it", keyfile);
		goto out;
	}
	BIO_free(b);
	if ((b = BIO_new_file(certfile, "r")) == NULL ||
	    (cert = PEM_read_bio_X509(b, NULL, no_pass, NULL)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "--cert %s: cannot read "
		    "a PEM certificate from it", certfile);
		goto out;
	}
	if (X509_check_private_key(cert, key) != 1) {
		r = ca_err_set(err, CA_ERR_INVALID, "--key %s is not the key "
		    "of the certificate in %s", keyfile, certfile);
		goto out;
	}
	/* PEM: libcurl sends the chain that follows the certificate. */
	if (curl_easy_setopt(c->h, CURLOPT_SSLCERT, certfile) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_SSLKEY, keyfile) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	c->client_cert = 1;
	r = 0;
 out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	BIO_free(b);
	return r;
}

X509_STORE *
estc_store(const struct estc *c)
{
	return c->store;
}

void
estc_free(struct estc *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->h);
	curl_url_cleanup(c->base);
	X509_STORE_free(c->store);
	free(c->host);
	free(c->hostport);
	free(c->cafile);
	if (c->global)
		curl_global_cleanup();
	free(c);
}

/* libcurl's write callback: the body, up to ESTC_MAX_RESP bytes. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	switch (dynbuf_add(&s->d, data, n)) {
	case 0:
		return n;
	case DYNBUF_TOOBIG:
		s->too_large = 1;
		return 0;
	default:
		s->nomem = 1;
		return 0;
	}
}

/* The URL of path ("/a/b" or "/a/b?query") on the server, for curl_free. */
static int
url_for(const struct estc *c, const char *path, char **urlp,
    struct ca_err *err)
{
	CURLU *u = NULL;
	char *p = NULL, *q;
	int r = CA_ERR_NOMEM;

	*urlp = NULL;
	if ((p = strdup(path)) == NULL || (u = curl_url_dup(c->base)) == NULL)
		goto out;
	if ((q = strchr(p, '?')) != NULL)
		*q++ = '\0';
	if (curl_url_set(u, CURLUPART_PATH, p, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_QUERY, q, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, urlp, 0) != CURLUE_OK) {
		r = CA_ERR_INTERNAL;
		goto out;
	}
	r = 0;
 out:
	if (r != 0)
		ca_err_set(err, r, "cannot make the URL of %s", path);
	curl_url_cleanup(u);
	free(p);
	return r;
}

/* Do the URLs have one origin (RFC 6454): scheme, host and port? */
static int
same_origin(CURLU *a, CURLU *b)
{
	static const CURLUPart parts[] = { CURLUPART_SCHEME, CURLUPART_HOST,
	    CURLUPART_PORT, CURLUPART_ZONEID };
	char *x, *y;
	size_t i;
	int same = 1, hx, hy;

	for (i = 0; same && i < sizeof(parts) / sizeof(parts[0]); i++) {
		hx = part_of(a, parts[i], &x);
		hy = part_of(b, parts[i], &y);
		same = hx == hy && (!hx || strcasecmp(x, y) == 0);
		curl_free(x);
		curl_free(y);
	}
	return same;
}

/*
 * After a redirect: the URL to follow in *urlp (for curl_free), if it
 * stays within the origin of --url (RFC 7030 3.2.1); NULL if the answer
 * names none. Any other origin is an error.
 */
static int
redirect_url(struct estc *c, int status, char **urlp, struct ca_err *err)
{
	char *loc = NULL, *shown = NULL;
	CURLU *u = NULL;
	int r;

	*urlp = NULL;
	if (curl_easy_getinfo(c->h, CURLINFO_REDIRECT_URL, &loc) !=
	    CURLE_OK || loc == NULL)
		return 0;
	if ((u = curl_url()) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	/* Parsed, the URL has no control characters to print. */
	if (curl_url_set(u, CURLUPART_URL, loc, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &shown, 0) != CURLUE_OK) {
		r = ca_err_set(err, CA_ERR_INVALID, "%s answered %d, a "
		    "redirect to a Location that is not a URL", c->hostport,
		    status);
		goto out;
	}
	if (!same_origin(u, c->base)) {
		r = ca_err_set(err, CA_ERR_POLICY, "%s answered %d, a "
		    "redirect to %s: another origin, not followed (give that "
		    "server as --url if you trust it)", c->hostport, status,
		    shown);
		goto out;
	}
	*urlp = shown;
	shown = NULL;
	r = 0;
 out:
	curl_free(shown);
	curl_url_cleanup(u);
	return r;
}

/* Retry-After in seconds (libcurl reads both forms), -1 if none. */
static long
retry_after(CURL *h)
{
	struct curl_header *hd;
	curl_off_t when = 0;

	/* The header of this answer, not a value left from another. */
	if (curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1,
	    &hd) != CURLHE_OK ||
	    curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &when) != CURLE_OK ||
	    when <= 0 || when > LONG_MAX)
		return -1;
	return (long)when;
}

/* Why talking to the server failed, in the user's words. */
static int
talk_error(const struct estc *c, CURLcode rc, const struct sink *s,
    struct ca_err *err)
{
	const char *why = c->errbuf[0] != '\0' ? c->errbuf :
	    curl_easy_strerror(rc);
	const char *hint = c->client_cert ? " (" CERT_HINT ")" : "";
	long vr = X509_V_OK, oserr = 0;

	if (s->nomem)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if (s->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return ca_err_set(err, CA_ERR_INVALID, "the answer of %s is "
		    "larger than %d bytes", c->hostport, ESTC_MAX_RESP);
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return ca_err_set(err, CA_ERR_IO, "%s: cannot resolve the "
		    "host: %s", c->hostport, why);
	case CURLE_COULDNT_CONNECT:
		if (curl_easy_getinfo(c->h, CURLINFO_OS_ERRNO, &oserr) ==
		    CURLE_OK && oserr != 0)
			why = strerror((int)oserr);
		return ca_err_set(err, CA_ERR_IO, "cannot connect to %s: %s",
		    c->hostport, why);
	case CURLE_OPERATION_TIMEDOUT:
		return ca_err_set(err, CA_ERR_IO, "talking to %s timed out: "
		    "%s", c->hostport, why);
	case CURLE_PEER_FAILED_VERIFICATION:
		curl_easy_getinfo(c->h, CURLINFO_SSL_VERIFYRESULT, &vr);
		/*
		 * A chain that fails leaves OpenSSL's reason; when the name
		 * fails, which libcurl checks after the chain, the result is
		 * still its "not checked yet" (!X509_V_OK, "unspecified").
		 */
		if (vr == X509_V_OK || vr == X509_V_ERR_UNSPECIFIED ||
		    vr == X509_V_ERR_HOSTNAME_MISMATCH ||
		    vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
			return ca_err_set(err, CA_ERR_AUTH, "TLS handshake "
			    "with %s failed: the server's certificate does "
			    "not name %s (%s); use a host name or address it "
			    "names", c->hostport, c->host, why);
		return ca_err_set(err, CA_ERR_AUTH, "TLS handshake with %s "
		    "failed: the server's certificate does not verify "
		    "against --cacert %s: %s (give the CA that issued the "
		    "server's TLS certificate, e.g. the CA directory's "
		    "chain.pem)", c->hostport, c->cafile,
		    X509_verify_cert_error_string(vr));
	case CURLE_SSL_CACERT_BADFILE:
		return ca_err_set(err, CA_ERR_INVALID, "--cacert %s: libcurl "
		    "cannot read CA certificates from it: %s", c->cafile,
		    why);
	case CURLE_SSL_CERTPROBLEM:
		return ca_err_set(err, CA_ERR_INVALID, "libcurl cannot use "
		    "the TLS client certificate: %s", why);
	case CURLE_SSL_CONNECT_ERROR:
		return ca_err_set(err, CA_ERR_IO, "TLS handshake with %s "
		    "failed: %s%s", c->hostport, why, hint);
	case CURLE_SEND_ERROR:
		return ca_err_set(err, CA_ERR_IO, "sending the request to %s "
		    "failed: %s%s", c->hostport, why, hint);
	case CURLE_RECV_ERROR:
		return ca_err_set(err, CA_ERR_IO, "reading the answer of %s "
		    "failed: %s%s", c->hostport, why, hint);
	case CURLE_GOT_NOTHING:
		return ca_err_set(err, CA_ERR_IO, "%s closed the connection "
		    "without an answer%s", c->hostport, hint);
	case CURLE_PARTIAL_FILE:
		return ca_err_set(err, CA_ERR_IO, "the answer of %s ended "
		    "early (truncated): %s", c->hostport, why);
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return ca_err_set(err, CA_ERR_INVALID, "the answer of %s is "
		    "not HTTP this client can read: %s", c->hostport, why);
	default:
		return ca_err_set(err, CA_ERR_IO, "talking to %s failed: %s%s",
		    c->hostport, why, hint);
	}
}

/* One request and its answer, whatever its status. */
static int
perform(struct estc *c, const char *url, struct curl_slist *hdrs,
    const void *body, size_t len, struct estc_resp **respp,
    struct ca_err *err)
{
	struct estc_resp *resp = NULL;
	struct sink s;
	char *ct = NULL;
	long status = 0;
	CURLcode rc;
	int r;

	*respp = NULL;
	memset(&s, 0, sizeof(s));
	/* The answer may hold a private key. */
	dynbuf_init(&s.d, ESTC_MAX_RESP, 1);
	c->errbuf[0] = '\0';
	/* A body makes it a POST (POSTFIELDS), else a GET. */
	if (curl_easy_setopt(c->h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &s) != CURLE_OK ||
	    (body != NULL ? curl_easy_setopt(c->h,
	    CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body) != CURLE_OK :
	    curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L) != CURLE_OK)) {
		r = ca_err_set(err, CA_ERR_INTERNAL, "libcurl refuses the "
		    "request to %s", url);
		goto out;
	}
	if ((rc = curl_easy_perform(c->h)) != CURLE_OK) {
		r = talk_error(c, rc, &s, err);
		goto out;
	}
	if (curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status) !=
	    CURLE_OK || curl_easy_getinfo(c->h, CURLINFO_CONTENT_TYPE,
	    &ct) != CURLE_OK || status < 100 || status > 999) {
		r = ca_err_set(err, CA_ERR_INVALID, "the answer of %s has no "
		    "HTTP status", c->hostport);
		goto out;
	}
	if ((resp = calloc(1, sizeof(*resp))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (ct != NULL && strlen(ct) >= sizeof(resp->ctype)) {
		r = ca_err_set(err, CA_ERR_INVALID, "the answer of %s has a "
		    "Content-Type of more than %zu bytes", c->hostport,
		    sizeof(resp->ctype) - 1);
		goto out;
	}
	if ((resp->body = dynbuf_take(&s.d, &resp->len)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	resp->status = (int)status;
	if (ct != NULL)
		memcpy(resp->ctype, ct, strlen(ct) + 1);
	resp->retry_after = retry_after(c->h);
	*respp = resp;
	resp = NULL;
	r = 0;
 out:
	dynbuf_free(&s.d);
	estc_resp_free(resp);
	return r;
}

int
estc_request(struct estc *c, const char *path, const char *ctype,
    const void *body, size_t len, struct estc_resp **respp,
    struct ca_err *err)
{
	struct estc_resp *resp = NULL;
	struct curl_slist *hdrs = NULL, *h;
	char *url = NULL, *next = NULL, *cth = NULL;
	int hops, r;

	*respp = NULL;
	if ((r = url_for(c, path, &url, err)) != 0)
		goto out;
	if (ctype != NULL) {
		/* No "Expect: 100-continue": the body goes at once. */
		if (asprintf(&cth, "Content-Type: %s", ctype) == -1)
			cth = NULL;
		if (cth == NULL ||
		    (hdrs = curl_slist_append(NULL, cth)) == NULL ||
		    (h = curl_slist_append(hdrs, "Expect:")) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		hdrs = h;
	}
	for (hops = 0;; hops++) {
		if ((r = perform(c, url, hdrs, ctype != NULL ? body : NULL,
		    len, &resp, err)) != 0)
			goto out;
		if (resp->status != 301 && resp->status != 302 &&
		    resp->status != 307 && resp->status != 308)
			break;
		if ((r = redirect_url(c, resp->status, &next, err)) != 0)
			goto out;
		if (next == NULL)
			break;	/* no Location: the caller judges */
		if (hops == ESTC_REDIRS) {
			r = ca_err_set(err, CA_ERR_INVALID, "%s redirected "
			    "more than %d times (last to %s)", c->hostport,
			    ESTC_REDIRS, next);
			goto out;
		}
		/* The same method and body, as for 307 and 308. */
		curl_free(url);
		url = next;
		next = NULL;
		estc_resp_free(resp);
		resp = NULL;
	}
	*respp = resp;
	resp = NULL;
	r = 0;
 out:
	estc_resp_free(resp);
	curl_slist_free_all(hdrs);
	free(cth);
	curl_free(url);
	curl_free(next);
	return r;
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
	r = estc_request(c, path, ctype, b64, (size_t)n, respp, err);
	free(b64);
	return r;
}

int
estc_simpleenroll(struct estc *c, const char *label, X509_REQ *csr,
    int renew, STACK_OF(X509) **certsp, struct ca_err *err)
{
	const char *op = renew ? "simplereenroll" : "simpleenroll";
	struct estc_resp *resp = NULL;
	unsigned char *der = NULL;
	int len, r;

	*certsp = NULL;
	if ((len = i2d_X509_REQ(csr, &der)) <= 0)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the request");
	if ((r = post_der(c, label, op, CT_PKCS10, der, (size_t)len, &resp,
	    err)) == 0)
		r = estc_answer_certs(resp, op, certsp, err);
	OPENSSL_free(der);
	estc_resp_free(resp);
	return r;
}

int
estc_serverkeygen(struct estc *c, const char *label, X509_REQ *csr,
    EVP_PKEY **keyp, STACK_OF(X509) **certsp, struct ca_err *err)
{
	struct estc_resp *resp = NULL;
	unsigned char *der = NULL;
	int len, r;

	*keyp = NULL;
	*certsp = NULL;
	if ((len = i2d_X509_REQ(csr, &der)) <= 0)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the request");
	if ((r = post_der(c, label, "serverkeygen", CT_PKCS10, der,
	    (size_t)len, &resp, err)) == 0)
		r = estc_answer_keygen(resp, keyp, certsp, err);
	OPENSSL_free(der);
	estc_resp_free(resp);
	return r;
}

int
estc_fullcmc(struct estc *c, const char *label, const unsigned char *req,
    size_t reqlen, struct estc_cmc *cmc, struct ca_err *err)
{
	struct estc_resp *resp = NULL;
	int r;

	memset(cmc, 0, sizeof(*cmc));
	cmc->status = cmc->fail_info = -1;
	if ((r = post_der(c, label, "fullcmc", CT_CMC_REQ, req, reqlen, &resp,
	    err)) == 0)
		r = estc_answer_cmc(resp, c->store, c->cafile, cmc, err);
	estc_resp_free(resp);
	return r;
}

int
estc_exchange(struct estc *c, X509 **certp, struct ca_err *err)
{
	struct estc_resp *resp = NULL;
	int r;

	*certp = NULL;
	if ((r = estc_request(c, "/ca/exchange?format=pem", NULL, NULL, 0,
	    &resp, err)) == 0)
		r = estc_answer_exchange(resp, c->store, c->hostport,
		    c->cafile, certp, err);
	estc_resp_free(resp);
	return r;
}
