/* smimeca init: a new CA directory, and with --lab a whole lab around it. */
#include "ac-config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive/xchg.h"
#include "ca/ca.h"
#include "ca/err.h"
#include "ca/labdir.h"
#include "ca/tls.h"
#include "tools/cli.h"

static int cmd_init(const struct cli_cmd *, struct cli *, int, char **);
static int init_exchange(struct cli *, struct ca_err *);

const struct cli_cmd cli_init_cmds[] = {
	{ "init", NULL, cmd_init, "[--name CN] [--key rsa:2048|rsa:3072|"
	    "rsa:4096|ec:p256|ec:p384] [--two-tier] [--passphrase-file F] "
	    "[--base-url URL] [--days N] [--lab [--officers DIR] "
	    "[--ldap-port PORT | --no-ldap]]" },
	{ NULL, NULL, NULL, NULL }
};

static int
cmd_init(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "key", required_argument, NULL, 'k' },
		{ "two-tier", no_argument, NULL, 't' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "base-url", required_argument, NULL, 'b' },
		{ "days", required_argument, NULL, 'D' },
		{ "lab", no_argument, NULL, 'l' },
		{ "officers", required_argument, NULL, 'O' },
		{ "ldap-port", required_argument, NULL, 'L' },
		{ "no-ldap", no_argument, NULL, 'X' },
		CLI_OPT_END
	};
	struct ca_init_params p;
	struct ca_err err;
	char *end, *officers = NULL;
	const char *officers_opt = NULL;
	long days, ldap_port = LABDIR_PORT;
	int ch, lab = 0, rc, have_ldap = 0, port_set = 0, no_ldap = 0;

	memset(&p, 0, sizeof(p));
	ca_err_clear(&err);
	p.dir = cli->dir;
	p.name = "smimeca Lab CA";
	p.key = CA_KEY_RSA3072;
	p.passphrase_file = cli->passphrase_file;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			p.name = optarg;
			break;
		case 'k':
			if (ca_keyspec_parse(optarg, &p.key) != 0) {
				cli_warnx("--key %s: unknown key type (use "
				    "rsa:2048, rsa:3072, rsa:4096, ec:p256 or "
				    "ec:p384)", optarg);
				return CLI_USAGE;
			}
			break;
		case 't':
			p.two_tier = 1;
			break;
		case 'P':
			p.passphrase_file = optarg;
			break;
		case 'b':
			p.base_url = optarg;
			break;
		case 'D':
			days = strtol(optarg, &end, 10);
			if (*end != '\0' || days < 1 || days > 36500) {
				cli_warnx("--days %s: give a number of days "
				    "from 1 to 36500", optarg);
				return CLI_USAGE;
			}
			p.validity_days = (int)days;
			break;
		case 'l':
			lab = 1;
			break;
		case 'O':
			officers_opt = optarg;
			break;
		case 'L':
			ldap_port = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || ldap_port < 1 ||
			    ldap_port > 65535) {
				cli_warnx("--ldap-port %s: give a TCP port "
				    "from 1 to 65535", optarg);
				return CLI_USAGE;
			}
			port_set = 1;
			break;
		case 'X':
			no_ldap = 1;
			break;
		default:
			return cli_usage(me);
		}
	}
	if (optind != argc || *p.name == '\0' || strlen(p.name) > 64) {
		if (optind == argc)
			cli_warnx("--name: give a CA name of 1 to 64 "
			    "characters");
		return cli_usage(me);
	}
	p.lab = lab;
	if ((officers_opt != NULL || port_set || no_ldap) && !lab) {
		cli_warnx("%s needs --lab", officers_opt != NULL ?
		    "--officers" : port_set ? "--ldap-port" : "--no-ldap");
		return CLI_USAGE;
	}
	if (port_set && no_ldap) {
		cli_warnx("--ldap-port and --no-ldap exclude each other");
		return CLI_USAGE;
	}
	if (lab && (rc = cli_lab_officers_dir(p.dir, officers_opt,
	    &officers)) != CLI_OK)
		return rc;
	if (ca_init(&p, &err) != 0) {
		cli_print_err(&err);
		free(officers);
		return CLI_FAIL;
	}
	/* What follows opens the new CA with the key init just protected. */
	cli->passphrase_file = p.passphrase_file;
	if ((rc = init_exchange(cli, &err)) != CLI_OK) {
		cli_print_err(&err);
		cli_warnx("the CA in %s was created, but its exchange "
		    "certificate was not (make one with smimeca xchg roll)",
		    p.dir);
		free(officers);
		return rc;
	}
	if (lab && (rc = cli_lab_init(cli, officers, (int)ldap_port, no_ldap,
	    &have_ldap)) != CLI_OK) {
		free(officers);
		return rc;
	}
	printf("Created CA \"%s\" in %s:\n"
	    "  %s/ca.crt          the issuing CA certificate\n"
	    "  %s/chain.pem       the chain (issuing CA .. root)\n"
	    "%s%s%s"
	    "  %s/private/ca.key  the CA key (mode 0600%s)\n"
	    "  %s/smimeca.conf    the configuration\n"
	    "  %s/templates/      the certificate templates\n"
	    "  %s/smimeca.db      the database\n\n"
	    "Next: issue a certificate from a request, for example\n"
	    "  openssl req -new -newkey rsa:2048 -nodes -keyout alice.key "
	    "-subj \"/CN=Alice/emailAddress=alice@lab.example\" "
	    "-out alice.csr\n"
	    "  smimeca -d %s issue --template smime-signature "
	    "--csr alice.csr --out alice.crt\n",
	    p.name, p.dir, p.dir, p.dir,
	    p.two_tier ? "  " : "", p.two_tier ? p.dir : "",
	    p.two_tier ? "/root.crt         the root CA certificate\n" : "",
	    p.dir, p.passphrase_file ? ", encrypted" : "", p.dir, p.dir,
	    p.dir, p.dir);
	printf("\nThe first CA exchange certificate (for key archival) is made; "
	    "see smimeca -d %s xchg show.\n", p.dir);
	if (lab)
		cli_lab_report(p.dir, officers, have_ldap, (int)ldap_port);
	free(officers);
	return CLI_OK;
}

/* The first CA exchange certificate, so clients can archive at once. */
static int
init_exchange(struct cli *cli, struct ca_err *err)
{
	struct ca *ca = NULL;
	X509 *cert = NULL;
	int rc = CLI_FAIL;

	X509 *tls = NULL;

	/* And the TLS certificate smimecad serves with. */
	if (ca_open(cli->dir, cli->passphrase_file, CA_OPEN_KEY, &ca,
	    err) == 0 && xchg_roll(ca, (int64_t)time(NULL), &cert, err) == 0 &&
	    tls_issue(ca, NULL, 0, NULL, 0, (int64_t)time(NULL), &tls,
	    err) == 0)
		rc = CLI_OK;
	X509_free(tls);
	X509_free(cert);
	ca_close(ca);
	return rc;
}
