/* Error codes and the error context. */
#include "ac-config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "ca/err.h"

static void err_vappend(struct ca_err *, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

const char *
ca_strerror(int code)
{
	switch (code) {
	case CA_OK:		return "success";
	case CA_ERR_NOMEM:	return "out of memory";
	case CA_ERR_IO:		return "input/output error";
	case CA_ERR_INVALID:	return "invalid input";
	case CA_ERR_POLICY:	return "refused by policy";
	case CA_ERR_CRYPTO:	return "cryptographic failure";
	case CA_ERR_DB:		return "database error";
	case CA_ERR_NOTFOUND:	return "not found";
	case CA_ERR_EXISTS:	return "already exists";
	case CA_ERR_PERM:	return "unsafe permissions";
	case CA_ERR_AUTH:	return "authentication failed";
	case CA_ERR_CONFIG:	return "configuration error";
	case CA_ERR_INTERNAL:	return "internal error";
	}
	return "unknown error";
}

void
ca_err_clear(struct ca_err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->count = 0;
	err->msg[0] = '\0';
}

static void
err_vappend(struct ca_err *err, int code, const char *fmt, va_list ap)
{
	size_t used;

	if (err->code == 0)
		err->code = code;
	used = strlen(err->msg);
	if (used > 0 && used + 1 < sizeof(err->msg)) {
		err->msg[used++] = '\n';
		err->msg[used] = '\0';
	}
	if (used + 1 < sizeof(err->msg))
		vsnprintf(err->msg + used, sizeof(err->msg) - used, fmt, ap);
	err->count++;
}

int
ca_err_set(struct ca_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	va_start(ap, fmt);
	err_vappend(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int
ca_err_ssl(struct ca_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	unsigned long e;
	char buf[256];
	size_t used;

	if (err == NULL) {
		ERR_clear_error();
		return code;
	}
	va_start(ap, fmt);
	err_vappend(err, code, fmt, ap);
	va_end(ap);
	/* The most specific reason is the earliest one queued. */
	if ((e = ERR_peek_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		used = strlen(err->msg);
		if (used + 1 < sizeof(err->msg))
			snprintf(err->msg + used, sizeof(err->msg) - used,
			    " (%s)", buf);
	}
	ERR_clear_error();
	return code;
}
