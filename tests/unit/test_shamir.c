/* Unit tests for Shamir's secret sharing (archive/shamir.c). */
#include "ac-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "archive/shamir.h"
#include "tests/unit/tap.h"

#define SECRET_LEN	32

/* Field helpers exported by archive/shamir.c for this test only. */
uint8_t shamir_gf_mul(uint8_t, uint8_t);
uint8_t shamir_gf_inv(uint8_t);

static uint8_t ref_mul(uint8_t, uint8_t);
static void clear_all(struct shamir_share *, unsigned);
static int rebuilds(const struct shamir_share *, unsigned, const uint8_t *);
static void test_field(void);
static void test_kat(void);
static void test_2of3(void);
static void test_3of5(void);
static void test_m1(void);
static void test_max(void);
static void test_errors(void);

/* Schoolbook polynomial product, then reduction by 0x11b: obviously right. */
static uint8_t
ref_mul(uint8_t a, uint8_t b)
{
	unsigned int p = 0;
	int i;

	for (i = 0; i < 8; i++)
		if (b & (1 << i))
			p ^= (unsigned int)a << i;
	for (i = 14; i >= 8; i--)
		if (p & (1u << i))
			p ^= 0x11bu << (i - 8);
	return (uint8_t)p;
}

static void
clear_all(struct shamir_share *s, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		shamir_share_clear(&s[i]);
}

/* 1 if the k shares rebuild secret, 0 if not, -1 if combine refused. */
static int
rebuilds(const struct shamir_share *s, unsigned k, const uint8_t *secret)
{
	uint8_t out[SECRET_LEN];

	if (shamir_combine(s, k, out, SECRET_LEN) != 0)
		return -1;
	return memcmp(out, secret, SECRET_LEN) == 0;
}

static void
test_field(void)
{
	unsigned a, b, bad_inv = 0, bad_mul = 0, bad_id = 0;

	for (a = 0; a < 256; a++) {
		for (b = 0; b < 256; b++)
			if (shamir_gf_mul((uint8_t)a, (uint8_t)b) !=
			    ref_mul((uint8_t)a, (uint8_t)b))
				bad_mul++;
		if (shamir_gf_mul((uint8_t)a, 1) != a ||
		    shamir_gf_mul((uint8_t)a, 0) != 0)
			bad_id++;
		if (a != 0 &&
		    shamir_gf_mul((uint8_t)a, shamir_gf_inv((uint8_t)a)) != 1)
			bad_inv++;
	}
	TAP_INT_EQ(bad_mul, 0, "gf_mul agrees with schoolbook multiply for "
	    "all 65536 pairs");
	TAP_INT_EQ(bad_id, 0, "a*1 = a and a*0 = 0");
	TAP_INT_EQ(bad_inv, 0, "a * inv(a) = 1 for all a != 0");
	TAP_INT_EQ(shamir_gf_inv(0), 0, "inv(0) = 0");
	/* FIPS-197 section 4.2 examples. */
	TAP_INT_EQ(shamir_gf_mul(0x57, 0x83), 0xc1, "{57}*{83} = {c1}");
	TAP_INT_EQ(shamir_gf_mul(0x57, 0x13), 0xfe, "{57}*{13} = {fe}");
	TAP_INT_EQ(shamir_gf_inv(0x53), 0xca, "inv({53}) = {ca}");
}

/*
 * f(x) = 0x42 + 0x07 x, worked by hand: f(1) = 0x45, f(2) = 0x42 ^ 0x0e =
 * 0x4c, f(3) = 0x42 ^ (0x0e ^ 0x07) = 0x4b.
 */
static void
test_kat(void)
{
	uint8_t y1 = 0x45, y2 = 0x4c, y3 = 0x4b, out = 0;
	struct shamir_share s[3] = {
		{ 1, &y1, 1 }, { 2, &y2, 1 }, { 3, &y3, 1 }
	};
	struct shamir_share rev[2] = { { 3, &y3, 1 }, { 1, &y1, 1 } };

	TAP_INT_EQ(shamir_combine(s, 2, &out, 1), 0, "KAT: combine x=1,2");
	TAP_INT_EQ(out, 0x42, "KAT: x=1,2 give 0x42");
	out = 0;
	TAP_INT_EQ(shamir_combine(s + 1, 2, &out, 1), 0, "KAT: combine x=2,3");
	TAP_INT_EQ(out, 0x42, "KAT: x=2,3 give 0x42");
	out = 0;
	TAP_INT_EQ(shamir_combine(rev, 2, &out, 1), 0, "KAT: combine x=3,1");
	TAP_INT_EQ(out, 0x42, "KAT: x=3,1 give 0x42");
	out = 0;
	TAP_INT_EQ(shamir_combine(s, 3, &out, 1), 0, "KAT: combine all three");
	TAP_INT_EQ(out, 0x42, "KAT: a degree-1 polynomial through 3 points");
}

static void
test_2of3(void)
{
	uint8_t secret[SECRET_LEN];
	struct shamir_share s[3], pair[2];
	unsigned i, j, ok = 0, x_ok = 1;

	TAP_INT_EQ(RAND_bytes(secret, sizeof(secret)), 1, "random secret");
	TAP_INT_EQ(shamir_split(secret, sizeof(secret), 2, 3, s), 0,
	    "split 2 of 3");
	for (i = 0; i < 3; i++)
		if (s[i].x != i + 1 || s[i].len != SECRET_LEN ||
		    s[i].y == NULL)
			x_ok = 0;
	TAP_OK(x_ok, "2 of 3: shares have x = 1..3 and 32 bytes each");
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++) {
			if (i == j)
				continue;
			pair[0] = s[i];
			pair[1] = s[j];
			if (rebuilds(pair, 2, secret) == 1)
				ok++;
		}
	TAP_INT_EQ(ok, 6, "2 of 3: every ordered pair rebuilds the secret");
	TAP_INT_EQ(rebuilds(s, 3, secret), 1, "2 of 3: all three rebuild it");
	for (i = 0; i < 3; i++) {
		TAP_INT_EQ(rebuilds(&s[i], 1, secret), 0, "2 of 3: share %u "
		    "alone does not rebuild the secret", i + 1);
		TAP_OK(memcmp(s[i].y, secret, SECRET_LEN) != 0, "2 of 3: "
		    "share %u differs from the secret", i + 1);
	}
	clear_all(s, 3);
	TAP_OK(s[0].y == NULL && s[0].len == 0, "clear frees and resets");
	shamir_share_clear(&s[0]);
	TAP_OK(s[0].y == NULL, "clear twice is harmless");
}

static void
test_3of5(void)
{
	uint8_t secret[SECRET_LEN];
	struct shamir_share s[5], sub[5];
	unsigned mask, i, k, good = 0, bad = 0, want_good = 0, want_bad = 0;
	int r;

	TAP_INT_EQ(RAND_bytes(secret, sizeof(secret)), 1, "random secret");
	TAP_INT_EQ(shamir_split(secret, sizeof(secret), 3, 5, s), 0,
	    "split 3 of 5");
	/* Every non-empty subset: 3 or more rebuild, fewer do not. */
	for (mask = 1; mask < 32; mask++) {
		for (i = 0, k = 0; i < 5; i++)
			if (mask & (1u << i))
				sub[k++] = s[i];
		r = rebuilds(sub, k, secret);
		if (k >= 3) {
			want_good++;
			good += r == 1;
		} else {
			want_bad++;
			bad += r == 0;
		}
	}
	TAP_INT_EQ(good, want_good, "3 of 5: all %u subsets of 3 or more "
	    "rebuild the secret", want_good);
	TAP_INT_EQ(bad, want_bad, "3 of 5: none of the %u subsets of 1 or 2 "
	    "rebuilds it", want_bad);
	clear_all(s, 5);
}

static void
test_m1(void)
{
	uint8_t secret[SECRET_LEN];
	struct shamir_share s[4];
	unsigned i, same = 0;

	TAP_INT_EQ(RAND_bytes(secret, sizeof(secret)), 1, "random secret");
	TAP_INT_EQ(shamir_split(secret, sizeof(secret), 1, 4, s), 0,
	    "split 1 of 4");
	for (i = 0; i < 4; i++)
		same += memcmp(s[i].y, secret, SECRET_LEN) == 0;
	TAP_INT_EQ(same, 4, "1 of 4: every share is the secret itself");
	TAP_INT_EQ(rebuilds(&s[2], 1, secret), 1, "1 of 4: one share "
	    "rebuilds it");
	clear_all(s, 4);
}

static void
test_max(void)
{
	uint8_t secret[SECRET_LEN];
	struct shamir_share *s;

	if ((s = calloc(SHAMIR_MAX_SHARES, sizeof(*s))) == NULL) {
		TAP_OK(0, "calloc");
		return;
	}
	TAP_INT_EQ(RAND_bytes(secret, sizeof(secret)), 1, "random secret");
	TAP_INT_EQ(shamir_split(secret, sizeof(secret), SHAMIR_MAX_SHARES,
	    SHAMIR_MAX_SHARES, s), 0, "split 255 of 255");
	TAP_INT_EQ(s[254].x, 255, "255 of 255: last x is 255");
	TAP_INT_EQ(rebuilds(s, SHAMIR_MAX_SHARES, secret), 1,
	    "255 of 255: all shares rebuild the secret");
	TAP_INT_EQ(rebuilds(s + 1, SHAMIR_MAX_SHARES - 1, secret), 0,
	    "255 of 255: 254 shares do not");
	clear_all(s, SHAMIR_MAX_SHARES);
	free(s);
}

static void
test_errors(void)
{
	uint8_t secret[SECRET_LEN] = { 1, 2, 3 }, out[SECRET_LEN];
	struct shamir_share s[3], bad[2];
	uint8_t y[SECRET_LEN] = { 0 };

	s[0].y = s[1].y = s[2].y = (uint8_t *)1;	/* must be reset */
	TAP_INT_EQ(shamir_split(secret, sizeof(secret), 0, 3, s), -1,
	    "split refuses m = 0");
	TAP_OK(s[0].y == NULL && s[1].y == NULL && s[2].y == NULL,
	    "a refused split leaves no y behind");
	TAP_INT_EQ(shamir_split(secret, sizeof(secret), 4, 3, s), -1,
	    "split refuses m > n");
	TAP_INT_EQ(shamir_split(secret, sizeof(secret), 1, 0, s), -1,
	    "split refuses n = 0");
	TAP_INT_EQ(shamir_split(secret, sizeof(secret), 2, 256, s), -1,
	    "split refuses n = 256");
	TAP_INT_EQ(shamir_split(secret, 0, 2, 3, s), -1,
	    "split refuses an empty secret");
	TAP_INT_EQ(shamir_split(NULL, sizeof(secret), 2, 3, s), -1,
	    "split refuses a NULL secret");

	TAP_INT_EQ(shamir_split(secret, sizeof(secret), 2, 3, s), 0,
	    "split 2 of 3 for the combine errors");
	bad[0] = s[0];
	bad[1] = s[0];
	TAP_INT_EQ(shamir_combine(bad, 2, out, SECRET_LEN), -1,
	    "combine refuses duplicate x");
	bad[1] = s[1];
	bad[1].x = 0;
	TAP_INT_EQ(shamir_combine(bad, 2, out, SECRET_LEN), -1,
	    "combine refuses x = 0");
	bad[1] = s[1];
	bad[1].len = SECRET_LEN - 1;
	TAP_INT_EQ(shamir_combine(bad, 2, out, SECRET_LEN), -1,
	    "combine refuses a share of another length");
	TAP_INT_EQ(shamir_combine(s, 2, out, SECRET_LEN - 1), -1,
	    "combine refuses an output length unlike the shares'");
	bad[1] = s[1];
	bad[1].y = NULL;
	TAP_INT_EQ(shamir_combine(bad, 2, out, SECRET_LEN), -1,
	    "combine refuses a share without y");
	TAP_INT_EQ(shamir_combine(s, 0, out, SECRET_LEN), -1,
	    "combine refuses k = 0");
	TAP_INT_EQ(shamir_combine(s, 2, NULL, SECRET_LEN), -1,
	    "combine refuses a NULL output");
	bad[0] = s[0];
	bad[1].x = 7;
	bad[1].y = y;
	bad[1].len = SECRET_LEN;
	TAP_INT_EQ(shamir_combine(bad, 2, out, SECRET_LEN), 0,
	    "combine accepts any distinct non-zero x (garbage, not error)");
	TAP_INT_EQ(rebuilds(s, 2, secret), 1, "the valid shares still work");
	clear_all(s, 3);
}

int
main(void)
{
	test_field();
	test_kat();
	test_2of3();
	test_3of5();
	test_m1();
	test_max();
	test_errors();
	return tap_done();
}
