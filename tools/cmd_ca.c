/* smimeca init, revoke, crl, template and audit commands. */
#include "ac-config.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "archive/kra.h"
#include "archive/recover.h"
#include "archive/xchg.h"
#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/issue.h"
#include "ca/labdir.h"
#include "ca/revoke.h"
#include "ca/template.h"
#include "ca/tls.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_init(struct cli *, int, char **);
static int cmd_revoke(struct cli *, int, char **);
static int cmd_crl(struct cli *, int, char **);
static int cmd_template_list(struct cli *, int, char **);
static int cmd_template_show(struct cli *, int, char **);
static int cmd_template_check(struct cli *, int, char **);
static int cmd_audit_verify(struct cli *, int, char **);
static int cmd_audit_list(struct cli *, int, char **);
static int audit_row_text(void *, int64_t, int64_t, const char *,
    const char *, const char *, const char *);
static int audit_row_json(void *, int64_t, int64_t, const char *,
    const char *, const char *, const char *);
static int template_dir(struct cli *, char **);
static int lab_officer(struct ca *, const struct tpl *, const char *, int,
    FILE *, struct ca_err *);
static int lab_officers(struct cli *, const char *, struct ca_err *);
static int init_exchange(struct cli *, struct ca_err *);
static int lab_directory(struct cli *, int, struct ca_err *);

#define LAB_OFFICERS	3

const struct cli_cmd cli_ca_cmds[] = {
	{ "init", NULL, cmd_init, "[--name CN] [--key rsa:2048|rsa:3072|"
	    "rsa:4096|ec:p256|ec:p384] [--two-tier] [--passphrase-file F] "
	    "[--base-url URL] [--days N] [--lab [--officers DIR] "
	    "[--ldap-port PORT | --no-ldap]]" },
	{ "revoke", NULL, cmd_revoke, "SERIAL --reason REASON" },
	{ "crl", NULL, cmd_crl, "[--out FILE] [--der]" },
	{ "template", "list", cmd_template_list, "[--json]" },
	{ "template", "show", cmd_template_show, "NAME" },
	{ "template", "check", cmd_template_check, "FILE" },
	{ "audit", "verify", cmd_audit_verify, "" },
	{ "audit", "list", cmd_audit_list, "[--json]" },
	{ NULL, NULL, NULL, NULL }
};

static int
cmd_init(struct cli *cli, int argc, char **argv)
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
		{ NULL, 0, NULL, 0 }
	};
	struct ca_init_params p;
	struct ca_err err;
	char *end, *dcopy = NULL, *officers = NULL;
	const char *officers_opt = NULL;
	long days, ldap_port = LABDIR_PORT;
	int ch, lab = 0, rc, have_ldap = 0, port_set = 0, no_ldap = 0;
	const char *missing;

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
			return cli_usage(&cli_ca_cmds[0]);
		}
	}
	if (optind != argc || *p.name == '\0' || strlen(p.name) > 64) {
		if (optind == argc)
			cli_warnx("--name: give a CA name of 1 to 64 "
			    "characters");
		return cli_usage(&cli_ca_cmds[0]);
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
	/* Officers live beside the CA directory, never inside it. */
	if (lab && officers_opt == NULL) {
		if ((dcopy = strdup(p.dir)) == NULL ||
		    (officers = util_path(dirname(dcopy), "officers")) ==
		    NULL) {
			free(dcopy);
			cli_warnx("out of memory");
			return CLI_FAIL;
		}
		free(dcopy);
	} else if (lab && (officers = strdup(officers_opt)) == NULL)
		return CLI_FAIL;
	if (officers != NULL && access(officers, F_OK) == 0) {
		cli_warnx("%s exists already; move it away or give "
		    "--officers DIR", officers);
		free(officers);
		return CLI_FAIL;
	}
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
	if (lab) {
		rc = lab_officers(cli, officers, &err);
		if (rc != CLI_OK) {
			cli_print_err(&err);
			cli_warnx("the CA in %s was created, but its lab "
			    "recovery officers were not", p.dir);
			free(officers);
			return rc;
		}
		/* A lab directory when slapd is there; none is no failure. */
		if (no_ldap)
			;
		else if (!labdir_available(&missing))
			cli_warnx("no lab directory: %s is not installed (on "
			    "Debian: apt-get install slapd ldap-utils); the "
			    "CA works without one", missing);
		else if (lab_directory(cli, (int)ldap_port, &err) != CLI_OK) {
			cli_print_err(&err);
			cli_warnx("the CA in %s was created, but its lab "
			    "directory was not", p.dir);
			free(officers);
			return CLI_FAIL;
		} else
			have_ldap = 1;
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
		printf("\nLab recovery officers (KRA certificates, registered; "
		    "any one of them can recover):\n  %s/officer1.p12 .. "
		    "officer%d.p12, passwords in %s/passwords.txt\n",
		    officers, LAB_OFFICERS, officers);
	if (have_ldap)
		printf("\nLab directory (slapd, suffix " LABDIR_SUFFIX ") "
		    "in %s/" LABDIR_DIR ", on ldap://127.0.0.1:%ld/:\n"
		    "  users alice, bob and carol (@lab.example), passwords "
		    "in %s/" LABDIR_DIR "/users.txt\n"
		    "  start it with: smimeca -d %s lab slapd start\n",
		    p.dir, ldap_port, p.dir, p.dir);
	free(officers);
	return CLI_OK;
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

/* One lab recovery officer: key, KRA certificate, PKCS#12, registration. */
static int
lab_officer(struct ca *ca, const struct tpl *t, const char *dir, int i,
    FILE *pwf, struct ca_err *err)
{
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	X509_NAME *name = NULL;
	X509 *cert = NULL;
	struct iss_account acct;
	struct iss_request req;
	char mail[64], cn[64], file[32], pw[21], *path = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	int r;

	snprintf(mail, sizeof(mail), "officer%d@lab.example", i);
	snprintf(cn, sizeof(cn), "Recovery Officer %d", i);
	snprintf(file, sizeof(file), "officer%d.p12", i);
	if ((r = ca_keygen(CA_KEY_RSA2048, &key, err)) != 0)
		goto out;
	if ((csr = X509_REQ_new()) == NULL || (name = X509_NAME_new()) ==
	    NULL || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (unsigned char *)cn, -1, -1, 0) ||
	    !X509_REQ_set_subject_name(csr, name) ||
	    !X509_REQ_set_pubkey(csr, key) ||
	    !X509_REQ_sign(csr, key, EVP_sha256())) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "officer request");
		goto out;
	}
	memset(&acct, 0, sizeof(acct));
	acct.id = "admin";
	acct.mail = mail;
	acct.cn = cn;
	memset(&req, 0, sizeof(req));
	req.csr = csr;
	req.tpl = t;
	req.account = &acct;
	req.protocol = TPL_PROTO_CLI;
	if ((r = iss_issue(ca, &req, NULL, NULL, &cert, err)) != 0 ||
	    (r = kra_add(ca, cert, err)) != 0 ||
	    (r = rcv_random_password(pw, sizeof(pw) - 1, err)) != 0)
		goto out;
	pw[sizeof(pw) - 1] = '\0';
	if ((r = rcv_pkcs12(key, cert, ca_chain(ca), pw, cn, &der, &len,
	    err)) != 0)
		goto out;
	if ((path = util_path(dir, file)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = util_write_file(path, der, len, 0600, err)) != 0)
		goto out;
	fprintf(pwf, "%s %s\n", file, pw);
	free(path);
	snprintf(file, sizeof(file), "officer%d.crt", i);
	if ((path = util_path(dir, file)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = cli_write_cert(path, cert, err);
 out:
	OPENSSL_cleanse(pw, sizeof(pw));
	if (der != NULL)
		OPENSSL_clear_free(der, len);
	free(path);
	X509_free(cert);
	X509_NAME_free(name);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	return r;
}

static int
lab_officers(struct cli *cli, const char *dir, struct ca_err *err)
{
	struct ca *ca = NULL;
	struct tpl *t = NULL;
	FILE *pwf = NULL;
	char *pwpath = NULL;
	int i, fd = -1, rc = CLI_FAIL;

	if (mkdir(dir, 0700) == -1) {
		ca_err_set(err, CA_ERR_IO, "%s: %s", dir, strerror(errno));
		return CLI_FAIL;
	}
	if (ca_open(cli->dir, cli->passphrase_file, CA_OPEN_KEY, &ca,
	    err) != 0 ||
	    tpl_load(ca_config(ca)->template_dir, "kra", &t, err) != 0)
		goto out;
	if ((pwpath = util_path(dir, "passwords.txt")) == NULL ||
	    (fd = open(pwpath, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    (pwf = fdopen(fd, "w")) == NULL) {
		ca_err_set(err, CA_ERR_IO, "%s: %s", pwpath ? pwpath : dir,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	fprintf(pwf, "# Lab only: real recovery officers keep their keys on "
	    "their own machines or smart cards.\n");
	for (i = 1; i <= LAB_OFFICERS; i++)
		if (lab_officer(ca, t, dir, i, pwf, err) != 0)
			goto out;
	rc = CLI_OK;
 out:
	if (pwf != NULL && fclose(pwf) != 0 && rc == CLI_OK) {
		ca_err_set(err, CA_ERR_IO, "%s: %s", pwpath, strerror(errno));
		rc = CLI_FAIL;
	}
	if (fd != -1)
		close(fd);
	free(pwpath);
	tpl_free(t);
	ca_close(ca);
	return rc;
}

static int
cmd_revoke(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	struct ca *ca = NULL;
	struct ca_err err;
	const char *reason = NULL;
	char serial[80];
	int ch, code, rc;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'r')
			return cli_usage(&cli_ca_cmds[1]);
		reason = optarg;
	}
	if (optind + 1 != argc || reason == NULL)
		return cli_usage(&cli_ca_cmds[1]);
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

static int
cmd_crl(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "der", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 }
	};
	struct ca *ca = NULL;
	struct ca_err err;
	X509_CRL *crl = NULL;
	const char *out = NULL;
	unsigned char *der = NULL;
	BIO *b = NULL;
	char *data;
	long len;
	int ch, as_der = 0, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'D':
			as_der = 1;
			break;
		default:
			return cli_usage(&cli_ca_cmds[2]);
		}
	}
	if (optind != argc)
		return cli_usage(&cli_ca_cmds[2]);
	if ((rc = cli_open_ca(cli, CA_OPEN_KEY, &ca)) != CLI_OK)
		return rc;
	rc = CLI_FAIL;
	if (rev_crl_generate(ca, &crl, &err) != 0)
		goto out;
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    (as_der ? !i2d_X509_CRL_bio(b, crl) :
	    !PEM_write_bio_X509_CRL(b, crl))) {
		ca_err_ssl(&err, CA_ERR_CRYPTO, "encoding the CRL");
		goto out;
	}
	len = BIO_get_mem_data(b, &data);
	if (out == NULL) {
		if (fwrite(data, 1, (size_t)len, stdout) != (size_t)len) {
			ca_err_set(&err, CA_ERR_IO, "writing to stdout");
			goto out;
		}
	} else if (util_write_file(out, data, (size_t)len, 0644, &err) != 0)
		goto out;
	rc = CLI_OK;
 out:
	if (rc != CLI_OK)
		cli_print_err(&err);
	OPENSSL_free(der);
	BIO_free(b);
	X509_CRL_free(crl);
	ca_close(ca);
	return rc;
}

/* The CA's template folder, from its configuration. */
static int
template_dir(struct cli *cli, char **dirp)
{
	struct ca_config *cfg = NULL;
	struct ca_err err;

	ca_err_clear(&err);
	*dirp = NULL;
	if (cfg_load(cli->dir, &cfg, &err) != 0) {
		cli_print_err(&err);
		return CLI_FAIL;
	}
	*dirp = strdup(cfg->template_dir);
	cfg_free(cfg);
	return *dirp == NULL ? CLI_FAIL : CLI_OK;
}

static int
cmd_template_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct tpl **tps = NULL;
	struct ca_err err;
	char *dir = NULL, protos[64];
	size_t i, n = 0;
	json_t *arr = NULL;
	int ch, json = 0, rc;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'j')
			return cli_usage(&cli_ca_cmds[3]);
		json = 1;
	}
	if (optind != argc)
		return cli_usage(&cli_ca_cmds[3]);
	if ((rc = template_dir(cli, &dir)) != CLI_OK)
		return rc;
	if (tpl_load_all(dir, &tps, &n, &err) != 0) {
		cli_print_err(&err);
		free(dir);
		return CLI_FAIL;
	}
	if (json)
		arr = json_array();
	else
		printf("%-20s %-18s %-10s %-16s %s\n", "NAME", "PURPOSE",
		    "ARCHIVAL", "PROTOCOLS", "FILE");
	for (i = 0; i < n; i++) {
		tpl_protocols_str(tps[i]->protocols, protos, sizeof(protos));
		if (!json) {
			printf("%-20s %-18s %-10s %-16s %s\n", tps[i]->name,
			    tpl_purpose_name(tps[i]->purpose),
			    tpl_archival_name(tps[i]->archival), protos,
			    tps[i]->file);
			continue;
		}
		json_array_append_new(arr, json_pack(
		    "{s:s, s:s, s:s, s:s, s:i, s:s, s:s}",
		    "name", tps[i]->name,
		    "purpose", tpl_purpose_name(tps[i]->purpose),
		    "archival", tpl_archival_name(tps[i]->archival),
		    "protocols", protos,
		    "validity_days", tps[i]->validity_days,
		    "file", tps[i]->file,
		    "sha256", tps[i]->sha256));
	}
	tpl_free_all(tps, n);
	free(dir);
	return json ? cli_json_print_steal(arr) : CLI_OK;
}

static int
cmd_template_show(struct cli *cli, int argc, char **argv)
{
	struct tpl *t = NULL;
	struct ca_err err;
	char *dir = NULL;
	int rc;

	ca_err_clear(&err);
	if (argc != 2)
		return cli_usage(&cli_ca_cmds[4]);
	if ((rc = template_dir(cli, &dir)) != CLI_OK)
		return rc;
	if (tpl_load(dir, argv[1], &t, &err) != 0) {
		cli_print_err(&err);
		free(dir);
		return CLI_FAIL;
	}
	fwrite(t->body, 1, t->bodylen, stdout);
	tpl_free(t);
	free(dir);
	return CLI_OK;
}

static int
cmd_template_check(struct cli *cli, int argc, char **argv)
{
	struct tpl *t = NULL;
	struct ca_err err;

	ca_err_clear(&err);
	if (argc != 2)
		return cli_usage(&cli_ca_cmds[5]);
	if (tpl_load_file(argv[1], &t, &err) != 0) {
		cli_print_err(&err);
		return CLI_FAIL;
	}
	printf("%s: ok (template %s, %s)\n", argv[1], t->name,
	    tpl_purpose_name(t->purpose));
	tpl_free(t);
	return CLI_OK;
}

static int
cmd_audit_verify(struct cli *cli, int argc, char **argv)
{
	struct ca *ca = NULL;
	struct ca_err err;
	struct audit_result res;
	int rc;

	ca_err_clear(&err);
	if (argc != 1)
		return cli_usage(&cli_ca_cmds[6]);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	memset(&res, 0, sizeof(res));
	if (audit_verify(ca_db(ca), &res, &err) != 0) {
		cli_print_err(&err);
		ca_close(ca);
		return CLI_FAIL;
	}
	ca_close(ca);
	if (res.bad_id != 0) {
		cli_warnx("audit log damaged at row %lld: %s",
		    (long long)res.bad_id, res.why);
		return CLI_FAIL;
	}
	printf("audit log intact: %lld rows\n", (long long)res.rows);
	return CLI_OK;
}

static int
audit_row_text(void *ctx, int64_t id, int64_t ts, const char *actor,
    const char *action, const char *object, const char *detail)
{
	const char *f[] = { actor, action, object, detail };
	char when[21], *buf;
	size_t i, n;

	util_iso8601(ts, when);
	printf("%lld %s", (long long)id, when);
	/* A field the CLI got from elsewhere cannot split or paint a line. */
	for (i = 0; i < 4; i++) {
		n = strlen(f[i]);
		if ((buf = malloc(4 * n + 1)) == NULL)
			return CA_ERR_NOMEM;
		util_escape_log(buf, 4 * n + 1, f[i], n);
		printf(" %s", buf);
		free(buf);
	}
	putchar('\n');
	return 0;
}

static int
audit_row_json(void *ctx, int64_t id, int64_t ts, const char *actor,
    const char *action, const char *object, const char *detail)
{
	char when[21];

	util_iso8601(ts, when);
	return json_array_append_new(ctx, json_pack(
	    "{s:I, s:s, s:s, s:s, s:s, s:s}", "id", (json_int_t)id,
	    "time", when, "actor", actor, "action", action,
	    "object", object, "detail", detail)) == 0 ? 0 : CA_ERR_NOMEM;
}

static int
cmd_audit_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct ca *ca = NULL;
	struct ca_err err;
	json_t *arr = NULL;
	int ch, json = 0, rc;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'j')
			return cli_usage(&cli_ca_cmds[7]);
		json = 1;
	}
	if (optind != argc)
		return cli_usage(&cli_ca_cmds[7]);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (json && (arr = json_array()) == NULL) {
		ca_close(ca);
		return CLI_FAIL;
	}
	if (audit_foreach(ca_db(ca), json ? audit_row_json : audit_row_text,
	    arr, &err) != 0) {
		cli_print_err(&err);
		json_decref(arr);
		ca_close(ca);
		return CLI_FAIL;
	}
	ca_close(ca);
	return json ? cli_json_print_steal(arr) : CLI_OK;
}
