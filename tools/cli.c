/* Shared plumbing of the smimeca command-line program. */
#include "ac-config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "archive/p12.h"
#include "ca/ca.h"
#include "ca/err.h"
#include "ca/util.h"
#include "tools/cli.h"

#define CLI_CSR_MAX	(256 * 1024)
#define CLI_PASS_MAX	4096

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
cli_out_opt(struct cli_out *o, int ch, const char *arg)
{
	switch (ch) {
	case 'o':
		o->out = arg;
		break;
	case 'O':
		o->out_dir = arg;
		break;
	case 'p':
		o->password_file = arg;
		break;
	case 'L':
		o->legacy = 1;
		break;
	default:
		return 0;
	}
	return 1;
}

int
cli_json_opt(const struct cli_cmd *me, int argc, char **argv, int *jsonp)
{
	static const struct option opts[] = { CLI_OPT_JSON, CLI_OPT_END };
	int ch;

	*jsonp = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'j')
			return cli_usage(me);
		*jsonp = 1;
	}
	return optind != argc ? cli_usage(me) : CLI_OK;
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
cli_read_pass(const char *file, const char *env, unsigned flags,
    char **passp, struct ca_err *err)
{
	unsigned char *buf = NULL;
	const char *e;
	size_t len = 0, n;
	int r;

	*passp = NULL;
	if (file != NULL && (flags & CLI_PASS_EMPTY)) {
		/* Whoever checks it refuses an empty one by name. */
		if ((r = util_read_file(file, CLI_PASS_MAX, &buf, &len,
		    err)) != 0)
			return r;
		n = strcspn((char *)buf, "\r\n");
		OPENSSL_cleanse(buf + n, len - n);
		*passp = (char *)buf;
		return 0;
	}
	if (file != NULL)
		return util_read_passphrase(file, passp, err);
	if (env != NULL && (e = getenv(env)) != NULL && *e != '\0' &&
	    (*passp = strdup(e)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	return 0;
}

int
cli_load_officer(const char *p12, const char *passfile, EVP_PKEY **keyp,
    X509 **certp, struct ca_err *err)
{
	char *pass = NULL;
	int r;

	*keyp = NULL;
	*certp = NULL;
	if ((r = cli_read_pass(passfile, CLI_KRA_PASS_ENV, 0, &pass,
	    err)) != 0)
		return r;
	r = p12_load(p12, pass, keyp, certp, err);
	util_free_secret(pass);
	return r;
}

int
cli_mkdir_out(const char *dir, struct ca_err *err)
{
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return ca_err_set(err, CA_ERR_IO, "%s: %s", dir,
		    strerror(errno));
	return 0;
}

char *
cli_file_name(const char *dir, const char *name, const char *suffix)
{
	char *base, *p, *path;

	if (asprintf(&base, "%s%s", name, suffix) == -1)
		return NULL;
	for (p = base; *p != '\0'; p++)
		if (*p == '/')
			*p = '_';
	path = util_path(dir, base);
	free(base);
	return path;
}

int
cli_device_ca(struct cli *cli, const char **cafp, char **chainp,
    struct ca_err *err)
{
	*chainp = NULL;
	if (*cafp != NULL)
		return 0;
	if ((*chainp = util_path(cli->dir, "chain.pem")) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if (access(*chainp, R_OK) != 0)
		return ca_err_set(err, CA_ERR_CONFIG, "%s: %s: give the device "
		    "CA with --device-ca CA.pem, or the CA directory with -d",
		    *chainp, strerror(errno));
	*cafp = *chainp;
	return 0;
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
	if (path != NULL)
		return util_write_cert(path, cert, err);
	if (!PEM_write_X509(stdout, cert))
		return ca_err_set(err, CA_ERR_IO, "writing to stdout");
	return 0;
}

int
cli_write_p12(const char *path, EVP_PKEY *key, X509 *cert,
    STACK_OF(X509) *chain, const char *password, int legacy,
    struct ca_err *err)
{
	char gen[21], serial[65];
	unsigned char *der = NULL;
	size_t len = 0;
	int r;

	memset(gen, 0, sizeof(gen));
	if (password == NULL &&
	    (r = p12_random_password(gen, sizeof(gen) - 1, err)) != 0)
		return r;
	util_serial_hex(X509_get0_serialNumber(cert), serial);
	if ((r = (legacy ? p12_make_legacy : p12_make)(key, cert, chain,
	    password != NULL ? password : gen, serial, &der, &len,
	    err)) != 0 ||
	    (r = util_write_file(path, der, len, 0600, err)) != 0)
		goto out;
	printf("wrote %s (certificate %s)", path, serial);
	if (password == NULL)
		printf(", PKCS#12 password: %s", gen);
	printf("\n");
 out:
	OPENSSL_cleanse(gen, sizeof(gen));
	if (der != NULL)
		OPENSSL_clear_free(der, len);
	return r;
}

int
cli_write_json(const char *path, json_t *v, struct ca_err *err)
{
	char *s;
	int r;

	if ((s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	r = util_write_file(path, s, strlen(s), 0600, err);
	free(s);
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

int
cli_parse_ttl(const char *s, int64_t *outp)
{
	char *end;
	long long v;
	int64_t mul = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v <= 0)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	case 'w':
		mul = 7 * 86400;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > (long long)(366 * 86400) / mul)
		return -1;
	*outp = (int64_t)v * mul;
	return 0;
}
