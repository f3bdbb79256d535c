/* smimeca user ...: the local accounts smimecad authenticates. */
#include "ac-config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "archive/p12.h"
#include "ca/ca.h"
#include "ca/err.h"
#include "ca/user.h"
#include "ca/util.h"
#include "tools/cli.h"

#define PASSWORD_MIN	8
#define PASSWORD_GEN	20

static int cmd_user_add(const struct cli_cmd *, struct cli *, int, char **);
static int cmd_user_list(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_user_disable(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_user_enable(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_user_code(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_user_password(const struct cli_cmd *, struct cli *, int,
    char **);
static int new_password(const char *, char **, char *);
static int set_disabled(const struct cli_cmd *, struct cli *, int, char **,
    int);
static int set_password(const struct cli_cmd *, struct cli *, int, char **,
    int);

const struct cli_cmd cli_user_cmds[] = {
	{ "user", "add", cmd_user_add, "EMAIL [--cn NAME] "
	    "[--password-file FILE]" },
	{ "user", "list", cmd_user_list, "[--json]" },
	{ "user", "disable", cmd_user_disable, "EMAIL" },
	{ "user", "enable", cmd_user_enable, "EMAIL" },
	{ "user", "code", cmd_user_code, "EMAIL [--ttl 1d]" },
	{ "user", "password", cmd_user_password, "EMAIL "
	    "[--password-file FILE]" },
	{ NULL, NULL, NULL, NULL }
};

/*
 * The first line of pwfile (at least PASSWORD_MIN characters) in *passp,
 * or, without a file, a random one written to gen (*passp stays NULL).
 */
static int
new_password(const char *pwfile, char **passp, char *gen)
{
	struct ca_err err;

	*passp = NULL;
	ca_err_clear(&err);
	if (pwfile == NULL) {
		if (p12_random_password(gen, PASSWORD_GEN, &err) != 0) {
			cli_print_err(&err);
			return CLI_FAIL;
		}
		return CLI_OK;
	}
	if (cli_read_pass(pwfile, NULL, 0, passp, &err) != 0) {
		cli_print_err(&err);
		return CLI_FAIL;
	}
	if (strlen(*passp) < PASSWORD_MIN) {
		cli_warnx("the password in %s is shorter than %d characters",
		    pwfile, PASSWORD_MIN);
		util_free_secret(*passp);
		*passp = NULL;
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* user add (with --cn) and user password: one password, one way. */
static int
set_password(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv, int add)
{
	static const struct option opts[] = {
		{ "cn", required_argument, NULL, 'c' },
		CLI_OPT_PASSWORD_FILE,
		CLI_OPT_END
	};
	struct ca_err err;
	struct ca *ca = NULL;
	const char *cn = NULL, *pwfile = NULL, *mail;
	char *pass = NULL, gen[PASSWORD_GEN + 1];
	int ch, r, rc;

	ca_err_clear(&err);
	memset(gen, 0, sizeof(gen));
	/* user password knows no --cn. */
	while ((ch = getopt_long(argc, argv, "", add ? opts : opts + 1,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			cn = optarg;
			break;
		case 'p':
			pwfile = optarg;
			break;
		default:
			return cli_usage(me);
		}
	}
	if (optind + 1 != argc)
		return cli_usage(me);
	mail = argv[optind];
	if ((rc = new_password(pwfile, &pass, gen)) != CLI_OK ||
	    (rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		goto out;
	r = add ? user_add(ca, mail, cn, pass != NULL ? pass : gen, &err) :
	    user_set_password(ca, mail, pass != NULL ? pass : gen, &err);
	if (r != 0) {
		cli_print_err(&err);
		rc = CLI_FAIL;
		goto out;
	}
	printf(add ? "Added %s" : "Changed the password of %s", mail);
	if (pass == NULL)
		printf(add ? "; password (shown once): %s" :
		    "; new password (shown once): %s", gen);
	printf("\n");
	rc = CLI_OK;
 out:
	OPENSSL_cleanse(gen, sizeof(gen));
	util_free_secret(pass);
	ca_close(ca);
	return rc;
}

static int
cmd_user_add(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	return set_password(me, cli, argc, argv, 1);
}

static int
cmd_user_list(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	struct ca_err err;
	struct ca *ca = NULL;
	struct user **list = NULL;
	size_t n = 0, i;
	json_t *arr = NULL;
	char when[21];
	int json, rc;

	ca_err_clear(&err);
	if ((rc = cli_json_opt(me, argc, argv, &json)) != CLI_OK ||
	    (rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (user_list(ca_db(ca), &list, &n, &err) != 0) {
		cli_print_err(&err);
		rc = CLI_FAIL;
		goto out;
	}
	if (json && (arr = json_array()) == NULL) {
		rc = CLI_FAIL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		util_iso8601(list[i]->created, when);
		if (json)
			json_array_append_new(arr, json_pack("{s:s, s:s?, "
			    "s:b, s:s}", "email", list[i]->email, "cn",
			    list[i]->cn, "disabled", list[i]->disabled,
			    "created", when));
		else
			printf("%-40s %-9s %s %s\n", list[i]->email,
			    list[i]->disabled ? "disabled" : "enabled", when,
			    list[i]->cn ? list[i]->cn : "");
	}
	rc = json ? cli_json_print_steal(arr) : CLI_OK;
	arr = NULL;
 out:
	json_decref(arr);
	user_free_list(list, n);
	ca_close(ca);
	return rc;
}

static int
set_disabled(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv, int disabled)
{
	struct ca_err err;
	struct ca *ca = NULL;
	int rc;

	ca_err_clear(&err);
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage(me);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (user_set_disabled(ca, argv[1], disabled, &err) != 0) {
		cli_print_err(&err);
		rc = CLI_FAIL;
	} else
		printf("%s %s%s\n", disabled ? "Disabled" : "Enabled",
		    argv[1], disabled ? " (a running smimecad refuses its "
		    "next login)" : "");
	ca_close(ca);
	return rc;
}

static int
cmd_user_disable(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	return set_disabled(me, cli, argc, argv, 1);
}

static int
cmd_user_enable(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	return set_disabled(me, cli, argc, argv, 0);
}

static int
cmd_user_code(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ttl", required_argument, NULL, 't' },
		CLI_OPT_END
	};
	struct ca_err err;
	struct ca *ca = NULL;
	char *code = NULL, when[21];
	int64_t ttl = 86400;
	int ch, rc;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 't')
			return cli_usage(me);
		if (cli_parse_ttl(optarg, &ttl) != 0) {
			cli_warnx("--ttl %s: give seconds or a number with "
			    "m, h, d or w (at most a year), e.g. 1d", optarg);
			return CLI_USAGE;
		}
	}
	if (optind + 1 != argc)
		return cli_usage(me);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (user_code_new(ca, argv[optind], ttl, &code, &err) != 0) {
		cli_print_err(&err);
		rc = CLI_FAIL;
	} else {
		util_iso8601((int64_t)time(NULL) + ttl, when);
		printf("%s\n", code);
		fprintf(stderr, "single-use enrollment code for %s, valid "
		    "until %s: use it as the HTTP Basic password once\n",
		    argv[optind], when);
	}
	util_free_secret(code);
	ca_close(ca);
	return rc;
}

static int
cmd_user_password(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	return set_password(me, cli, argc, argv, 0);
}
