/* Starting and stopping smimecad's listeners. */
#ifndef ENROLL_DAEMON_H
#define ENROLL_DAEMON_H

#include <stddef.h>

struct srv;
struct ca_err;

/*
 * Binds the HTTPS listening socket and, when http_addr is not NULL, the
 * plain one (before daemon(3)): an address another server holds is an
 * error naming it, never a shared port (no SO_REUSEPORT).
 */
int http_listen(const char *https_addr, int https_port,
    const char *http_addr, int http_port, struct ca_err *err);
/*
 * Serves the bound sockets (cert: chain PEM, key: PEM, trust: CA PEM for
 * client certificates), each with a pool of threads.
 */
int http_start(struct srv *s, const char *cert, const char *key,
    const char *trust, unsigned threads, struct ca_err *err);
/* Stops accepting connections; requests in flight finish. */
void http_quiesce(void);
void http_stop(void);
/* Number of entries in http_routes (routes.c). */
size_t http_routes_count(void);

#endif
