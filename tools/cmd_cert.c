/* smimeca issue, cert list and cert show. */
#include "ac-config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "archive/archival.h"
#include "archive/areq.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/issue.h"
#include "ca/ldapdir.h"
#include "ca/revoke.h"
#include "ca/template.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_issue(struct cli *, int, char **);
static int cmd_cert_list(struct cli *, int, char **);
static int cmd_cert_show(struct cli *, int, char **);
static char *csr_subject_value(X509_REQ *, int);
static char *csr_san_email(X509_REQ *);
static const char *cert_status(const struct db_cert *, int64_t);
static json_t *cert_json(const struct db_cert *, int64_t);

const struct cli_cmd cli_cert_cmds[] = {
	{ "issue", NULL, cmd_issue, "--template NAME (--csr FILE "
	    "[--encrypted-key FILE] | --archival-request FILE) [--out FILE] "
	    "[--email MAIL] [--cn NAME] [--no-directory]" },
	{ "cert", "list", cmd_cert_list, "[--email MAIL] [--template NAME] "
	    "[--status valid|revoked|expired] [--json]" },
	{ "cert", "show", cmd_cert_show, "SERIAL [--pem] [--json]" },
	{ NULL, NULL, NULL, NULL }
};

static char *
csr_subject_value(X509_REQ *csr, int nid)
{
	const X509_NAME *n = X509_REQ_get_subject_name(csr);
	unsigned char *utf8 = NULL;
	char *s = NULL;
	int i;

	if ((i = X509_NAME_get_index_by_NID(n, nid, -1)) < 0)
		return NULL;
	if (ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(n, i))) < 0)
		return NULL;
	s = strdup((char *)utf8);
	OPENSSL_free(utf8);
	return s;
}

static char *
csr_san_email(X509_REQ *csr)
{
	STACK_OF(X509_EXTENSION) *exts;
	GENERAL_NAMES *gens = NULL;
	char *s = NULL;
	int i;

	if ((exts = X509_REQ_get_extensions(csr)) == NULL)
		return NULL;
	gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);

		if (gn->type == GEN_EMAIL) {
			s = strndup((const char *)ASN1_STRING_get0_data(
			    gn->d.rfc822Name),
			    (size_t)ASN1_STRING_length(gn->d.rfc822Name));
			break;
		}
	}
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return s;
}

static int
cmd_issue(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "template", required_argument, NULL, 't' },
		{ "csr", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
		{ "email", required_argument, NULL, 'e' },
		{ "cn", required_argument, NULL, 'n' },
		{ "encrypted-key", required_argument, NULL, 'k' },
		{ "archival-request", required_argument, NULL, 'a' },
		{ "no-directory", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 }
	};
	const char *tname = NULL, *csrfile = NULL, *out = NULL;
	const char *keyfile = NULL, *arcfile = NULL, *input;
	unsigned char *buf = NULL;
	size_t buflen = 0;
	struct areq *areq = NULL;
	char *mail = NULL, *cn = NULL, serial[65];
	struct ca *ca = NULL;
	struct tpl *t = NULL;
	struct ca_err err, derr;
	struct iss_account acct;
	struct dir_entry *ent = NULL;
	X509_REQ *csr = NULL;
	X509 *cert = NULL;
	int ch, rc = CLI_FAIL, nodir = 0;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			tname = optarg;
			break;
		case 'c':
			csrfile = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'e':
			free(mail);
			mail = strdup(optarg);
			break;
		case 'n':
			free(cn);
			cn = strdup(optarg);
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'a':
			arcfile = optarg;
			break;
		case 'N':
			nodir = 1;
			break;
		default:
			rc = cli_usage(&cli_cert_cmds[0]);
			goto done;
		}
	}
	if (optind != argc || tname == NULL || (csrfile == NULL) ==
	    (arcfile == NULL) || (keyfile != NULL && csrfile == NULL)) {
		if (tname == NULL)
			cli_warnx("issue: --template NAME is required (see "
			    "smimeca template list)");
		if ((csrfile == NULL) == (arcfile == NULL))
			cli_warnx("issue: give either --csr FILE or "
			    "--archival-request FILE");
		rc = cli_usage(&cli_cert_cmds[0]);
		goto done;
	}
	input = arcfile != NULL ? arcfile : csrfile;
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		goto done;
	rc = CLI_FAIL;
	if (tpl_load(ca_config(ca)->template_dir, tname, &t, &err) != 0)
		goto out;
	if (arcfile != NULL) {
		if (util_read_file(arcfile, AREQ_MAX, &buf, &buflen,
		    &err) != 0 ||
		    areq_parse_cmc(buf, buflen, &areq, &err) != 0)
			goto out;
	} else {
		if (cli_read_csr(csrfile, &csr, &err) != 0)
			goto out;
		if (keyfile != NULL && util_read_file(keyfile, AREQ_MAX,
		    &buf, &buflen, &err) != 0)
			goto out;
		if (areq_parse_simple(csr, buf, buflen, &areq, &err) != 0)
			goto out;
		X509_REQ_free(csr);
	}
	csr = areq->csr;	/* borrowed from here on */
	/* The administrator vouches for what the request says. */
	if (mail == NULL &&
	    (mail = csr_subject_value(csr, NID_pkcs9_emailAddress)) == NULL)
		mail = csr_san_email(csr);
	/*
	 * With a directory, {dir:ATTR} come from the address's entry (the
	 * administrator still vouches that the request is that user's).
	 */
	if (!nodir && mail != NULL && ca_config(ca)->ldap != NULL) {
		ca_err_clear(&derr);
		if (dir_lookup(ca_config(ca), mail, &ent, &derr) ==
		    CA_ERR_NOTFOUND)
			cli_warnx("note: %s has no directory entry; the "
			    "subject comes from --email, --cn and the "
			    "request", mail);
		else if (ent == NULL) {
			cli_print_err(&derr);
			cli_warnx("note: the directory cannot be read; the "
			    "subject comes from --email, --cn and the request "
			    "(--no-directory skips the lookup)");
		}
	}
	if (cn == NULL && ent != NULL && ent->cn != NULL &&
	    (cn = strdup(ent->cn)) == NULL) {
		ca_err_set(&err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (cn == NULL)
		cn = csr_subject_value(csr, NID_commonName);
	memset(&acct, 0, sizeof(acct));
	acct.id = "admin";
	acct.mail = mail;
	acct.cn = cn;
	if (ent != NULL) {
		acct.lookup = dir_entry_lookup;
		acct.lookup_ctx = ent;
	}
	if (arc_issue(ca, t, &acct, TPL_PROTO_CLI, areq, &cert, &err) != 0) {
		ca_err_set(&err, err.code, "%s: no certificate issued", input);
		goto out;
	}
	if (cli_write_cert(out, cert, &err) != 0)
		goto out;
	if (out != NULL) {
		util_serial_hex(X509_get0_serialNumber(cert), serial);
		printf("%s\n", serial);
	}
	rc = CLI_OK;
 out:
	if (rc != CLI_OK)
		cli_print_err(&err);
 done:
	X509_free(cert);
	if (areq == NULL)
		X509_REQ_free(csr);
	areq_free(areq);
	free(buf);
	tpl_free(t);
	dir_entry_free(ent);
	ca_close(ca);
	free(mail);
	free(cn);
	return rc;
}

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
cmd_cert_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "email", required_argument, NULL, 'e' },
		{ "template", required_argument, NULL, 't' },
		{ "status", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
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
			return cli_usage(&cli_cert_cmds[1]);
		}
	}
	f.email = email;
	if (optind != argc) {
		free(email);
		return cli_usage(&cli_cert_cmds[1]);
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
cmd_cert_show(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pem", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
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
			return cli_usage(&cli_cert_cmds[2]);
		}
	}
	if (optind + 1 != argc)
		return cli_usage(&cli_cert_cmds[2]);
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
