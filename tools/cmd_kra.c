/* smimeca kra add, list and retire: the Key Recovery Agents. */
#include "ac-config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "archive/kra.h"
#include "ca/ca.h"
#include "ca/err.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_kra_add(const struct cli_cmd *, struct cli *, int, char **);
static int cmd_kra_list(const struct cli_cmd *, struct cli *, int, char **);
static int cmd_kra_retire(const struct cli_cmd *, struct cli *, int,
    char **);

const struct cli_cmd cli_kra_cmds[] = {
	{ "kra", "add", cmd_kra_add, "CERT" },
	{ "kra", "list", cmd_kra_list, "[--json]" },
	{ "kra", "retire", cmd_kra_retire, "FINGERPRINT" },
	{ NULL, NULL, NULL, NULL }
};

static int
cmd_kra_add(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	struct ca *ca = NULL;
	struct ca_err err;
	X509 *cert = NULL;
	char fp[41];
	int rc;

	ca_err_clear(&err);
	if (argc != 2)
		return cli_usage(me);
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
cmd_kra_list(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
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
		return cli_usage(me);
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
cmd_kra_retire(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	struct ca *ca = NULL;
	struct ca_err err;
	int rc;

	ca_err_clear(&err);
	if (argc != 2)
		return cli_usage(me);
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
