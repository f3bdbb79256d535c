/* Shared plumbing of the smimeca command-line program. */
#ifndef TOOLS_CLI_H
#define TOOLS_CLI_H

#include <getopt.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

struct ca;
struct ca_err;

#define CLI_OK		0
#define CLI_FAIL	1
#define CLI_USAGE	2

/* Where --kra-pass-file is not given, the officer's PKCS#12 password. */
#define CLI_KRA_PASS_ENV	"SMIMECA_KRA_PASSPHRASE"

struct cli {
	const char *dir;		/* CA directory */
	const char *passphrase_file;	/* CA key passphrase file or NULL */
};

/*
 * One command: "init", or "cert list" (sub). The dispatcher hands the
 * command its own entry as me, for its usage line.
 */
struct cli_cmd {
	const char *name;
	const char *sub;		/* NULL: no subcommand */
	int (*fn)(const struct cli_cmd *me, struct cli *, int, char **);
	const char *usage;
};

/* One table a command word, in the order `smimeca --help` lists them. */
extern const struct cli_cmd cli_init_cmds[];	/* cmd_init.c */
extern const struct cli_cmd cli_ca_cmds[];	/* cmd_ca.c */
extern const struct cli_cmd cli_revoke_cmds[];	/* cmd_revoke.c */
extern const struct cli_cmd cli_crl_cmds[];	/* cmd_crl.c */
extern const struct cli_cmd cli_template_cmds[]; /* cmd_template.c */
extern const struct cli_cmd cli_audit_cmds[];	/* cmd_audit.c */
extern const struct cli_cmd cli_issue_cmds[];	/* cmd_issue.c */
extern const struct cli_cmd cli_cert_cmds[];	/* cmd_cert.c */
extern const struct cli_cmd cli_xchg_cmds[];	/* cmd_xchg.c */
extern const struct cli_cmd cli_scep_cmds[];	/* cmd_scep.c */
extern const struct cli_cmd cli_request_cmds[];	/* cmd_request.c */
extern const struct cli_cmd cli_kra_cmds[];	/* cmd_kra.c */
extern const struct cli_cmd cli_recover_cmds[];	/* cmd_recover.c */
extern const struct cli_cmd cli_publish_cmds[];	/* cmd_publish.c */
extern const struct cli_cmd cli_dir_cmds[];	/* cmd_dir.c */
extern const struct cli_cmd cli_lab_cmds[];	/* cmd_lab.c */
extern const struct cli_cmd cli_user_cmds[];	/* cmd_user.c */
extern const struct cli_cmd cli_tls_cmds[];	/* cmd_tls.c */
extern const struct cli_cmd cli_export_cmds[];	/* cmd_export.c */
extern const struct cli_cmd cli_mdm_cmds[];	/* cmd_mdm.c */
extern const struct cli_cmd cli_expiry_cmds[];	/* cmd_expiry.c */
extern const struct cli_cmd cli_ocsp_cmds[];	/* cmd_ocsp.c */

/*
 * Options many commands take, with the same letter everywhere a command
 * parses them with cli_out_opt.
 */
#define CLI_OPT_OUT	{ "out", required_argument, NULL, 'o' }
#define CLI_OPT_OUT_DIR	{ "out-dir", required_argument, NULL, 'O' }
#define CLI_OPT_PASSWORD_FILE \
	{ "password-file", required_argument, NULL, 'p' }
#define CLI_OPT_LEGACY	{ "legacy", no_argument, NULL, 'L' }
#define CLI_OPT_JSON	{ "json", no_argument, NULL, 'j' }
#define CLI_OPT_KRA_KEY	{ "kra-key", required_argument, NULL, 'k' }
#define CLI_OPT_KRA_PASS_FILE \
	{ "kra-pass-file", required_argument, NULL, 'K' }
#define CLI_OPT_DEVICE_CA \
	{ "device-ca", required_argument, NULL, 'C' }
#define CLI_OPT_END	{ NULL, 0, NULL, 0 }

/* What --out, --out-dir, --password-file and --legacy said. */
struct cli_out {
	const char *out;
	const char *out_dir;
	const char *password_file;
	int legacy;
};

/* Takes option ch ('o', 'O', 'p' or 'L') into o; 0 when it is none. */
int cli_out_opt(struct cli_out *o, int ch, const char *arg);
/* For a command whose only option is --json and that takes no operand. */
int cli_json_opt(const struct cli_cmd *me, int argc, char **argv,
    int *jsonp);

/* Prints each line of err as "smimeca: LINE" on stderr. */
void cli_print_err(const struct ca_err *err);
void cli_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "usage: smimeca USAGE" and returns CLI_USAGE. */
int cli_usage(const struct cli_cmd *cmd);
int cli_open_ca(struct cli *cli, unsigned flags, struct ca **cap);

#define CLI_PASS_EMPTY	0x01	/* an empty line is a password too */
/*
 * A password: the first line of file; without a file, $env (env may be
 * NULL); else *passp = NULL. Free it with util_free_secret.
 */
int cli_read_pass(const char *file, const char *env, unsigned flags,
    char **passp, struct ca_err *err);
/* A recovery officer's PKCS#12, its password as cli_read_pass finds it. */
int cli_load_officer(const char *p12, const char *passfile, EVP_PKEY **keyp,
    X509 **certp, struct ca_err *err);
/* Makes an output folder (0700); one that exists is fine. */
int cli_mkdir_out(const char *dir, struct ca_err *err);
/* DIR/NAME.SUFFIX, with a '/' in name made harmless; NULL: no memory. */
char *cli_file_name(const char *dir, const char *name, const char *suffix);
/*
 * --device-ca, else the CA directory's chain.pem: *cafp is set to it and
 * *chainp holds what to free.
 */
int cli_device_ca(struct cli *cli, const char **cafp, char **chainp,
    struct ca_err *err);

/* "90", "30m", "12h", "1d", "2w" to seconds (at most a year); -1: not. */
int cli_parse_ttl(const char *s, int64_t *outp);

/* Reads a PEM or DER PKCS#10 request. */
int cli_read_csr(const char *path, X509_REQ **csrp, struct ca_err *err);
/* Writes a PEM certificate to path, or stdout when path is NULL. */
int cli_write_cert(const char *path, X509 *cert, struct ca_err *err);
/*
 * Writes key, cert and chain as PKCS#12 to path (0600; legacy: the older
 * algorithms) under password, else a random one, and prints
 * "wrote PATH (certificate SERIAL)" with the random password.
 */
int cli_write_p12(const char *path, EVP_PKEY *key, X509 *cert,
    STACK_OF(X509) *chain, const char *password, int legacy,
    struct ca_err *err);
/* Writes v as indented JSON (0600). */
int cli_write_json(const char *path, json_t *v, struct ca_err *err);
/* Prints a JSON value (and steals it). */
int cli_json_print_steal(json_t *v);

/* --- lifecycle: expiring certificates (cmd_cert.c, cmd_expiry.c) --- */
/*
 * The expiring-certificates document of smimeca(8) "cert expiring --json":
 * the unrevoked certificates of the issuing CA whose notAfter falls in
 * [now, now + days), of template tpl (NULL: any), each with its successor.
 */
int cli_expiring_doc(struct ca *ca, int64_t now, int days, const char *tpl,
    json_t **docp, struct ca_err *err);
/* A number of days for option opt (1 to 36500); -1 with a message. */
int cli_days_opt(const char *opt, const char *arg, int *daysp);

/* init --lab (cmd_lab.c): the officers' folder beside the CA, or opt. */
int cli_lab_officers_dir(const char *cadir, const char *opt,
    char **officersp);
/* init --lab after the CA is made: officers, and a directory if it can. */
int cli_lab_init(struct cli *cli, const char *officers, int ldap_port,
    int no_ldap, int *have_ldapp);
/* The lab part of what init reports. */
void cli_lab_report(const char *cadir, const char *officers, int have_ldap,
    int ldap_port);

#endif
