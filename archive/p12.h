/* PKCS#12 files made and read, and random passwords for them. */
#ifndef ARCHIVE_P12_H
#define ARCHIVE_P12_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct ca_err;

/* Officer key material from a PKCS#12 file (password may be NULL). */
int p12_load(const char *path, const char *password, EVP_PKEY **keyp,
    X509 **certp, struct ca_err *err);
/* PKCS#12 (AES-256-CBC, PBKDF2, SHA-256 MAC) with key, cert and chain. */
int p12_make(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *password, const char *friendly_name, unsigned char **derp,
    size_t *lenp, struct ca_err *err);
/* The same with PBE-SHA1-3DES and a SHA-1 MAC, for older readers. */
int p12_make_legacy(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *password, const char *friendly_name, unsigned char **derp,
    size_t *lenp, struct ca_err *err);
/*
 * As p12_make (legacy 0) or p12_make_legacy (1), for a random password of
 * at least 16 characters of A-Za-z0-9 that travels only encrypted to a
 * key (Intune's userPFXCertificate): one iteration of the key derivation,
 * which thousands would not strengthen against 95 random bits or more.
 */
int p12_make_sealed(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *password, const char *friendly_name, int legacy,
    unsigned char **derp, size_t *lenp, struct ca_err *err);
/*
 * A random password of len characters from A-Za-z0-9 (len < 128), NUL-
 * terminated: buf holds len + 1 bytes.
 */
int p12_random_password(char *buf, size_t len, struct ca_err *err);

#endif
