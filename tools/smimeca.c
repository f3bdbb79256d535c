/* smimeca: the administrator's and recovery officer's command line. */
#include "ac-config.h"

#include <sys/stat.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

#define DEFAULT_DIR	"/var/lib/smimeca"

static const struct cli_cmd *find_cmd(const char *, const char *, int *);
static void usage_all(FILE *);
static int wants_help(int, char **);
static int usage_group(const char *, const char *);

/* In this order `smimeca --help` lists the commands. */
static const struct cli_cmd *const cmd_tables[] = {
	cli_init_cmds,
	cli_ca_cmds,
	cli_revoke_cmds,
	cli_crl_cmds,
	cli_template_cmds,
	cli_audit_cmds,
	cli_issue_cmds,
	cli_cert_cmds,
	cli_xchg_cmds,
	cli_kra_cmds,
	cli_recover_cmds,
	cli_publish_cmds,
	cli_dir_cmds,
	cli_lab_cmds,
	cli_user_cmds,
	cli_tls_cmds,
	cli_export_cmds,
	cli_mdm_cmds,
	cli_expiry_cmds,	/* lifecycle */
	cli_ocsp_cmds,
	cli_scep_cmds,
	cli_request_cmds,
};

static void
usage_all(FILE *f)
{
	size_t t;
	const struct cli_cmd *c;

	fprintf(f, "usage: smimeca [-d DIR] [--passphrase-file FILE] "
	    "COMMAND [ARGS]\n\ncommands:\n");
	for (t = 0; t < sizeof(cmd_tables) / sizeof(cmd_tables[0]); t++)
		for (c = cmd_tables[t]; c->name != NULL; c++)
			fprintf(f, "  %s%s%s %s\n", c->name,
			    c->sub ? " " : "", c->sub ? c->sub : "",
			    c->usage);
	fprintf(f, "\nThe CA directory is -d DIR, else $SMIMECA_DIR, else "
	    "%s. See smimeca(8).\n", DEFAULT_DIR);
}

/* "publish" alone or with an unknown subcommand: list its subcommands. */
static int
usage_group(const char *name, const char *sub)
{
	size_t t;
	const struct cli_cmd *c;
	int n = 0;

	for (t = 0; t < sizeof(cmd_tables) / sizeof(cmd_tables[0]); t++)
		for (c = cmd_tables[t]; c->name != NULL; c++) {
			if (c->sub == NULL || strcmp(c->name, name) != 0)
				continue;
			if (n++ == 0) {
				if (sub != NULL)
					cli_warnx("%s has no subcommand \"%s\"",
					    name, sub);
				else
					cli_warnx("%s needs a subcommand",
					    name);
				fprintf(stderr, "usage:\n");
			}
			fprintf(stderr, "  smimeca %s %s %s\n", c->name, c->sub,
			    c->usage);
		}
	return n > 0;
}

/* --help (or -h) as a command's first argument, where no value can be. */
static int
wants_help(int argc, char **argv)
{
	return argc > 1 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0);
}

/* *consumed: 1 for "init", 2 for "cert list". */
static const struct cli_cmd *
find_cmd(const char *name, const char *sub, int *consumed)
{
	size_t t;
	const struct cli_cmd *c;

	for (t = 0; t < sizeof(cmd_tables) / sizeof(cmd_tables[0]); t++) {
		for (c = cmd_tables[t]; c->name != NULL; c++) {
			if (strcmp(c->name, name) != 0)
				continue;
			if (c->sub == NULL) {
				*consumed = 1;
				return c;
			}
			if (sub != NULL && strcmp(c->sub, sub) == 0) {
				*consumed = 2;
				return c;
			}
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli cli;
	const struct cli_cmd *cmd;
	int ch, consumed = 0;

	umask(077);
	memset(&cli, 0, sizeof(cli));
	cli.dir = getenv("SMIMECA_DIR");
	while ((ch = getopt_long(argc, argv, "+d:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			cli.dir = optarg;
			break;
		case 'P':
			cli.passphrase_file = optarg;
			break;
		case 'h':
			usage_all(stdout);
			return CLI_OK;
		case 'V':
			printf("smimeca %s\n", PACKAGE_VERSION);
			return CLI_OK;
		default:
			usage_all(stderr);
			return CLI_USAGE;
		}
	}
	if (cli.dir == NULL || *cli.dir == '\0')
		cli.dir = DEFAULT_DIR;
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage_all(stderr);
		return CLI_USAGE;
	}
	if ((cmd = find_cmd(argv[0], argc > 1 ? argv[1] : NULL,
	    &consumed)) == NULL) {
		if (usage_group(argv[0], argc > 1 ? argv[1] : NULL))
			return CLI_USAGE;
		cli_warnx("unknown command \"%s%s%s\" (see smimeca --help)",
		    argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
		return CLI_USAGE;
	}
	/*
	 * The command sees argv[0] = its name. optind = 0 makes glibc start
	 * afresh, so commands take options after their operands again.
	 */
	argc -= consumed - 1;
	argv += consumed - 1;
	if (wants_help(argc, argv)) {
		printf("usage: smimeca [-d DIR] %s%s%s %s\n(see smimeca(8))\n",
		    cmd->name, cmd->sub ? " " : "", cmd->sub ? cmd->sub : "",
		    cmd->usage);
		return CLI_OK;
	}
	optind = 0;
	return cmd->fn(cmd, &cli, argc, argv);
}
