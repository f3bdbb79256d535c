/* smimeca publish run, status, retry and resync: the directory outbox. */
#include "ac-config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/err.h"
#include "ca/publish.h"
#include "ca/util.h"
#include "tools/cli.h"

#define RUN_MAX_DEFAULT	1000	/* jobs per pub_run call */

static int cmd_publish_run(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_publish_status(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_publish_retry(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_publish_resync(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_publish_clean(const struct cli_cmd *, struct cli *, int,
    char **);
static int number_arg(const char *, const char *, long, long, long *);
static void resync_report(void *, const char *, const char *, int, int,
    const char *);
static void check_report(void *, const char *, const char *, const char *);
static void clean_report(void *, const struct pub_clean_item *);

const struct cli_cmd cli_publish_cmds[] = {
	{ "publish", "run", cmd_publish_run, "[--max N] [--now] "
	    "[--wait SECONDS]" },
	{ "publish", "status", cmd_publish_status, "[--json]" },
	{ "publish", "retry", cmd_publish_retry, "[--email MAIL]" },
	{ "publish", "resync", cmd_publish_resync, "[--email MAIL] "
	    "[--dry-run] [--json]" },
	{ "publish", "clean", cmd_publish_clean, "--attribute "
	    "userSMIMECertificate|userCertificate (--email MAIL | --all) "
	    "[--dry-run] [--json]" },
	{ NULL, NULL, NULL, NULL }
};

struct resync_out {
	json_t *arr;
	int bad;
};

#define CHECK_SHOWN	20	/* entries named in the text output */

struct check_out {
	json_t *arr;
	size_t n;
};

struct clean_out {
	json_t *arr;
	int dry_run;
	int n;
	int nundecodable;
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
cmd_publish_run(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "max", required_argument, NULL, 'm' },
		{ "now", no_argument, NULL, 'n' },
		{ "wait", required_argument, NULL, 'w' },
		CLI_OPT_END
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
			return cli_usage(me);
		}
	}
	if (optind != argc)
		return cli_usage(me);
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
cmd_publish_status(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	struct ca *ca = NULL;
	struct ca_err err;
	struct pub_status st;
	struct check_out co;
	struct ca_err cerr;
	char when[21], next[21];
	json_t *o = NULL, *old = NULL;
	size_t nwarn = 0;
	int json, rc, cr;

	ca_err_clear(&err);
	if ((rc = cli_json_opt(me, argc, argv, &json)) != CLI_OK ||
	    (rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (pub_status(ca, &st, &err) != 0) {
		cli_print_err(&err);
		ca_close(ca);
		return CLI_FAIL;
	}
	util_iso8601(st.next_due, next);
	util_iso8601(st.oldest_created, when);
	/* Warnings only: status must work with the directory down. */
	memset(&co, 0, sizeof(co));
	ca_err_clear(&cerr);
	if (json && (co.arr = json_array()) == NULL) {
		ca_close(ca);
		return CLI_FAIL;
	}
	signal(SIGPIPE, SIG_IGN);
	cr = pub_check_entries(ca_config(ca), check_report, &co, &nwarn,
	    &cerr);
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
		o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:s?, s:o?, s:o, "
		    "s:s?}",
		    "configured", ca_config(ca)->ldap != NULL,
		    "due", (json_int_t)st.due,
		    "waiting", (json_int_t)st.waiting,
		    "failed", (json_int_t)st.failed,
		    "done", (json_int_t)st.done,
		    "next_attempt", st.next_due != 0 ? next : NULL,
		    "oldest", old,
		    "warnings", co.arr,
		    "check_error", cr != 0 ? cerr.msg : NULL);
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
	if (nwarn > CHECK_SHOWN)
		cli_warnx("warning: %zu more entries without mailNickname",
		    nwarn - CHECK_SHOWN);
	if (cr != 0)
		cli_warnx("warning: the directory could not be checked for "
		    "mailNickname: %s", cerr.msg);
	ca_close(ca);
	return CLI_OK;
}

static int
cmd_publish_retry(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "email", required_argument, NULL, 'e' },
		CLI_OPT_END
	};
	struct ca *ca = NULL;
	struct ca_err err;
	const char *email = NULL;
	int64_t n;
	int ch, rc;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'e')
			return cli_usage(me);
		email = optarg;
	}
	if (optind != argc)
		return cli_usage(me);
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
cmd_publish_resync(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "email", required_argument, NULL, 'e' },
		{ "dry-run", no_argument, NULL, 'n' },
		CLI_OPT_JSON,
		CLI_OPT_END
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
			return cli_usage(me);
		}
	}
	if (optind != argc)
		return cli_usage(me);
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

static void
check_report(void *ctx, const char *dn, const char *mail, const char *why)
{
	struct check_out *co = ctx;

	if (co->arr != NULL) {
		json_array_append_new(co->arr, json_pack("{s:s, s:s?, s:s}",
		    "dn", dn, "mail", mail, "warning", why));
		return;
	}
	if (co->n++ < CHECK_SHOWN)
		cli_warnx("warning: %s: %s", dn, why);
}

static void
clean_report(void *ctx, const struct pub_clean_item *it)
{
	struct clean_out *co = ctx;

	if (it->undecodable)
		co->nundecodable++;
	else
		co->n++;
	if (co->arr != NULL) {
		json_array_append_new(co->arr, json_pack(
		    "{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s?, s:b, s:I}",
		    "dn", it->dn, "attribute", it->attr,
		    "subject", it->subject, "issuer", it->issuer,
		    "serial", it->serial, "sha1", it->sha1,
		    "removed", it->removed, "error", it->error,
		    "undecodable", it->undecodable,
		    "length", (json_int_t)it->len));
		return;
	}
	if (it->undecodable) {
		printf("kept %s: %s value sha1 %s (%zu bytes)\n"
		    "  no certificate decodes from it: left in place (look at "
		    "it with ldapsearch)\n", it->dn, it->attr, it->sha1,
		    it->len);
		return;
	}
	if (it->error != NULL) {
		cli_warnx("%s: %s serial %s of %s: %s", it->dn, it->attr,
		    it->serial, it->issuer, it->error);
		return;
	}
	printf("%s %s: %s serial %s sha1 %s\n  subject %s\n"
	    "  issuer  %s\n", co->dry_run ? "would remove" : "removed",
	    it->dn, it->attr, it->serial, it->sha1, it->subject, it->issuer);
}

static int
cmd_publish_clean(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "attribute", required_argument, NULL, 'a' },
		{ "email", required_argument, NULL, 'e' },
		{ "all", no_argument, NULL, 'A' },
		{ "dry-run", no_argument, NULL, 'n' },
		CLI_OPT_JSON,
		CLI_OPT_END
	};
	struct ca *ca = NULL;
	struct ca_err err;
	struct clean_out co;
	const char *attr = NULL, *email = NULL;
	int ch, all = 0, json = 0, rc, r;

	ca_err_clear(&err);
	memset(&co, 0, sizeof(co));
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			attr = optarg;
			break;
		case 'e':
			email = optarg;
			break;
		case 'A':
			all = 1;
			break;
		case 'n':
			co.dry_run = 1;
			break;
		case 'j':
			json = 1;
			break;
		default:
			return cli_usage(me);
		}
	}
	if (optind != argc || attr == NULL || (email == NULL) == !all)
		return cli_usage(me);
	if (strcasecmp(attr, "userCertificate") != 0 &&
	    strcasecmp(attr, "userSMIMECertificate") != 0) {
		cli_warnx("--attribute %s: give userCertificate or "
		    "userSMIMECertificate", attr);
		return CLI_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	if (json && (co.arr = json_array()) == NULL) {
		ca_close(ca);
		return CLI_FAIL;
	}
	r = pub_clean(ca, attr, email, co.dry_run, clean_report, &co, &err);
	ca_close(ca);
	if (r != 0)
		cli_print_err(&err);
	if (json) {
		if (cli_json_print_steal(co.arr) != CLI_OK)
			return CLI_FAIL;
	} else if (r == 0 && co.n == 0)
		printf("no values of other issuers\n");
	return r == 0 ? CLI_OK : CLI_FAIL;
}
