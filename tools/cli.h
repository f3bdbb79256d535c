/* Shared plumbing of the smimeca command-line program. */
#ifndef TOOLS_CLI_H
#define TOOLS_CLI_H

#include <jansson.h>
#include <openssl/x509.h>

struct ca;
struct ca_err;

#define CLI_OK		0
#define CLI_FAIL	1
#define CLI_USAGE	2

struct cli {
	const char *dir;		/* CA directory */
	const char *passphrase_file;	/* CA key passphrase file or NULL */
};

struct cli_cmd {
	const char *name;
	const char *sub;		/* NULL: no subcommand */
	int (*fn)(struct cli *, int, char **);
	const char *usage;
};

extern const struct cli_cmd cli_ca_cmds[];	/* cmd_ca.c */
extern const struct cli_cmd cli_cert_cmds[];	/* cmd_cert.c */
extern const struct cli_cmd cli_archive_cmds[];	/* cmd_archive.c */
extern const struct cli_cmd cli_publish_cmds[];	/* cmd_publish.c */
extern const struct cli_cmd cli_user_cmds[];	/* cmd_user.c */
extern const struct cli_cmd cli_mdm_cmds[];	/* cmd_mdm.c */

/* Prints each line of err as "smimeca: LINE" on stderr. */
void cli_print_err(const struct ca_err *err);
void cli_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "usage: smimeca USAGE" and returns CLI_USAGE. */
int cli_usage(const struct cli_cmd *cmd);
int cli_open_ca(struct cli *cli, unsigned flags, struct ca **cap);
/* Reads a PEM or DER PKCS#10 request. */
int cli_read_csr(const char *path, X509_REQ **csrp, struct ca_err *err);
/* Writes a PEM certificate to path, or stdout when path is NULL. */
int cli_write_cert(const char *path, X509 *cert, struct ca_err *err);
/* Prints a JSON value (and steals it). */
int cli_json_print_steal(json_t *v);

#endif
