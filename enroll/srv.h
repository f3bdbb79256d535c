/* smimecad's shared state and each thread's CA handle. */
#ifndef ENROLL_SRV_H
#define ENROLL_SRV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct ca;
struct ocsp_signer;
struct ca_config;
struct ca_err;
struct tpl;
struct scep;

/* Templates as validated at start or at the last reload, shared read-only. */
struct tplset {
	struct tpl **tpls;
	size_t n;
	atomic_int refs;
};

struct srv {
	char *dir;			/* CA directory */
	const char *passphrase_file;	/* CA key passphrase, or NULL */
	struct ca_config *cfg;		/* as loaded at start (listeners) */
	/* <daemon> settings as of the last reload; est-template is per wk. */
	atomic_int est_over_http;
	atomic_int body_max;
	int https_port;
	atomic_uint gen;		/* bumped by each reload */
	pthread_mutex_t reload_lock;	/* guards tplset */
	struct tplset *tplset;		/* the latest good templates */
	X509_STORE *trust;		/* CA chain, for client certificates */
};

/* One per thread: its own database connection and CA key. */
struct wk {
	struct ca *ca;
	struct tplset *ts;
	unsigned gen;
	unsigned char *cacerts;		/* certs-only PKCS#7 of the chain */
	size_t cacerts_len;
	struct ocsp_signer *ocsp;	/* enroll/ocsp.c: signs responses */
	int64_t ocsp_checked;		/* when it was looked up */
	struct scep *scep;		/* SCEP state (enroll/scep.c), lazily */
};

/* This thread's worker, (re)opened when the configuration changed. */
struct wk *srv_worker(struct srv *s, struct ca_err *err);
/* The same for a handler: NULL with a 503 in rs when the CA cannot open. */
struct resp;
struct req;
struct wk *srv_worker_req(struct req *rq, struct resp *rs);
/* Wakes the publisher: a certificate was issued (a job may be waiting). */
void srv_publish_kick(void);
/* A template by name, or NULL. */
const struct tpl *wk_template(const struct wk *w, const char *name);

#endif
