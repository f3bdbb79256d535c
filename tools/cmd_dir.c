/* smimeca dir show and check: the LDAP directory as smimecad sees it. */
#include "ac-config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ca/config.h"
#include "ca/err.h"
#include "ca/ldapdir.h"
#include "ca/publish.h"
#include "ca/util.h"
#include "tools/cli.h"

static int cmd_dir_show(const struct cli_cmd *, struct cli *, int, char **);
static int cmd_dir_check(const struct cli_cmd *, struct cli *, int,
    char **);
static json_t *entry_json(const struct dir_entry *);
static void entry_print(const struct dir_entry *);

const struct cli_cmd cli_dir_cmds[] = {
	{ "dir", "show", cmd_dir_show, "MAIL|UID [--json]" },
	{ "dir", "check", cmd_dir_check, "MAIL|UID --password-file FILE" },
	{ NULL, NULL, NULL, NULL }
};

static json_t *
entry_json(const struct dir_entry *e)
{
	json_t *o, *attrs, *vals;
	size_t i, j;

	if ((o = json_pack("{s:s, s:s?, s:s?, s:s?}", "dn", e->dn, "mail",
	    e->mail, "cn", e->cn, "uid", e->uid)) == NULL ||
	    (attrs = json_object()) == NULL) {
		json_decref(o);
		return NULL;
	}
	for (i = 0; i < e->nattrs; i++) {
		if ((vals = json_array()) == NULL)
			continue;
		for (j = 0; j < e->attrs[i].nvalues; j++) {
			const struct dir_value *v = &e->attrs[i].values[j];

			json_t *js = NULL;

			/* Binary values as their length only. */
			if (strlen((const char *)v->data) == v->len)
				js = json_string((const char *)v->data);
			if (js == NULL)
				js = json_pack("{s:I}", "binary_bytes",
				    (json_int_t)v->len);
			json_array_append_new(vals, js);
		}
		json_object_set_new(attrs, e->attrs[i].name, vals);
	}
	json_object_set_new(o, "attributes", attrs);
	return o;
}

static void
entry_print(const struct dir_entry *e)
{
	size_t i, j;

	printf("dn: %s\n", e->dn);
	for (i = 0; i < e->nattrs; i++) {
		for (j = 0; j < e->attrs[i].nvalues; j++) {
			const struct dir_value *v = &e->attrs[i].values[j];

			if (strlen((const char *)v->data) == v->len)
				printf("%s: %s\n", e->attrs[i].name,
				    (const char *)v->data);
			else
				printf("%s: (%zu bytes)\n", e->attrs[i].name,
				    v->len);
		}
	}
}

static int
cmd_dir_show(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_JSON,
		CLI_OPT_END
	};
	struct ca_config *cfg = NULL;
	struct ca_err err;
	struct dir *d = NULL;
	struct dir_entry *e = NULL;
	int ch, json = 0, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'j')
			return cli_usage(me);
		json = 1;
	}
	if (optind + 1 != argc)
		return cli_usage(me);
	signal(SIGPIPE, SIG_IGN);
	if (cfg_load(cli->dir, &cfg, &err) != 0 ||
	    dir_open(cfg, &d, &err) != 0 ||
	    dir_find(d, cfg->ldap->login_filter, argv[optind], NULL, &e,
	    &err) != 0) {
		cli_print_err(&err);
		goto out;
	}
	if (json)
		rc = cli_json_print_steal(entry_json(e));
	else {
		entry_print(e);
		rc = CLI_OK;
	}
 out:
	dir_entry_free(e);
	dir_close(d);
	cfg_free(cfg);
	return rc;
}

static int
cmd_dir_check(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_PASSWORD_FILE,
		CLI_OPT_END
	};
	struct ca_config *cfg = NULL;
	struct ca_err err;
	struct dir_entry *e = NULL;
	const char *pwfile = NULL, *why;
	char *pw = NULL;
	int ch, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'p')
			return cli_usage(me);
		pwfile = optarg;
	}
	if (optind + 1 != argc || pwfile == NULL)
		return cli_usage(me);
	signal(SIGPIPE, SIG_IGN);
	if (cfg_load(cli->dir, &cfg, &err) != 0)
		goto fail;
	/* An empty file is an empty password, which must be refused. */
	if (cli_read_pass(pwfile, NULL, CLI_PASS_EMPTY, &pw, &err) != 0)
		goto fail;
	if (dir_authenticate(cfg, argv[optind], pw, &e, &err) != 0)
		goto fail;
	printf("ok: %s (mail %s, cn %s)\n", e->dn, e->mail ? e->mail : "-",
	    e->cn ? e->cn : "-");
	if ((why = pub_entry_warning(cfg->ldap, e)) != NULL)
		cli_warnx("warning: %s: %s", e->dn, why);
	rc = CLI_OK;
	goto out;
 fail:
	cli_print_err(&err);
 out:
	util_free_secret(pw);
	dir_entry_free(e);
	cfg_free(cfg);
	return rc;
}
