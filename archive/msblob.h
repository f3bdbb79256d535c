/* Microsoft private key BLOBs ([MS-WCCE] 2.2.2.9) <-> EVP_PKEY. */
#ifndef ARCHIVE_MSBLOB_H
#define ARCHIVE_MSBLOB_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct ca_err;

/*
 * Parses a private key BLOB: RSA ("RSA2", PUBLICKEYSTRUC bType 0x07,
 * aiKeyAlg CALG_RSA_KEYX 0xA400 or CALG_RSA_SIGN 0x2400; 2.2.2.9.1) or a
 * bare ECDH/ECDSA BCRYPT_ECCKEY_BLOB private key for P-256 / P-384
 * ("ECK2"/"ECK4", "ECS2"/"ECS4"; 2.2.2.9.3, no PUBLICKEYSTRUC). X, Y and
 * d are read big-endian as CNG writes them, or little-endian as
 * 2.2.2.9.3 says; the pair must check. Every length is checked against
 * len; errors name what is wrong (CA_ERR_INVALID).
 */
int msblob_to_pkey(const unsigned char *buf, size_t len, EVP_PKEY **keyp,
    struct ca_err *err);
/*
 * The same for the key of a request: a BLOB whose public part is not pub
 * (type, size, then modulus or point) is refused before the private
 * half is checked (kp_pair_ok).
 */
int msblob_to_pkey_of(const unsigned char *buf, size_t len,
    const EVP_PKEY *pub, EVP_PKEY **keyp, struct ca_err *err);
/*
 * Encodes a private key as a BLOB: RSA as PRIVATEKEYBLOB "RSA2" with
 * CALG_RSA_KEYX; EC P-256/P-384 as BCRYPT_ECCKEY_BLOB "ECK2"/"ECK4"
 * (ECDH private, X, Y, d big-endian).
 * *bufp is OPENSSL_malloc'ed; free it with
 * OPENSSL_clear_free(*bufp, *lenp).
 */
int msblob_from_pkey(EVP_PKEY *key, unsigned char **bufp, size_t *lenp,
    struct ca_err *err);

#endif
