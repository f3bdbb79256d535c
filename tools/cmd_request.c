/*
 * smimeca request list|approve|deny: SCEP requests that a template with
 * <approval>manual</approval> holds until the administrator decides.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ca/ca.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/scep.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_request_list(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_request_approve(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_request_deny(const struct cli_cmd *, struct cli *, int,
    char **);
static int parse_id(const char *, int64_t *);

const struct cli_cmd cli_request_cmds[] = {
	{ "request", "list", cmd_request_list, "[--all] [--json]" },
	{ "request", "approve", cmd_request_approve, "ID" },
	{ "request", "deny", cmd_request_deny, "ID" },
	{ NULL, NULL, NULL, NULL }
};

static int
parse_id(const char *s, int64_t *idp)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (end == s || *end != '\0' || v <= 0)
		return -1;
	*idp = (int64_t)v;
	return 0;
}

static int
cmd_request_list(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	struct ca_err err;
	struct ca *ca = NULL;
	struct db_scep_tx **list = NULL;
	json_t *arr = NULL;
	size_t n = 0, i;
	char when[21];
	int json = 0, all = 0, rc, k;

	ca_err_clear(&err);
	for (k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0)
			json = 1;
		else if (strcmp(argv[k], "--all") == 0)
			all = 1;
		else
			return cli_usage(me);
	}
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (db_scep_tx_list(ca_db(ca), all, &list, &n, &err) != 0) {
		cli_print_err(&err);
		rc = CLI_FAIL;
		goto out;
	}
	if (json && (arr = json_array()) == NULL) {
		rc = CLI_FAIL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct db_scep_tx *t = list[i];

		util_iso8601(t->created, when);
		if (json)
			json_array_append_new(arr, json_pack("{s:I, s:s, "
			    "s:s, s:s, s:s?, s:s?, s:s, s:s, s:s?}", "id",
			    (json_int_t)t->id, "state", t->state, "template",
			    t->template, "transaction_id", t->tid, "subject",
			    t->subject, "email", t->mail, "requester",
			    t->requester, "created", when, "serial",
			    t->serial[0] ? t->serial : NULL));
		else
			printf("%-6lld %-8s %-24s %s %s%s%s %s\n",
			    (long long)t->id, t->state, t->template, when,
			    t->subject ? t->subject : "-",
			    t->mail ? " " : "", t->mail ? t->mail : "",
			    t->requester);
	}
	rc = json ? cli_json_print_steal(arr) : CLI_OK;
	arr = NULL;
 out:
	json_decref(arr);
	db_scep_tx_free_list(list, n);
	ca_close(ca);
	return rc;
}

static int
cmd_request_approve(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	struct ca_err err;
	struct ca *ca = NULL;
	char serial[65];
	int64_t id;
	int rc;

	ca_err_clear(&err);
	if (argc != 2 || parse_id(argv[1], &id) != 0)
		return cli_usage(me);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (scep_req_approve(ca, id, serial, &err) != 0) {
		cli_print_err(&err);
		rc = CLI_FAIL;
	} else {
		printf("%s\n", serial);
		fprintf(stderr, "request %lld approved: certificate %s; the "
		    "client gets it at its next poll\n", (long long)id,
		    serial);
	}
	ca_close(ca);
	return rc;
}

static int
cmd_request_deny(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	struct ca_err err;
	struct ca *ca = NULL;
	int64_t id;
	int rc;

	ca_err_clear(&err);
	if (argc != 2 || parse_id(argv[1], &id) != 0)
		return cli_usage(me);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (scep_req_deny(ca, id, &err) != 0) {
		cli_print_err(&err);
		rc = CLI_FAIL;
	} else
		fprintf(stderr, "request %lld denied; the client's next "
		    "poll gets FAILURE\n", (long long)id);
	ca_close(ca);
	return rc;
}
