/* Shamir's secret sharing over GF(256), byte by byte. */
#ifndef ARCHIVE_SHAMIR_H
#define ARCHIVE_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#define SHAMIR_MAX_SHARES	255

/*
 * A share: x in 1..255 and len bytes y (same length as the secret).
 * Encoded for storage as 1 byte x followed by y.
 */
struct shamir_share {
	uint8_t x;
	uint8_t *y;
	size_t len;
};

/*
 * Splits secret into n shares, any m of which rebuild it (1 <= m <= n <=
 * 255). Coefficients come from RAND_priv_bytes and are wiped. shares must
 * have room for n; each y is allocated (free with shamir_share_clear).
 */
int shamir_split(const uint8_t *secret, size_t len, unsigned m, unsigned n,
    struct shamir_share *shares);
/*
 * Rebuilds the secret (len bytes into out) from k shares with distinct
 * non-zero x; with fewer than m shares the output is garbage, not an error.
 * Returns 0, or -1 on duplicate/zero x or mismatched lengths.
 */
int shamir_combine(const struct shamir_share *shares, unsigned k,
    uint8_t *out, size_t len);
/* Wipes and frees y. */
void shamir_share_clear(struct shamir_share *s);

#endif
