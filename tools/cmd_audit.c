/* smimeca audit verify and list: the hash-chained audit log. */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/err.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_audit_verify(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_audit_list(const struct cli_cmd *, struct cli *, int,
    char **);
static int audit_row_text(void *, int64_t, int64_t, const char *,
    const char *, const char *, const char *);
static int audit_row_json(void *, int64_t, int64_t, const char *,
    const char *, const char *, const char *);

const struct cli_cmd cli_audit_cmds[] = {
	{ "audit", "verify", cmd_audit_verify, "" },
	{ "audit", "list", cmd_audit_list, "[--json]" },
	{ NULL, NULL, NULL, NULL }
};

static int
cmd_audit_verify(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	struct ca *ca = NULL;
	struct ca_err err;
	struct audit_result res;
	int rc;

	ca_err_clear(&err);
	if (argc != 1)
		return cli_usage(me);
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
cmd_audit_list(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	struct ca *ca = NULL;
	struct ca_err err;
	json_t *arr = NULL;
	int json, rc;

	ca_err_clear(&err);
	if ((rc = cli_json_opt(me, argc, argv, &json)) != CLI_OK ||
	    (rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
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
