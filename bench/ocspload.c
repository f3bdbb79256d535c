/*
 * ocspload: the closed-loop OCSP load generator of bench/ocsp-throughput.
 * CONC threads, each on its own connection, send OCSP requests in turn
 * (GET of PREFIX + a line of the file, or POST of the DER a line holds
 * in hex) for SECONDS, and keep every latency. Keep-alive when the server
 * keeps the connection; a new connection when it closes it (openssl
 * ocsp answers HTTP/1.0 and closes), the connect counted in the latency
 * as a client would see it. Prints one line of key=value figures.
 *
 *   ocspload -a 127.0.0.1 -p PORT -m GET|POST -f FILE -P PREFIX
 *       -c CONC -t SECONDS
 *
 * Built by bench/ocsp-throughput with cc; not installed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF	(256 * 1024)

struct reqs {
	char **msg;		/* whole HTTP requests */
	size_t *len;
	size_t n;
};

struct worker {
	pthread_t t;
	double *lat;
	size_t nlat, cap;
	long bad, ioerr, conns;
};

static struct sockaddr_in sa;
static struct reqs rq;
static double deadline;
static atomic_ulong next_req;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
dial(void)
{
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Reads one answer: 1 and whether the server keeps the connection, 0 on
 * a status other than 200, -1 on an I/O error.
 */
static int
read_answer(int fd, char *buf, int *keepp)
{
	size_t have = 0, hlen, clen = 0, want;
	char *end, *p;
	ssize_t r;
	int status, has_len = 0;

	*keepp = 0;
	for (;;) {
		if (have == RBUF - 1)
			return -1;
		if ((r = recv(fd, buf + have, RBUF - 1 - have, 0)) <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
	}
	hlen = (size_t)(end - buf) + 4;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	*keepp = strncmp(buf, "HTTP/1.1", 8) == 0;
	for (p = buf; p < end; p = strstr(p, "\r\n") + 2) {
		if (strncasecmp(p, "Content-Length:", 15) == 0) {
			clen = strtoul(p + 15, NULL, 10);
			has_len = 1;
		} else if (strncasecmp(p, "Connection: close", 17) == 0)
			*keepp = 0;
		else if (strncasecmp(p, "Connection: keep-alive", 22) == 0)
			*keepp = 1;
		if (strstr(p, "\r\n") == NULL)
			break;
	}
	if (!has_len) {
		/* Delimited by the close. */
		while ((r = recv(fd, buf, RBUF - 1, 0)) > 0)
			;
		*keepp = 0;
		return status == 200;
	}
	want = hlen + clen;
	while (have < want) {
		size_t room = want - have < RBUF ? want - have : RBUF;

		if ((r = recv(fd, buf, room, 0)) <= 0)
			return -1;
		have += (size_t)r;
	}
	return status == 200;
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	char *buf = malloc(RBUF);
	double t0;
	unsigned long i;
	int fd = -1, keep, r;

	while (buf != NULL && now() < deadline) {
		i = atomic_fetch_add(&next_req, 1) % rq.n;
		t0 = now();
		if (fd == -1) {
			if ((fd = dial()) == -1) {
				w->ioerr++;
				usleep(1000);
				continue;
			}
			w->conns++;
		}
		if (send_all(fd, rq.msg[i], rq.len[i]) != 0 ||
		    (r = read_answer(fd, buf, &keep)) < 0) {
			w->ioerr++;
			close(fd);
			fd = -1;
			continue;
		}
		if (!keep) {
			close(fd);
			fd = -1;
		}
		if (r == 0) {
			w->bad++;
			continue;
		}
		if (w->nlat == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 65536;
			if ((w->lat = realloc(w->lat, w->cap *
			    sizeof(double))) == NULL)
				break;
		}
		w->lat[w->nlat++] = now() - t0;
	}
	if (fd != -1)
		close(fd);
	free(buf);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
load(const char *file, const char *method, const char *prefix,
    const char *host)
{
	FILE *f = fopen(file, "r");
	char *line = NULL, *m;
	size_t cap = 0, i, n, blen;
	ssize_t len;
	int post = strcmp(method, "POST") == 0, hl;
	unsigned v;

	if (f == NULL)
		return -1;
	while ((len = getline(&line, &cap, f)) > 0) {
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		rq.msg = realloc(rq.msg, (rq.n + 1) * sizeof(char *));
		rq.len = realloc(rq.len, (rq.n + 1) * sizeof(size_t));
		if (rq.msg == NULL || rq.len == NULL)
			return -1;
		if (!post) {
			n = (size_t)asprintf(&m, "GET %s%s HTTP/1.1\r\nHost: "
			    "%s\r\n\r\n", prefix, line, host);
		} else {
			blen = (size_t)len / 2;
			hl = asprintf(&m, "POST %s HTTP/1.1\r\nHost: %s\r\n"
			    "Content-Type: application/ocsp-request\r\n"
			    "Content-Length: %zu\r\n\r\n", prefix, host, blen);
			if (hl < 0 || (m = realloc(m, (size_t)hl + blen)) ==
			    NULL)
				return -1;
			for (i = 0; i < blen; i++) {
				sscanf(line + 2 * i, "%2x", &v);
				m[hl + (int)i] = (char)v;
			}
			n = (size_t)hl + blen;
		}
		rq.msg[rq.n] = m;
		rq.len[rq.n++] = n;
	}
	free(line);
	fclose(f);
	return rq.n > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *method = "GET", *file = NULL;
	const char *prefix = "/";
	char host[64];
	struct worker *ws;
	double secs = 10, t0, el, *all;
	size_t i, k, total = 0;
	long bad = 0, ioerr = 0, conns = 0;
	int ch, conc = 16, port = 0;

	while ((ch = getopt(argc, argv, "a:p:m:f:P:c:t:")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'm': method = optarg; break;
		case 'f': file = optarg; break;
		case 'P': prefix = optarg; break;
		case 'c': conc = atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		default:
			fprintf(stderr, "usage: ocspload -a ADDR -p PORT -m "
			    "GET|POST -f FILE -P PREFIX -c CONC -t SECONDS\n");
			return 2;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	snprintf(host, sizeof(host), "%s:%d", addr, port);
	if (file == NULL || conc < 1 || port < 1 ||
	    inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
	    load(file, method, prefix, host) != 0) {
		fprintf(stderr, "ocspload: bad arguments or request file\n");
		return 2;
	}
	if ((ws = calloc((size_t)conc, sizeof(*ws))) == NULL)
		return 1;
	t0 = now();
	deadline = t0 + secs;
	for (i = 0; i < (size_t)conc; i++)
		pthread_create(&ws[i].t, NULL, run, &ws[i]);
	for (i = 0; i < (size_t)conc; i++) {
		pthread_join(ws[i].t, NULL);
		total += ws[i].nlat;
		bad += ws[i].bad;
		ioerr += ws[i].ioerr;
		conns += ws[i].conns;
	}
	el = now() - t0;
	if ((all = malloc((total ? total : 1) * sizeof(double))) == NULL)
		return 1;
	for (i = 0, k = 0; i < (size_t)conc; i++) {
		memcpy(all + k, ws[i].lat, ws[i].nlat * sizeof(double));
		k += ws[i].nlat;
	}
	qsort(all, total, sizeof(double), cmp);
	printf("ok=%zu rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
	    "bad=%ld ioerr=%ld conns=%ld\n", total, (double)total / el,
	    total ? all[total / 2] * 1e3 : 0,
	    total ? all[(size_t)((double)total * 0.99)] * 1e3 : 0,
	    total ? all[total - 1] * 1e3 : 0, bad, ioerr, conns);
	return 0;
}
