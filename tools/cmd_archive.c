/* smimeca xchg, kra and recover commands. */
#include "ac-config.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "archive/kra.h"
#include "archive/recover.h"
#include "archive/shamir.h"
#include "archive/xchg.h"
#include "ca/ca.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/util.h"
#include "tools/cli.h"

#define KRA_PASS_ENV	"SMIMECA_KRA_PASSPHRASE"
#define BLOB_MAX	(16 * 1024 * 1024)

static int cmd_xchg_show(struct cli *, int, char **);
static int cmd_xchg_roll(struct cli *, int, char **);
static int cmd_kra_add(struct cli *, int, char **);
static int cmd_kra_list(struct cli *, int, char **);
static int cmd_kra_retire(struct cli *, int, char **);
static int cmd_recover_blob(struct cli *, int, char **);
static int cmd_recover_open(struct cli *, int, char **);
static int cmd_recover_combine(struct cli *, int, char **);
static int cmd_recover_show(struct cli *, int, char **);
static int open_blob(const char *, const char *, X509 **, struct rcv_blob **,
    struct ca_err *);
static void print_records(const char *, const struct rcv_blob *);
static int write_all(const struct rcv_blob *, EVP_PKEY **, const char *,
    const char *, const char *, int, struct ca_err *);
static int print_cert(X509 *, int);
static int read_blob(const char *, X509 *, struct rcv_blob **,
    struct ca_err *);
static int read_pass(const char *, const char *, char **, struct ca_err *);
static int write_identity(const struct rcv_blob *, size_t, EVP_PKEY *,
    const char *, const char *, int, struct ca_err *);
static int identity_path(const char *, const char *, const struct rcv_blob *,
    size_t, char **, struct ca_err *);

const struct cli_cmd cli_archive_cmds[] = {
	{ "xchg", "show", cmd_xchg_show, "[--pem]" },
	{ "xchg", "roll", cmd_xchg_roll, "" },
	{ "kra", "add", cmd_kra_add, "CERT" },
	{ "kra", "list", cmd_kra_list, "[--json]" },
	{ "kra", "retire", cmd_kra_retire, "FINGERPRINT" },
	{ "recover", "blob", cmd_recover_blob,
	    "(--serial SERIAL | --email MAIL) --out FILE" },
	{ "recover", "open", cmd_recover_open, "--blob FILE --ca-cert CA.pem "
	    "--kra-key OFFICER.p12 [--kra-pass-file F] (--out USER.p12 | "
	    "--out-dir DIR | --share-out SHARE) [--password-file F] "
	    "[--legacy]" },
	{ "recover", "combine", cmd_recover_combine, "--blob FILE "
	    "--ca-cert CA.pem (--out USER.p12 | --out-dir DIR) "
	    "[--password-file F] [--legacy] SHARE..." },
	{ "recover", "show", cmd_recover_show, "--blob FILE --ca-cert CA.pem" },
	{ NULL, NULL, NULL, NULL }
};

static int
print_cert(X509 *cert, int pem)
{
	BIO *b;
	char serial[65];

	if ((b = BIO_new_fp(stdout, BIO_NOCLOSE)) == NULL)
		return CLI_FAIL;
	if (pem)
		PEM_write_bio_X509(b, cert);
	else {
		util_serial_hex(X509_get0_serialNumber(cert), serial);
		BIO_printf(b, "Serial:    %s\nNot after: ", serial);
		ASN1_TIME_print(b, X509_get0_notAfter(cert));
		BIO_printf(b, "\n");
		X509_print_ex(b, cert, XN_FLAG_ONELINE, X509_FLAG_NO_PUBKEY |
		    X509_FLAG_NO_SIGDUMP | X509_FLAG_NO_HEADER);
	}
	BIO_free(b);
	return CLI_OK;
}

static int
cmd_xchg_show(struct cli *cli, int argc, char **argv)
{
	struct ca *ca = NULL;
	struct ca_err err;
	X509 *cert = NULL;
	int pem = 0, rc;

	ca_err_clear(&err);
	if (argc == 2 && strcmp(argv[1], "--pem") == 0)
		pem = 1;
	else if (argc != 1)
		return cli_usage(&cli_archive_cmds[0]);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (xchg_current(ca, (int64_t)time(NULL), &cert, &err) != 0) {
		cli_print_err(&err);
		ca_close(ca);
		return CLI_FAIL;
	}
	rc = print_cert(cert, pem);
	X509_free(cert);
	ca_close(ca);
	return rc;
}

static int
cmd_xchg_roll(struct cli *cli, int argc, char **argv)
{
	struct ca *ca = NULL;
	struct ca_err err;
	X509 *cert = NULL;
	int rc;

	ca_err_clear(&err);
	if (argc != 1)
		return cli_usage(&cli_archive_cmds[1]);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (xchg_roll(ca, (int64_t)time(NULL), &cert, &err) != 0) {
		cli_print_err(&err);
		ca_close(ca);
		return CLI_FAIL;
	}
	rc = print_cert(cert, 0);
	X509_free(cert);
	ca_close(ca);
	return rc;
}

static int
cmd_kra_add(struct cli *cli, int argc, char **argv)
{
	struct ca *ca = NULL;
	struct ca_err err;
	X509 *cert = NULL;
	char fp[41];
	int rc;

	ca_err_clear(&err);
	if (argc != 2)
		return cli_usage(&cli_archive_cmds[2]);
	if (util_read_cert(argv[1], &cert, &err) != 0) {
		cli_print_err(&err);
		return CLI_FAIL;
	}
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK) {
		X509_free(cert);
		return rc;
	}
	if (kra_add(ca, cert, &err) != 0) {
		cli_print_err(&err);
		rc = CLI_FAIL;
	} else {
		unsigned char *der = NULL;
		int dlen = i2d_X509(cert, &der);

		util_sha1_hex(der, (size_t)(dlen > 0 ? dlen : 0), fp);
		OPENSSL_free(der);
		printf("registered KRA %s\n", fp);
	}
	X509_free(cert);
	ca_close(ca);
	return rc;
}

static int
cmd_kra_list(struct cli *cli, int argc, char **argv)
{
	struct ca *ca = NULL;
	struct ca_err err;
	struct kra **list = NULL;
	size_t i, n = 0;
	json_t *arr;
	char na[21];
	int json = 0, rc;
	int64_t now = (int64_t)time(NULL);

	ca_err_clear(&err);
	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = 1;
	else if (argc != 1)
		return cli_usage(&cli_archive_cmds[3]);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (kra_list(ca_db(ca), &list, &n, &err) != 0) {
		cli_print_err(&err);
		ca_close(ca);
		return CLI_FAIL;
	}
	if (json) {
		arr = json_array();
		for (i = 0; arr != NULL && i < n; i++) {
			util_iso8601(list[i]->not_after, na);
			json_array_append_new(arr, json_pack(
			    "{s:s, s:s, s:s, s:s, s:s}", "sha1", list[i]->sha1,
			    "sha256", list[i]->sha256,
			    "subject", list[i]->subject, "not_after", na,
			    "status", list[i]->retired ? "retired" :
			    list[i]->not_after < now ? "expired" : "active"));
		}
		rc = cli_json_print_steal(arr);
	} else {
		printf("%-40s %-8s %-10s %s\n", "SHA1", "STATUS", "NOT-AFTER",
		    "SUBJECT");
		for (i = 0; i < n; i++) {
			util_iso8601(list[i]->not_after, na);
			na[10] = '\0';
			printf("%-40s %-8s %-10s %s\n", list[i]->sha1,
			    list[i]->retired ? "retired" :
			    list[i]->not_after < now ? "expired" : "active",
			    na, list[i]->subject);
		}
		rc = CLI_OK;
	}
	kra_free_list(list, n);
	ca_close(ca);
	return rc;
}

static int
cmd_kra_retire(struct cli *cli, int argc, char **argv)
{
	struct ca *ca = NULL;
	struct ca_err err;
	int rc;

	ca_err_clear(&err);
	if (argc != 2)
		return cli_usage(&cli_archive_cmds[4]);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (kra_retire(ca, argv[1], &err) != 0) {
		cli_print_err(&err);
		rc = CLI_FAIL;
	} else
		printf("retired KRA %s\n", argv[1]);
	ca_close(ca);
	return rc;
}

static int
cmd_recover_blob(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "serial", required_argument, NULL, 's' },
		{ "email", required_argument, NULL, 'e' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	struct ca *ca = NULL;
	struct ca_err err;
	char *serial = NULL, *email = NULL;
	const char *out = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	int ch, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			free(serial);
			serial = strdup(optarg);
			break;
		case 'e':
			free(email);
			email = strdup(optarg);
			break;
		case 'o':
			out = optarg;
			break;
		default:
			rc = cli_usage(&cli_archive_cmds[5]);
			goto done;
		}
	}
	if (optind != argc || out == NULL ||
	    (serial == NULL) == (email == NULL)) {
		rc = cli_usage(&cli_archive_cmds[5]);
		goto done;
	}
	if (serial != NULL)
		util_lower(serial);
	if (email != NULL)
		util_lower(email);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		goto done;
	rc = CLI_FAIL;
	if (rcv_blob_make(ca, serial, email, &der, &len, &err) != 0 ||
	    util_write_file(out, der, len, 0600, &err) != 0) {
		cli_print_err(&err);
		goto done;
	}
	printf("wrote recovery blob %s; a recovery officer opens it with "
	    "smimeca recover open --blob %s --kra-key OFFICER.p12\n", out,
	    out);
	rc = CLI_OK;
 done:
	OPENSSL_free(der);
	ca_close(ca);
	free(serial);
	free(email);
	return rc;
}

static int
read_blob(const char *path, X509 *trust, struct rcv_blob **bp,
    struct ca_err *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = util_read_file(path, BLOB_MAX, &buf, &len, err)) != 0)
		return r;
	r = rcv_blob_parse(buf, len, trust, bp, err);
	free(buf);
	if (r != 0)
		ca_err_set(err, r, "%s: not a recovery blob of this CA "
		    "(make one with smimeca recover blob)", path);
	return r;
}

/* --ca-cert is required: a blob checked against nothing proves nothing. */
static int
open_blob(const char *blobf, const char *caf, X509 **trustp,
    struct rcv_blob **bp, struct ca_err *err)
{
	int r;

	if ((r = util_read_cert(caf, trustp, err)) != 0)
		return r;
	return read_blob(blobf, *trustp, bp, err);
}

/* What the officer checks before anything is decrypted. */
static void
print_records(const char *blobf, const struct rcv_blob *b)
{
	char line[1024], *ca;
	size_t i;

	ca = util_name_oneline(X509_get_subject_name(rcv_blob_signer(b)));
	printf("%s: signed by the CA %s; %zu record(s):\n", blobf,
	    ca != NULL ? ca : "?", rcv_blob_count(b));
	free(ca);
	for (i = 0; i < rcv_blob_count(b); i++)
		if (rcv_blob_describe(b, i, line, sizeof(line)) == 0)
			printf("  record %zu: %s\n", i + 1, line);
	fflush(stdout);
}

/* Writes the identities of keys[i] (NULL: skipped) once all are open. */
static int
write_all(const struct rcv_blob *b, EVP_PKEY **keys, const char *out,
    const char *out_dir, const char *pw, int legacy, struct ca_err *err)
{
	char *path = NULL;
	size_t i;
	int r = 0;

	for (i = 0; i < rcv_blob_count(b) && r == 0; i++) {
		if (keys[i] == NULL)
			continue;
		if ((r = identity_path(out, out_dir, b, i, &path, err)) == 0)
			r = write_identity(b, i, keys[i], path, pw, legacy,
			    err);
		free(path);
		path = NULL;
	}
	return r;
}

static int
cmd_recover_show(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "blob", required_argument, NULL, 'b' },
		{ "ca-cert", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	const char *blobf = NULL, *caf = NULL;
	struct rcv_blob *b = NULL;
	struct ca_err err;
	X509 *trust = NULL;
	int ch, rc = CLI_FAIL;

	(void)cli;
	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'b': blobf = optarg; break;
		case 'c': caf = optarg; break;
		default: return cli_usage(&cli_archive_cmds[8]);
		}
	}
	if (optind != argc || blobf == NULL || caf == NULL)
		return cli_usage(&cli_archive_cmds[8]);
	if (open_blob(blobf, caf, &trust, &b, &err) != 0) {
		cli_print_err(&err);
		goto out;
	}
	print_records(blobf, b);
	rc = CLI_OK;
 out:
	X509_free(trust);
	rcv_blob_free(b);
	return rc;
}

/* From a file, else the environment variable env, else NULL. */
static int
read_pass(const char *file, const char *env, char **passp,
    struct ca_err *err)
{
	const char *e;

	*passp = NULL;
	if (file != NULL)
		return util_read_passphrase(file, passp, err);
	if (env != NULL && (e = getenv(env)) != NULL && *e != '\0' &&
	    (*passp = strdup(e)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	return 0;
}

static int
identity_path(const char *out, const char *out_dir,
    const struct rcv_blob *b, size_t i, char **pathp, struct ca_err *err)
{
	char serial[65], name[80];

	*pathp = NULL;
	if (out != NULL) {
		if (rcv_blob_count(b) != 1)
			return ca_err_set(err, CA_ERR_INVALID, "the blob holds "
			    "%zu keys: give --out-dir DIR instead of --out",
			    rcv_blob_count(b));
		*pathp = strdup(out);
	} else {
		if (mkdir(out_dir, 0700) == -1 && errno != EEXIST)
			return ca_err_set(err, CA_ERR_IO, "%s: %s", out_dir,
			    strerror(errno));
		util_serial_hex(X509_get0_serialNumber(rcv_blob_cert(b, i)),
		    serial);
		snprintf(name, sizeof(name), "%s.p12", serial);
		*pathp = util_path(out_dir, name);
	}
	return *pathp == NULL ? ca_err_set(err, CA_ERR_NOMEM, "out of memory") :
	    0;
}

/* PKCS#12 of record i with the given or a generated password. */
static int
write_identity(const struct rcv_blob *b, size_t i, EVP_PKEY *key,
    const char *path, const char *password, int legacy, struct ca_err *err)
{
	char gen[21], serial[65];
	unsigned char *der = NULL;
	size_t len = 0;
	int r;

	if (password == NULL &&
	    (r = rcv_random_password(gen, sizeof(gen) - 1, err)) != 0)
		return r;
	gen[sizeof(gen) - 1] = '\0';
	util_serial_hex(X509_get0_serialNumber(rcv_blob_cert(b, i)), serial);
	if ((r = (legacy ? rcv_pkcs12_legacy : rcv_pkcs12)(key,
	    rcv_blob_cert(b, i), rcv_blob_chain(b),
	    password != NULL ? password : gen, serial, &der, &len, err)) != 0 ||
	    (r = util_write_file(path, der, len, 0600, err)) != 0)
		goto out;
	printf("wrote %s (certificate %s)", path, serial);
	if (password == NULL)
		printf(", PKCS#12 password: %s", gen);
	printf("\n");
 out:
	OPENSSL_cleanse(gen, sizeof(gen));
	if (der != NULL)
		OPENSSL_clear_free(der, len);
	return r;
}

static int
cmd_recover_open(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "blob", required_argument, NULL, 'b' },
		{ "kra-key", required_argument, NULL, 'k' },
		{ "kra-pass-file", required_argument, NULL, 'K' },
		{ "ca-cert", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
		{ "out-dir", required_argument, NULL, 'O' },
		{ "share-out", required_argument, NULL, 's' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "legacy", no_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 }
	};
	const char *blobf = NULL, *kraf = NULL, *krapf = NULL, *caf = NULL;
	const char *out = NULL, *out_dir = NULL, *share_out = NULL;
	const char *pwf = NULL;
	struct rcv_blob *b = NULL;
	struct ca_err err;
	struct shamir_share *shares = NULL;
	size_t *idx = NULL, i, nsh = 0;
	EVP_PKEY *kkey = NULL, **keys = NULL;
	X509 *kcert = NULL, *trust = NULL;
	char *krapass = NULL, *pw = NULL, *json = NULL;
	int ch, legacy = 0, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'b': blobf = optarg; break;
		case 'k': kraf = optarg; break;
		case 'K': krapf = optarg; break;
		case 'c': caf = optarg; break;
		case 'o': out = optarg; break;
		case 'O': out_dir = optarg; break;
		case 's': share_out = optarg; break;
		case 'p': pwf = optarg; break;
		case 'L': legacy = 1; break;
		default: return cli_usage(&cli_archive_cmds[6]);
		}
	}
	if (optind != argc || blobf == NULL || kraf == NULL || caf == NULL ||
	    (out != NULL) + (out_dir != NULL) + (share_out != NULL) != 1)
		return cli_usage(&cli_archive_cmds[6]);
	if (open_blob(blobf, caf, &trust, &b, &err) != 0)
		goto out;
	print_records(blobf, b);
	if (read_pass(krapf, KRA_PASS_ENV, &krapass, &err) != 0 ||
	    rcv_load_p12(kraf, krapass, &kkey, &kcert, &err) != 0 ||
	    read_pass(pwf, NULL, &pw, &err) != 0)
		goto out;
	if ((keys = calloc(rcv_blob_count(b), sizeof(*keys))) == NULL ||
	    (share_out != NULL && ((shares = calloc(rcv_blob_count(b),
	    sizeof(*shares))) == NULL || (idx = calloc(rcv_blob_count(b),
	    sizeof(*idx))) == NULL))) {
		ca_err_set(&err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* Everything opens before anything is written. */
	for (i = 0; i < rcv_blob_count(b); i++) {
		if (share_out != NULL) {
			if (rcv_blob_quorum(b, i) <= 1)
				continue;
			if (rcv_open_share(b, i, kkey, kcert, &shares[nsh],
			    &err) != 0)
				goto out;
			idx[nsh++] = i;
			continue;
		}
		if (rcv_blob_quorum(b, i) > 1) {
			ca_err_set(&err, CA_ERR_POLICY, "record %zu needs %d "
			    "recovery officers: give --share-out SHARE, then "
			    "smimeca recover combine", i + 1,
			    rcv_blob_quorum(b, i));
			goto out;
		}
		if (rcv_open_key(b, i, kkey, kcert, &keys[i], &err) != 0)
			goto out;
	}
	if (share_out == NULL &&
	    write_all(b, keys, out, out_dir, pw, legacy, &err) != 0)
		goto out;
	if (share_out != NULL) {
		if (nsh == 0) {
			ca_err_set(&err, CA_ERR_INVALID, "%s holds no "
			    "threshold (m of n) records: use --out", blobf);
			goto out;
		}
		if (rcv_share_encode(b, idx, shares, nsh, &json, &err) != 0 ||
		    util_write_file(share_out, json, strlen(json), 0600,
		    &err) != 0)
			goto out;
		printf("wrote share %s (%zu record(s)); give it to the "
		    "officer who runs smimeca recover combine\n", share_out,
		    nsh);
	}
	rc = CLI_OK;
 out:
	if (rc != CLI_OK)
		cli_print_err(&err);
	for (i = 0; shares != NULL && i < nsh; i++)
		shamir_share_clear(&shares[i]);
	free(shares);
	free(idx);
	for (i = 0; keys != NULL && i < rcv_blob_count(b); i++)
		EVP_PKEY_free(keys[i]);
	free(keys);
	if (json != NULL)
		OPENSSL_clear_free(json, strlen(json));
	util_free_secret(krapass);
	util_free_secret(pw);
	EVP_PKEY_free(kkey);
	X509_free(kcert);
	X509_free(trust);
	rcv_blob_free(b);
	return rc;
}

static int
cmd_recover_combine(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "blob", required_argument, NULL, 'b' },
		{ "ca-cert", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
		{ "out-dir", required_argument, NULL, 'O' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "legacy", no_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 }
	};
	const char *blobf = NULL, *caf = NULL, *out = NULL, *out_dir = NULL;
	const char *pwf = NULL;
	struct rcv_blob *b = NULL;
	struct ca_err err;
	struct shamir_share *all = NULL, *sel = NULL;
	size_t *allidx = NULL, nall = 0, i, j, k;
	EVP_PKEY **keys = NULL;
	X509 *trust = NULL;
	char *pw = NULL;
	unsigned char *buf = NULL;
	int ch, a, legacy = 0, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'b': blobf = optarg; break;
		case 'c': caf = optarg; break;
		case 'o': out = optarg; break;
		case 'O': out_dir = optarg; break;
		case 'p': pwf = optarg; break;
		case 'L': legacy = 1; break;
		default: return cli_usage(&cli_archive_cmds[7]);
		}
	}
	if (optind == argc || blobf == NULL || caf == NULL ||
	    (out == NULL) == (out_dir == NULL))
		return cli_usage(&cli_archive_cmds[7]);
	if (open_blob(blobf, caf, &trust, &b, &err) != 0)
		goto out;
	print_records(blobf, b);
	if (read_pass(pwf, NULL, &pw, &err) != 0)
		goto out;
	/* Gather every share of every file given. */
	for (a = optind; a < argc; a++) {
		struct shamir_share *sh = NULL, *grown;
		size_t *ix = NULL, n = 0, *grownix;

		if (util_read_file(argv[a], 1024 * 1024, &buf, NULL,
		    &err) != 0 ||
		    rcv_share_decode(b, (char *)buf, &ix, &sh, &n, &err) != 0) {
			ca_err_set(&err, err.code, "%s: not a share of this "
			    "blob", argv[a]);
			goto out;
		}
		OPENSSL_clear_free(buf, strlen((char *)buf));
		buf = NULL;
		grown = realloc(all, (nall + n) * sizeof(*all));
		grownix = grown ? realloc(allidx, (nall + n) *
		    sizeof(*allidx)) : NULL;
		if (grown != NULL)
			all = grown;
		if (grownix != NULL)
			allidx = grownix;
		if (grown == NULL || grownix == NULL) {
			for (i = 0; i < n; i++)
				shamir_share_clear(&sh[i]);
			free(sh);
			free(ix);
			ca_err_set(&err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		memcpy(all + nall, sh, n * sizeof(*sh));
		memcpy(allidx + nall, ix, n * sizeof(*ix));
		nall += n;
		free(sh);
		free(ix);
	}
	if ((sel = calloc(nall + 1, sizeof(*sel))) == NULL ||
	    (keys = calloc(rcv_blob_count(b), sizeof(*keys))) == NULL) {
		ca_err_set(&err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* Every key is rebuilt before anything is written. */
	for (i = 0; i < rcv_blob_count(b); i++) {
		if (rcv_blob_quorum(b, i) <= 1)
			continue;
		for (j = 0, k = 0; j < nall; j++)
			if (allidx[j] == i)
				sel[k++] = all[j];	/* borrowed */
		if (rcv_combine(b, i, sel, (unsigned)k, &keys[i], &err) != 0)
			goto out;
	}
	if (write_all(b, keys, out, out_dir, pw, legacy, &err) != 0)
		goto out;
	rc = CLI_OK;
 out:
	if (rc != CLI_OK)
		cli_print_err(&err);
	for (i = 0; i < nall; i++)
		shamir_share_clear(&all[i]);
	free(all);
	free(allidx);
	free(sel);
	for (i = 0; keys != NULL && i < rcv_blob_count(b); i++)
		EVP_PKEY_free(keys[i]);
	free(keys);
	free(buf);
	util_free_secret(pw);
	X509_free(trust);
	rcv_blob_free(b);
	return rc;
}
