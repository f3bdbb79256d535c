/*
 * A small EST (RFC 7030) client for smimeca-enroll. estclient.c talks
 * HTTPS through libcurl and verifies the server against one CA file;
 * estclient-parse.c reads the answers and touches no network, so the unit
 * tests and the fuzz harness link it alone.
 */
#ifndef TOOLS_ESTCLIENT_H
#define TOOLS_ESTCLIENT_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct ca_err;

/* The largest answer body read from a server. */
#define ESTC_MAX_RESP	(1024 * 1024)

struct estc;

/* One HTTP answer. */
struct estc_resp {
	int status;
	char ctype[256];		/* Content-Type as sent, "" if none */
	long retry_after;		/* Retry-After seconds, -1 if none */
	unsigned char *body;		/* NUL-terminated; wiped on free */
	size_t len;
};

/* One part of a multipart body; pointers into the body it came from. */
struct estc_part {
	char ctype[256];
	const unsigned char *body;
	size_t len;
};

/* What a CMC PKIResponse said, after its signature verified. */
struct estc_cmc {
	long status;			/* cMCStatus, -1 when absent */
	long fail_info;			/* CMCFailInfo, -1 when absent */
	char status_string[256];
	unsigned char cert_hash[EVP_MAX_MD_SIZE];  /* issued-cert hash */
	size_t cert_hash_len;		/* 0: absent */
	unsigned char key_hash[EVP_MAX_MD_SIZE];   /* encrypted-key hash */
	size_t key_hash_len;		/* 0: absent */
	STACK_OF(X509) *certs;		/* the certificates it carried */
	X509 *signer;			/* whose signature verified */
};

/* --- estclient.c: the transport -------------------------------------- */

/*
 * A client for https://HOST[:PORT] whose certificate must chain to the
 * certificates in cafile and name HOST. Nothing is sent yet.
 */
int estc_new(const char *url, const char *cafile, struct estc **cp,
    struct ca_err *err);
/* Is url of the form estc_new takes? */
int estc_url_check(const char *url, struct ca_err *err);
/* HTTP Basic credentials for every request. */
int estc_set_basic(struct estc *c, const char *user, const char *pass,
    struct ca_err *err);
/* A TLS client certificate (PEM, with its chain) and its key. */
int estc_set_client_cert(struct estc *c, const char *certfile,
    const char *keyfile, struct ca_err *err);
/* The certificates of cafile, as a store (owned by c). */
X509_STORE *estc_store(const struct estc *c);
void estc_free(struct estc *c);

/*
 * One request (GET, or POST when ctype is set) to path on the server;
 * any HTTP answer is returned (the status is the caller's to judge),
 * failures to talk are errors. Redirects within the origin are followed.
 */
int estc_request(struct estc *c, const char *path, const char *ctype,
    const void *body, size_t len, struct estc_resp **respp,
    struct ca_err *err);

/* EST operations; label is the template name or NULL for the default. */
int estc_simpleenroll(struct estc *c, const char *label, X509_REQ *csr,
    int renew, STACK_OF(X509) **certsp, struct ca_err *err);
int estc_serverkeygen(struct estc *c, const char *label, X509_REQ *csr,
    EVP_PKEY **keyp, STACK_OF(X509) **certsp, struct ca_err *err);
/* Sends a CMC full PKI request (DER); checks the CA's signed answer. */
int estc_fullcmc(struct estc *c, const char *label,
    const unsigned char *req, size_t reqlen, struct estc_cmc *cmc,
    struct ca_err *err);
/* The CA exchange certificate, checked: chains to cafile, has the EKU. */
int estc_exchange(struct estc *c, X509 **certp, struct ca_err *err);

/* --- estclient-parse.c: the answers (network input) ------------------ */

void estc_resp_free(struct estc_resp *resp);
/* An error unless the answer is 200: "server said 403: reason". */
int estc_expect_ok(const struct estc_resp *resp, const char *what,
    struct ca_err *err);
/* Is s a template name that can go into /.well-known/est/LABEL/? */
int estc_label_ok(const char *s);

/* The answer of simpleenroll or simplereenroll (what): certs-only. */
int estc_answer_certs(const struct estc_resp *resp, const char *what,
    STACK_OF(X509) **certsp, struct ca_err *err);
/* The answer of serverkeygen: multipart, a PKCS#8 key and certs-only. */
int estc_answer_keygen(const struct estc_resp *resp, EVP_PKEY **keyp,
    STACK_OF(X509) **certsp, struct ca_err *err);
/*
 * The answer of fullcmc: a CMC PKIResponse whose CMS signature verifies
 * against store (cafile names it in messages).
 */
int estc_answer_cmc(const struct estc_resp *resp, X509_STORE *store,
    const char *cafile, struct estc_cmc *cmc, struct ca_err *err);
void estc_cmc_clear(struct estc_cmc *cmc);
/* The answer of /ca/exchange from server, checked as estc_exchange says. */
int estc_answer_exchange(const struct estc_resp *resp, X509_STORE *store,
    const char *server, const char *cafile, X509 **certp,
    struct ca_err *err);

/* The parts of a multipart body. */
int estc_multipart(const char *ctype, const unsigned char *body,
    size_t len, struct estc_part *parts, size_t maxparts, size_t *np,
    struct ca_err *err);
/* Base64 with line breaks allowed; the output is wiped when freed. */
int estc_unbase64(const unsigned char *in, size_t len,
    unsigned char **outp, size_t *lenp, struct ca_err *err);
/* The certificates of a certs-only PKCS#7 (DER). */
int estc_certs_only(const unsigned char *der, size_t len,
    STACK_OF(X509) **certsp, struct ca_err *err);
/* The media type of a Content-Type value, lower case, in buf. */
void estc_media_type(const char *ctype, char *buf, size_t len);

#endif
