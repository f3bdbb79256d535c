/* The daemon's TLS server certificate, issued by the CA itself. */
#ifndef CA_TLS_H
#define CA_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct ca;
struct ca_err;

#define TLS_CERT_FILE	"tls.crt"		/* certificate + chain, PEM */
#define TLS_KEY_FILE	"private/tls.key"	/* held like the exchange key */

/*
 * Issues a server certificate for the configured <tls-name>s and
 * <tls-address>es (or names/addrs when given), writes it with the chain
 * to DIR/tls.crt and its key to DIR/private/tls.key, records it (role
 * "tls") and audits it. An older certificate is replaced.
 */
int tls_issue(struct ca *ca, const char *const *names, size_t nnames,
    const char *const *addrs, size_t naddrs, int64_t now, X509 **certp,
    struct ca_err *err);
/*
 * The certificate chain and the key as PEM in memory, for the TLS
 * library; *keyp must be freed with OPENSSL_clear_free(*keyp, *keylenp).
 */
int tls_load_pem(struct ca *ca, char **certp, char **keyp, size_t *keylenp,
    struct ca_err *err);

#endif
