/* smimeca recover blob, show, open and combine: getting escrowed keys back. */
#include "ac-config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "archive/recover.h"
#include "archive/shamir.h"
#include "ca/ca.h"
#include "ca/err.h"
#include "ca/util.h"
#include "tools/cli.h"

#define BLOB_MAX	(16 * 1024 * 1024)
#define SHARE_MAX	(1024 * 1024)

static int cmd_recover_blob(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_recover_open(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_recover_combine(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_recover_show(const struct cli_cmd *, struct cli *, int,
    char **);
static int read_blob(const char *, X509 *, struct rcv_blob **,
    struct ca_err *);
static int open_blob(const char *, const char *, X509 **, struct rcv_blob **,
    struct ca_err *);
static void print_records(const char *, const struct rcv_blob *);
static int identity_path(const struct cli_out *, const struct rcv_blob *,
    size_t, char **, struct ca_err *);
static int write_all(const struct rcv_blob *, EVP_PKEY **,
    const struct cli_out *, const char *, struct ca_err *);

const struct cli_cmd cli_recover_cmds[] = {
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
cmd_recover_blob(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "serial", required_argument, NULL, 's' },
		{ "email", required_argument, NULL, 'e' },
		CLI_OPT_OUT,
		CLI_OPT_END
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
			rc = cli_usage(me);
			goto done;
		}
	}
	if (optind != argc || out == NULL ||
	    (serial == NULL) == (email == NULL)) {
		rc = cli_usage(me);
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

/* --out, or DIR/SERIAL.p12 under --out-dir. */
static int
identity_path(const struct cli_out *o, const struct rcv_blob *b, size_t i,
    char **pathp, struct ca_err *err)
{
	char serial[65];
	int r;

	*pathp = NULL;
	if (o->out != NULL) {
		if (rcv_blob_count(b) != 1)
			return ca_err_set(err, CA_ERR_INVALID, "the blob holds "
			    "%zu keys: give --out-dir DIR instead of --out",
			    rcv_blob_count(b));
		*pathp = strdup(o->out);
	} else {
		if ((r = cli_mkdir_out(o->out_dir, err)) != 0)
			return r;
		util_serial_hex(X509_get0_serialNumber(rcv_blob_cert(b, i)),
		    serial);
		*pathp = cli_file_name(o->out_dir, serial, ".p12");
	}
	return *pathp == NULL ? ca_err_set(err, CA_ERR_NOMEM, "out of memory") :
	    0;
}

/* Writes the identities of keys[i] (NULL: skipped) once all are open. */
static int
write_all(const struct rcv_blob *b, EVP_PKEY **keys, const struct cli_out *o,
    const char *pw, struct ca_err *err)
{
	char *path = NULL;
	size_t i;
	int r = 0;

	for (i = 0; i < rcv_blob_count(b) && r == 0; i++) {
		if (keys[i] == NULL)
			continue;
		if ((r = identity_path(o, b, i, &path, err)) == 0)
			r = cli_write_p12(path, keys[i], rcv_blob_cert(b, i),
			    rcv_blob_chain(b), pw, o->legacy, err);
		free(path);
		path = NULL;
	}
	return r;
}

static int
cmd_recover_show(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "blob", required_argument, NULL, 'b' },
		{ "ca-cert", required_argument, NULL, 'c' },
		CLI_OPT_END
	};
	const char *blobf = NULL, *caf = NULL;
	struct rcv_blob *b = NULL;
	struct ca_err err;
	X509 *trust = NULL;
	int ch, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'b': blobf = optarg; break;
		case 'c': caf = optarg; break;
		default: return cli_usage(me);
		}
	}
	if (optind != argc || blobf == NULL || caf == NULL)
		return cli_usage(me);
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

static int
cmd_recover_open(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "blob", required_argument, NULL, 'b' },
		CLI_OPT_KRA_KEY,
		CLI_OPT_KRA_PASS_FILE,
		{ "ca-cert", required_argument, NULL, 'c' },
		CLI_OPT_OUT,
		CLI_OPT_OUT_DIR,
		{ "share-out", required_argument, NULL, 's' },
		CLI_OPT_PASSWORD_FILE,
		CLI_OPT_LEGACY,
		CLI_OPT_END
	};
	const char *blobf = NULL, *kraf = NULL, *krapf = NULL, *caf = NULL;
	const char *share_out = NULL;
	struct cli_out o = { NULL, NULL, NULL, 0 };
	struct rcv_blob *b = NULL;
	struct ca_err err;
	struct shamir_share *shares = NULL;
	size_t *idx = NULL, i, nsh = 0;
	EVP_PKEY *kkey = NULL, **keys = NULL;
	X509 *kcert = NULL, *trust = NULL;
	char *pw = NULL, *json = NULL;
	int ch, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_out_opt(&o, ch, optarg))
			continue;
		switch (ch) {
		case 'b': blobf = optarg; break;
		case 'k': kraf = optarg; break;
		case 'K': krapf = optarg; break;
		case 'c': caf = optarg; break;
		case 's': share_out = optarg; break;
		default: return cli_usage(me);
		}
	}
	if (optind != argc || blobf == NULL || kraf == NULL || caf == NULL ||
	    (o.out != NULL) + (o.out_dir != NULL) + (share_out != NULL) != 1)
		return cli_usage(me);
	if (open_blob(blobf, caf, &trust, &b, &err) != 0)
		goto out;
	print_records(blobf, b);
	if (cli_load_officer(kraf, krapf, &kkey, &kcert, &err) != 0 ||
	    cli_read_pass(o.password_file, NULL, 0, &pw, &err) != 0)
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
	if (share_out == NULL && write_all(b, keys, &o, pw, &err) != 0)
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
	util_free_secret(pw);
	EVP_PKEY_free(kkey);
	X509_free(kcert);
	X509_free(trust);
	rcv_blob_free(b);
	return rc;
}

static int
cmd_recover_combine(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "blob", required_argument, NULL, 'b' },
		{ "ca-cert", required_argument, NULL, 'c' },
		CLI_OPT_OUT,
		CLI_OPT_OUT_DIR,
		CLI_OPT_PASSWORD_FILE,
		CLI_OPT_LEGACY,
		CLI_OPT_END
	};
	const char *blobf = NULL, *caf = NULL;
	struct cli_out o = { NULL, NULL, NULL, 0 };
	struct rcv_blob *b = NULL;
	struct ca_err err;
	struct shamir_share *all = NULL, *sel = NULL;
	size_t *allidx = NULL, nall = 0, i, j, k;
	EVP_PKEY **keys = NULL;
	X509 *trust = NULL;
	char *pw = NULL;
	unsigned char *buf = NULL;
	int ch, a, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_out_opt(&o, ch, optarg))
			continue;
		switch (ch) {
		case 'b': blobf = optarg; break;
		case 'c': caf = optarg; break;
		default: return cli_usage(me);
		}
	}
	if (optind == argc || blobf == NULL || caf == NULL ||
	    (o.out == NULL) == (o.out_dir == NULL))
		return cli_usage(me);
	if (open_blob(blobf, caf, &trust, &b, &err) != 0)
		goto out;
	print_records(blobf, b);
	if (cli_read_pass(o.password_file, NULL, 0, &pw, &err) != 0)
		goto out;
	/* Gather every share of every file given. */
	for (a = optind; a < argc; a++) {
		struct shamir_share *sh = NULL, *grown;
		size_t *ix = NULL, n = 0, *grownix;

		if (util_read_file(argv[a], SHARE_MAX, &buf, NULL,
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
	if (write_all(b, keys, &o, pw, &err) != 0)
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
