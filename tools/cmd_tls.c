/* smimeca tls issue: the TLS certificate smimecad serves with. */
#include "ac-config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/err.h"
#include "ca/tls.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_tls_issue(const struct cli_cmd *, struct cli *, int,
    char **);

const struct cli_cmd cli_tls_cmds[] = {
	{ "tls", "issue", cmd_tls_issue, "[--name DNS]... [--address IP]..." },
	{ NULL, NULL, NULL, NULL }
};

static int
cmd_tls_issue(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "address", required_argument, NULL, 'a' },
		CLI_OPT_END
	};
	struct ca_err err;
	struct ca *ca = NULL;
	const char **names = NULL, **addrs = NULL, **t;
	size_t nn = 0, na = 0;
	X509 *cert = NULL;
	char serial[65];
	int ch, rc = CLI_FAIL;

	ca_err_clear(&err);
	if ((names = calloc((size_t)argc, sizeof(*names))) == NULL ||
	    (addrs = calloc((size_t)argc, sizeof(*addrs))) == NULL)
		goto out;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'n')
			names[nn++] = optarg;
		else if (ch == 'a')
			addrs[na++] = optarg;
		else {
			rc = cli_usage(me);
			goto out;
		}
	}
	if (optind != argc) {
		rc = cli_usage(me);
		goto out;
	}
	if ((rc = cli_open_ca(cli, CA_OPEN_KEY, &ca)) != CLI_OK)
		goto out;
	t = nn + na > 0 ? names : NULL;
	if (tls_issue(ca, t, nn, t != NULL ? addrs : NULL, na,
	    (int64_t)time(NULL), &cert, &err) != 0) {
		cli_print_err(&err);
		rc = CLI_FAIL;
		goto out;
	}
	util_serial_hex(X509_get0_serialNumber(cert), serial);
	printf("Issued TLS certificate %s: %s/%s (key %s/%s); restart "
	    "smimecad to use it\n", serial, ca_config(ca)->dir, TLS_CERT_FILE,
	    ca_config(ca)->dir, TLS_KEY_FILE);
	rc = CLI_OK;
 out:
	X509_free(cert);
	ca_close(ca);
	free(names);
	free(addrs);
	return rc;
}
