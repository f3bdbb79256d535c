/* Revocation and CRLs. */
#ifndef CA_REVOKE_H
#define CA_REVOKE_H

#include <stdint.h>

#include <openssl/x509.h>

struct ca;
struct ca_err;
struct db;

/* RFC 5280 reason names ("keyCompromise") to codes; -1 when unknown. */
int rev_reason_parse(const char *name);
const char *rev_reason_name(int code);

/* Revokes a certificate of this CA and audits it, in one transaction. */
int rev_revoke(struct ca *ca, const char *serial, int reason,
    struct ca_err *err);
/* As rev_revoke, inside the caller's transaction (no begin/commit). */
int rev_revoke_in_tx(struct ca *ca, const char *serial, int reason,
    struct ca_err *err);

/*
 * Builds and signs a CRL (v2, CRL number = next, AKI, nextUpdate from the
 * configuration) with every revoked certificate of the issuing CA
 * (expired ones included); stores it and audits it in one transaction.
 */
int rev_crl_generate(struct ca *ca, X509_CRL **crlp, struct ca_err *err);
/*
 * As rev_crl_generate, giving the DER it stored (OPENSSL_free it): the
 * entries are encoded once, where an X509_CRL is encoded anew by each
 * i2d (bench/README.md, "CRL scale").
 */
int rev_crl_generate_der(struct ca *ca, unsigned char **derp, size_t *lenp,
    struct ca_err *err);

#endif
