/*
 * Certificates the archival path reads from the database on every request
 * (KRA and exchange certificates), decoded once a process: OpenSSL 3.0
 * builds a decoder context for each key it decodes, which cost more than
 * the archival's private-key operations. The exchange key read from its
 * file is kept with its certificate.
 */
#ifndef ARCHIVE_DERCACHE_H
#define ARCHIVE_DERCACHE_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* DER decoded (or found decoded): a new reference, NULL if unreadable. */
X509 *dc_cert(const unsigned char *der, size_t len);
/* The key kept with the certificate DER: a new reference, or NULL. */
EVP_PKEY *dc_key(const unsigned char *der, size_t len);
/* Keeps key (a reference of its own) with the certificate DER. */
void dc_set_key(const unsigned char *der, size_t len, EVP_PKEY *key);
/* Drops every entry (tests). */
void dc_flush(void);

#endif
