/*
 * Between the outbox (ca/outbox.c), the reconciliation (ca/publish.c)
 * and the cleaning of other issuers' values (ca/pubclean.c): the context
 * of a run and what it does. Only they include this header.
 */
#ifndef CA_PUBLISH_INT_H
#define CA_PUBLISH_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct ca;
struct ca_config;
struct cfg_ldap;
struct ca_err;
struct db;
struct db_pub_job;
struct dir;
struct seen;
struct tpl_seen;

/* A run: the CA, its directory (connected on demand), the clock. */
struct pub_ctx {
	struct ca *ca;
	const struct ca_config *cfg;
	const struct cfg_ldap *l;
	struct db *db;
	struct dir *d;
	STACK_OF(X509) *issuers;
	struct tpl_seen *tpls;
	size_t ntpls;
	struct seen *seen;
	size_t nseen;
	int64_t now;
	int dry_run;
	char ca_attr[64];	/* cACertificate[;binary] */
	char crl_attr[64];	/* certificateRevocationList[;binary] */
};


/* What a run needs (now is its clock) but the directory connection. */
int pub_ctx_new(struct ca *ca, int64_t now, struct pub_ctx **pxp,
    struct ca_err *err);
void pub_ctx_free(struct pub_ctx *px);
/*
 * Connects to the directory unless connected, then makes it agree with
 * the database for one job; result gets what was done.
 */
int pub_ctx_apply(struct pub_ctx *px, const struct db_pub_job *j,
    char *result, size_t rlen, struct ca_err *err);
/* Connects to the directory unless connected (px->d). */
int pub_ctx_dir(struct pub_ctx *px, struct ca_err *err);
/* Drops the connection (the directory is down); the next apply redials. */
void pub_ctx_hangup(struct pub_ctx *px);

#endif
