/* smimeca issue: a certificate from a request, on the administrator's word. */
#include "ac-config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "archive/archival.h"
#include "archive/areq.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/err.h"
#include "ca/issue.h"
#include "ca/ldapdir.h"
#include "ca/template.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_issue(const struct cli_cmd *, struct cli *, int, char **);
static char *csr_subject_value(X509_REQ *, int);
static char *csr_san_email(X509_REQ *);

const struct cli_cmd cli_issue_cmds[] = {
	{ "issue", NULL, cmd_issue, "--template NAME (--csr FILE "
	    "[--encrypted-key FILE] | --archival-request FILE) [--out FILE] "
	    "[--email MAIL] [--cn NAME] [--no-directory]" },
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
cmd_issue(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "template", required_argument, NULL, 't' },
		{ "csr", required_argument, NULL, 'c' },
		CLI_OPT_OUT,
		{ "email", required_argument, NULL, 'e' },
		{ "cn", required_argument, NULL, 'n' },
		{ "encrypted-key", required_argument, NULL, 'k' },
		{ "archival-request", required_argument, NULL, 'a' },
		{ "no-directory", no_argument, NULL, 'N' },
		CLI_OPT_END
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
			rc = cli_usage(me);
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
		rc = cli_usage(me);
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
