/* smimecad's HTTP layer: one route table, bounded requests, answers. */
#ifndef ENROLL_HTTP_H
#define ENROLL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct srv;
struct ca_err;
struct MHD_Connection;

/* One request as a handler sees it. */
struct req {
	struct srv *srv;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;		/* without the query */
	char label[64];			/* EST: /.well-known/est/LABEL/op */
	const unsigned char *body;
	size_t bodylen;
	int tls;			/* came over HTTPS */
	const char *user;		/* authenticated account, for the log */
	int reason;			/* METRIC_R_* of a refusal */
};

/* An answer; the HTTP layer frees owned after sending. */
struct resp {
	unsigned status;
	const char *content_type;
	const void *body;
	size_t len;
	const char *www_authenticate;	/* 401 challenge, or NULL */
	const char *extra_header;	/* "Name: value" or NULL */
	char *allow;			/* 405: Allow header (malloc'ed) */
	char *owned;			/* malloc'ed; body may point in */
	int secret;			/* wipe owned before freeing */
	/* More headers, "Name: value\n" each (malloc'ed), or NULL. */
	char *headers;
};

typedef void (*handler_fn)(struct req *, struct resp *);

#define ROUTE_EST	0x01	/* also /.well-known/est/LABEL/op */
#define ROUTE_PREFIX	0x02	/* path is a prefix */
#define ROUTE_PLAIN	0x04	/* served on the plain-HTTP listener too */

struct route {
	const char *method;		/* "GET", "POST" */
	const char *path;
	unsigned flags;
	handler_fn fn;
	const char *name;		/* metrics label */
};

extern const struct route http_routes[];	/* routes.c */

/* Sets a plain-text one-line answer ("request body too large..."). */
void resp_text(struct resp *rs, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps a library error to a status and its first line to the body. */
void resp_err(struct req *rq, struct resp *rs, const struct ca_err *err);
/* Sets a malloc'ed body the HTTP layer frees. */
void resp_owned(struct resp *rs, unsigned status, const char *ctype,
    char *buf, size_t len);
/* Base64 on one line and no newline, as strongSwan's EST client needs. */
void resp_base64(struct resp *rs, unsigned status, const char *ctype,
    const unsigned char *der, size_t len);
/* Copies der as the body. */
void resp_der(struct resp *rs, const char *ctype, const unsigned char *der,
    size_t len);

/* A request header, or NULL. */
const char *req_header(const struct req *rq, const char *name);
/* A query argument, or NULL. */
const char *req_arg(const struct req *rq, const char *name);
/* The TLS client certificate (verified by the caller), or NULL. */
X509 *req_client_cert(const struct req *rq);

/* The media type of the request without parameters, lower case; "" if none. */
void req_media_type(const struct req *rq, char *buf, size_t len);

#endif
