/* smimeca cert list and cert show: the certificates the CA issued. */
#include "ac-config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "ca/ca.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/revoke.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_cert_list(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_cert_show(const struct cli_cmd *, struct cli *, int,
    char **);
static const char *cert_status(const struct db_cert *, int64_t);
static json_t *cert_json(const struct db_cert *, int64_t);

const struct cli_cmd cli_cert_cmds[] = {
	{ "cert", "list", cmd_cert_list, "[--email MAIL] [--template NAME] "
	    "[--status valid|revoked|expired] [--json]" },
	{ "cert", "show", cmd_cert_show, "SERIAL [--pem] [--json]" },
	{ NULL, NULL, NULL, NULL }
};

static const char *
cert_status(const struct db_cert *c, int64_t now)
{
	if (c->revoked)
		return "revoked";
	return c->not_after < now ? "expired" : "valid";
}

static json_t *
cert_json(const struct db_cert *c, int64_t now)
{
	char nb[21], na[21], ra[21];
	json_t *o;

	util_iso8601(c->not_before, nb);
	util_iso8601(c->not_after, na);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:s, s:s, s:s}",
	    "serial", c->serial, "status", cert_status(c, now),
	    "template", c->template, "subject", c->subject,
	    "email", c->email, "owner", c->owner, "not_before", nb,
	    "not_after", na, "sha1", c->sha1, "sha256", c->sha256);
	if (o != NULL && c->revoked) {
		util_iso8601(c->revoked_at, ra);
		json_object_set_new(o, "revoked_at", json_string(ra));
		json_object_set_new(o, "reason",
		    json_string(rev_reason_name(c->reason)));
	}
	return o;
}

static int
cmd_cert_list(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "email", required_argument, NULL, 'e' },
		{ "template", required_argument, NULL, 't' },
		{ "status", required_argument, NULL, 's' },
		CLI_OPT_JSON,
		CLI_OPT_END
	};
	struct db_cert_filter f;
	struct db_cert **list = NULL;
	struct ca *ca = NULL;
	struct ca_err err;
	char *email = NULL, day[21];
	size_t i, n = 0;
	json_t *arr = NULL;
	int ch, json = 0, rc = CLI_FAIL;

	ca_err_clear(&err);
	memset(&f, 0, sizeof(f));
	f.now = (int64_t)time(NULL);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			free(email);
			if ((email = strdup(optarg)) != NULL)
				util_lower(email);
			break;
		case 't':
			f.template = optarg;
			break;
		case 's':
			if (strcmp(optarg, "valid") == 0)
				f.status = DB_ST_VALID;
			else if (strcmp(optarg, "revoked") == 0)
				f.status = DB_ST_REVOKED;
			else if (strcmp(optarg, "expired") == 0)
				f.status = DB_ST_EXPIRED;
			else {
				cli_warnx("--status %s: use valid, revoked or "
				    "expired", optarg);
				free(email);
				return CLI_USAGE;
			}
			break;
		case 'j':
			json = 1;
			break;
		default:
			free(email);
			return cli_usage(me);
		}
	}
	f.email = email;
	if (optind != argc) {
		free(email);
		return cli_usage(me);
	}
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK) {
		free(email);
		return rc;
	}
	rc = CLI_FAIL;
	if (db_cert_list(ca_db(ca), &f, &list, &n, &err) != 0) {
		cli_print_err(&err);
		goto out;
	}
	if (json) {
		if ((arr = json_array()) == NULL)
			goto out;
		for (i = 0; i < n; i++)
			json_array_append_new(arr, cert_json(list[i], f.now));
		rc = cli_json_print_steal(arr);
		goto out;
	}
	printf("%-32s %-8s %-10s %-18s %-28s %s\n", "SERIAL", "STATUS",
	    "NOT-AFTER", "TEMPLATE", "EMAIL", "SUBJECT");
	for (i = 0; i < n; i++) {
		util_iso8601(list[i]->not_after, day);
		day[10] = '\0';
		printf("%-32s %-8s %-10s %-18s %-28s %s\n", list[i]->serial,
		    cert_status(list[i], f.now), day, list[i]->template,
		    list[i]->email ? list[i]->email : "-", list[i]->subject);
	}
	rc = CLI_OK;
 out:
	db_cert_free_list(list, n);
	ca_close(ca);
	free(email);
	return rc;
}

static int
cmd_cert_show(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pem", no_argument, NULL, 'p' },
		CLI_OPT_JSON,
		CLI_OPT_END
	};
	struct db_cert *c = NULL;
	struct ca *ca = NULL;
	struct ca_err err;
	X509 *x = NULL;
	BIO *b = NULL;
	const unsigned char *p;
	char serial[80];
	int ch, pem = 0, json = 0, rc = CLI_FAIL;
	int64_t now = (int64_t)time(NULL);

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			pem = 1;
			break;
		case 'j':
			json = 1;
			break;
		default:
			return cli_usage(me);
		}
	}
	if (optind + 1 != argc)
		return cli_usage(me);
	snprintf(serial, sizeof(serial), "%s", argv[optind]);
	util_lower(serial);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	rc = CLI_FAIL;
	if (db_cert_get(ca_db(ca), serial, &c, &err) != 0)
		goto out;
	p = c->der;
	if ((x = d2i_X509(NULL, &p, (long)c->derlen)) == NULL) {
		ca_err_ssl(&err, CA_ERR_DB, "certificate %s: stored DER does "
		    "not parse", serial);
		goto out;
	}
	if (json) {
		rc = cli_json_print_steal(cert_json(c, now));
		goto out;
	}
	if ((b = BIO_new_fp(stdout, BIO_NOCLOSE)) == NULL)
		goto out;
	if (pem) {
		rc = PEM_write_bio_X509(b, x) ? CLI_OK : CLI_FAIL;
		goto out;
	}
	BIO_printf(b, "Serial:   %s\nStatus:   %s\nTemplate: %s\n"
	    "Subject:  %s\nEmail:    %s\nOwner:    %s\nSHA-1:    %s\n"
	    "SHA-256:  %s\n", c->serial, cert_status(c, now), c->template,
	    c->subject, c->email ? c->email : "-",
	    c->owner ? c->owner : "- (the administrator's)", c->sha1,
	    c->sha256);
	if (c->revoked)
		BIO_printf(b, "Revoked:  %s\n", rev_reason_name(c->reason));
	X509_print_ex(b, x, XN_FLAG_ONELINE, 0);
	rc = CLI_OK;
 out:
	if (rc != CLI_OK && err.count > 0)
		cli_print_err(&err);
	BIO_free(b);
	X509_free(x);
	db_cert_free(c);
	ca_close(ca);
	return rc;
}
