/* smimeca revoke: a certificate onto the CRL. */
#include "ac-config.h"

#include <getopt.h>
#include <stdio.h>

#include "ca/ca.h"
#include "ca/err.h"
#include "ca/revoke.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_revoke(const struct cli_cmd *, struct cli *, int, char **);

const struct cli_cmd cli_revoke_cmds[] = {
	{ "revoke", NULL, cmd_revoke, "SERIAL --reason REASON" },
	{ NULL, NULL, NULL, NULL }
};

static int
cmd_revoke(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		CLI_OPT_END
	};
	struct ca *ca = NULL;
	struct ca_err err;
	const char *reason = NULL;
	char serial[80];
	int ch, code, rc;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'r')
			return cli_usage(me);
		reason = optarg;
	}
	if (optind + 1 != argc || reason == NULL)
		return cli_usage(me);
	if ((code = rev_reason_parse(reason)) < 0 || code == 8) {
		cli_warnx("--reason %s: unknown reason (use unspecified, "
		    "keyCompromise, cACompromise, affiliationChanged, "
		    "superseded, cessationOfOperation, certificateHold, "
		    "privilegeWithdrawn or aACompromise)", reason);
		return CLI_USAGE;
	}
	snprintf(serial, sizeof(serial), "%s", argv[optind]);
	util_lower(serial);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (rev_revoke(ca, serial, code, &err) != 0) {
		cli_print_err(&err);
		ca_close(ca);
		return CLI_FAIL;
	}
	printf("revoked %s (%s)\n", serial, rev_reason_name(code));
	ca_close(ca);
	return CLI_OK;
}
