/* Error codes and the error context that carries detail to the user. */
#ifndef CA_ERR_H
#define CA_ERR_H

#include <stddef.h>

enum ca_status {
	CA_OK = 0,
	CA_ERR_NOMEM = -1,	/* out of memory */
	CA_ERR_IO = -2,		/* file or system call failed */
	CA_ERR_INVALID = -3,	/* malformed input */
	CA_ERR_POLICY = -4,	/* a template rule refuses the request */
	CA_ERR_CRYPTO = -5,	/* signature, key or OpenSSL failure */
	CA_ERR_DB = -6,		/* SQLite failure */
	CA_ERR_NOTFOUND = -7,	/* no such object */
	CA_ERR_EXISTS = -8,	/* object exists already */
	CA_ERR_PERM = -9,	/* unsafe file permissions */
	CA_ERR_AUTH = -10,	/* authentication failed */
	CA_ERR_CONFIG = -11,	/* configuration or template file invalid */
	CA_ERR_INTERNAL = -12,	/* bug */
};

#define CA_ERR_MSGMAX 4096

/*
 * Filled by library code, printed by the caller. Several messages may be
 * added (one per violated rule); they are kept one per line.
 */
struct ca_err {
	int code;		/* first error code set */
	size_t count;		/* messages added */
	char msg[CA_ERR_MSGMAX];
};

const char *ca_strerror(int code);
void ca_err_clear(struct ca_err *err);
/* Appends a message line; returns code so callers can write `return ca_err_set(...)`. */
int ca_err_set(struct ca_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* As ca_err_set, then appends OpenSSL's error queue (and clears it). */
int ca_err_ssl(struct ca_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
