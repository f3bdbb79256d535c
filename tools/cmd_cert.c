/*
 * smimeca cert list, cert show and cert expiring: the certificates the CA
 * issued.
 */
#include "ac-config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/revoke.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_cert_list(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_cert_show(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_cert_expiring(const struct cli_cmd *, struct cli *, int,
    char **);
static const char *cert_status(const struct db_cert *, int64_t);
static json_t *cert_json(const struct db_cert *, int64_t);
static json_t *expiring_json(const struct db_expiring *, int64_t);

const struct cli_cmd cli_cert_cmds[] = {
	{ "cert", "list", cmd_cert_list, "[--email MAIL] [--template NAME] "
	    "[--status valid|revoked|expired] [--json]" },
	{ "cert", "show", cmd_cert_show, "SERIAL [--pem | --der | --json] "
	    "[-o | --out FILE]" },
	{ "cert", "expiring", cmd_cert_expiring, "--within DAYS "
	    "[--template NAME] [--json]" },
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
		{ "der", no_argument, NULL, 'D' },
		CLI_OPT_JSON,
		CLI_OPT_OUT,
		CLI_OPT_END
	};
	struct db_cert *c = NULL;
	struct ca *ca = NULL;
	struct ca_err err;
	X509 *x = NULL;
	BIO *b = NULL;
	const unsigned char *p;
	const char *out = NULL;
	char serial[80], thumb[41];
	size_t i;
	int ch, pem = 0, der = 0, json = 0, rc = CLI_FAIL;
	int64_t now = (int64_t)time(NULL);

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			pem = 1;
			break;
		case 'D':
			der = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return cli_usage(me);
		}
	}
	if (optind + 1 != argc || pem + der + json > 1)
		return cli_usage(me);
	if (der && out == NULL && isatty(STDOUT_FILENO)) {
		cli_warnx("--der writes binary: give --out FILE.cer, or "
		    "redirect standard output");
		return CLI_USAGE;
	}
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
	if (der) {
		/* The bytes as issued: what Exchange and Windows hash. */
		if (out == NULL) {
			if (fwrite(c->der, 1, c->derlen, stdout) != c->derlen ||
			    fflush(stdout) != 0) {
				ca_err_set(&err, CA_ERR_IO, "writing to "
				    "standard output");
				goto out;
			}
			rc = CLI_OK;
			goto out;
		}
		if (util_write_file(out, c->der, c->derlen, 0644, &err) != 0)
			goto out;
		for (i = 0; c->sha1[i] != '\0' && i < sizeof(thumb) - 1; i++)
			thumb[i] = (char)toupper((unsigned char)c->sha1[i]);
		thumb[i] = '\0';
		printf("wrote %s (certificate %s, thumbprint %s)\n", out,
		    c->serial, thumb);
		rc = CLI_OK;
		goto out;
	}
	if (out != NULL)
		b = BIO_new_file(out, "w");
	else
		b = BIO_new_fp(stdout, BIO_NOCLOSE);
	if (b == NULL) {
		ca_err_ssl(&err, CA_ERR_IO, "%s: cannot write",
		    out != NULL ? out : "standard output");
		goto out;
	}
	if (json) {
		json_t *o = cert_json(c, now);
		char *text;

		text = o != NULL ? json_dumps(o, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
		if (text == NULL) {
			ca_err_set(&err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		BIO_printf(b, "%s\n", text);
		free(text);
		rc = CLI_OK;
		goto out;
	}
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

/* One certificate of the expiring document. */
static json_t *
expiring_json(const struct db_expiring *e, int64_t now)
{
	const struct db_cert *c = e->cert;
	char na[21], nna[21];
	json_t *o;

	util_iso8601(c->not_after, na);
	o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:I, s:s, s:b, s:b}",
	    "serial", c->serial, "template", c->template,
	    "subject", c->subject, "email", c->email, "owner", c->owner,
	    "not_after", na, "days_left", (json_int_t)((c->not_after - now) /
	    86400), "sha1", c->sha1, "escrowed", e->escrowed,
	    "renewed", e->newer[0] != '\0');
	if (o == NULL)
		return NULL;
	if (e->newer[0] != '\0') {
		util_iso8601(e->newer_not_after, nna);
		if (json_object_set_new(o, "newer_serial",
		    json_string(e->newer)) != 0 ||
		    json_object_set_new(o, "newer_not_after",
		    json_string(nna)) != 0) {
			json_decref(o);
			return NULL;
		}
	} else if (json_object_set_new(o, "newer_serial", json_null()) != 0 ||
	    json_object_set_new(o, "newer_not_after", json_null()) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
cli_expiring_doc(struct ca *ca, int64_t now, int days, const char *tpl,
    json_t **docp, struct ca_err *err)
{
	struct db_expiring_filter f;
	struct db_expiring **list = NULL;
	json_t *doc = NULL, *arr = NULL, *o;
	char gen[21];
	size_t i, n = 0, renewed = 0;
	int r;

	*docp = NULL;
	memset(&f, 0, sizeof(f));
	f.now = now;
	f.until = now + (int64_t)days * 86400;
	f.template = tpl;
	if ((r = db_cert_expiring(ca_db(ca), &f, &list, &n, err)) != 0)
		goto out;
	util_iso8601(now, gen);
	if ((arr = json_array()) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		if ((o = expiring_json(list[i], now)) == NULL ||
		    json_array_append_new(arr, o) != 0)
			goto oom;
		if (list[i]->newer[0] != '\0')
			renewed++;
	}
	if ((doc = json_pack("{s:s, s:s, s:i, s:s?, s:I, s:I, s:I, s:O}",
	    "ca", ca_config(ca)->name, "generated", gen, "within_days", days,
	    "template", tpl, "count", (json_int_t)n,
	    "renewed", (json_int_t)renewed,
	    "not_renewed", (json_int_t)(n - renewed),
	    "certificates", arr)) == NULL)
		goto oom;
	*docp = doc;
	r = 0;
	goto out;
 oom:
	r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
 out:
	json_decref(arr);
	db_expiring_free_list(list, n);
	return r;
}

/* --within DAYS: a whole number of days, 1 to 36500. */
int
cli_days_opt(const char *opt, const char *arg, int *daysp)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < 1 || v > 36500) {
		cli_warnx("%s %s: give a whole number of days from 1 to 36500",
		    opt, arg);
		return -1;
	}
	*daysp = (int)v;
	return 0;
}

static int
cmd_cert_expiring(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "within", required_argument, NULL, 'w' },
		{ "template", required_argument, NULL, 't' },
		CLI_OPT_JSON,
		CLI_OPT_END
	};
	struct ca *ca = NULL;
	struct ca_err err;
	json_t *doc = NULL, *arr, *o;
	const char *tpl = NULL, *email, *newer;
	size_t i;
	int ch, json = 0, days = -1, rc = CLI_FAIL;
	int64_t now = (int64_t)time(NULL);

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			if (cli_days_opt("--within", optarg, &days) != 0)
				return CLI_USAGE;
			break;
		case 't':
			tpl = optarg;
			break;
		case 'j':
			json = 1;
			break;
		default:
			return cli_usage(me);
		}
	}
	if (optind != argc || days < 0)
		return cli_usage(me);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	rc = CLI_FAIL;
	if (cli_expiring_doc(ca, now, days, tpl, &doc, &err) != 0) {
		cli_print_err(&err);
		goto out;
	}
	if (json) {
		rc = cli_json_print_steal(doc);
		doc = NULL;
		goto out;
	}
	arr = json_object_get(doc, "certificates");
	printf("%-32s %-10s %4s %-18s %-28s %s\n", "SERIAL", "NOT-AFTER",
	    "DAYS", "TEMPLATE", "EMAIL", "NEWER");
	json_array_foreach(arr, i, o) {
		email = json_string_value(json_object_get(o, "email"));
		newer = json_string_value(json_object_get(o, "newer_serial"));
		printf("%-32s %-10.10s %4lld %-18s %-28s %s\n",
		    json_string_value(json_object_get(o, "serial")),
		    json_string_value(json_object_get(o, "not_after")),
		    (long long)json_integer_value(json_object_get(o,
		    "days_left")),
		    json_string_value(json_object_get(o, "template")),
		    email != NULL ? email : "-",
		    newer != NULL ? newer : "none (renew)");
	}
	printf("%zu expire%s within %d day%s, %lld of them renewed\n",
	    json_array_size(arr), json_array_size(arr) == 1 ? "s" : "",
	    days, days == 1 ? "" : "s",
	    (long long)json_integer_value(json_object_get(doc, "renewed")));
	rc = CLI_OK;
 out:
	json_decref(doc);
	ca_close(ca);
	return rc;
}
