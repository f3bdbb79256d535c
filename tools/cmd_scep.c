/*
 * smimeca scep challenge: one-time SCEP challenges, as NDES's admin page
 * hands out; smimeca scep ra: the RA certificate smimecad signs with.
 */
#include "ac-config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "ca/ca.h"
#include "ca/err.h"
#include "ca/scep.h"
#include "ca/template.h"
#include "ca/config.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_scep_challenge(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_scep_ra(const struct cli_cmd *, struct cli *, int, char **);

const struct cli_cmd cli_scep_cmds[] = {
	{ "scep", "challenge", cmd_scep_challenge,
	    "[--template T] [--email E] [--ttl 60m]" },
	{ "scep", "ra", cmd_scep_ra, "[show [--pem] | roll]" },
	{ NULL, NULL, NULL, NULL }
};

static int
cmd_scep_challenge(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "template", required_argument, NULL, 'T' },
		{ "email", required_argument, NULL, 'e' },
		{ "ttl", required_argument, NULL, 't' },
		CLI_OPT_END
	};
	struct ca_err err;
	struct ca *ca = NULL;
	struct tpl *t = NULL;
	const char *tname = NULL;
	char *email = NULL, *secret = NULL, when[21];
	int64_t ttl = 3600, id, now = (int64_t)time(NULL);
	int ch, rc;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'T':
			tname = optarg;
			break;
		case 'e':
			free(email);
			if ((email = strdup(optarg)) == NULL)
				return CLI_FAIL;
			util_lower(email);
			break;
		case 't':
			/* A challenge lives at most 30 days. */
			if (cli_parse_ttl(optarg, &ttl) == 0 &&
			    ttl <= 30 * 86400)
				break;
			cli_warnx("--ttl %s: give seconds or a number with m, "
			    "h or d (at most 30 days), e.g. 60m", optarg);
			free(email);
			return CLI_USAGE;
		default:
			free(email);
			return cli_usage(me);
		}
	}
	if (optind != argc) {
		free(email);
		return cli_usage(me);
	}
	if (email != NULL && strchr(email, '@') == NULL) {
		cli_warnx("--email %s: not a mail address", email);
		free(email);
		return CLI_USAGE;
	}
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK) {
		free(email);
		return rc;
	}
	/* A template that cannot take the request is refused now. */
	if (tname != NULL) {
		if (tpl_load(ca_config(ca)->template_dir, tname, &t,
		    &err) != 0) {
			cli_print_err(&err);
			rc = CLI_FAIL;
			goto out;
		}
		if ((t->protocols & TPL_PROTO_SCEP) == 0 ||
		    t->archival == TPL_ARCHIVAL_REQUIRED) {
			cli_warnx("template %s cannot be used through SCEP%s",
			    tname, t->archival == TPL_ARCHIVAL_REQUIRED ?
			    " (it requires key archival, which SCEP cannot "
			    "carry)" : " (scep is not among its protocols)");
			rc = CLI_FAIL;
			goto out;
		}
	}
	if (scep_chal_new(ca, tname, email, ttl, now, &secret, &id,
	    &err) != 0) {
		cli_print_err(&err);
		rc = CLI_FAIL;
		goto out;
	}
	util_iso8601(now + ttl, when);
	printf("%s\n", secret);
	fprintf(stderr, "one-time SCEP challenge %lld for %s%s%s, valid "
	    "until %s; it is shown only now\n", (long long)id,
	    tname ? "template " : "any template", tname ? tname : "",
	    email ? " and that address" : "", when);
	rc = CLI_OK;
 out:
	util_free_secret(secret);
	free(email);
	tpl_free(t);
	ca_close(ca);
	return rc;
}

static int
cmd_scep_ra(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	struct ca_err err;
	struct ca *ca = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	char serial[65], when[21];
	int roll = 0, pem = 0, rc, r;

	ca_err_clear(&err);
	if (argc >= 2 && strcmp(argv[1], "roll") == 0 && argc == 2)
		roll = 1;
	else if (argc == 1 || (argc >= 2 && strcmp(argv[1], "show") == 0 &&
	    (argc == 2 || (argc == 3 && strcmp(argv[2], "--pem") == 0))))
		pem = argc == 3;
	else
		return cli_usage(me);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	r = roll ? scep_ra_roll(ca, (int64_t)time(NULL), &cert, &key, &err) :
	    scep_ra_current(ca, (int64_t)time(NULL), &cert, &key, &err);
	if (r != 0) {
		cli_print_err(&err);
		rc = CLI_FAIL;
		goto out;
	}
	if (pem)
		PEM_write_X509(stdout, cert);
	else {
		util_serial_hex(X509_get0_serialNumber(cert), serial);
		util_iso8601(util_asn1_time_to_unix(X509_get0_notAfter(cert)),
		    when);
		printf("RA certificate %s, valid until %s\n", serial, when);
	}
	rc = CLI_OK;
 out:
	EVP_PKEY_free(key);
	X509_free(cert);
	ca_close(ca);
	return rc;
}
