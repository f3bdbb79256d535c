/* smimeca ca export: the CA certificate or chain for other trust stores. */
#include "ac-config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/err.h"
#include "ca/export.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_ca_export(const struct cli_cmd *, struct cli *, int, char **);

const struct cli_cmd cli_ca_cmds[] = {
	{ "ca", "export", cmd_ca_export, "--format pem|der|p7b|sst [--chain] "
	    "--out FILE" },
	{ NULL, NULL, NULL, NULL }
};

static int
cmd_ca_export(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "chain", no_argument, NULL, 'c' },
		CLI_OPT_OUT,
		CLI_OPT_END
	};
	struct ca *ca = NULL;
	struct ca_err err;
	STACK_OF(X509) *one = NULL, *certs;
	enum export_fmt fmt;
	const char *format = NULL, *out = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;
	int ch, chain = 0, n, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': format = optarg; break;
		case 'c': chain = 1; break;
		case 'o': out = optarg; break;
		default:
			return cli_usage(me);
		}
	}
	if (optind != argc)
		return cli_usage(me);
	if (format == NULL || out == NULL) {
		cli_warnx("ca export: %s is required", format == NULL ?
		    "--format pem|der|p7b|sst" : "--out FILE");
		return cli_usage(me);
	}
	if (export_fmt_parse(format, &fmt) != 0) {
		cli_warnx("--format %s: unknown format (pem, der, p7b or sst)",
		    format);
		return cli_usage(me);
	}
	if (fmt == EXPORT_DER && chain) {
		cli_warnx("--format der --chain: a DER file holds one "
		    "certificate; take pem, p7b or sst for the chain");
		return cli_usage(me);
	}
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	rc = CLI_FAIL;
	if (chain)
		certs = ca_chain(ca);
	else if ((certs = one = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(one, ca_cert(ca))) {
		ca_err_set(&err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	n = sk_X509_num(certs);
	if (export_certs(fmt, certs, &buf, &len, &err) != 0 ||
	    util_write_file(out, buf, len, 0644, &err) != 0)
		goto out;
	printf("wrote %s (%d certificate%s, %s)\n", out, n, n == 1 ? "" : "s",
	    format);
	rc = CLI_OK;
 out:
	if (rc != CLI_OK)
		cli_print_err(&err);
	free(buf);
	sk_X509_free(one);
	ca_close(ca);
	return rc;
}
