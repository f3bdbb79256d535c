/*
 * smimeca expiry run: hands the expiring-certificates document (cert
 * expiring --json) to the hook of <expiry hook="..."/> on its standard
 * input; etc/smimeca-expiry.timer runs it daily.
 */
#include "ac-config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/err.h"
#include "tools/cli.h"

static int cmd_expiry_run(const struct cli_cmd *, struct cli *, int,
    char **);
static int run_hook(const char *, const char *, size_t, json_t *,
    const char *);
static int write_all(int, const char *, size_t);

const struct cli_cmd cli_expiry_cmds[] = {
	{ "expiry", "run", cmd_expiry_run, "[--within DAYS] [--hook PATH] "
	    "[--template NAME]" },
	{ NULL, NULL, NULL, NULL }
};

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Runs hook with text on its standard input and the figures of doc in its
 * environment; 0 when it exits 0. A hook that does not read its input
 * is fine: only its exit status counts.
 */
static int
run_hook(const char *hook, const char *text, size_t len, json_t *doc,
    const char *cadir)
{
	struct stat st;
	struct sigaction sa, old;
	char num[32];
	pid_t pid;
	int fds[2], status, r = -1;

	if (stat(hook, &st) == -1 || (S_ISREG(st.st_mode) &&
	    access(hook, X_OK) == -1)) {
		cli_warnx("expiry hook %s: cannot run it: %s", hook,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		cli_warnx("expiry hook %s: cannot run it: not a regular file",
		    hook);
		return -1;
	}
	if (pipe(fds) == -1) {
		cli_warnx("expiry hook %s: pipe: %s", hook, strerror(errno));
		return -1;
	}
	/* A hook that exits unread must not kill us with SIGPIPE. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &old);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		cli_warnx("expiry hook %s: fork: %s", hook, strerror(errno));
		close(fds[0]);
		close(fds[1]);
		goto out;
	}
	if (pid == 0) {
		sigaction(SIGPIPE, &old, NULL);
		if (dup2(fds[0], STDIN_FILENO) == -1)
			_exit(127);
		close(fds[0]);
		close(fds[1]);
		setenv("SMIMECA_DIR", cadir, 1);
		snprintf(num, sizeof(num), "%lld", (long long)
		    json_integer_value(json_object_get(doc, "within_days")));
		setenv("SMIMECA_EXPIRY_DAYS", num, 1);
		snprintf(num, sizeof(num), "%lld", (long long)
		    json_integer_value(json_object_get(doc, "count")));
		setenv("SMIMECA_EXPIRY_COUNT", num, 1);
		snprintf(num, sizeof(num), "%lld", (long long)
		    json_integer_value(json_object_get(doc, "not_renewed")));
		setenv("SMIMECA_EXPIRY_NOT_RENEWED", num, 1);
		execl(hook, hook, (char *)NULL);
		fprintf(stderr, "smimeca: expiry hook %s: %s\n", hook,
		    strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	if ((write_all(fds[1], text, len) == -1 ||
	    write_all(fds[1], "\n", 1) == -1) && errno != EPIPE)
		cli_warnx("expiry hook %s: writing its input: %s", hook,
		    strerror(errno));
	close(fds[1]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			cli_warnx("expiry hook %s: waitpid: %s", hook,
			    strerror(errno));
			goto out;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		r = 0;
	else if (WIFEXITED(status))
		cli_warnx("expiry hook %s failed: exit status %d", hook,
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		cli_warnx("expiry hook %s failed: killed by signal %d", hook,
		    WTERMSIG(status));
	else
		cli_warnx("expiry hook %s failed", hook);
 out:
	sigaction(SIGPIPE, &old, NULL);
	return r;
}

static int
cmd_expiry_run(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "within", required_argument, NULL, 'w' },
		{ "hook", required_argument, NULL, 'h' },
		{ "template", required_argument, NULL, 't' },
		CLI_OPT_END
	};
	const struct ca_config *cfg;
	struct ca *ca = NULL;
	struct ca_err err;
	json_t *doc = NULL;
	const char *hook = NULL, *tpl = NULL;
	char *text = NULL, *hookc = NULL, *dir = NULL;
	json_int_t n;
	int ch, days = -1, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			if (cli_days_opt("--within", optarg, &days) != 0)
				return CLI_USAGE;
			break;
		case 'h':
			hook = optarg;
			break;
		case 't':
			tpl = optarg;
			break;
		default:
			return cli_usage(me);
		}
	}
	if (optind != argc)
		return cli_usage(me);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	rc = CLI_FAIL;
	cfg = ca_config(ca);
	if (hook == NULL)
		hook = cfg->expiry_hook;
	if (days < 0)
		days = cfg->expiry_days > 0 ? cfg->expiry_days : 30;
	if (hook == NULL) {
		cli_warnx("%s: no expiry hook: add <expiry hook=\"/path\" "
		    "within-days=\"30\"/> (smimeca.conf(5)), or give --hook",
		    cfg->path);
		goto out;
	}
	if (cli_expiring_doc(ca, (int64_t)time(NULL), days, tpl, &doc,
	    &err) != 0) {
		cli_print_err(&err);
		goto out;
	}
	if ((text = json_dumps(doc, JSON_INDENT(2) |
	    JSON_PRESERVE_ORDER)) == NULL ||
	    (hookc = strdup(hook)) == NULL ||
	    (dir = strdup(cfg->dir)) == NULL) {
		cli_warnx("out of memory");
		goto out;
	}
	/* The store stays closed while the hook runs, however long. */
	ca_close(ca);
	ca = NULL;
	if (run_hook(hookc, text, strlen(text), doc, dir) != 0)
		goto out;
	n = json_integer_value(json_object_get(doc, "count"));
	printf("expiry: %lld certificate%s expire%s within %d day%s "
	    "(%lld renewed); hook %s ran\n", (long long)n, n == 1 ? "" : "s",
	    n == 1 ? "s" : "", days, days == 1 ? "" : "s",
	    (long long)json_integer_value(json_object_get(doc, "renewed")),
	    hookc);
	rc = CLI_OK;
 out:
	free(dir);
	free(hookc);
	free(text);
	json_decref(doc);
	ca_close(ca);
	return rc;
}
