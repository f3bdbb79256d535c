/* smimecad's log: stderr in the foreground, else syslog; escaped lines. */
#ifndef ENROLL_LOG_H
#define ENROLL_LOG_H

#include <stdarg.h>

void log_init(int foreground, int quiet);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * One line per request, unless -q. Every function here escapes the whole
 * line (util_escape_log): pass client text as it came, never pre-escaped.
 */
void log_access(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_vmsg(int prio, const char *fmt, va_list ap);

#endif
