/* smimeca crl: the CA's current CRL, PEM or DER. */
#include "ac-config.h"

#include <getopt.h>
#include <stdio.h>

#include <openssl/pem.h>

#include "ca/ca.h"
#include "ca/err.h"
#include "ca/revoke.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_crl(const struct cli_cmd *, struct cli *, int, char **);

const struct cli_cmd cli_crl_cmds[] = {
	{ "crl", NULL, cmd_crl, "[--out FILE] [--der]" },
	{ NULL, NULL, NULL, NULL }
};

static int
cmd_crl(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_OUT,
		{ "der", no_argument, NULL, 'D' },
		CLI_OPT_END
	};
	struct ca *ca = NULL;
	struct ca_err err;
	const char *out = NULL;
	unsigned char *der = NULL;
	size_t derlen = 0;
	BIO *b = NULL;
	char *data;
	long len;
	int ch, as_der = 0, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'D':
			as_der = 1;
			break;
		default:
			return cli_usage(me);
		}
	}
	if (optind != argc)
		return cli_usage(me);
	if ((rc = cli_open_ca(cli, CA_OPEN_KEY, &ca)) != CLI_OK)
		return rc;
	rc = CLI_FAIL;
	/* The DER as stored: encoding an X509_CRL again costs as much. */
	if (rev_crl_generate_der(ca, &der, &derlen, &err) != 0)
		goto out;
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    (as_der ? BIO_write(b, der, (int)derlen) != (int)derlen :
	    !PEM_write_bio(b, PEM_STRING_X509_CRL, "", der, (long)derlen))) {
		ca_err_ssl(&err, CA_ERR_CRYPTO, "encoding the CRL");
		goto out;
	}
	len = BIO_get_mem_data(b, &data);
	if (out == NULL) {
		if (fwrite(data, 1, (size_t)len, stdout) != (size_t)len) {
			ca_err_set(&err, CA_ERR_IO, "writing to stdout");
			goto out;
		}
	} else if (util_write_file(out, data, (size_t)len, 0644, &err) != 0)
		goto out;
	rc = CLI_OK;
 out:
	if (rc != CLI_OK)
		cli_print_err(&err);
	OPENSSL_free(der);
	BIO_free(b);
	ca_close(ca);
	return rc;
}
