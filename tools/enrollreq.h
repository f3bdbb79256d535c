/* The requests smimeca-enroll makes (tools/enrollreq.c). */
#ifndef TOOLS_ENROLLREQ_H
#define TOOLS_ENROLLREQ_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct ca_err;

/* "/CN=Alice/emailAddress=alice@lab.example", as openssl req -subj. */
X509_NAME *enrq_parse_dn(const char *s);
/* A PKCS#10 request for name with key, signed with md. */
int enrq_csr(const X509_NAME *name, EVP_PKEY *key, const EVP_MD *md,
    X509_REQ **csrp, struct ca_err *err);
/* EnvelopedData to the exchange certificate: RSA PKCS#1 v1.5, AES-256. */
int enrq_envelope(X509 *xchg, const unsigned char *plain, size_t len,
    unsigned char **derp, int *lenp, struct ca_err *err);
/*
 * A CMC full PKI request (RFC 5272): SignedData over a PKIData holding the
 * PKCS#10 request as bodyPartID 1, signed with the request's key. With
 * xchg, the Windows archival layout of PROTOCOLS.md section 1 (the key to
 * xchg as an unsigned attribute, its hash as a control); without, a plain
 * request. hashp (EVP_MAX_MD_SIZE bytes, may be NULL) gets the
 * encrypted-key hash the request carries, *hlenp 0 for none.
 */
int enrq_cmc(X509_REQ *csr, EVP_PKEY *key, const EVP_MD *md, X509 *xchg,
    unsigned char **derp, int *lenp, unsigned char *hashp,
    unsigned int *hlenp, struct ca_err *err);

#endif
