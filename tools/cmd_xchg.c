/* smimeca xchg show and roll: the CA exchange certificate for archival. */
#include "ac-config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "archive/xchg.h"
#include "ca/ca.h"
#include "ca/err.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_xchg_show(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_xchg_roll(const struct cli_cmd *, struct cli *, int,
    char **);
static int print_cert(X509 *, int);

const struct cli_cmd cli_xchg_cmds[] = {
	{ "xchg", "show", cmd_xchg_show, "[--pem]" },
	{ "xchg", "roll", cmd_xchg_roll, "" },
	{ NULL, NULL, NULL, NULL }
};

static int
print_cert(X509 *cert, int pem)
{
	BIO *b;
	char serial[65];

	if ((b = BIO_new_fp(stdout, BIO_NOCLOSE)) == NULL)
		return CLI_FAIL;
	if (pem)
		PEM_write_bio_X509(b, cert);
	else {
		util_serial_hex(X509_get0_serialNumber(cert), serial);
		BIO_printf(b, "Serial:    %s\nNot after: ", serial);
		ASN1_TIME_print(b, X509_get0_notAfter(cert));
		BIO_printf(b, "\n");
		X509_print_ex(b, cert, XN_FLAG_ONELINE, X509_FLAG_NO_PUBKEY |
		    X509_FLAG_NO_SIGDUMP | X509_FLAG_NO_HEADER);
	}
	BIO_free(b);
	return CLI_OK;
}

static int
cmd_xchg_show(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	struct ca *ca = NULL;
	struct ca_err err;
	X509 *cert = NULL;
	int pem = 0, rc;

	ca_err_clear(&err);
	if (argc == 2 && strcmp(argv[1], "--pem") == 0)
		pem = 1;
	else if (argc != 1)
		return cli_usage(me);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (xchg_current(ca, (int64_t)time(NULL), &cert, &err) != 0) {
		cli_print_err(&err);
		ca_close(ca);
		return CLI_FAIL;
	}
	rc = print_cert(cert, pem);
	X509_free(cert);
	ca_close(ca);
	return rc;
}

static int
cmd_xchg_roll(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	struct ca *ca = NULL;
	struct ca_err err;
	X509 *cert = NULL;
	int rc;

	ca_err_clear(&err);
	if (argc != 1)
		return cli_usage(me);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (xchg_roll(ca, (int64_t)time(NULL), &cert, &err) != 0) {
		cli_print_err(&err);
		ca_close(ca);
		return CLI_FAIL;
	}
	rc = print_cert(cert, 0);
	X509_free(cert);
	ca_close(ca);
	return rc;
}
