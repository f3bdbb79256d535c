/* smimeca publish, dir and lab slapd: the directory from the command line. */
#include "ac-config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/err.h"
#include "ca/labdir.h"
#include "ca/ldapdir.h"
#include "ca/publish.h"
#include "ca/util.h"
#include "tools/cli.h"

#define RUN_MAX_DEFAULT	1000	/* jobs per pub_run call */

static int cmd_publish_run(struct cli *, int, char **);
static int cmd_publish_status(struct cli *, int, char **);
static int cmd_publish_retry(struct cli *, int, char **);
static int cmd_publish_resync(struct cli *, int, char **);
static int cmd_dir_show(struct cli *, int, char **);
static int cmd_dir_check(struct cli *, int, char **);
static int cmd_lab_slapd(struct cli *, int, char **);
static int number_arg(const char *, const char *, long, long, long *);
static void resync_report(void *, const char *, const char *, int, int,
    const char *);
static json_t *entry_json(const struct dir_entry *);
static void entry_print(const struct dir_entry *);

const struct cli_cmd cli_publish_cmds[] = {
	{ "publish", "run", cmd_publish_run, "[--max N] [--now] "
	    "[--wait SECONDS]" },
	{ "publish", "status", cmd_publish_status, "[--json]" },
	{ "publish", "retry", cmd_publish_retry, "[--email MAIL]" },
	{ "publish", "resync", cmd_publish_resync, "[--email MAIL] "
	    "[--dry-run] [--json]" },
	{ "dir", "show", cmd_dir_show, "MAIL|UID [--json]" },
	{ "dir", "check", cmd_dir_check, "MAIL|UID --password-file FILE" },
	{ "lab", "slapd", cmd_lab_slapd, "start|stop|status" },
	{ NULL, NULL, NULL, NULL }
};

static int
number_arg(const char *opt, const char *s, long min, long max, long *np)
{
	char *end;
	long n;

	n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || n < min || n > max) {
		cli_warnx("%s %s: give a number from %ld to %ld", opt, s, min,
		    max);
		return CLI_USAGE;
	}
	*np = n;
	return CLI_OK;
}

static int
cmd_publish_run(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max", required_argument, NULL, 'm' },
		{ "now", no_argument, NULL, 'n' },
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct ca *ca = NULL;
	struct ca_err err;
	struct pub_result res;
	struct pub_status st;
	long max = RUN_MAX_DEFAULT, wait = -1;
	int64_t n, deadline, now, pause;
	int ch, now_opt = 0, rc = CLI_FAIL, r, done = 0, retrying = 0;
	int failed = 0;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			if (number_arg("--max", optarg, 1, 1000000, &max) !=
			    CLI_OK)
				return CLI_USAGE;
			break;
		case 'n':
			now_opt = 1;
			break;
		case 'w':
			if (number_arg("--wait", optarg, 0, 86400, &wait) !=
			    CLI_OK)
				return CLI_USAGE;
			break;
		default:
			return cli_usage(&cli_publish_cmds[0]);
		}
	}
	if (optind != argc)
		return cli_usage(&cli_publish_cmds[0]);
	/* A directory that goes away mid-write must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	rc = CLI_FAIL;
	if (ca_config(ca)->ldap == NULL) {
		cli_warnx("no directory is configured (no <ldap> section in "
		    "%s): nothing to publish", ca_config(ca)->path);
		goto out;
	}
	if (now_opt && pub_retry(ca, NULL, &n, &err) != 0)
		goto fail;
	deadline = (int64_t)time(NULL) + (wait > 0 ? wait : 0);
	for (;;) {
		ca_err_clear(&err);
		r = pub_run(ca, (int)max, &res, &err);
		done += res.done;
		if (r != 0 && r != CA_ERR_IO)
			goto fail;
		if (r == CA_ERR_IO && wait < 0) {
			retrying += res.retrying;
			failed += res.failed;
			cli_print_err(&err);
		}
		/* More due jobs than --max: go on at once. */
		if (res.tried >= max)
			continue;
		if (wait < 0)
			break;
		if (pub_status(ca, &st, &err) != 0)
			goto fail;
		if (st.due + st.waiting == 0)
			break;
		now = (int64_t)time(NULL);
		if (now >= deadline) {
			cli_warnx("%lld directory job%s still pending after "
			    "%ld seconds (see smimeca publish status)",
			    (long long)(st.due + st.waiting),
			    st.due + st.waiting == 1 ? "" : "s", wait);
			retrying = (int)(st.due + st.waiting);
			failed = (int)st.failed;
			break;
		}
		pause = st.next_due > now ? st.next_due - now : 1;
		if (pause > deadline - now)
			pause = deadline - now;
		sleep((unsigned)pause);
	}
	if (pub_status(ca, &st, &err) != 0)
		goto fail;
	printf("published %d job%s; %lld pending, %lld failed\n", done,
	    done == 1 ? "" : "s", (long long)(st.due + st.waiting),
	    (long long)st.failed);
	rc = retrying + failed == 0 ? CLI_OK : CLI_FAIL;
	goto out;
 fail:
	cli_print_err(&err);
 out:
	ca_close(ca);
	return rc;
}

static int
cmd_publish_status(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct ca *ca = NULL;
	struct ca_err err;
	struct pub_status st;
	char when[21], next[21];
	json_t *o = NULL, *old = NULL;
	int ch, json = 0, rc;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'j')
			return cli_usage(&cli_publish_cmds[1]);
		json = 1;
	}
	if (optind != argc)
		return cli_usage(&cli_publish_cmds[1]);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (pub_status(ca, &st, &err) != 0) {
		cli_print_err(&err);
		ca_close(ca);
		return CLI_FAIL;
	}
	util_iso8601(st.next_due, next);
	util_iso8601(st.oldest_created, when);
	if (json) {
		if (st.oldest_id != 0)
			old = json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:s?}",
			    "id", (json_int_t)st.oldest_id,
			    "kind", st.oldest_kind,
			    "object", st.oldest_object,
			    "state", st.oldest_state,
			    "created", when,
			    "attempts", st.oldest_attempts,
			    "last_error", st.oldest_error[0] != '\0' ?
			    st.oldest_error : NULL);
		o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:s?, s:o?}",
		    "configured", ca_config(ca)->ldap != NULL,
		    "due", (json_int_t)st.due,
		    "waiting", (json_int_t)st.waiting,
		    "failed", (json_int_t)st.failed,
		    "done", (json_int_t)st.done,
		    "next_attempt", st.next_due != 0 ? next : NULL,
		    "oldest", old);
		ca_close(ca);
		return cli_json_print_steal(o);
	}
	if (ca_config(ca)->ldap == NULL)
		printf("directory: none configured (no <ldap> in %s)\n",
		    ca_config(ca)->path);
	else
		printf("directory: %s\n", ca_config(ca)->ldap->uri);
	printf("due:       %lld\n"
	    "waiting:   %lld%s%s%s\n"
	    "failed:    %lld%s\n"
	    "done:      %lld\n", (long long)st.due, (long long)st.waiting,
	    st.waiting > 0 ? " (next attempt " : "",
	    st.waiting > 0 ? next : "", st.waiting > 0 ? ")" : "",
	    (long long)st.failed, st.failed > 0 ?
	    " (smimeca publish retry makes them due again)" : "",
	    (long long)st.done);
	if (st.oldest_id != 0)
		printf("oldest:    job %lld, %s %s, %s since %s, %d attempt%s"
		    "%s%s\n", (long long)st.oldest_id, st.oldest_kind,
		    st.oldest_object, st.oldest_state, when,
		    st.oldest_attempts, st.oldest_attempts == 1 ? "" : "s",
		    st.oldest_error[0] != '\0' ? "\n           last error: " :
		    "", st.oldest_error);
	ca_close(ca);
	return CLI_OK;
}

static int
cmd_publish_retry(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "email", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 }
	};
	struct ca *ca = NULL;
	struct ca_err err;
	const char *email = NULL;
	int64_t n;
	int ch, rc;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'e')
			return cli_usage(&cli_publish_cmds[2]);
		email = optarg;
	}
	if (optind != argc)
		return cli_usage(&cli_publish_cmds[2]);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (pub_retry(ca, email, &n, &err) != 0) {
		cli_print_err(&err);
		ca_close(ca);
		return CLI_FAIL;
	}
	printf("%lld job%s due now; smimeca publish run (or smimecad) "
	    "applies them\n", (long long)n, n == 1 ? "" : "s");
	ca_close(ca);
	return CLI_OK;
}

struct resync_out {
	json_t *arr;
	int bad;
};

static void
resync_report(void *ctx, const char *who, const char *dn, int added,
    int deleted, const char *error)
{
	struct resync_out *ro = ctx;

	if (error != NULL)
		ro->bad++;
	if (ro->arr != NULL) {
		json_array_append_new(ro->arr, json_pack(
		    "{s:s, s:s?, s:i, s:i, s:s?}", "who", who, "dn", dn,
		    "added", added, "deleted", deleted, "error", error));
		return;
	}
	if (error != NULL)
		cli_warnx("%s: %s", who, error);
	else
		printf("%s %s: %d added, %d removed\n", who,
		    dn != NULL ? dn : "-", added, deleted);
}

static int
cmd_publish_resync(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "email", required_argument, NULL, 'e' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct ca *ca = NULL;
	struct ca_err err;
	struct resync_out ro;
	const char *email = NULL;
	int ch, dry = 0, json = 0, rc, r;

	ca_err_clear(&err);
	memset(&ro, 0, sizeof(ro));
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			email = optarg;
			break;
		case 'n':
			dry = 1;
			break;
		case 'j':
			json = 1;
			break;
		default:
			return cli_usage(&cli_publish_cmds[3]);
		}
	}
	if (optind != argc)
		return cli_usage(&cli_publish_cmds[3]);
	signal(SIGPIPE, SIG_IGN);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (json && (ro.arr = json_array()) == NULL) {
		ca_close(ca);
		return CLI_FAIL;
	}
	r = pub_resync(ca, email, dry, resync_report, &ro, &err);
	ca_close(ca);
	if (r != 0 && (ro.bad == 0 || !json))
		cli_print_err(&err);
	if (json) {
		if (cli_json_print_steal(ro.arr) != CLI_OK)
			return CLI_FAIL;
	}
	return r == 0 ? CLI_OK : CLI_FAIL;
}

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
cmd_dir_show(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct ca_config *cfg = NULL;
	struct ca_err err;
	struct dir *d = NULL;
	struct dir_entry *e = NULL;
	int ch, json = 0, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'j')
			return cli_usage(&cli_publish_cmds[4]);
		json = 1;
	}
	if (optind + 1 != argc)
		return cli_usage(&cli_publish_cmds[4]);
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
cmd_dir_check(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct ca_config *cfg = NULL;
	struct ca_err err;
	struct dir_entry *e = NULL;
	const char *pwfile = NULL;
	char *pw = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;
	int ch, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'p')
			return cli_usage(&cli_publish_cmds[5]);
		pwfile = optarg;
	}
	if (optind + 1 != argc || pwfile == NULL)
		return cli_usage(&cli_publish_cmds[5]);
	signal(SIGPIPE, SIG_IGN);
	if (cfg_load(cli->dir, &cfg, &err) != 0)
		goto fail;
	/* An empty file is an empty password, which must be refused. */
	if (util_read_file(pwfile, 4096, &buf, &len, &err) != 0)
		goto fail;
	buf[strcspn((char *)buf, "\r\n")] = '\0';
	pw = (char *)buf;
	buf = NULL;
	if (dir_authenticate(cfg, argv[optind], pw, &e, &err) != 0)
		goto fail;
	printf("ok: %s (mail %s, cn %s)\n", e->dn, e->mail ? e->mail : "-",
	    e->cn ? e->cn : "-");
	rc = CLI_OK;
	goto out;
 fail:
	cli_print_err(&err);
 out:
	if (pw != NULL)
		OPENSSL_clear_free(pw, len + 1);
	dir_entry_free(e);
	cfg_free(cfg);
	return rc;
}

static int
cmd_lab_slapd(struct cli *cli, int argc, char **argv)
{
	struct ca_config *cfg = NULL;
	struct ca_err err;
	pid_t pid = 0;
	int rc = CLI_FAIL, r;

	ca_err_clear(&err);
	if (argc != 2 || (strcmp(argv[1], "start") != 0 &&
	    strcmp(argv[1], "stop") != 0 && strcmp(argv[1], "status") != 0))
		return cli_usage(&cli_publish_cmds[6]);
	if (cfg_load(cli->dir, &cfg, &err) != 0) {
		cli_print_err(&err);
		return CLI_FAIL;
	}
	if (strcmp(argv[1], "status") == 0) {
		if ((pid = labdir_pid(cfg)) != 0) {
			printf("the lab slapd runs (PID %ld) on %s\n",
			    (long)pid, cfg->ldap ? cfg->ldap->uri : "?");
			rc = CLI_OK;
		} else
			printf("the lab slapd does not run\n");
		goto out;
	}
	if (strcmp(argv[1], "start") == 0) {
		r = labdir_start(cfg, &pid, &err);
		if (r == 0)
			printf("the lab slapd runs (PID %ld) on %s\n",
			    (long)pid, cfg->ldap->uri);
	} else {
		r = labdir_stop(cfg, &pid, &err);
		if (r == 0)
			printf("stopped the lab slapd (PID %ld)\n", (long)pid);
	}
	if (r != 0)
		cli_print_err(&err);
	rc = r == 0 ? CLI_OK : CLI_FAIL;
 out:
	cfg_free(cfg);
	return rc;
}
