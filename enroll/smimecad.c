/* smimecad: the CA's enrollment daemon (EST, CMC) on libmicrohttpd. */
#include "ac-config.h"

#include <errno.h>
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/err.h"
#include "ca/ocsp.h"
#include "ca/publish.h"
#include "ca/scep.h"
#include "ca/template.h"
#include "ca/tls.h"
#include "ca/util.h"
#include "enroll/auth.h"
#include "enroll/daemon.h"
#include "enroll/handlers.h"
#include "enroll/http.h"
#include "enroll/log.h"
#include "enroll/srv.h"

static struct srv the_srv;
static pthread_key_t wk_key;

/* The publisher thread: applies the LDAP outbox (ca/publish.c). */
#define PUB_POLL	5	/* seconds between looks at the outbox */
#define PUB_BATCH	100
static pthread_t pub_thread;
static pthread_mutex_t pub_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pub_cv = PTHREAD_COND_INITIALIZER;
static int pub_stop, pub_kick;

static void *publisher(void *);

static struct tplset *tplset_get(struct srv *);
static void tplset_put(struct tplset *);
static struct tplset *tplset_load(struct ca *, struct ca_err *);
static void wk_free(void *);
static int wk_open(struct srv *, struct wk *, struct ca_err *);
static int reload(struct srv *);
static int parse_listen(const char *, char **, int *);
static X509_STORE *trust_store(struct ca *, char **, struct ca_err *);
static void usage(void) __attribute__((noreturn));

static struct tplset *
tplset_get(struct srv *s)
{
	struct tplset *ts;

	pthread_mutex_lock(&s->reload_lock);
	ts = s->tplset;
	atomic_fetch_add(&ts->refs, 1);
	pthread_mutex_unlock(&s->reload_lock);
	return ts;
}

static void
tplset_put(struct tplset *ts)
{
	if (ts != NULL && atomic_fetch_sub(&ts->refs, 1) == 1) {
		tpl_free_all(ts->tpls, ts->n);
		free(ts);
	}
}

/* Loads and validates every template of the CA. */
static struct tplset *
tplset_load(struct ca *ca, struct ca_err *err)
{
	struct tplset *ts;

	if ((ts = calloc(1, sizeof(*ts))) == NULL) {
		ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (tpl_load_all(ca_config(ca)->template_dir, &ts->tpls, &ts->n,
	    err) != 0) {
		free(ts);
		return NULL;
	}
	atomic_store(&ts->refs, 1);
	return ts;
}

static void
wk_free(void *p)
{
	struct wk *w = p;

	if (w == NULL)
		return;
	tplset_put(w->ts);
	ocsp_signer_free(w->ocsp);
	scep_free(w->scep);
	ca_close(w->ca);
	OPENSSL_free(w->cacerts);
	free(w);
}

/*
 * Opens the CA anew and takes the current templates. When the CA cannot
 * be opened (a configuration broken after the reload checked it), the
 * thread keeps its previous handle rather than failing requests.
 */
static int
wk_open(struct srv *s, struct wk *w, struct ca_err *err)
{
	struct ca *ca = NULL;
	int r;

	w->gen = atomic_load(&s->gen);
	if ((r = ca_open(s->dir, s->passphrase_file, CA_OPEN_KEY, &ca,
	    err)) != 0) {
		if (w->ca == NULL)
			return r;
		log_err("keeping the previous CA handle: %s", err->msg);
		ca_err_clear(err);
	} else {
		ca_close(w->ca);
		w->ca = ca;
		ca_set_actor(w->ca, "smimecad");
		/* The <ocsp> settings may have changed. */
		ocsp_signer_free(w->ocsp);
		w->ocsp = NULL;
		OPENSSL_free(w->cacerts);
		w->cacerts = NULL;
		/* SCEP settings (legacy) come with the configuration. */
		scep_free(w->scep);
		w->scep = NULL;
	}
	tplset_put(w->ts);
	w->ts = tplset_get(s);
	return 0;
}

struct wk *
srv_worker(struct srv *s, struct ca_err *err)
{
	struct wk *w = pthread_getspecific(wk_key);

	if (w == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL) {
			ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			return NULL;
		}
		if (pthread_setspecific(wk_key, w) != 0) {
			free(w);
			ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			return NULL;
		}
	}
	/* Between two requests of this thread: nothing is in flight here. */
	if (w->ca == NULL || w->gen != atomic_load(&s->gen)) {
		if (wk_open(s, w, err) != 0)
			return NULL;
	}
	return w;
}

struct wk *
srv_worker_req(struct req *rq, struct resp *rs)
{
	struct ca_err err;
	struct wk *w;

	ca_err_clear(&err);
	if ((w = srv_worker(rq->srv, &err)) == NULL) {
		log_err("opening the CA: %s", err.msg);
		resp_text(rs, 503, "the CA cannot be opened right now; the "
		    "server log has the details");
	}
	return w;
}

void
srv_publish_kick(void)
{
	pthread_mutex_lock(&pub_mu);
	pub_kick = 1;
	pthread_cond_signal(&pub_cv);
	pthread_mutex_unlock(&pub_mu);
}

/*
 * Runs due publish jobs, then sleeps until the next is due, a kick, or
 * PUB_POLL seconds (jobs written by the CLI). The directory is written
 * outside any transaction; an outage only delays the jobs.
 */
static void *
publisher(void *arg)
{
	struct srv *s = arg;
	struct ca *ca = NULL;
	struct ca_err err;
	struct pub_result res;
	struct timespec until;
	unsigned gen = 0;
	int64_t now, wait;
	int r, last_failed = 0;

	for (;;) {
		ca_err_clear(&err);
		if (ca == NULL || gen != atomic_load(&s->gen)) {
			ca_close(ca);
			ca = NULL;
			gen = atomic_load(&s->gen);
			if (ca_open(s->dir, s->passphrase_file, 0, &ca,
			    &err) != 0) {
				log_err("publisher: %s", err.msg);
				ca = NULL;
			}
		}
		wait = PUB_POLL;
		if (ca != NULL && ca_config(ca)->ldap != NULL) {
			memset(&res, 0, sizeof(res));
			r = pub_run(ca, PUB_BATCH, &res, &err);
			if (r != 0 && !last_failed)
				log_warn("publishing to the directory: %s "
				    "(jobs stay queued and are retried)",
				    err.msg);
			else if (r == 0 && last_failed)
				log_info("publishing to the directory works "
				    "again");
			last_failed = r != 0;
			now = (int64_t)time(NULL);
			if (res.tried >= PUB_BATCH && r == 0)
				wait = 0;
			else if (res.next_due > 0 && res.next_due - now <
			    wait)
				wait = res.next_due > now ?
				    res.next_due - now : 1;
		}
		pthread_mutex_lock(&pub_mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)wait;
		while (!pub_stop && !pub_kick && wait > 0 &&
		    pthread_cond_timedwait(&pub_cv, &pub_mu, &until) == 0)
			;
		pub_kick = 0;
		if (pub_stop) {
			pthread_mutex_unlock(&pub_mu);
			break;
		}
		pthread_mutex_unlock(&pub_mu);
	}
	ca_close(ca);
	return NULL;
}

const struct tpl *
wk_template(const struct wk *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->ts->n; i++)
		if (strcmp(w->ts->tpls[i]->name, name) == 0)
			return w->ts->tpls[i];
	return NULL;
}

/* SIGHUP: checks the new configuration and templates, then switches. */
static int
reload(struct srv *s)
{
	struct ca_err err;
	struct ca *ca = NULL;
	struct tplset *ts = NULL, *old;

	ca_err_clear(&err);
	if (ca_open(s->dir, s->passphrase_file, CA_OPEN_KEY, &ca, &err) != 0 ||
	    (ts = tplset_load(ca, &err)) == NULL) {
		log_err("reload refused, still serving the previous "
		    "configuration: %s", err.msg);
		ca_close(ca);
		return -1;
	}
	atomic_store(&s->est_over_http, ca_config(ca)->daemon.est_over_http);
	atomic_store(&s->body_max, ca_config(ca)->daemon.body_max);
	ca_close(ca);
	pthread_mutex_lock(&s->reload_lock);
	old = s->tplset;
	s->tplset = ts;
	pthread_mutex_unlock(&s->reload_lock);
	tplset_put(old);
	auth_flush();
	atomic_fetch_add(&s->gen, 1);
	log_info("reloaded the configuration and %zu templates (listener "
	    "changes take a restart)", ts->n);
	return 0;
}

/* "ADDR:PORT", "[V6]:PORT", "PORT" or "none". */
static int
parse_listen(const char *arg, char **addrp, int *portp)
{
	const char *colon;
	char *end;
	long port;

	free(*addrp);
	*addrp = NULL;
	if (strcmp(arg, "none") == 0)
		return 0;
	if (arg[0] == '[') {
		if ((colon = strstr(arg, "]:")) == NULL)
			return -1;
		*addrp = strndup(arg + 1, (size_t)(colon - arg - 1));
		colon++;
	} else if ((colon = strrchr(arg, ':')) != NULL)
		*addrp = strndup(arg, (size_t)(colon - arg));
	else {
		*addrp = strdup("127.0.0.1");
		colon = arg - 1;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (*addrp == NULL || errno != 0 || *end != '\0' || port < 1 ||
	    port > 65535)
		return -1;
	*portp = (int)port;
	return 0;
}

/* The CA chain: what client certificates must chain to; PEM for GnuTLS. */
static X509_STORE *
trust_store(struct ca *ca, char **pemp, struct ca_err *err)
{
	STACK_OF(X509) *chain = ca_chain(ca);
	X509_STORE *st = NULL;
	BIO *b = NULL;
	char *p;
	long n;
	int i;

	*pemp = NULL;
	if ((st = X509_STORE_new()) == NULL ||
	    (b = BIO_new(BIO_s_mem())) == NULL)
		goto fail;
	for (i = 0; i < sk_X509_num(chain); i++)
		if (!X509_STORE_add_cert(st, sk_X509_value(chain, i)) ||
		    !PEM_write_bio_X509(b, sk_X509_value(chain, i)))
			goto fail;
	if ((n = BIO_get_mem_data(b, &p)) <= 0 ||
	    (*pemp = strndup(p, (size_t)n)) == NULL)
		goto fail;
	BIO_free(b);
	return st;
 fail:
	ca_err_ssl(err, CA_ERR_NOMEM, "loading the CA chain");
	BIO_free(b);
	X509_STORE_free(st);
	return NULL;
}

static void
usage(void)
{
	fprintf(stderr, "usage: smimecad -d DIR [-fq] [-P passphrase-file] "
	    "[--https ADDR:PORT] [--http ADDR:PORT|none] [--threads N]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "https", required_argument, NULL, 'S' },
		{ "http", required_argument, NULL, 'H' },
		{ "threads", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct srv *s = &the_srv;
	struct ca_err err;
	struct ca *ca = NULL;
	struct ocsp_signer *signer = NULL;
	const struct cfg_daemon *dm;
	char *https_addr = NULL, *http_addr = NULL, *cert = NULL, *key = NULL;
	char *trust = NULL, *end;
	const char *dir = NULL, *https_opt = NULL, *http_opt = NULL;
	size_t keylen = 0;
	sigset_t set;
	long nthreads = -1, ncpu;
	int ch, fg = 0, quiet = 0, sig, https_port, http_port, rc = 1;

	ca_err_clear(&err);
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
	/*
	 * glibc gives each worker thread a malloc arena of its own, and keeps
	 * what was freed in it: with TLS connections on every thread, that is
	 * 88 MiB of peak RSS where two arenas need 53 at the same throughput
	 * (bench/README.md, "RSS"). MALLOC_ARENA_MAX in the environment wins.
	 */
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		mallopt(M_ARENA_MAX, 2);
#endif
	while ((ch = getopt_long(argc, argv, "d:fqP:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'f':
			fg = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'P':
			s->passphrase_file = optarg;
			break;
		case 'S':
			https_opt = optarg;
			break;
		case 'H':
			http_opt = optarg;
			break;
		case 't':
			errno = 0;
			nthreads = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || nthreads < 1 ||
			    nthreads > 256)
				usage();
			break;
		case 'V':
			printf("smimecad %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (dir == NULL || optind != argc)
		usage();
	log_init(1, quiet);

	/* Everything is checked before the first connection is accepted. */
	if (ca_open(dir, s->passphrase_file, CA_OPEN_KEY, &ca, &err) != 0)
		goto fail;
	s->cfg = (struct ca_config *)ca_config(ca);
	dm = &s->cfg->daemon;
	if ((s->dir = strdup(s->cfg->dir)) == NULL) {
		ca_err_set(&err, CA_ERR_NOMEM, "out of memory");
		goto fail;
	}
	atomic_store(&s->est_over_http, dm->est_over_http);
	atomic_store(&s->body_max, dm->body_max);
	https_addr = strdup(dm->https_addr);
	https_port = dm->https_port;
	http_addr = dm->http_addr ? strdup(dm->http_addr) : NULL;
	http_port = dm->http_port;
	if ((https_opt != NULL && (parse_listen(https_opt, &https_addr,
	    &https_port) != 0 || https_addr == NULL)) ||
	    (http_opt != NULL && parse_listen(http_opt, &http_addr,
	    &http_port) != 0)) {
		fprintf(stderr, "smimecad: --https takes ADDR:PORT, --http "
		    "ADDR:PORT or none\n");
		return 2;
	}
	s->https_port = https_port;
	if (nthreads < 1) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = dm->threads > 0 ? dm->threads : ncpu > 0 ? ncpu : 2;
	}
	if (tls_load_pem(ca, &cert, &key, &keylen, &err) != 0 ||
	    (s->trust = trust_store(ca, &trust, &err)) == NULL)
		goto fail;
	if ((s->tplset = tplset_load(ca, &err)) == NULL)
		goto fail;
	/* The OCSP signer, made now if there is none: not by two threads. */
	if (ocsp_signer_get(ca, (int64_t)time(NULL), &signer, &err) != 0)
		goto fail;
	ocsp_signer_free(signer);
	if (auth_init() != 0 ||
	    pthread_key_create(&wk_key, wk_free) != 0 ||
	    pthread_mutex_init(&s->reload_lock, NULL) != 0) {
		ca_err_set(&err, CA_ERR_NOMEM, "initialising");
		goto fail;
	}
	atomic_store(&s->gen, 1);
	/* Bound before daemon(3): an address in use fails the start, exit 1. */
	if (http_listen(https_addr, https_port, http_addr, http_port,
	    &err) != 0)
		goto fail;

	if (!fg) {
		if (daemon(0, 0) == -1) {
			ca_err_set(&err, CA_ERR_IO, "daemon: %s",
			    strerror(errno));
			goto fail;
		}
		log_init(0, quiet);
	}
	/* Signals go to the main thread's sigwait, not to the pool. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (http_start(s, cert, key, trust, (unsigned)nthreads, &err) != 0)
		goto fail;
	if (pthread_create(&pub_thread, NULL, publisher, s) != 0) {
		ca_err_set(&err, CA_ERR_NOMEM, "starting the publisher");
		http_stop();
		goto fail;
	}
	if (ocsp_http_start(s, &err) != 0)
		log_err("%s (pre-produced responses are signed on demand)",
		    err.msg);
	if (s->cfg->ldap != NULL)
		log_info("publishing to %s", s->cfg->ldap->uri);
	OPENSSL_clear_free(key, keylen);
	key = NULL;
	log_info("serving CA \"%s\" from %s on https://%s:%d/ (%ld "
	    "threads)", s->cfg->name, s->dir, https_addr, https_port,
	    nthreads);
	if (http_addr != NULL)
		log_info("and on http://%s:%d/ for CA certificates, CRL, OCSP, "
		    "exchange certificate, health, metrics%s", http_addr,
		    http_port,
		    atomic_load(&s->est_over_http) ? ", EST" : "");
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(s);
			continue;
		}
		log_info("%s: stopping; requests in flight finish first",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
	http_quiesce();
	http_stop();
	pthread_mutex_lock(&pub_mu);
	pub_stop = 1;
	pthread_cond_signal(&pub_cv);
	pthread_mutex_unlock(&pub_mu);
	pthread_join(pub_thread, NULL);
	ocsp_http_stop();
	rc = 0;
	goto out;
 fail:
	log_err("%s", err.msg);
	rc = 1;
 out:
	http_stop();
	if (key != NULL)
		OPENSSL_clear_free(key, keylen);
	free(cert);
	free(trust);
	free(https_addr);
	free(http_addr);
	X509_STORE_free(s->trust);
	tplset_put(s->tplset);
	free(s->dir);
	ca_close(ca);
	return rc;
}
