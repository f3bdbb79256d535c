/* CMC full PKI responses (RFC 5272 3.2.3) as AD CS returns them. */
#ifndef ARCHIVE_CMCRESP_H
#define ARCHIVE_CMCRESP_H

#include <stddef.h>

#include <openssl/x509.h>

struct ca;
struct ca_err;

/*
 * A PKIResponse in CMS SignedData by the CA: cMCStatusInfo success for
 * body_part_id, and a CmcAddAttributes with the SHA-1 of the issued
 * certificate (szOID_ISSUED_CERT_HASH) and, when key_hash is not NULL,
 * the encrypted key hash of the request. The certificates are the issued
 * one and the CA chain. DER in *derp (OPENSSL_free).
 */
int cmc_response(struct ca *ca, long body_part_id, X509 *issued,
    const unsigned char *key_hash, size_t key_hash_len,
    unsigned char **derp, size_t *lenp, struct ca_err *err);

#endif
