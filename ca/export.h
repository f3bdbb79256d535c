/*
 * The CA's certificates as other trust stores take them: PEM, DER,
 * PKCS#7 certs-only and Microsoft's serialized certificate store (SST).
 */
#ifndef CA_EXPORT_H
#define CA_EXPORT_H

#include <stddef.h>

#include <openssl/x509.h>

struct ca_err;

enum export_fmt {
	EXPORT_PEM,		/* one PEM block a certificate */
	EXPORT_DER,		/* one certificate, DER */
	EXPORT_P7B,		/* PKCS#7 certificates-only, DER */
	EXPORT_SST,		/* [MS-OSHARED] 2.3.2.5 serialized store */
};

/* "pem", "der", "p7b" or "sst"; -1 for another word. */
int export_fmt_parse(const char *s, enum export_fmt *fmtp);

/*
 * certs, in their order, in format fmt, as bytes to free with free().
 * EXPORT_DER refuses more than one certificate; no format takes none.
 */
int export_certs(enum export_fmt fmt, STACK_OF(X509) *certs,
    unsigned char **outp, size_t *lenp, struct ca_err *err);

/*
 * A degenerate SignedData (certs-only: no content, no signers) holding
 * first (if not NULL) and then more (if not NULL), DER in *derp
 * (OPENSSL_free it); -1 when OpenSSL fails (its error queue says why).
 */
int export_certs_only(X509 *first, STACK_OF(X509) *more,
    unsigned char **derp, size_t *lenp);

#endif
