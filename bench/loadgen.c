/*
 * loadgen: a small closed-loop HTTP/1.1 load generator for
 * bench/issue-throughput. CONC threads, one keep-alive connection each
 * (plain TCP or TLS through OpenSSL), POST the bodies of a file (one body
 * a line) in turn until COUNT requests are done or SECONDS have passed.
 * Prints one line of key=value figures; latencies are kept in memory.
 *
 *   loadgen -u http[s]://127.0.0.1:PORT/PATH -c CONC -n COUNT -t SECONDS
 *       -b BODIES [-T CONTENT-TYPE] [-a USER:PASS | -A AUTHS] [-C CAFILE]
 *       [-s SKIP]
 *
 * -s SKIP starts at body SKIP (so that phases send different CSRs).
 * -A AUTHS: a file of USER:PASS lines; request i sends line (i + SKIP)
 * modulo their number, as it sends body (i + SKIP) modulo theirs.
 * Only what the benchmark needs: no redirects, no pipelining, numeric
 * hosts only. Built by bench/issue-throughput with cc; not installed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define RBUF	65536

struct body {
	char *p;
	size_t len;
};

static struct {
	char host[128];
	int port;
	int tls;
	char path[512];
	const char *ctype;
	char auth[720];		/* "Basic ..." or "" */
	char (*auths)[720];	/* -A: one "Basic ..." a line */
	size_t nauths;
	int conc;
	long count;
	double seconds;
	struct body *bodies;
	size_t nbodies;
	long skip;
	SSL_CTX *ctx;
} cfg;

static atomic_long next_req;
static atomic_long n_ok, n_bad, n_ioerr, n_conns;
static double *lat;		/* seconds, by request index */
static double t_start, t_deadline;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static int err_shown;

struct conn {
	int fd;
	SSL *ssl;
	char buf[RBUF];
	size_t have;		/* bytes in buf */
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "loadgen: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(2);
}

static void
show_error(const char *what, const char *detail, size_t len)
{
	pthread_mutex_lock(&err_lock);
	if (err_shown++ < 3)
		fprintf(stderr, "loadgen: %s%s%.*s\n", what,
		    detail != NULL ? ": " : "", (int)(len > 300 ? 300 : len),
		    detail != NULL ? detail : "");
	pthread_mutex_unlock(&err_lock);
}

static void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->have = 0;
}

static int
conn_open(struct conn *c)
{
	struct sockaddr_in sa;
	int one = 1;

	c->have = 0;
	c->ssl = NULL;
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)cfg.port);
	inet_pton(AF_INET, cfg.host, &sa.sin_addr);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		show_error("connect", strerror(errno), strlen(strerror(errno)));
		conn_close(c);
		return -1;
	}
	if (cfg.tls) {
		if ((c->ssl = SSL_new(cfg.ctx)) == NULL ||
		    !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
		    cfg.host) || !SSL_set_fd(c->ssl, c->fd) ||
		    SSL_connect(c->ssl) != 1) {
			char e[256];

			ERR_error_string_n(ERR_get_error(), e, sizeof(e));
			show_error("TLS handshake", e, strlen(e));
			conn_close(c);
			return -1;
		}
	}
	atomic_fetch_add(&n_conns, 1);
	return 0;
}

static int
conn_write(struct conn *c, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n;

		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, p, (int)len);

			n = r > 0 ? r : -1;
		} else
			n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR && c->ssl == NULL)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* More bytes into c->buf; 0 at EOF, -1 on error or a full buffer. */
static ssize_t
conn_fill(struct conn *c)
{
	ssize_t n;

	if (c->have >= sizeof(c->buf))
		return -1;
	for (;;) {
		if (c->ssl != NULL) {
			int r = SSL_read(c->ssl, c->buf + c->have,
			    (int)(sizeof(c->buf) - c->have));

			if (r > 0)
				n = r;
			else
				n = SSL_get_error(c->ssl, r) ==
				    SSL_ERROR_ZERO_RETURN ? 0 : -1;
		} else
			n = recv(c->fd, c->buf + c->have,
			    sizeof(c->buf) - c->have, 0);
		if (n < 0 && errno == EINTR && c->ssl == NULL)
			continue;
		break;
	}
	if (n > 0)
		c->have += (size_t)n;
	return n;
}

static void
consume(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->have - n);
	c->have -= n;
}

/*
 * Reads one response: status, whether the server keeps the connection,
 * and whether the body looks like a result (nonempty). Handles
 * Content-Length and chunked bodies.
 */
static int
read_response(struct conn *c, int *status, int *keep)
{
	char *hend, *line;
	size_t hlen, blen = 0;
	int chunked = 0, have_len = 0;

	*status = 0;
	*keep = 1;
	while ((hend = memmem(c->buf, c->have, "\r\n\r\n", 4)) == NULL)
		if (conn_fill(c) <= 0)
			return -1;
	hlen = (size_t)(hend - c->buf) + 4;
	*hend = '\0';
	if (sscanf(c->buf, "HTTP/1.%*d %d", status) != 1)
		return -1;
	for (line = strstr(c->buf, "\r\n"); line != NULL;
	    line = strstr(line + 2, "\r\n")) {
		char *h = line + 2;

		if (strncasecmp(h, "Content-Length:", 15) == 0) {
			blen = strtoul(h + 15, NULL, 10);
			have_len = 1;
		} else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0) {
			char *e = strstr(h, "\r\n"), *ch = strcasestr(h,
			    "chunked");

			chunked = ch != NULL && (e == NULL || ch < e);
		}
		else if (strncasecmp(h, "Connection:", 11) == 0 &&
		    strncasecmp(h + 11 + strspn(h + 11, " "), "close", 5) ==
		    0)
			*keep = 0;
	}
	if (*status >= 400) {
		char tmp[320];
		size_t n = c->have - hlen < 300 ? c->have - hlen : 300;

		memcpy(tmp, c->buf + hlen, n);
		tmp[n] = '\0';
		show_error("HTTP error", tmp, n);
	}
	consume(c, hlen);
	if (chunked) {
		for (;;) {
			char *e;
			size_t sz;

			while ((e = memmem(c->buf, c->have, "\r\n", 2)) ==
			    NULL)
				if (conn_fill(c) <= 0)
					return -1;
			sz = strtoul(c->buf, NULL, 16);
			consume(c, (size_t)(e - c->buf) + 2);
			while (c->have < sz + 2)
				if (conn_fill(c) <= 0)
					return -1;
			consume(c, sz + 2);
			if (sz == 0)
				return 0;
		}
	}
	if (!have_len) {
		*keep = 0;
		while (conn_fill(c) > 0)
			c->have = 0;
		return 0;
	}
	while (c->have < blen) {
		if (blen - c->have > 0 && c->have == sizeof(c->buf)) {
			blen -= c->have;
			c->have = 0;
		}
		if (conn_fill(c) <= 0)
			return -1;
	}
	consume(c, blen);
	return 0;
}

static void *
worker(void *arg)
{
	struct conn *c = calloc(1, sizeof(*c));
	char *req = NULL;
	size_t reqcap = 0;

	(void)arg;
	c->fd = -1;
	for (;;) {
		long i;
		const struct body *b;
		const char *auth;
		size_t hl;
		double t0;
		int status, keep;

		if (now() >= t_deadline)
			break;
		if ((i = atomic_fetch_add(&next_req, 1)) >= cfg.count)
			break;
		if (c->fd < 0 && conn_open(c) != 0) {
			atomic_fetch_add(&n_ioerr, 1);
			lat[i] = -1;
			usleep(10000);
			continue;
		}
		b = &cfg.bodies[(size_t)(i + cfg.skip) % cfg.nbodies];
		auth = cfg.nauths ? cfg.auths[(size_t)(i + cfg.skip) %
		    cfg.nauths] : cfg.auth;
		if (reqcap < b->len + 1024) {
			reqcap = b->len + 1024;
			req = realloc(req, reqcap);
		}
		hl = (size_t)snprintf(req, reqcap, "POST %s HTTP/1.1\r\n"
		    "Host: %s:%d\r\nContent-Type: %s\r\n%s%s%s"
		    "Content-Length: %zu\r\n\r\n", cfg.path, cfg.host,
		    cfg.port, cfg.ctype, auth[0] ? "Authorization: " : "",
		    auth, auth[0] ? "\r\n" : "", b->len);
		memcpy(req + hl, b->p, b->len);
		t0 = now();
		if (conn_write(c, req, hl + b->len) != 0 ||
		    read_response(c, &status, &keep) != 0) {
			show_error("connection lost", NULL, 0);
			atomic_fetch_add(&n_ioerr, 1);
			lat[i] = -1;
			conn_close(c);
			continue;
		}
		lat[i] = now() - t0;
		if (status >= 200 && status < 300)
			atomic_fetch_add(&n_ok, 1);
		else {
			atomic_fetch_add(&n_bad, 1);
			lat[i] = -1;
		}
		if (!keep)
			conn_close(c);
	}
	conn_close(c);
	free(c);
	free(req);
	return NULL;
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
load_bodies(const char *file)
{
	FILE *f = fopen(file, "r");
	char *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;

	if (f == NULL)
		die("cannot open %s", file);
	while ((len = getline(&line, &cap, f)) > 0) {
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		cfg.bodies = realloc(cfg.bodies, (n + 1) * sizeof(*cfg.bodies));
		cfg.bodies[n].p = strdup(line);
		cfg.bodies[n].len = (size_t)len;
		n++;
	}
	free(line);
	fclose(f);
	if (n == 0)
		die("no bodies in %s", file);
	cfg.nbodies = n;
}

static void
basic(char *out, size_t outlen, const char *cred)
{
	unsigned char b64[700];

	if (strlen(cred) > 500)
		die("%s", "credentials too long");
	EVP_EncodeBlock(b64, (const unsigned char *)cred, (int)strlen(cred));
	snprintf(out, outlen, "Basic %s", b64);
}

static void
load_auths(const char *file)
{
	FILE *f = fopen(file, "r");
	char *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;

	if (f == NULL)
		die("cannot open %s", file);
	while ((len = getline(&line, &cap, f)) > 0) {
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		cfg.auths = realloc(cfg.auths, (n + 1) * sizeof(*cfg.auths));
		basic(cfg.auths[n], sizeof(cfg.auths[n]), line);
		n++;
	}
	free(line);
	fclose(f);
	if (n == 0)
		die("no credentials in %s", file);
	cfg.nauths = n;
}

static void
parse_url(const char *u)
{
	const char *p, *slash;
	char hp[128];
	char *colon;

	if (strncmp(u, "https://", 8) == 0) {
		cfg.tls = 1;
		p = u + 8;
	} else if (strncmp(u, "http://", 7) == 0)
		p = u + 7;
	else
		die("not an http(s) URL: %s", u);
	slash = strchr(p, '/');
	snprintf(hp, sizeof(hp), "%.*s", slash ? (int)(slash - p) :
	    (int)strlen(p), p);
	snprintf(cfg.path, sizeof(cfg.path), "%s", slash ? slash : "/");
	if ((colon = strchr(hp, ':')) == NULL)
		die("URL without a port: %s", u);
	*colon = '\0';
	snprintf(cfg.host, sizeof(cfg.host), "%s", hp);
	cfg.port = atoi(colon + 1);
}

int
main(int argc, char **argv)
{
	const char *url = NULL, *bodies = NULL, *cafile = NULL, *cred = NULL;
	const char *auths = NULL;
	pthread_t *th;
	struct rusage ru;
	double wall, *ok, cpu;
	long done, i, nok = 0;
	int ch;

	cfg.conc = 1;
	cfg.count = 100;
	cfg.seconds = 30;
	cfg.ctype = "application/pkcs10";
	while ((ch = getopt(argc, argv, "u:c:n:t:b:T:a:A:C:s:")) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'c': cfg.conc = atoi(optarg); break;
		case 'n': cfg.count = atol(optarg); break;
		case 't': cfg.seconds = atof(optarg); break;
		case 'b': bodies = optarg; break;
		case 'T': cfg.ctype = optarg; break;
		case 'a': cred = optarg; break;
		case 'A': auths = optarg; break;
		case 'C': cafile = optarg; break;
		case 's': cfg.skip = atol(optarg); break;
		default:
			fprintf(stderr, "usage: loadgen -u URL -c CONC -n COUNT "
			    "-t SECONDS -b BODIES [-T CTYPE] [-a USER:PASS | "
			    "-A AUTHS] [-C CAFILE] [-s SKIP]\n");
			return 2;
		}
	}
	if (url == NULL || bodies == NULL || cfg.conc < 1 || cfg.count < 1)
		die("%s", "-u and -b are required; -c and -n at least 1");
	parse_url(url);
	load_bodies(bodies);
	if (cred != NULL)
		basic(cfg.auth, sizeof(cfg.auth), cred);
	if (auths != NULL)
		load_auths(auths);
	if (cfg.tls) {
		if ((cfg.ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
		    cafile == NULL ||
		    SSL_CTX_load_verify_locations(cfg.ctx, cafile, NULL) != 1)
			die("%s", "TLS: -C CAFILE is required and must load");
		SSL_CTX_set_verify(cfg.ctx, SSL_VERIFY_PEER, NULL);
	}
	if ((lat = calloc((size_t)cfg.count, sizeof(*lat))) == NULL ||
	    (th = calloc((size_t)cfg.conc, sizeof(*th))) == NULL)
		die("%s", "out of memory");
	t_start = now();
	t_deadline = t_start + cfg.seconds;
	for (i = 0; i < cfg.conc; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (i = 0; i < cfg.conc; i++)
		pthread_join(th[i], NULL);
	wall = now() - t_start;
	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	done = atomic_load(&next_req);
	if (done > cfg.count)
		done = cfg.count;
	ok = calloc((size_t)done + 1, sizeof(*ok));
	for (i = 0; i < done; i++)
		if (lat[i] > 0)
			ok[nok++] = lat[i];
	qsort(ok, (size_t)nok, sizeof(*ok), cmpd);
#define PCT(q) (nok ? ok[(long)((q) * (double)(nok - 1) + 0.5)] * 1000 : 0)
	printf("requests=%ld ok=%ld http_errors=%ld io_errors=%ld "
	    "connections=%ld wall_s=%.3f rps=%.1f p50_ms=%.2f p90_ms=%.2f "
	    "p99_ms=%.2f max_ms=%.2f client_cpu_s=%.3f timed_out=%d\n",
	    done, atomic_load(&n_ok), atomic_load(&n_bad),
	    atomic_load(&n_ioerr), atomic_load(&n_conns), wall,
	    (double)atomic_load(&n_ok) / wall, PCT(0.50), PCT(0.90),
	    PCT(0.99), nok ? ok[nok - 1] * 1000 : 0, cpu,
	    done < cfg.count ? 1 : 0);
	free(ok);
	free(lat);
	free(th);
	SSL_CTX_free(cfg.ctx);
	return 0;
}
