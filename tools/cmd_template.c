/* smimeca template list, show and check. */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/config.h"
#include "ca/err.h"
#include "ca/template.h"
#include "tools/cli.h"

static int cmd_template_list(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_template_show(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_template_check(const struct cli_cmd *, struct cli *, int,
    char **);
static int template_dir(struct cli *, char **);

const struct cli_cmd cli_template_cmds[] = {
	{ "template", "list", cmd_template_list, "[--json]" },
	{ "template", "show", cmd_template_show, "NAME" },
	{ "template", "check", cmd_template_check, "FILE" },
	{ NULL, NULL, NULL, NULL }
};

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
cmd_template_list(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	struct tpl **tps = NULL;
	struct ca_err err;
	char *dir = NULL, protos[64];
	size_t i, n = 0;
	json_t *arr = NULL;
	int json, rc;

	ca_err_clear(&err);
	if ((rc = cli_json_opt(me, argc, argv, &json)) != CLI_OK ||
	    (rc = template_dir(cli, &dir)) != CLI_OK)
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
cmd_template_show(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	struct tpl *t = NULL;
	struct ca_err err;
	char *dir = NULL;
	int rc;

	ca_err_clear(&err);
	if (argc != 2)
		return cli_usage(me);
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
cmd_template_check(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	struct tpl *t = NULL;
	struct ca_err err;

	ca_err_clear(&err);
	if (argc != 2)
		return cli_usage(me);
	if (tpl_load_file(argv[1], &t, &err) != 0) {
		cli_print_err(&err);
		return CLI_FAIL;
	}
	printf("%s: ok (template %s, %s)\n", argv[1], t->name,
	    tpl_purpose_name(t->purpose));
	tpl_free(t);
	return CLI_OK;
}
