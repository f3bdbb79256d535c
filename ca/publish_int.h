/*
 * Between the outbox (ca/outbox.c) and the reconciliation (ca/publish.c):
 * the context of a run and the one job it applies. Only they include
 * this header.
 */
#ifndef CA_PUBLISH_INT_H
#define CA_PUBLISH_INT_H

#include <stddef.h>
#include <stdint.h>

struct ca;
struct ca_err;
struct db_pub_job;
struct pub_ctx;

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
/* Drops the connection (the directory is down); the next apply redials. */
void pub_ctx_hangup(struct pub_ctx *px);

#endif
