/* Starting and stopping smimecad's listeners. */
#ifndef ENROLL_DAEMON_H
#define ENROLL_DAEMON_H

#include <stddef.h>

struct srv;
struct ca_err;

/*
 * Starts the HTTPS listener (cert: chain PEM, key: PEM, trust: CA PEM for
 * client certificates) and, when http_addr is not NULL, the plain one,
 * each with a pool of threads.
 */
int http_start(struct srv *s, const char *https_addr, int https_port,
    const char *http_addr, int http_port, const char *cert,
    const char *key, const char *trust, unsigned threads,
    struct ca_err *err);
/* Stops accepting connections; requests in flight finish. */
void http_quiesce(void);
void http_stop(void);
/* Number of entries in http_routes (routes.c). */
size_t http_routes_count(void);

#endif
