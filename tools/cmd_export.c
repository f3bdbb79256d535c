/* smimeca export intune and mobileconfig: escrowed keys for an MDM. */
#include "ac-config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "archive/intune.h"
#include "archive/mdm.h"
#include "archive/profile.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/ldapdir.h"
#include "ca/mdmchal.h"
#include "ca/template.h"
#include "ca/util.h"
#include "tools/cli.h"

#define MAX_OFFICERS	16
#define LIST_MAX	(16 * 1024 * 1024)
#define NDJSON_NAME	"userPFXCertificates.ndjson"
#define DEFAULT_KSP	"Microsoft Software Key Storage Provider"
/* --expiring: the addresses without a newer certificate (lifecycle). */
#define NOT_RENEWED_NAME	"not-renewed.txt"
#define EXPORT_BATCH	64	/* users whose audit rows one commit carries */

static int cmd_export_intune(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_export_mobileconfig(const struct cli_cmd *, struct cli *, int,
    char **);

struct officers {
	const char *path[MAX_OFFICERS];
	const char *passfile[MAX_OFFICERS];
	struct mdm_officer o[MAX_OFFICERS];
	size_t n;
};

/* What a userPrincipalName template may read: the directory, and mail. */
struct upn_ctx {
	const char *email;
	struct dir_entry *entry;
};

static int officer_opt(struct officers *, int, const char *);
static int officers_load(struct officers *, struct ca_err *);
static void officers_free(struct officers *);
static const char *upn_lookup(void *, const char *);
static int make_upn(struct ca *, const char *, const char *, char **,
    struct ca_err *);
static int read_list(const char *, char ***, size_t *, struct ca_err *);
static int export_user(struct ca *, const char *, struct mdm_user *,
    struct intune_params *, const char *, const char *, FILE *, size_t *,
    struct ca_err *);
static int recover_batch(struct ca *, char **, size_t, struct officers *,
    int64_t, struct mdm_user **, struct ca_err *, struct ca_err *);
static int account_opts(struct prof_params *, const char *);
static int scep_opts(const struct prof_params *);
static int url_names_template(const char *, const char *);
static int by_email(const void *, const void *);
static int expiring_users(struct ca *, int64_t, int, const char *, char ***,
    size_t *, size_t *, struct ca_err *);
static void progress(size_t, size_t, size_t);
static void one_line(const char *, char *, size_t);

const struct cli_cmd cli_export_cmds[] = {
	{ "export", "intune", cmd_export_intune, "(--email MAIL | --all | "
	    "--from FILE | --expiring DAYS) --import-key PUB.pem "
	    "--key-name NAME "
	    "[--provider NAME] [--padding oaepSha512|oaepSha384|oaepSha256] "
	    "[--upn ATTR|TEMPLATE] [--ndjson] [--aes] --kra-key OFFICER.p12 "
	    "[--kra-pass-file F] [--kra-key ...] --out DIR" },
	{ "export", "mobileconfig", cmd_export_mobileconfig, "--email MAIL "
	    "--kra-key OFFICER.p12 [--kra-pass-file F] [--kra-key ...] "
	    "[--sign] [--encrypt-to DEV.crt [--device-ca CA.pem]] "
	    "[--account imap [--imap-host H] [--smtp-host H] | --account eas "
	    "--eas-host H [--eas-user U]] [--encrypt-by-default] [--aes] "
	    "[--with-root] [--scep-url URL --scep-challenge CHALLENGE "
	    "[--scep-keysize 2048|4096]] --out FILE" },
	{ NULL, NULL, NULL, NULL }
};

/* --kra-key adds an officer; --kra-pass-file belongs to the one before. */
static int
officer_opt(struct officers *off, int ch, const char *arg)
{
	if (ch == 'k') {
		if (off->n == MAX_OFFICERS) {
			cli_warnx("at most %d --kra-key", MAX_OFFICERS);
			return -1;
		}
		off->path[off->n++] = arg;
		return 0;
	}
	if (off->n == 0 || off->passfile[off->n - 1] != NULL) {
		cli_warnx("--kra-pass-file %s: it belongs after the --kra-key "
		    "whose password it holds", arg);
		return -1;
	}
	off->passfile[off->n - 1] = arg;
	return 0;
}

static int
officers_load(struct officers *off, struct ca_err *err)
{
	size_t i;
	int r;

	for (i = 0; i < off->n; i++)
		if ((r = cli_load_officer(off->path[i], off->passfile[i],
		    &off->o[i].key, &off->o[i].cert, err)) != 0)
			return r;
	return 0;
}

static void
officers_free(struct officers *off)
{
	size_t i;

	for (i = 0; i < off->n; i++) {
		EVP_PKEY_free(off->o[i].key);
		X509_free(off->o[i].cert);
	}
}

static const char *
upn_lookup(void *vctx, const char *attr)
{
	struct upn_ctx *c = vctx;
	const char *v;

	if (c->entry != NULL && (v = dir_entry_get(c->entry, attr)) != NULL)
		return v;
	return strcasecmp(attr, "mail") == 0 ? c->email : NULL;
}

/* NULL: the address; "{dir:..}" text: a template; a word: an attribute. */
static int
make_upn(struct ca *ca, const char *spec, const char *email, char **upnp,
    struct ca_err *err)
{
	struct upn_ctx c = { email, NULL };
	char *tmpl = NULL;
	int r;

	*upnp = NULL;
	if (spec == NULL) {
		if ((*upnp = strdup(email)) == NULL)
			return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		return 0;
	}
	if (strchr(spec, '{') == NULL) {
		if (asprintf(&tmpl, "{dir:%s}", spec) == -1)
			return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		spec = tmpl;
	}
	if (ca_config(ca)->ldap != NULL &&
	    (r = dir_lookup(ca_config(ca), email, &c.entry, err)) != 0)
		goto out;
	if ((r = tpl_expand(spec, upn_lookup, &c, upnp, err)) != 0) {
		ca_err_set(err, r, "--upn %s: %s", spec,
		    ca_config(ca)->ldap == NULL ? "without an <ldap> "
		    "directory only {dir:mail} is known" :
		    "the directory entry lacks that attribute");
		goto out;
	}
	r = 0;
 out:
	dir_entry_free(c.entry);
	free(tmpl);
	return r;
}

/* Addresses one a line; blank lines and # comments are skipped. */
static int
read_list(const char *path, char ***listp, size_t *np, struct ca_err *err)
{
	unsigned char *buf = NULL;
	char *line, *save = NULL, **list = NULL, **grown;
	size_t n = 0, len;
	int r;

	*listp = NULL;
	*np = 0;
	if ((r = util_read_file(path, LIST_MAX, &buf, NULL, err)) != 0)
		return r;
	for (line = strtok_r((char *)buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		len = strcspn(line, " \t\r#");
		if (len == 0)
			continue;
		line[len] = '\0';
		if ((grown = realloc(list, (n + 1) * sizeof(*list))) == NULL ||
		    (grown[n] = strdup(line)) == NULL) {
			if (grown != NULL)
				list = grown;
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		list = grown;
		util_lower(list[n++]);
	}
	if (n == 0) {
		r = ca_err_set(err, CA_ERR_INVALID, "%s: no mail address in it "
		    "(one a line)", path);
		goto out;
	}
	*listp = list;
	*np = n;
	list = NULL;
	n = 0;
	r = 0;
 out:
	mdm_free_strings(list, n);
	free(buf);
	return r;
}

/*
 * The userPFXCertificate objects of one user, whose keys u holds: a file
 * (synced later, with the others: util_sync_fs), or NDJSON lines.
 */
static int
export_user(struct ca *ca, const char *email, struct mdm_user *u,
    struct intune_params *ip, const char *upn_spec, const char *out_dir,
    FILE *ndjson, size_t *ncertp, struct ca_err *err)
{
	json_t *arr = NULL, *o = NULL;
	char *upn = NULL, *path = NULL, *line, *s;
	size_t i;
	int r;

	*ncertp = 0;
	if ((r = make_upn(ca, upn_spec, email, &upn, err)) != 0)
		goto out;
	ip->upn = upn;
	if ((arr = json_array()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < u->n; i++) {
		if ((r = intune_pfx_object(ip, &u->ids[i], u->chain, &o,
		    err)) != 0)
			goto out;
		if (json_array_append_new(arr, o) != 0) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (ndjson != NULL) {
		for (i = 0; i < json_array_size(arr); i++) {
			if ((line = json_dumps(json_array_get(arr, i),
			    JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
				r = ca_err_set(err, CA_ERR_NOMEM, "out of "
				    "memory");
				goto out;
			}
			fprintf(ndjson, "%s\n", line);
			free(line);
		}
	} else {
		if ((path = cli_file_name(out_dir, email, ".json")) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((s = json_dumps(arr, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER)) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		r = util_write_file_nosync(path, s, strlen(s), 0600, err);
		free(s);
		if (r != 0)
			goto out;
	}
	*ncertp = u->n;
	r = 0;
 out:
	ip->upn = NULL;
	free(upn);
	free(path);
	json_decref(arr);
	return r;
}

/*
 * Recovers the keys of nb users in one transaction, so that one commit
 * carries their audit rows: users[j], or why not in uerrs[j]. Fails only
 * when the transaction does (then no user of the batch has keys).
 */
static int
recover_batch(struct ca *ca, char **names, size_t nb, struct officers *off,
    int64_t now, struct mdm_user **users, struct ca_err *uerrs,
    struct ca_err *err)
{
	size_t j;
	int r;

	if ((r = db_begin(ca_db(ca), err)) != 0)
		return r;
	for (j = 0; j < nb; j++) {
		ca_err_clear(&uerrs[j]);
		mdm_recover(ca, names[j], off->o, off->n, now, &users[j],
		    &uerrs[j]);
	}
	if ((r = db_commit(ca_db(ca), err)) != 0)
		for (j = 0; j < nb; j++) {
			mdm_user_free(users[j]);
			users[j] = NULL;
		}
	return r;
}

/* The lines of an error message joined with "; ", for a list. */
static void
one_line(const char *msg, char *out, size_t len)
{
	size_t o = 0;

	for (; *msg != '\0' && o + 3 < len; msg++) {
		if (*msg != '\n') {
			out[o++] = *msg;
		} else if (msg[1] != '\0') {
			out[o++] = ';';
			out[o++] = ' ';
		}
	}
	out[o] = '\0';
}

static void
progress(size_t done, size_t total, size_t failed)
{
	char bar[41];
	size_t w = total > 0 ? done * 40 / total : 40;

	memset(bar, '#', w);
	memset(bar + w, '.', 40 - w);
	bar[40] = '\0';
	fprintf(stderr, "\r[%s] %zu/%zu users, %zu failed", bar, done, total,
	    failed);
	if (done == total)
		fprintf(stderr, "\n");
}

static int
by_email(const void *a, const void *b)
{
	const struct db_expiring *const *x = a, *const *y = b;

	return strcmp((*x)->cert->email, (*y)->cert->email);
}

/*
 * --expiring DAYS (lifecycle): the addresses whose escrowed (encryption)
 * certificate expires within days, valid or superseded, and that have a
 * newer valid one of the same template, sorted. Those without one are
 * named on stderr and written to OUT/NOT_RENEWED_NAME (one a line, ready
 * for --from once renewed); *ntodop gets how many.
 */
static int
expiring_users(struct ca *ca, int64_t now, int days, const char *out,
    char ***listp, size_t *np, size_t *ntodop, struct ca_err *err)
{
	struct db_expiring_filter f;
	struct db_expiring **l = NULL;
	char **list = NULL, *path = NULL, day[21];
	size_t i, j, n = 0, nl = 0, ntodo = 0;
	FILE *todo = NULL;
	int renewed, r;

	*listp = NULL;
	*np = 0;
	*ntodop = 0;
	memset(&f, 0, sizeof(f));
	f.now = now;
	f.until = now + (int64_t)days * 86400;
	f.superseded = 1;
	if ((r = db_cert_expiring(ca_db(ca), &f, &l, &n, err)) != 0)
		goto out;
	/* Only encryption certificates (escrowed) of an address count. */
	for (i = j = 0; i < n; i++) {
		if (l[i]->escrowed && l[i]->cert->email != NULL)
			l[j++] = l[i];
		else
			db_expiring_free(l[i]);
	}
	n = j;
	if (n > 1)
		qsort(l, n, sizeof(*l), by_email);
	if ((list = calloc(n + 1, sizeof(*list))) == NULL ||
	    (path = util_path(out, NOT_RENEWED_NAME)) == NULL ||
	    (todo = fopen(path, "w")) == NULL) {
		r = todo == NULL && path != NULL ? ca_err_set(err, CA_ERR_IO,
		    "%s: cannot write: %s", path, strerror(errno)) :
		    ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i = j) {
		renewed = 0;
		for (j = i; j < n && strcmp(l[j]->cert->email,
		    l[i]->cert->email) == 0; j++)
			if (l[j]->newer[0] != '\0')
				renewed = 1;
		if (renewed) {
			if ((list[nl] = strdup(l[i]->cert->email)) == NULL) {
				r = ca_err_set(err, CA_ERR_NOMEM, "out of "
				    "memory");
				goto out;
			}
			nl++;
			continue;
		}
		util_iso8601(l[i]->cert->not_after, day);
		day[10] = '\0';
		cli_warnx("export: %s: not renewed: encryption certificate %s "
		    "expires %s and there is no newer one (renew it, then "
		    "export again; listed in %s)", l[i]->cert->email,
		    l[i]->cert->serial, day, path);
		fprintf(todo, "%s\n", l[i]->cert->email);
		ntodo++;
	}
	if (fclose(todo) != 0) {
		todo = NULL;
		r = ca_err_set(err, CA_ERR_IO, "%s: cannot write", path);
		goto out;
	}
	todo = NULL;
	*listp = list;
	*np = nl;
	*ntodop = ntodo;
	list = NULL;
	nl = 0;
	r = 0;
 out:
	if (todo != NULL)
		fclose(todo);
	free(path);
	mdm_free_strings(list, nl);
	db_expiring_free_list(l, n);
	return r;
}

static int
cmd_export_intune(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "email", required_argument, NULL, 'e' },
		{ "all", no_argument, NULL, 'a' },
		{ "from", required_argument, NULL, 'f' },
		{ "import-key", required_argument, NULL, 'i' },
		{ "key-name", required_argument, NULL, 'n' },
		{ "provider", required_argument, NULL, 'p' },
		{ "padding", required_argument, NULL, 'P' },
		{ "upn", required_argument, NULL, 'u' },
		{ "ndjson", no_argument, NULL, 'j' },
		{ "aes", no_argument, NULL, 'A' },
		{ "expiring", required_argument, NULL, 'x' },
		CLI_OPT_KRA_KEY,
		CLI_OPT_KRA_PASS_FILE,
		CLI_OPT_OUT,
		CLI_OPT_END
	};
	struct officers off;
	struct intune_params ip;
	struct ca *ca = NULL;
	struct ca_err err, *uerrs = NULL;
	struct mdm_user **users = NULL;
	const char *email = NULL, *from = NULL, *keyf = NULL, *out = NULL;
	const char *upn = NULL, *padding = "oaepSha512";
	char **list = NULL, *ndpath = NULL, *nd = NULL;
	char line[2 * CA_ERR_MSGMAX];
	size_t nlist = 0, i, n, ncert = 0, nusers = 0, nfailed = 0, ndlen = 0;
	size_t ntodo = 0, b;
	FILE *ndf = NULL;
	int ch, all = 0, ndjson = 0, tty, ok, expiring = -1, rc = CLI_FAIL;

	ca_err_clear(&err);
	memset(&off, 0, sizeof(off));
	memset(&ip, 0, sizeof(ip));
	ip.provider = DEFAULT_KSP;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'e': email = optarg; break;
		case 'a': all = 1; break;
		case 'f': from = optarg; break;
		case 'i': keyf = optarg; break;
		case 'n': ip.key_name = optarg; break;
		case 'p': ip.provider = optarg; break;
		case 'P': padding = optarg; break;
		case 'u': upn = optarg; break;
		case 'j': ndjson = 1; break;
		case 'A': ip.aes = 1; break;
		case 'o': out = optarg; break;
		case 'x':
			if (cli_days_opt("--expiring", optarg, &expiring) != 0)
				return CLI_USAGE;
			break;
		case 'k':
		case 'K':
			if (officer_opt(&off, ch, optarg) != 0)
				return cli_usage(me);
			break;
		default:
			return cli_usage(me);
		}
	}
	if (optind != argc || (email != NULL) + all + (from != NULL) +
	    (expiring > 0) != 1 ||
	    keyf == NULL || ip.key_name == NULL || out == NULL || off.n == 0)
		return cli_usage(me);
	if (intune_padding_parse(padding, &ip.padding) != 0) {
		cli_warnx("--padding %s: Intune takes oaepSha256, oaepSha384 "
		    "or oaepSha512 (pkcs1 and oaepSha1 are refused)", padding);
		return CLI_USAGE;
	}
	ip.now = (int64_t)time(NULL);
	if (intune_read_import_key(keyf, &ip.import_key, &err) != 0 ||
	    officers_load(&off, &err) != 0)
		goto out;
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		goto out;
	rc = CLI_FAIL;
	if (email != NULL) {
		if ((list = calloc(1, sizeof(*list))) == NULL ||
		    (list[0] = strdup(email)) == NULL) {
			ca_err_set(&err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		nlist = 1;
		util_lower(list[0]);
	} else if (expiring > 0) {
		if (cli_mkdir_out(out, &err) != 0 ||
		    expiring_users(ca, ip.now, expiring, out, &list, &nlist,
		    &ntodo, &err) != 0)
			goto out;
		if (nlist == 0) {
			printf("no user whose encryption certificate expires "
			    "within %d days has a newer one: nothing to "
			    "export; %zu not renewed\n", expiring, ntodo);
			rc = CLI_OK;
			goto out;
		}
	} else if ((from != NULL ? read_list(from, &list, &nlist, &err) :
	    mdm_escrowed_emails(ca, &list, &nlist, &err)) != 0)
		goto out;
	if (nlist == 0) {
		ca_err_set(&err, CA_ERR_NOTFOUND, "no escrowed key in this CA: "
		    "nothing to export");
		goto out;
	}
	if (cli_mkdir_out(out, &err) != 0)
		goto out;
	if (ndjson && (ndf = open_memstream(&nd, &ndlen)) == NULL) {
		ca_err_set(&err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	tty = email == NULL && isatty(STDERR_FILENO);
	if ((users = calloc(EXPORT_BATCH, sizeof(*users))) == NULL ||
	    (uerrs = calloc(EXPORT_BATCH, sizeof(*uerrs))) == NULL) {
		ca_err_set(&err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < nlist; i++) {
		b = i % EXPORT_BATCH;
		if (b == 0 && recover_batch(ca, list + i, nlist - i <
		    EXPORT_BATCH ? nlist - i : EXPORT_BATCH, &off, ip.now,
		    users, uerrs, &err) != 0)
			goto out;
		ok = 0;
		if (users[b] != NULL) {
			ok = export_user(ca, list[i], users[b], &ip, upn, out,
			    ndf, &n, &uerrs[b]) == 0;
			mdm_user_free(users[b]);
			users[b] = NULL;
		}
		if (!ok) {
			if (tty)
				fprintf(stderr, "\r\033[K");
			one_line(uerrs[b].msg, line, sizeof(line));
			cli_warnx("export: %s: %s", list[i], line);
			nfailed++;
		} else {
			ncert += n;
			nusers++;
			if (!ndjson && email != NULL)
				printf("wrote %s/%s.json (%zu certificate%s)\n",
				    out, list[i], n, n == 1 ? "" : "s");
		}
		if (tty)
			progress(i + 1, nlist, nfailed);
	}
	/* The users' files were written without an fsync each. */
	if (!ndjson && nusers > 0 && util_sync_fs(out, &err) != 0)
		goto out;
	if (ndf != NULL) {
		if (fclose(ndf) != 0) {
			ndf = NULL;
			ca_err_set(&err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		ndf = NULL;
		if (ndlen > 0) {
			if ((ndpath = util_path(out, NDJSON_NAME)) == NULL) {
				ca_err_set(&err, CA_ERR_NOMEM, "out of "
				    "memory");
				goto out;
			}
			if (util_write_file(ndpath, nd, ndlen, 0600,
			    &err) != 0)
				goto out;
			printf("wrote %s\n", ndpath);
		}
	}
	if (email == NULL || nfailed > 0)
		printf("exported %zu certificate%s of %zu user%s to %s; %zu "
		    "user%s failed\n", ncert, ncert == 1 ? "" : "s", nusers,
		    nusers == 1 ? "" : "s", out, nfailed,
		    nfailed == 1 ? "" : "s");
	if (expiring > 0)
		printf("%zu user%s not renewed (see %s/%s)\n", ntodo,
		    ntodo == 1 ? "" : "s", out, NOT_RENEWED_NAME);
	rc = nfailed > 0 ? CLI_FAIL : CLI_OK;
 out:
	if (err.count > 0)
		cli_print_err(&err);
	if (ndf != NULL)
		fclose(ndf);
	free(nd);
	free(ndpath);
	for (b = 0; users != NULL && b < EXPORT_BATCH; b++)
		mdm_user_free(users[b]);
	free(users);
	free(uerrs);
	mdm_free_strings(list, nlist);
	EVP_PKEY_free(ip.import_key);
	officers_free(&off);
	ca_close(ca);
	return rc;
}

/* --account and the host options that belong to it; warns on a mismatch. */
static int
account_opts(struct prof_params *pp, const char *acct)
{
	if (strcmp(acct, "imap") == 0) {
		pp->account = PROF_ACCOUNT_IMAP;
		if (pp->eas_host != NULL || pp->eas_user != NULL) {
			cli_warnx("--eas-host and --eas-user need --account "
			    "eas");
			return -1;
		}
		return 0;
	}
	if (strcmp(acct, "eas") == 0) {
		pp->account = PROF_ACCOUNT_EAS;
		if (pp->eas_host == NULL || *pp->eas_host == '\0') {
			cli_warnx("--account eas needs --eas-host H, the "
			    "Exchange ActiveSync server (e.g. "
			    "outlook.office365.com)");
			return -1;
		}
		if (pp->imap_host != NULL || pp->smtp_host != NULL) {
			cli_warnx("--imap-host and --smtp-host belong to "
			    "--account imap; an Exchange account has "
			    "--eas-host");
			return -1;
		}
		return 0;
	}
	cli_warnx("--account %s: unknown account type (imap or eas)", acct);
	return -1;
}

/* Whether the URL's path has /scep/TEMPLATE as a whole segment. */
static int
url_names_template(const char *url, const char *tpl)
{
	const char *p = url;
	size_t n = strlen(tpl);

	while ((p = strstr(p, "/scep/")) != NULL) {
		p += 6;
		if (strncmp(p, tpl, n) == 0 && (p[n] == '\0' || p[n] == '/' ||
		    p[n] == '?'))
			return 1;
	}
	return 0;
}

/* --scep-url and --scep-challenge go together; warns when they do not. */
static int
scep_opts(const struct prof_params *pp)
{
	if (pp->scep_url == NULL && pp->scep_challenge == NULL) {
		if (pp->scep_keysize != 0) {
			cli_warnx("--scep-keysize needs --scep-url");
			return -1;
		}
		return 0;
	}
	if (pp->scep_url == NULL || pp->scep_challenge == NULL) {
		cli_warnx("--scep-url and --scep-challenge go together: the "
		    "device enrolls at the URL with the challenge");
		return -1;
	}
	if (strncmp(pp->scep_url, "http://", 7) != 0 &&
	    strncmp(pp->scep_url, "https://", 8) != 0) {
		cli_warnx("--scep-url %s: an http:// or https:// URL, e.g. "
		    "http://ca.lab.example:8080/scep/smime-signature-device",
		    pp->scep_url);
		return -1;
	}
	if (*pp->scep_challenge == '\0') {
		cli_warnx("--scep-challenge: empty");
		return -1;
	}
	return 0;
}

static int
cmd_export_mobileconfig(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "email", required_argument, NULL, 'e' },
		CLI_OPT_KRA_KEY,
		CLI_OPT_KRA_PASS_FILE,
		{ "sign", no_argument, NULL, 's' },
		{ "imap-host", required_argument, NULL, 'I' },
		{ "smtp-host", required_argument, NULL, 'S' },
		{ "encrypt-by-default", no_argument, NULL, 'E' },
		{ "aes", no_argument, NULL, 'A' },
		{ "encrypt-to", required_argument, NULL, 't' },
		{ "with-root", no_argument, NULL, 'R' },
		{ "account", required_argument, NULL, 'a' },
		{ "eas-host", required_argument, NULL, 'H' },
		{ "eas-user", required_argument, NULL, 'U' },
		{ "scep-url", required_argument, NULL, 'u' },
		{ "scep-challenge", required_argument, NULL, 'c' },
		{ "scep-keysize", required_argument, NULL, 'z' },
		CLI_OPT_DEVICE_CA,
		CLI_OPT_OUT,
		CLI_OPT_END
	};
	struct officers off;
	struct prof_params pp;
	struct mdmchal_claims claims;
	STACK_OF(X509) *chain_certs;
	struct ca *ca = NULL;
	struct ca_err err;
	struct mdm_user *u = NULL;
	char *email = NULL, *xml = NULL, org[256], *chain = NULL;
	const char *out = NULL, *tof = NULL, *caf = NULL, *acct = "imap";
	unsigned char *der = NULL;
	size_t xlen = 0, dlen = 0;
	X509 *signer = NULL;
	EVP_PKEY *skey = NULL;
	int ch, sign = 0, with_root = 0, rc = CLI_FAIL;
	int64_t now = (int64_t)time(NULL);

	ca_err_clear(&err);
	memset(&off, 0, sizeof(off));
	memset(&pp, 0, sizeof(pp));
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			free(email);
			if ((email = strdup(optarg)) == NULL) {
				cli_warnx("out of memory");
				return CLI_FAIL;
			}
			break;
		case 's': sign = 1; break;
		case 'I': pp.imap_host = optarg; break;
		case 'S': pp.smtp_host = optarg; break;
		case 'E': pp.encrypt_by_default = 1; break;
		case 'A': pp.aes = 1; break;
		case 't': tof = optarg; break;
		case 'R': with_root = 1; break;
		case 'a': acct = optarg; break;
		case 'H': pp.eas_host = optarg; break;
		case 'U': pp.eas_user = optarg; break;
		case 'u': pp.scep_url = optarg; break;
		case 'c': pp.scep_challenge = optarg; break;
		case 'z':
			if (strcmp(optarg, "2048") != 0 &&
			    strcmp(optarg, "4096") != 0) {
				cli_warnx("--scep-keysize %s: 2048 or 4096 "
				    "(the bits of the RSA key the device "
				    "makes)", optarg);
				free(email);
				return CLI_USAGE;
			}
			pp.scep_keysize = atoi(optarg);
			break;
		case 'C': caf = optarg; break;
		case 'o': out = optarg; break;
		case 'k':
		case 'K':
			if (officer_opt(&off, ch, optarg) == 0)
				break;
			/* FALLTHROUGH */
		default:
			free(email);
			return cli_usage(me);
		}
	}
	if (optind != argc || email == NULL || out == NULL || off.n == 0 ||
	    (caf != NULL && tof == NULL) || account_opts(&pp, acct) != 0 ||
	    scep_opts(&pp) != 0) {
		free(email);
		return cli_usage(me);
	}
	util_lower(email);
	if (officers_load(&off, &err) != 0)
		goto out;
	if (tof != NULL && (cli_device_ca(cli, &caf, &chain, &err) != 0 ||
	    util_read_cert(tof, &pp.encrypt_to, &err) != 0 ||
	    mdm_check_device_cert(pp.encrypt_to, caf, now, &err) != 0))
		goto out;
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		goto out;
	rc = CLI_FAIL;
	if (tof != NULL && mdm_check_device_record(ca, pp.encrypt_to, email,
	    NULL, &err) != 0)
		goto out;
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(ca_cert(ca)),
	    NID_commonName, org, sizeof(org)) > 0)
		pp.org = org;
	if (with_root)
		pp.roots = ca_chain(ca);
	/*
	 * A bound challenge must be good now and name this account; the
	 * device then asks for exactly its subject (the SubjectAltName is the
	 * account's address either way).
	 */
	if (pp.scep_url != NULL && mdmchal_is_bound(pp.scep_challenge)) {
		if (mdmchal_inspect(ca, pp.scep_challenge, now, &claims,
		    &err) != 0) {
			ca_err_set(&err, err.code, "--scep-challenge: make a "
			    "new one with smimeca mdm scep-challenge");
			goto out;
		}
		if (strcmp(claims.email, email) != 0) {
			ca_err_set(&err, CA_ERR_INVALID, "--scep-challenge is "
			    "bound to %s, not to %s: make one with "
			    "smimeca mdm scep-challenge --email %s",
			    claims.email, email, email);
			goto out;
		}
		pp.scep_subject = claims.subject;
		if (!url_names_template(pp.scep_url, claims.tpl))
			cli_warnx("warning: --scep-url does not name the "
			    "challenge's template (/scep/%s): the daemon's "
			    "default template must be %s, or the device's "
			    "request is refused", claims.tpl, claims.tpl);
	}
	/* The top of the chain GetCACert serves: what Apple's client hashes. */
	if (pp.scep_url != NULL) {
		chain_certs = ca_chain(ca);
		pp.scep_ca = sk_X509_value(chain_certs,
		    sk_X509_num(chain_certs) - 1);
	}
	if (mdm_recover(ca, email, off.o, off.n, now, &u, &err) != 0 ||
	    prof_build(&pp, u, &xml, &xlen, &err) != 0)
		goto out;
	if (sign) {
		if (prof_signer(ca, now, &signer, &skey, &err) != 0 ||
		    prof_sign(xml, xlen, signer, skey, ca_chain(ca), &der,
		    &dlen, &err) != 0 ||
		    util_write_file(out, der, dlen, 0600, &err) != 0)
			goto out;
	} else if (util_write_file(out, xml, xlen, 0600, &err) != 0)
		goto out;
	printf("wrote %s (%zu identit%s of %s, %s account%s%s%s%s)", out,
	    u->n, u->n == 1 ? "y" : "ies", email,
	    pp.account == PROF_ACCOUNT_EAS ? "Exchange ActiveSync" : "IMAP",
	    with_root ? ", the CA chain to trust" : "",
	    pp.scep_url != NULL ? ", a SCEP payload for the device's own "
	    "signing key" : "", sign ? ", signed" : "",
	    tof != NULL ? ", encrypted to the device" : "");
	if (tof == NULL)
		printf("; it holds private keys and their passwords: hand it "
		    "over as you would a PKCS#12");
	printf("\n");
	rc = CLI_OK;
 out:
	if (rc != CLI_OK)
		cli_print_err(&err);
	if (xml != NULL)
		OPENSSL_clear_free(xml, xlen);
	if (der != NULL)
		OPENSSL_clear_free(der, dlen);
	X509_free(signer);
	EVP_PKEY_free(skey);
	mdm_user_free(u);
	officers_free(&off);
	X509_free(pp.encrypt_to);
	ca_close(ca);
	free(chain);
	free(email);
	return rc;
}
