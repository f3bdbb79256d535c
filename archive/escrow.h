/* Escrow: private keys stored only as CMS envelopes to KRA certificates. */
#ifndef ARCHIVE_ESCROW_H
#define ARCHIVE_ESCROW_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct ca;
struct ca_err;

/*
 * Refuses (CA_ERR_POLICY, naming the numbers and `smimeca kra add`) when
 * fewer than the configured n usable KRAs are registered.
 */
int esc_check_ready(struct ca *ca, int64_t now, struct ca_err *err);

/*
 * Inside the caller's transaction: wraps key (PKCS#8) for the certificate
 * row cert_id. With quorum m = 1: one CMS EnvelopedData (AES-256-CBC,
 * RSA-OAEP SHA-256 key transport) with one recipient per chosen KRA, which
 * stock `openssl cms -decrypt` opens. With m > 1: the PKCS#8 in a CMS
 * EncryptedData under a random AES-256 key K, and K split with Shamir into
 * n shares, each in a CMS EnvelopedData to one KRA. Audited.
 */
int esc_store(struct ca *ca, int64_t cert_id, X509 *cert, EVP_PKEY *key,
    struct ca_err *err);

#endif
