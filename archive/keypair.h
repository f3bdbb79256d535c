/* Does an archived private key work for its public key? Cheaply, exactly. */
#ifndef ARCHIVE_KEYPAIR_H
#define ARCHIVE_KEYPAIR_H

#include <stdint.h>

#include <openssl/evp.h>

/*
 * 1 if the private half of key belongs to its public half, else 0 (with
 * nothing left on OpenSSL's error queue). RSA: n = p*q, d*e = 1 mod
 * lcm(p-1, q-1), dP = d mod (p-1), dQ = d mod (q-1), qInv*q = 1 mod p
 * (without p and q: one m^d^e = m round trip); EC: d*G = Q with
 * 0 < d < order. No primality tests: they cost 35 ms for RSA-2048 and
 * prove nothing more for escrow, where the client's own key is kept.
 * Other types (and multi-prime RSA) get EVP_PKEY_pairwise_check.
 */
int kp_pair_ok(const EVP_PKEY *key);
/* Checks run so far by this process (a metric). */
uint64_t kp_pair_checks(void);

#endif
