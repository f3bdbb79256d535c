/* Shared plumbing of the smimeca command-line program. */
#include "ac-config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ca/ca.h"
#include "ca/err.h"
#include "ca/util.h"
#include "tools/cli.h"

#define CLI_CSR_MAX	(256 * 1024)

void
cli_print_err(const struct ca_err *err)
{
	const char *p = err->msg, *nl;

	if (*p == '\0') {
		fprintf(stderr, "smimeca: %s\n", ca_strerror(err->code));
		return;
	}
	while (*p != '\0') {
		nl = strchr(p, '\n');
		fprintf(stderr, "smimeca: %.*s\n",
		    (int)(nl ? (size_t)(nl - p) : strlen(p)), p);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

void
cli_warnx(const char *fmt, ...)
{
	va_list ap;

	fputs("smimeca: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_usage(const struct cli_cmd *cmd)
{
	fprintf(stderr, "usage: smimeca [-d DIR] %s%s%s %s\n", cmd->name,
	    cmd->sub ? " " : "", cmd->sub ? cmd->sub : "", cmd->usage);
	return CLI_USAGE;
}

int
cli_open_ca(struct cli *cli, unsigned flags, struct ca **cap)
{
	struct ca_err err;

	ca_err_clear(&err);
	if (ca_open(cli->dir, cli->passphrase_file, flags, cap, &err) != 0) {
		cli_print_err(&err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int
cli_read_csr(const char *path, X509_REQ **csrp, struct ca_err *err)
{
	unsigned char *buf = NULL;
	const unsigned char *p;
	size_t len;
	BIO *b = NULL;
	X509_REQ *csr = NULL;
	int r;

	*csrp = NULL;
	if ((r = util_read_file(path, CLI_CSR_MAX, &buf, &len, err)) != 0)
		goto out;
	if (len > 0 && buf[0] == 0x30) {
		p = buf;
		csr = d2i_X509_REQ(NULL, &p, (long)len);
		if (csr != NULL && p != buf + len) {
			X509_REQ_free(csr);
			csr = NULL;
		}
	} else if ((b = BIO_new_mem_buf(buf, (int)len)) != NULL)
		csr = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	if (csr == NULL) {
		ERR_clear_error();
		r = ca_err_set(err, CA_ERR_INVALID, "%s: not a PKCS#10 "
		    "certificate request (PEM or DER); make one with "
		    "`openssl req -new`", path);
		goto out;
	}
	*csrp = csr;
	r = 0;
 out:
	BIO_free(b);
	free(buf);
	return r;
}

int
cli_write_cert(const char *path, X509 *cert, struct ca_err *err)
{
	BIO *b = NULL;
	char *data;
	long len;
	int r;

	if ((b = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509(b, cert))
		return ca_err_ssl(err, CA_ERR_NOMEM, "encoding certificate");
	len = BIO_get_mem_data(b, &data);
	if (path == NULL)
		r = fwrite(data, 1, (size_t)len, stdout) == (size_t)len ? 0 :
		    ca_err_set(err, CA_ERR_IO, "writing to stdout");
	else
		r = util_write_file(path, data, (size_t)len, 0644, err);
	BIO_free(b);
	return r;
}

int
cli_json_print_steal(json_t *v)
{
	int r;

	if (v == NULL) {
		cli_warnx("out of memory");
		return CLI_FAIL;
	}
	r = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(v);
	return r == 0 ? CLI_OK : CLI_FAIL;
}
