/* The lab directory: a private slapd under the CA directory (init --lab). */
#ifndef CA_LABDIR_H
#define CA_LABDIR_H

#include <sys/types.h>

struct ca_config;
struct ca_err;

#define LABDIR_PORT	3389		/* default loopback port */
#define LABDIR_SUFFIX	"dc=lab,dc=example"
#define LABDIR_DIR	"ldap"		/* under the CA directory */

/*
 * Whether slapd and slapadd are installed ($SLAPD / $SLAPADD, else
 * /usr/sbin, else $PATH); *whatp names the one missing.
 */
int labdir_available(const char **whatp);

/*
 * Writes CADIR/ldap/: slapd.conf (suffix dc=lab,dc=example, rootdn
 * cn=admin with a random password kept in admin.pass, mode 0600),
 * base.ldif (the users alice, bob and carol, inetOrgPerson, with random
 * passwords listed in users.txt, mode 0600, and the CA entry with the CA
 * certificate), loads it into data/ with slapadd, and adds an <ldap>
 * section for ldap://127.0.0.1:port to smimeca.conf. ca_cert_der: the
 * issuing CA certificate.
 */
int labdir_create(const struct ca_config *cfg, int port,
    const unsigned char *ca_cert_der, size_t ca_cert_len,
    struct ca_err *err);

/*
 * Starts the lab slapd on the URI of <ldap><server> and waits until it
 * accepts connections; CA_ERR_EXISTS when it runs already (*pidp set).
 */
int labdir_start(const struct ca_config *cfg, pid_t *pidp,
    struct ca_err *err);
/* Stops it (SIGTERM, then waits); CA_ERR_NOTFOUND when it does not run. */
int labdir_stop(const struct ca_config *cfg, pid_t *pidp,
    struct ca_err *err);
/* The PID of the running lab slapd, 0 when none runs. */
pid_t labdir_pid(const struct ca_config *cfg);

#endif
