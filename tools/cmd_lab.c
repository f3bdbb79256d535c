/*
 * The lab stand-ins on the command line: smimeca lab slapd, and what
 * init --lab makes (recovery officers beside the CA, a slapd directory).
 * The mdm connector and device stand-ins are in cmd_mdm.c.
 */
#include "ac-config.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "archive/laboff.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/err.h"
#include "ca/labdir.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_lab_slapd(const struct cli_cmd *, struct cli *, int,
    char **);
static int lab_officers(struct cli *, const char *, struct ca_err *);
static int lab_directory(struct cli *, int, struct ca_err *);

const struct cli_cmd cli_lab_cmds[] = {
	{ "lab", "slapd", cmd_lab_slapd, "start|stop|status" },
	{ NULL, NULL, NULL, NULL }
};

static int
cmd_lab_slapd(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	struct ca_config *cfg = NULL;
	struct ca_err err;
	pid_t pid = 0;
	int rc = CLI_FAIL, r;

	ca_err_clear(&err);
	if (argc != 2 || (strcmp(argv[1], "start") != 0 &&
	    strcmp(argv[1], "stop") != 0 && strcmp(argv[1], "status") != 0))
		return cli_usage(me);
	if (cfg_load(cli->dir, &cfg, &err) != 0) {
		cli_print_err(&err);
		return CLI_FAIL;
	}
	if (strcmp(argv[1], "status") == 0) {
		if ((pid = labdir_pid(cfg)) != 0) {
			printf("the lab slapd runs (PID %ld) on %s\n",
			    (long)pid, cfg->ldap ? cfg->ldap->uri : "?");
			rc = CLI_OK;
		} else
			printf("the lab slapd does not run\n");
		goto out;
	}
	if (strcmp(argv[1], "start") == 0) {
		r = labdir_start(cfg, &pid, &err);
		if (r == 0)
			printf("the lab slapd runs (PID %ld) on %s\n",
			    (long)pid, cfg->ldap->uri);
	} else {
		r = labdir_stop(cfg, &pid, &err);
		if (r == 0)
			printf("stopped the lab slapd (PID %ld)\n", (long)pid);
	}
	if (r != 0)
		cli_print_err(&err);
	rc = r == 0 ? CLI_OK : CLI_FAIL;
 out:
	cfg_free(cfg);
	return rc;
}

/* Officers live beside the CA directory, never inside it. */
int
cli_lab_officers_dir(const char *cadir, const char *opt, char **officersp)
{
	char *dcopy;

	*officersp = NULL;
	if (opt != NULL)
		*officersp = strdup(opt);
	else if ((dcopy = strdup(cadir)) != NULL) {
		*officersp = util_path(dirname(dcopy), "officers");
		free(dcopy);
	}
	if (*officersp == NULL) {
		cli_warnx("out of memory");
		return CLI_FAIL;
	}
	if (access(*officersp, F_OK) == 0) {
		cli_warnx("%s exists already; move it away or give "
		    "--officers DIR", *officersp);
		free(*officersp);
		*officersp = NULL;
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int
lab_officers(struct cli *cli, const char *dir, struct ca_err *err)
{
	struct ca *ca = NULL;
	int r;

	if ((r = ca_open(cli->dir, cli->passphrase_file, CA_OPEN_KEY, &ca,
	    err)) == 0)
		r = laboff_make(ca, dir, err);
	ca_close(ca);
	return r == 0 ? CLI_OK : CLI_FAIL;
}

/* The lab slapd's files and data, and the <ldap> section for it. */
static int
lab_directory(struct cli *cli, int port, struct ca_err *err)
{
	struct ca *ca = NULL;
	unsigned char *der = NULL;
	int len, rc = CLI_FAIL;

	if (ca_open(cli->dir, cli->passphrase_file, 0, &ca, err) != 0)
		goto out;
	if ((len = i2d_X509(ca_cert(ca), &der)) <= 0) {
		ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the CA certificate");
		goto out;
	}
	if (labdir_create(ca_config(ca), port, der, (size_t)len, err) == 0)
		rc = CLI_OK;
 out:
	OPENSSL_free(der);
	ca_close(ca);
	return rc;
}

int
cli_lab_init(struct cli *cli, const char *officers, int ldap_port,
    int no_ldap, int *have_ldapp)
{
	struct ca_err err;
	const char *missing;

	ca_err_clear(&err);
	*have_ldapp = 0;
	if (lab_officers(cli, officers, &err) != CLI_OK) {
		cli_print_err(&err);
		cli_warnx("the CA in %s was created, but its lab "
		    "recovery officers were not", cli->dir);
		return CLI_FAIL;
	}
	/* A lab directory when slapd is there; none is no failure. */
	if (no_ldap)
		;
	else if (!labdir_available(&missing))
		cli_warnx("no lab directory: %s is not installed (on "
		    "Debian: apt-get install slapd ldap-utils); the "
		    "CA works without one", missing);
	else if (lab_directory(cli, ldap_port, &err) != CLI_OK) {
		cli_print_err(&err);
		cli_warnx("the CA in %s was created, but its lab "
		    "directory was not", cli->dir);
		return CLI_FAIL;
	} else
		*have_ldapp = 1;
	return CLI_OK;
}

void
cli_lab_report(const char *cadir, const char *officers, int have_ldap,
    int ldap_port)
{
	printf("\nLab recovery officers (KRA certificates, registered; "
	    "any one of them can recover):\n  %s/officer1.p12 .. "
	    "officer%d.p12, passwords in %s/passwords.txt\n",
	    officers, LABOFF_COUNT, officers);
	if (have_ldap)
		printf("\nLab directory (slapd, suffix " LABDIR_SUFFIX ") "
		    "in %s/" LABDIR_DIR ", on ldap://127.0.0.1:%d/:\n"
		    "  users alice, bob and carol (@lab.example), passwords "
		    "in %s/" LABDIR_DIR "/users.txt\n"
		    "  start it with: smimeca -d %s lab slapd start\n",
		    cadir, ldap_port, cadir, cadir);
}
