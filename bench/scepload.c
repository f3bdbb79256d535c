/*
 * scepload: the load generator of bench/scep-throughput. CONC threads,
 * one keep-alive HTTP/1.1 connection each (plain TCP, numeric address),
 * POST pre-built SCEP pkiMessages, each once, in order, until COUNT are
 * sent or SECONDS have passed. Each answer's pkiStatus attribute (OID
 * 2.16.840.1.113733.1.9.3) is read from its DER bytes; the first SAMPLE
 * answers are written to DIR/ans-N.der for a full check elsewhere.
 * Prints one line of key=value figures.
 *
 *   scepload -a 127.0.0.1 -p PORT -P /scep -f MSGS -c CONC -n COUNT
 *       -t SECONDS [-o DIR -s SAMPLE]
 *
 * MSGS: the messages one after the other, each after its length as four
 * octets, big-endian. Answers with Content-Length or chunked (Go's
 * net/http chunks larger answers). Not installed; cc -O2 -pthread.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct msg {
	unsigned char *p;
	size_t len;
};

static struct {
	char addr[64];
	int port;
	char path[256];
	struct msg *msgs;
	long nmsgs;
	int conc;
	long count;
	double seconds;
	const char *outdir;
	long sample;
} cfg;

static atomic_long next_req;
static atomic_long n_http200, n_httpother, n_ioerr, n_conns;
static atomic_long n_status[4];		/* 0 SUCCESS, 2 FAILURE, 3 PENDING */
static atomic_long n_nostatus;
static double *lat;
static double t_deadline;

struct conn {
	int fd;
	unsigned char *buf;
	size_t cap, have, off;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
conn_open(struct conn *c)
{
	struct sockaddr_in sa;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)cfg.port);
	inet_pton(AF_INET, cfg.addr, &sa.sin_addr);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->have = c->off = 0;
	atomic_fetch_add(&n_conns, 1);
	return 0;
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* At least n unread bytes in the buffer from c->off; -1 on EOF/error. */
static int
fill(struct conn *c, size_t n)
{
	ssize_t r;

	if (c->off > 0 && c->off == c->have)
		c->off = c->have = 0;
	while (c->have - c->off < n) {
		if (c->have + n + 4096 > c->cap) {
			if (c->off > 0) {
				memmove(c->buf, c->buf + c->off,
				    c->have - c->off);
				c->have -= c->off;
				c->off = 0;
				continue;
			}
			c->cap = c->have + n + 65536;
			c->buf = realloc(c->buf, c->cap);
			if (c->buf == NULL)
				return -1;
		}
		r = read(c->fd, c->buf + c->have, c->cap - c->have);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		c->have += (size_t)r;
	}
	return 0;
}

/* A line (without CRLF) into out; -1 on error. */
static int
getline_crlf(struct conn *c, char *out, size_t outsz)
{
	unsigned char *e;
	size_t n;

	for (;;) {
		e = memmem(c->buf + c->off, c->have - c->off, "\r\n", 2);
		if (e != NULL)
			break;
		if (fill(c, c->have - c->off + 1) < 0)
			return -1;
	}
	n = (size_t)(e - (c->buf + c->off));
	if (n >= outsz)
		return -1;
	memcpy(out, c->buf + c->off, n);
	out[n] = '\0';
	c->off += n + 2;
	return 0;
}

/* Appends n body bytes to *b. */
static int
take(struct conn *c, size_t n, unsigned char **b, size_t *blen)
{
	if (fill(c, n) < 0)
		return -1;
	*b = realloc(*b, *blen + n + 1);
	if (*b == NULL)
		return -1;
	memcpy(*b + *blen, c->buf + c->off, n);
	*blen += n;
	c->off += n;
	return 0;
}

/* Reads one answer: HTTP status, body; *close set if the server closes. */
static int
read_answer(struct conn *c, int *status, unsigned char **b, size_t *blen,
    int *closes)
{
	char line[8192];
	long clen = -1;
	int chunked = 0;

	*blen = 0;
	*closes = 0;
	if (getline_crlf(c, line, sizeof(line)) < 0 ||
	    sscanf(line, "HTTP/1.%*d %d", status) != 1)
		return -1;
	if (strncmp(line, "HTTP/1.0", 8) == 0)
		*closes = 1;
	for (;;) {
		if (getline_crlf(c, line, sizeof(line)) < 0)
			return -1;
		if (line[0] == '\0')
			break;
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			clen = atol(line + 15);
		else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 &&
		    strcasestr(line, "chunked") != NULL)
			chunked = 1;
		else if (strncasecmp(line, "Connection:", 11) == 0 &&
		    strcasestr(line, "close") != NULL)
			*closes = 1;
	}
	if (chunked) {
		for (;;) {
			long n;

			if (getline_crlf(c, line, sizeof(line)) < 0)
				return -1;
			n = strtol(line, NULL, 16);
			if (n < 0)
				return -1;
			if (n == 0) {
				/* trailers, then the empty line */
				do {
					if (getline_crlf(c, line,
					    sizeof(line)) < 0)
						return -1;
				} while (line[0] != '\0');
				return 0;
			}
			if (take(c, (size_t)n, b, blen) < 0 ||
			    getline_crlf(c, line, sizeof(line)) < 0)
				return -1;
		}
	}
	if (clen < 0)
		return -1;	/* read-to-close: not needed here */
	return take(c, (size_t)clen, b, blen);
}

/* The pkiStatus digit of a CertRep, or -1. */
static int
pki_status(const unsigned char *b, size_t n)
{
	static const unsigned char oid[] = { 0x06, 0x0a, 0x60, 0x86, 0x48,
	    0x01, 0x86, 0xf8, 0x45, 0x01, 0x09, 0x03 };
	const unsigned char *p;

	if (b == NULL)
		return -1;
	p = memmem(b, n, oid, sizeof(oid));
	if (p == NULL || (size_t)(p - b) + 16 >= n)
		return -1;
	/* SET { PrintableString "N" } */
	if (p[12] != 0x31 || p[14] != 0x13 || p[15] != 0x01)
		return -1;
	return p[16] - '0';
}

static int
send_all(int fd, const void *p, size_t n)
{
	const char *q = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, q, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *
worker(void *arg)
{
	struct conn c = { .fd = -1 };
	unsigned char *body = NULL;
	size_t blen;
	char hdr[512];
	(void)arg;

	for (;;) {
		long i = atomic_fetch_add(&next_req, 1);
		struct msg *m;
		double t0;
		int st, closes, hl, ps, tries;

		if (i >= cfg.count || i >= cfg.nmsgs || now() > t_deadline) {
			atomic_fetch_sub(&next_req, 1);
			break;
		}
		m = &cfg.msgs[i];
		hl = snprintf(hdr, sizeof(hdr), "POST %s?operation="
		    "PKIOperation HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: "
		    "application/x-pki-message\r\nContent-Length: %zu\r\n\r\n",
		    cfg.path, cfg.addr, cfg.port, m->len);
		t0 = now();
		for (tries = 0; tries < 2; tries++) {
			if (c.fd < 0 && conn_open(&c) < 0)
				break;
			if (send_all(c.fd, hdr, (size_t)hl) == 0 &&
			    send_all(c.fd, m->p, m->len) == 0 &&
			    read_answer(&c, &st, &body, &blen, &closes) == 0)
				break;
			/* a keep-alive connection the server closed: retry
			 * once on a fresh one */
			conn_close(&c);
			st = -1;
		}
		lat[i] = now() - t0;
		if (c.fd < 0 || st < 0) {
			atomic_fetch_add(&n_ioerr, 1);
			conn_close(&c);
			continue;
		}
		if (closes)
			conn_close(&c);
		if (st != 200) {
			atomic_fetch_add(&n_httpother, 1);
			continue;
		}
		atomic_fetch_add(&n_http200, 1);
		ps = pki_status(body, blen);
		if (ps == 0 || ps == 2 || ps == 3)
			atomic_fetch_add(&n_status[ps], 1);
		else
			atomic_fetch_add(&n_nostatus, 1);
		if (cfg.outdir != NULL && i < cfg.sample) {
			char fn[4096];
			FILE *f;

			snprintf(fn, sizeof(fn), "%s/ans-%ld.der", cfg.outdir,
			    i);
			f = fopen(fn, "wb");
			if (f != NULL) {
				fwrite(body, 1, blen, f);
				fclose(f);
			}
		}
	}
	conn_close(&c);
	free(body);
	free(c.buf);
	return NULL;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
load_msgs(const char *fn)
{
	FILE *f = fopen(fn, "rb");
	unsigned char l[4];
	long cap = 0;

	if (f == NULL)
		return -1;
	while (fread(l, 1, 4, f) == 4) {
		size_t n = ((size_t)l[0] << 24) | ((size_t)l[1] << 16) |
		    ((size_t)l[2] << 8) | l[3];

		if (cfg.nmsgs == cap) {
			cap = cap ? cap * 2 : 256;
			cfg.msgs = realloc(cfg.msgs, (size_t)cap *
			    sizeof(*cfg.msgs));
			if (cfg.msgs == NULL)
				return -1;
		}
		cfg.msgs[cfg.nmsgs].p = malloc(n);
		cfg.msgs[cfg.nmsgs].len = n;
		if (cfg.msgs[cfg.nmsgs].p == NULL ||
		    fread(cfg.msgs[cfg.nmsgs].p, 1, n, f) != n)
			return -1;
		cfg.nmsgs++;
	}
	fclose(f);
	return 0;
}

int
main(int argc, char **argv)
{
	pthread_t *th;
	const char *file = NULL;
	double t0, el;
	long done, i;
	int o;

	strcpy(cfg.addr, "127.0.0.1");
	strcpy(cfg.path, "/scep");
	cfg.conc = 1;
	cfg.count = 1000;
	cfg.seconds = 15;
	while ((o = getopt(argc, argv, "a:p:P:f:c:n:t:o:s:")) != -1) {
		switch (o) {
		case 'a':
			snprintf(cfg.addr, sizeof(cfg.addr), "%s", optarg);
			break;
		case 'p':
			cfg.port = atoi(optarg);
			break;
		case 'P':
			snprintf(cfg.path, sizeof(cfg.path), "%s", optarg);
			break;
		case 'f':
			file = optarg;
			break;
		case 'c':
			cfg.conc = atoi(optarg);
			break;
		case 'n':
			cfg.count = atol(optarg);
			break;
		case 't':
			cfg.seconds = atof(optarg);
			break;
		case 'o':
			cfg.outdir = optarg;
			break;
		case 's':
			cfg.sample = atol(optarg);
			break;
		default:
			fprintf(stderr, "usage: scepload -p PORT -f MSGS "
			    "[-a ADDR] [-P PATH] [-c CONC] [-n COUNT] "
			    "[-t SECONDS] [-o DIR -s SAMPLE]\n");
			return 2;
		}
	}
	if (file == NULL || cfg.port <= 0 || cfg.conc < 1 ||
	    load_msgs(file) < 0 || cfg.nmsgs == 0) {
		fprintf(stderr, "scepload: bad arguments or message file\n");
		return 2;
	}
	lat = calloc((size_t)cfg.nmsgs, sizeof(*lat));
	th = calloc((size_t)cfg.conc, sizeof(*th));
	if (lat == NULL || th == NULL)
		return 2;
	t0 = now();
	t_deadline = t0 + cfg.seconds;
	for (i = 0; i < cfg.conc; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (i = 0; i < cfg.conc; i++)
		pthread_join(th[i], NULL);
	el = now() - t0;
	done = atomic_load(&next_req);
	qsort(lat, (size_t)done, sizeof(*lat), cmp_d);
	printf("sent=%ld http200=%ld httpother=%ld ioerr=%ld success=%ld "
	    "failure=%ld pending=%ld nostatus=%ld secs=%.3f rps=%.1f "
	    "p50_ms=%.2f p99_ms=%.2f conns=%ld\n", done,
	    atomic_load(&n_http200), atomic_load(&n_httpother),
	    atomic_load(&n_ioerr), atomic_load(&n_status[0]),
	    atomic_load(&n_status[2]), atomic_load(&n_status[3]),
	    atomic_load(&n_nostatus), el, el > 0 ? done / el : 0,
	    done ? 1000 * lat[done / 2] : 0,
	    done ? 1000 * lat[(long)(done * 0.99) < done ?
	    (long)(done * 0.99) : done - 1] : 0, atomic_load(&n_conns));
	return 0;
}
