/* Shamir's secret sharing over GF(2^8) (AES polynomial 0x11b), per byte. */
#include "ac-config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "archive/shamir.h"

/* Not static so that tests/unit/test_shamir.c can check field identities. */
uint8_t shamir_gf_mul(uint8_t, uint8_t);
uint8_t shamir_gf_inv(uint8_t);

static int check_shares(const struct shamir_share *, unsigned, size_t);

/*
 * Shift-and-add with masks instead of branches or log/exp tables, so the
 * time taken does not depend on the (secret) operands.
 */
uint8_t
shamir_gf_mul(uint8_t a, uint8_t b)
{
	uint8_t r = 0, mask;
	int i;

	for (i = 0; i < 8; i++) {
		mask = (uint8_t)-(b & 1);
		r ^= a & mask;
		mask = (uint8_t)-(a >> 7);
		a = (uint8_t)((a << 1) ^ (0x1b & mask));
		b >>= 1;
	}
	return r;
}

/* a^254 = a^-1 in GF(2^8) (a^255 = 1); maps 0 to 0. */
uint8_t
shamir_gf_inv(uint8_t a)
{
	uint8_t r = 1, sq = a;
	unsigned int e = 254;
	int i;

	/* The exponent is public: branching on its bits leaks nothing. */
	for (i = 0; i < 8; i++) {
		if (e & 1)
			r = shamir_gf_mul(r, sq);
		sq = shamir_gf_mul(sq, sq);
		e >>= 1;
	}
	return r;
}

static int
check_shares(const struct shamir_share *shares, unsigned k, size_t len)
{
	unsigned i, j;

	if (shares == NULL || k < 1 || k > SHAMIR_MAX_SHARES || len == 0)
		return -1;
	for (i = 0; i < k; i++) {
		if (shares[i].x == 0 || shares[i].y == NULL ||
		    shares[i].len != len)
			return -1;
		for (j = 0; j < i; j++)
			if (shares[j].x == shares[i].x)
				return -1;
	}
	return 0;
}

int
shamir_split(const uint8_t *secret, size_t len, unsigned m, unsigned n,
    struct shamir_share *shares)
{
	uint8_t coef[SHAMIR_MAX_SHARES];
	uint8_t y;
	size_t b;
	unsigned i;
	int c, r = -1;

	if (shares == NULL || n < 1 || n > SHAMIR_MAX_SHARES)
		return -1;
	for (i = 0; i < n; i++) {
		shares[i].x = (uint8_t)(i + 1);
		shares[i].y = NULL;
		shares[i].len = 0;
	}
	if (secret == NULL || len == 0 || m < 1 || m > n)
		goto out;
	for (i = 0; i < n; i++) {
		if ((shares[i].y = OPENSSL_malloc(len)) == NULL)
			goto out;
		shares[i].len = len;
	}
	/* A fresh polynomial of degree m - 1 for every byte of the secret. */
	for (b = 0; b < len; b++) {
		if (m > 1 && RAND_priv_bytes(coef, (int)(m - 1)) != 1)
			goto out;
		for (i = 0; i < n; i++) {
			/* Horner: ((a[m-1] x + a[m-2]) x + ...) x + secret */
			y = 0;
			for (c = (int)m - 2; c >= 0; c--)
				y = shamir_gf_mul(y, shares[i].x) ^ coef[c];
			shares[i].y[b] = shamir_gf_mul(y, shares[i].x) ^
			    secret[b];
		}
	}
	r = 0;
 out:
	OPENSSL_cleanse(coef, sizeof(coef));
	if (r != 0) {
		for (i = 0; i < n; i++)
			shamir_share_clear(&shares[i]);
	}
	return r;
}

int
shamir_combine(const struct shamir_share *shares, unsigned k, uint8_t *out,
    size_t len)
{
	uint8_t lagr[SHAMIR_MAX_SHARES];
	uint8_t num, den, acc;
	size_t b;
	unsigned i, j;

	if (out == NULL || check_shares(shares, k, len) != 0)
		return -1;
	/* l_i(0) = prod_{j != i} x_j / (x_j - x_i); subtraction is XOR. */
	for (i = 0; i < k; i++) {
		num = 1;
		den = 1;
		for (j = 0; j < k; j++) {
			if (j == i)
				continue;
			num = shamir_gf_mul(num, shares[j].x);
			den = shamir_gf_mul(den, shares[j].x ^ shares[i].x);
		}
		lagr[i] = shamir_gf_mul(num, shamir_gf_inv(den));
	}
	for (b = 0; b < len; b++) {
		acc = 0;
		for (i = 0; i < k; i++)
			acc ^= shamir_gf_mul(shares[i].y[b], lagr[i]);
		out[b] = acc;
	}
	return 0;
}

void
shamir_share_clear(struct shamir_share *s)
{
	if (s == NULL)
		return;
	if (s->y != NULL)
		OPENSSL_clear_free(s->y, s->len);
	s->y = NULL;
	s->len = 0;
	s->x = 0;
}
