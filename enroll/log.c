/*
 * smimecad's log: stderr in the foreground, else syslog. Every line is
 * escaped here, at the one door, so that no field (a URL, a user name, a
 * reason quoting a request) can start a line of its own or drive a terminal.
 */
#include "ac-config.h"

#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include "ca/util.h"
#include "enroll/log.h"

static int log_fg = 1;
static int log_quiet;

void
log_init(int foreground, int quiet)
{
	log_fg = foreground;
	log_quiet = quiet;
	if (!foreground)
		openlog("smimecad", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_vmsg(int prio, const char *fmt, va_list ap)
{
	char line[1024], safe[4 * sizeof(line)];
	int n;

	if ((n = vsnprintf(line, sizeof(line), fmt, ap)) < 0)
		n = 0;
	else if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	util_escape_log(safe, sizeof(safe), line, (size_t)n);
	if (log_fg)
		fprintf(stderr, "smimecad: %s\n", safe);
	else
		syslog(prio, "%s", safe);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_access(const char *fmt, ...)
{
	va_list ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	log_vmsg(LOG_INFO, fmt, ap);
	va_end(ap);
}
