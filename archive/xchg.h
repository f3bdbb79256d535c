/* CA exchange certificates: short-lived keys that clients encrypt their
 * private keys to for archival ([MS-WCCE] 3.2.1.4.3.2.15.1). */
#ifndef ARCHIVE_XCHG_H
#define ARCHIVE_XCHG_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct ca;
struct ca_err;

/*
 * The exchange certificate clients should use now: the one with the latest
 * notAfter; a new one is made (CA key needed) when none has more than the
 * configured margin left.
 */
int xchg_current(struct ca *ca, int64_t now, X509 **certp,
    struct ca_err *err);
/* Makes a new exchange key and certificate now (audited). */
int xchg_roll(struct ca *ca, int64_t now, X509 **certp, struct ca_err *err);
/*
 * The exchange certificate and key that a request was encrypted to, by
 * issuer and serial; refuses an unknown or expired one.
 */
int xchg_find(struct ca *ca, const X509_NAME *issuer,
    const ASN1_INTEGER *serial, int64_t now, X509 **certp, EVP_PKEY **keyp,
    struct ca_err *err);

#endif
