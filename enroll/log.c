/* smimecad's log: stderr in the foreground, else syslog. */
#include "ac-config.h"

#include <stdio.h>
#include <syslog.h>
#include <time.h>

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
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_fg)
		fprintf(stderr, "smimecad: %s\n", line);
	else
		syslog(prio, "%s", line);
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
