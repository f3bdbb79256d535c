/* Unit tests for Microsoft private key BLOBs (archive/msblob.c). */
#include "ac-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "archive/keypair.h"
#include "archive/msblob.h"
#include "ca/err.h"
#include "tests/unit/tap.h"

static uint32_t le32(const unsigned char *);
static void set_le32(unsigned char *, uint32_t);
static unsigned char *dup_blob(const unsigned char *, size_t, size_t);
static int parse(const unsigned char *, size_t, EVP_PKEY **,
    struct ca_err *);
static int parse_fails(const unsigned char *, size_t, const char *);
static void test_rsa_roundtrip(int);
static void test_rsa_errors(void);
static void test_ec_roundtrip(const char *, size_t, const char *);
static void test_ec_errors(void);
static void test_unsupported(void);
static int of_fails(const unsigned char *, size_t, const EVP_PKEY *,
    const char *, const char *);
static void test_of_request(void);
static BIGNUM *blob_bn(const unsigned char *, size_t);
static int blob_put(unsigned char *, size_t, const BIGNUM *);
static int rsa_crafted_fails(const unsigned char *, size_t, size_t, size_t,
    int, const char *);
static void test_rsa_crafted(void);
static void test_rsa_no_crt(void);
static void test_rsa_composite(void);
static void test_ec_crafted(void);

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
set_le32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

/* A heap copy with room for exactly cap bytes, so ASan sees overreads. */
static unsigned char *
dup_blob(const unsigned char *b, size_t len, size_t cap)
{
	unsigned char *p;

	if ((p = malloc(cap > 0 ? cap : 1)) == NULL)
		abort();
	memset(p, 0xa5, cap);
	memcpy(p, b, len < cap ? len : cap);
	return p;
}

static int
parse(const unsigned char *b, size_t len, EVP_PKEY **keyp, struct ca_err *err)
{
	unsigned char *p = b != NULL ? dup_blob(b, len, len) : NULL;
	int r;

	ca_err_clear(err);
	r = msblob_to_pkey(p, len, keyp, err);
	free(p);
	return r;
}

/*
 * 1 if parsing fails cleanly: CA_ERR_INVALID, no key, and (when want is
 * given) a message that contains want.
 */
static int
parse_fails(const unsigned char *b, size_t len, const char *want)
{
	struct ca_err err;
	EVP_PKEY *k = (EVP_PKEY *)1;
	int r, ok;

	r = parse(b, len, &k, &err);
	ok = r == CA_ERR_INVALID && k == NULL && err.code == CA_ERR_INVALID &&
	    (want == NULL || strstr(err.msg, want) != NULL);
	if (!ok)
		printf("#   r=%d msg=\"%s\"\n", r, err.msg);
	if (r == 0)
		EVP_PKEY_free(k);
	return ok;
}

static void
test_rsa_roundtrip(int bits)
{
	struct ca_err err;
	EVP_PKEY *key, *back = NULL;
	unsigned char *blob = NULL, *b2;
	size_t len = 0, want = 20 + 9 * (size_t)bits / 16;
	int r;

	ca_err_clear(&err);
	if ((key = EVP_RSA_gen(bits)) == NULL) {
		TAP_OK(0, "RSA-%d: generate", bits);
		return;
	}
	r = msblob_from_pkey(key, &blob, &len, &err);
	TAP_INT_EQ(r, 0, "RSA-%d: from_pkey", bits);
	if (r != 0)
		printf("#   %s\n", err.msg);
	if (r != 0)
		goto out;
	TAP_INT_EQ(len, want, "RSA-%d: blob is 20 + 9*bitlen/16 bytes", bits);
	TAP_OK(blob[0] == 0x07 && blob[1] == 0x02 && blob[2] == 0 &&
	    blob[3] == 0, "RSA-%d: PRIVATEKEYBLOB, version 2, reserved 0",
	    bits);
	TAP_INT_EQ(le32(blob + 4), 0xa400, "RSA-%d: CALG_RSA_KEYX", bits);
	TAP_OK(memcmp(blob + 8, "RSA2", 4) == 0, "RSA-%d: magic reads "
	    "\"RSA2\" in memory", bits);
	TAP_INT_EQ(le32(blob + 12), bits, "RSA-%d: bitlen", bits);
	TAP_INT_EQ(le32(blob + 16), 65537, "RSA-%d: pubexp", bits);
	/* 2048 = 0x0800: a little-endian modulus ends in its top byte. */
	TAP_OK(blob[20 + bits / 8 - 1] & 0x80, "RSA-%d: modulus is "
	    "little-endian (top bit set in its last byte)", bits);

	r = parse(blob, len, &back, &err);
	TAP_INT_EQ(r, 0, "RSA-%d: to_pkey", bits);
	if (r != 0)
		printf("#   %s\n", err.msg);
	TAP_INT_EQ(back != NULL ? EVP_PKEY_eq(key, back) : 0, 1,
	    "RSA-%d: round trip gives the same key", bits);
	EVP_PKEY_free(back);
	back = NULL;

	b2 = dup_blob(blob, len, len);
	set_le32(b2 + 4, 0x2400);
	r = parse(b2, len, &back, &err);
	TAP_INT_EQ(r, 0, "RSA-%d: CALG_RSA_SIGN is accepted too", bits);
	if (r != 0)
		printf("#   %s\n", err.msg);
	TAP_INT_EQ(back != NULL ? EVP_PKEY_eq(key, back) : 0, 1,
	    "RSA-%d: ... and gives the same key", bits);
	EVP_PKEY_free(back);
	back = NULL;
	free(b2);
 out:
	if (blob != NULL)
		OPENSSL_clear_free(blob, len);
	EVP_PKEY_free(key);
}

static void
test_rsa_errors(void)
{
	struct ca_err err;
	EVP_PKEY *key;
	unsigned char *blob = NULL, *b;
	size_t len = 0, i, half, full, bad = 0;
	char want[128];

	ca_err_clear(&err);
	if ((key = EVP_RSA_gen(2048)) == NULL ||
	    msblob_from_pkey(key, &blob, &len, &err) != 0) {
		TAP_OK(0, "RSA-2048 for the error tests: %s", err.msg);
		EVP_PKEY_free(key);
		return;
	}
	full = 2048 / 8;
	half = 2048 / 16;

	/* Every proper prefix, from empty to one byte short. */
	for (i = 0; i < len; i++)
		if (!parse_fails(blob, i, NULL))
			bad++;
	TAP_INT_EQ(bad, 0, "RSA-2048: all %zu truncated blobs fail cleanly",
	    len);
	TAP_OK(parse_fails(blob, len - 12, "key BLOB: 12 bytes too short for "
	    "a 2048-bit RSA key"), "RSA-2048: truncation names the bytes "
	    "missing");
	b = dup_blob(blob, len, len + 3);
	TAP_OK(parse_fails(b, len + 3, "3 bytes of trailing data"),
	    "RSA-2048: trailing garbage is refused");
	free(b);

#define MUTATE(what, stmt, msg) do {					\
	b = dup_blob(blob, len, len);					\
	stmt;								\
	TAP_OK(parse_fails(b, len, msg), "RSA-2048: %s is refused", what); \
	OPENSSL_clear_free(b, len);					\
} while (0)
	MUTATE("a PUBLICKEYBLOB type", b[0] = 0x06, "PUBLICKEYBLOB");
	MUTATE("an unknown type", b[0] = 0x01, NULL);
	MUTATE("version 3", b[1] = 0x03, "version 3");
	MUTATE("a non-zero reserved field", b[2] = 0x01, "reserved");
	MUTATE("algorithm CALG_DH_SF", set_le32(b + 4, 0xaa01), "algorithm");
	MUTATE("magic \"RSA1\"", memcpy(b + 8, "RSA1", 4), "public key");
	MUTATE("a wrong magic", memcpy(b + 8, "XYZ2", 4), "magic");
	MUTATE("bitlen 1000", set_le32(b + 12, 1000),
	    "key BLOB: bitlen 1000 is not a multiple of 16");
	MUTATE("bitlen 512", set_le32(b + 12, 512), "outside 1024..16384");
	MUTATE("bitlen 32768", set_le32(b + 12, 32768), "outside");
	MUTATE("bitlen 2064 (blob too short for it)", set_le32(b + 12, 2064),
	    "too short for a 2064-bit RSA key");
	MUTATE("bitlen 2032 (trailing data)", set_le32(b + 12, 2032),
	    "trailing data");
	MUTATE("an even public exponent", set_le32(b + 16, 65536),
	    "public exponent");
	MUTATE("public exponent 1", set_le32(b + 16, 1), "public exponent");
	MUTATE("a wrong public exponent", set_le32(b + 16, 3),
	    "inconsistent");
	MUTATE("a corrupted private exponent", b[len - 10] ^= 0x01,
	    "inconsistent");
	MUTATE("a private exponent of zero", memset(b + len - full, 0, full),
	    "inconsistent");
	MUTATE("a corrupted modulus", b[20] ^= 0x02, "inconsistent");
	MUTATE("a modulus with its top byte cleared", b[20 + full - 1] = 0,
	    "modulus has");
	MUTATE("a corrupted prime1", b[20 + full] ^= 0x04, "inconsistent");
	MUTATE("a corrupted exponent2", b[20 + full + 3 * half] ^= 0x01,
	    "inconsistent");
	MUTATE("a corrupted coefficient", b[20 + full + 4 * half] ^= 0x01,
	    "inconsistent");
#undef MUTATE

	snprintf(want, sizeof(want), "%zu bytes is too short", (size_t)5);
	TAP_OK(parse_fails(blob, 5, want), "RSA-2048: a 5-byte blob names its "
	    "length");
	OPENSSL_clear_free(blob, len);
	EVP_PKEY_free(key);
}

static void
test_ec_roundtrip(const char *curve, size_t cb, const char *magic)
{
	struct ca_err err;
	EVP_PKEY *key, *back = NULL;
	unsigned char *blob = NULL, *b, pub[1 + 2 * 48];
	size_t len = 0, publen = 0, i, bad = 0;
	int r;

	ca_err_clear(&err);
	if ((key = EVP_EC_gen(curve)) == NULL) {
		TAP_OK(0, "%s: generate", curve);
		return;
	}
	r = msblob_from_pkey(key, &blob, &len, &err);
	TAP_INT_EQ(r, 0, "%s: from_pkey", curve);
	if (r != 0)
		printf("#   %s\n", err.msg);
	if (r != 0)
		goto out;
	TAP_INT_EQ(len, 8 + 3 * cb, "%s: blob is 8 + 3*%zu bytes", curve, cb);
	TAP_OK(memcmp(blob, magic, 4) == 0, "%s: magic reads \"%s\" in "
	    "memory (ECDH private)", curve, magic);
	TAP_INT_EQ(le32(blob + 4), cb, "%s: cbKey is %zu", curve, cb);
	TAP_INT_EQ(EVP_PKEY_get_octet_string_param(key,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof(pub), &publen), 1,
	    "%s: public point", curve);
	TAP_OK(publen == 1 + 2 * cb && pub[0] == 0x04 &&
	    memcmp(blob + 8, pub + 1, 2 * cb) == 0,
	    "%s: X and Y are big-endian, as CNG writes them", curve);

	r = parse(blob, len, &back, &err);
	TAP_INT_EQ(r, 0, "%s: to_pkey", curve);
	if (r != 0)
		printf("#   %s\n", err.msg);
	TAP_INT_EQ(back != NULL ? EVP_PKEY_eq(key, back) : 0, 1,
	    "%s: round trip gives the same key", curve);
	EVP_PKEY_free(back);
	back = NULL;

	/* The ECDSA private magic ("ECS2"/"ECS4") for the same key. */
	b = dup_blob(blob, len, len);
	b[1] = 'C';
	b[2] = 'S';
	r = parse(b, len, &back, &err);
	TAP_INT_EQ(r, 0, "%s: ECDSA private magic accepted", curve);
	if (r != 0)
		printf("#   %s\n", err.msg);
	TAP_INT_EQ(back != NULL ? EVP_PKEY_eq(key, back) : 0, 1,
	    "%s: ... and gives the same key", curve);
	EVP_PKEY_free(back);
	back = NULL;
	OPENSSL_clear_free(b, len);

	/* X, Y and d little-endian, as [MS-WCCE] 2.2.2.9.3 words it. */
	b = dup_blob(blob, len, len);
	for (i = 0; i < 3 * cb; i++)
		b[8 + i] = blob[8 + (i / cb) * cb + cb - 1 - i % cb];
	r = parse(b, len, &back, &err);
	TAP_INT_EQ(r, 0, "%s: little-endian X, Y, d accepted", curve);
	if (r != 0)
		printf("#   %s\n", err.msg);
	TAP_INT_EQ(back != NULL ? EVP_PKEY_eq(key, back) : 0, 1,
	    "%s: ... and gives the same key", curve);
	EVP_PKEY_free(back);
	back = NULL;
	OPENSSL_clear_free(b, len);

	for (i = 0; i < len; i++)
		if (!parse_fails(blob, i, NULL))
			bad++;
	TAP_INT_EQ(bad, 0, "%s: all %zu truncated blobs fail cleanly", curve,
	    len);
	b = dup_blob(blob, len, len + 1);
	TAP_OK(parse_fails(b, len + 1, "trailing data"), "%s: trailing "
	    "garbage is refused", curve);
	free(b);

	b = dup_blob(blob, len, len);
	b[len - 1] ^= 0x01;
	TAP_OK(parse_fails(b, len, "do not form a valid"), "%s: a corrupted "
	    "d is refused", curve);
	OPENSSL_clear_free(b, len);
	b = dup_blob(blob, len, len);
	b[8 + cb - 1] ^= 0x01;
	TAP_OK(parse_fails(b, len, "do not form a valid"), "%s: a corrupted "
	    "X is refused", curve);
	OPENSSL_clear_free(b, len);
	b = dup_blob(blob, len, len);
	memset(b + 8 + 2 * cb, 0, cb);
	TAP_OK(parse_fails(b, len, "do not form a valid"), "%s: d = 0 is "
	    "refused", curve);
	OPENSSL_clear_free(b, len);
	b = dup_blob(blob, len, len);
	b[3]--;
	TAP_OK(parse_fails(b, len, "public key"), "%s: the public magic is "
	    "refused", curve);
	OPENSSL_clear_free(b, len);
	b = dup_blob(blob, len, len);
	set_le32(b + 4, (uint32_t)cb + 1);
	TAP_OK(parse_fails(b, len, "key length"), "%s: a wrong cbKey is "
	    "refused", curve);
	OPENSSL_clear_free(b, len);
 out:
	if (blob != NULL)
		OPENSSL_clear_free(blob, len);
	EVP_PKEY_free(key);
}

static void
test_ec_errors(void)
{
	unsigned char b[8 + 3 * 66];

	memset(b, 0x11, sizeof(b));
	memcpy(b, "ECK6", 4);
	set_le32(b + 4, 66);
	TAP_OK(parse_fails(b, sizeof(b), "P-521"), "EC: P-521 is refused by "
	    "name");
	memcpy(b, "ECK7", 4);
	TAP_OK(parse_fails(b, sizeof(b), "magic"), "EC: an unknown magic is "
	    "refused");
	memcpy(b, "ECK2", 4);
	set_le32(b + 4, 32);
	TAP_OK(parse_fails(b, 8 + 3 * 32, "do not form a valid"),
	    "EC: random X, Y, d are refused");
	TAP_OK(parse_fails(NULL, 0, "too short"), "a NULL blob is refused");
}

static void
test_unsupported(void)
{
	struct ca_err err;
	EVP_PKEY *key;
	unsigned char *blob = (unsigned char *)1;
	size_t len = 1;
	int r;

	ca_err_clear(&err);
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	r = msblob_from_pkey(key, &blob, &len, &err);
	TAP_INT_EQ(r, CA_ERR_INVALID, "Ed25519 cannot be written (%s)",
	    err.msg);
	TAP_OK(blob == NULL && len == 0, "a refused key leaves no blob");
	EVP_PKEY_free(key);

	ca_err_clear(&err);
	key = EVP_EC_gen("P-521");
	r = msblob_from_pkey(key, &blob, &len, &err);
	TAP_INT_EQ(r, CA_ERR_INVALID, "P-521 cannot be written (%s)",
	    err.msg);
	EVP_PKEY_free(key);

	ca_err_clear(&err);
	key = EVP_RSA_gen(1032);
	r = msblob_from_pkey(key, &blob, &len, &err);
	TAP_INT_EQ(r, CA_ERR_INVALID, "a 1032-bit RSA key cannot be written "
	    "(%s)", err.msg);
	EVP_PKEY_free(key);
}

/*
 * 1 if msblob_to_pkey_of refuses the BLOB for pub with a message holding
 * want, and no key pair check ran for it.
 */
static int
of_fails(const unsigned char *b, size_t len, const EVP_PKEY *pub,
    const char *want, const char *what)
{
	struct ca_err err;
	EVP_PKEY *k = NULL;
	uint64_t before = kp_pair_checks();
	unsigned char *p = dup_blob(b, len, len);
	int r, ok;

	ca_err_clear(&err);
	r = msblob_to_pkey_of(p, len, pub, &k, &err);
	free(p);
	ok = r == CA_ERR_INVALID && k == NULL &&
	    strstr(err.msg, want) != NULL;
	TAP_OK(ok, "%s: refused naming \"%s\"", what, want);
	if (!ok)
		printf("#   r=%d msg=%s\n", r, err.msg);
	TAP_INT_EQ(kp_pair_checks(), before, "%s: no key pair check",
	    what);
	EVP_PKEY_free(k);
	return ok;
}

/* A BLOB that is not the request's key gets no private-key work. */
static void
test_of_request(void)
{
	struct ca_err err;
	EVP_PKEY *a = EVP_RSA_gen(2048), *b = EVP_RSA_gen(2048);
	EVP_PKEY *c = EVP_RSA_gen(3072), *ec = EVP_EC_gen("P-256");
	EVP_PKEY *ec2 = EVP_EC_gen("P-256"), *k = NULL;
	unsigned char *blob = NULL, *eblob = NULL;
	size_t len = 0, elen = 0;
	uint64_t before;
	int r;

	ca_err_clear(&err);
	if (a == NULL || b == NULL || c == NULL || ec == NULL || ec2 == NULL ||
	    msblob_from_pkey(a, &blob, &len, &err) != 0 ||
	    msblob_from_pkey(ec, &eblob, &elen, &err) != 0) {
		TAP_OK(0, "keys and BLOBs for the request tests: %s", err.msg);
		goto out;
	}
	before = kp_pair_checks();
	r = msblob_to_pkey_of(blob, len, a, &k, &err);
	TAP_OK(r == 0 && k != NULL && EVP_PKEY_eq(k, a) == 1,
	    "the request's own RSA key is taken: %s", err.msg);
	TAP_INT_EQ(kp_pair_checks(), before + 1,
	    "... after one key pair check");
	EVP_PKEY_free(k);
	k = NULL;
	of_fails(blob, len, c, "2048-bit RSA key, but the request's public "
	    "key is RSA of 3072 bits",
	    "a 2048-bit BLOB for a 3072-bit request");
	of_fails(blob, len, b, "does not belong to the request's public key",
	    "another 2048-bit key");
	of_fails(blob, len, ec, "is EC of 256 bits", "an RSA BLOB for an EC "
	    "request");
	of_fails(eblob, elen, a, "an EC key, but the request's public key is "
	    "RSA", "an EC BLOB for an RSA request");
	of_fails(eblob, elen, ec2, "of the request's public key",
	    "another P-256 key");
	before = kp_pair_checks();
	r = msblob_to_pkey_of(eblob, elen, ec, &k, &err);
	TAP_OK(r == 0 && k != NULL && EVP_PKEY_eq(k, ec) == 1,
	    "the request's own P-256 key is taken: %s", err.msg);
	TAP_INT_EQ(kp_pair_checks(), before + 1,
	    "... after one key pair check");
 out:
	if (blob != NULL)
		OPENSSL_clear_free(blob, len);
	if (eblob != NULL)
		OPENSSL_clear_free(eblob, elen);
	EVP_PKEY_free(k);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(c);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ec2);
}

/* A little-endian BLOB field of size bytes as a BIGNUM. */
static BIGNUM *
blob_bn(const unsigned char *p, size_t size)
{
	BIGNUM *bn;

	if ((bn = BN_lebin2bn(p, (int)size, NULL)) == NULL)
		abort();
	return bn;
}

/* Writes bn back little-endian; 0 if it does not fit. */
static int
blob_put(unsigned char *p, size_t size, const BIGNUM *bn)
{
	return BN_bn2lebinpad(bn, p, (int)size) == (int)size;
}

/*
 * 1 if the RSA BLOB with the field at off (size bytes) raised by delta
 * (or, with delta 0, the two half fields at off and off2 swapped) is
 * refused as inconsistent.
 */
static int
rsa_crafted_fails(const unsigned char *blob, size_t len, size_t off,
    size_t size, int delta, const char *off2_or_null)
{
	unsigned char *b = dup_blob(blob, len, len);
	BIGNUM *v = blob_bn(b + off, size), *w;
	size_t off2;
	int ok;

	if (delta != 0) {
		if (!BN_add_word(v, (BN_ULONG)delta) || !blob_put(b + off,
		    size, v))
			abort();
	} else {
		off2 = (size_t)strtoul(off2_or_null, NULL, 10);
		w = blob_bn(b + off2, size);
		if (!blob_put(b + off, size, w) || !blob_put(b + off2, size, v))
			abort();
		BN_free(w);
	}
	BN_clear_free(v);
	ok = memcmp(b, blob, len) != 0 && parse_fails(b, len,
	    "private key is inconsistent (modulus, primes and exponents do "
	    "not belong together)");
	OPENSSL_clear_free(b, len);
	return ok;
}

/* Keys whose public half is intact and whose private half is not. */
static void
test_rsa_crafted(void)
{
	struct ca_err err;
	EVP_PKEY *key = NULL, *back = NULL;
	unsigned char *blob = NULL, *b;
	BIGNUM *p = NULL, *q = NULL, *e = NULL, *phi = NULL, *d = NULL;
	BIGNUM *g = NULL;
	BN_CTX *ctx = NULL;
	const size_t full = 2048 / 8, half = 2048 / 16;
	const size_t o_p = 20 + full, o_q = o_p + half, o_dp = o_q + half;
	const size_t o_dq = o_dp + half, o_qinv = o_dq + half;
	const size_t o_d = o_qinv + half;
	size_t len = 0;
	char o_q_str[16];
	int r;

	ca_err_clear(&err);
	if ((key = EVP_RSA_gen(2048)) == NULL ||
	    msblob_from_pkey(key, &blob, &len, &err) != 0 ||
	    (ctx = BN_CTX_new()) == NULL) {
		TAP_OK(0, "RSA-2048 for the crafted keys: %s", err.msg);
		goto out;
	}
	TAP_OK(rsa_crafted_fails(blob, len, o_d, full, 2, NULL),
	    "RSA-2048: d + 2 (d*e != 1 mod lambda) is refused");
	TAP_OK(rsa_crafted_fails(blob, len, o_p, half, 2, NULL),
	    "RSA-2048: p + 2 with n unchanged (n != p*q) is refused");
	snprintf(o_q_str, sizeof(o_q_str), "%zu", o_q);
	TAP_OK(rsa_crafted_fails(blob, len, o_p, half, 0, o_q_str),
	    "RSA-2048: p and q swapped, CRT values left (n = p*q still) is "
	    "refused");
	TAP_OK(rsa_crafted_fails(blob, len, o_dp, half, 2, NULL),
	    "RSA-2048: dP + 2 (dP != d mod (p-1)) is refused");
	TAP_OK(rsa_crafted_fails(blob, len, o_dq, half, 2, NULL),
	    "RSA-2048: dQ + 2 (dQ != d mod (q-1)) is refused");
	TAP_OK(rsa_crafted_fails(blob, len, o_qinv, half, 1, NULL),
	    "RSA-2048: qInv + 1 (qInv*q != 1 mod p) is refused");

	/* d + 2 with dP and dQ made from it: the CRT agrees, d*e does not. */
	p = blob_bn(blob + o_p, half);
	q = blob_bn(blob + o_q, half);
	d = blob_bn(blob + o_d, full);
	if ((e = BN_new()) == NULL || !BN_sub_word(p, 1) ||
	    !BN_sub_word(q, 1) || !BN_add_word(d, 2))
		abort();
	b = dup_blob(blob, len, len);
	if (!blob_put(b + o_d, full, d) || !BN_mod(e, d, p, ctx) ||
	    !blob_put(b + o_dp, half, e) || !BN_mod(e, d, q, ctx) ||
	    !blob_put(b + o_dq, half, e))
		abort();
	TAP_OK(parse_fails(b, len, "private key is inconsistent"),
	    "RSA-2048: d + 2 with dP, dQ to match is refused");
	OPENSSL_clear_free(b, len);
	BN_clear_free(p);
	BN_clear_free(q);
	BN_clear_free(d);
	BN_clear_free(e);
	e = NULL;

	/*
	 * d = e^-1 mod phi(n) (OpenSSL 3.0, CryptoAPI) and d = e^-1 mod
	 * lambda(n) (FIPS 186-4) both work, as does any d' = d mod lambda:
	 * take d mod lambda, or d + lambda when d is already below lambda.
	 */
	p = blob_bn(blob + o_p, half);
	q = blob_bn(blob + o_q, half);
	d = blob_bn(blob + o_d, full);
	if ((phi = BN_new()) == NULL || (g = BN_new()) == NULL ||
	    (e = BN_new()) == NULL || !BN_sub_word(p, 1) ||
	    !BN_sub_word(q, 1) || !BN_mul(phi, p, q, ctx) ||
	    !BN_gcd(g, p, q, ctx) || !BN_div(phi, NULL, phi, g, ctx) ||
	    !BN_nnmod(e, d, phi, ctx) ||
	    (BN_cmp(e, d) == 0 && !BN_add(e, d, phi)))
		abort();
	b = dup_blob(blob, len, len);
	TAP_OK(blob_put(b + o_d, full, e) && memcmp(b, blob, len) != 0,
	    "RSA-2048: another d, equal mod lambda(n)");
	r = parse(b, len, &back, &err);
	TAP_OK(r == 0 && back != NULL && EVP_PKEY_eq(back, key) == 1,
	    "RSA-2048: ... is accepted (%s)",
	    err.msg);
	EVP_PKEY_free(back);
	OPENSSL_clear_free(b, len);
 out:
	BN_clear_free(p);
	BN_clear_free(q);
	BN_clear_free(phi);
	BN_clear_free(d);
	BN_clear_free(g);
	BN_clear_free(e);
	BN_CTX_free(ctx);
	if (blob != NULL)
		OPENSSL_clear_free(blob, len);
	EVP_PKEY_free(key);
}

/* An RSA key with n, e and d only (PKCS#8 may carry one): round trip. */
static void
test_rsa_no_crt(void)
{
	static const char *const names[] = { OSSL_PKEY_PARAM_RSA_N,
	    OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D };
	EVP_PKEY *key = EVP_RSA_gen(2048), *k;
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM params[4];
	unsigned char v[3][256];
	BIGNUM *bn = NULL;
	size_t i, n[3];
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < 3; i++) {
			if (EVP_PKEY_get_bn_param(key, names[i], &bn) != 1 ||
			    (i == 2 && pass == 1 && !BN_add_word(bn, 2)) ||
			    (n[i] = (size_t)BN_bn2nativepad(bn, v[i],
			    sizeof(v[i]))) != sizeof(v[i]))
				abort();
			params[i] = OSSL_PARAM_construct_BN(names[i], v[i],
			    n[i]);
			BN_clear_free(bn);
			bn = NULL;
		}
		params[3] = OSSL_PARAM_construct_end();
		k = NULL;
		if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA",
		    NULL)) == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
		    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) != 1)
			abort();
		EVP_PKEY_CTX_free(ctx);
		if (pass == 0)
			TAP_INT_EQ(kp_pair_ok(k), 1, "RSA-2048 without p, q "
			    "and CRT values: accepted after a round trip");
		else
			TAP_INT_EQ(kp_pair_ok(k), 0, "RSA-2048 without p, q "
			    "and CRT values, d + 2: refused");
		EVP_PKEY_free(k);
	}
	OPENSSL_cleanse(v, sizeof(v));
	EVP_PKEY_free(key);
}

/* EC BLOBs whose d is a valid scalar, but another key's, or the order. */
static void
test_ec_crafted(void)
{
	struct ca_err err;
	EVP_PKEY *a = EVP_EC_gen("P-256"), *b = EVP_EC_gen("P-256");
	unsigned char *ba = NULL, *bb = NULL, *x;
	size_t la = 0, lb = 0;
	EC_GROUP *g = NULL;

	ca_err_clear(&err);
	if (a == NULL || b == NULL ||
	    msblob_from_pkey(a, &ba, &la, &err) != 0 ||
	    msblob_from_pkey(b, &bb, &lb, &err) != 0 ||
	    (g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) == NULL) {
		TAP_OK(0, "P-256 keys for the crafted BLOBs: %s", err.msg);
		goto out;
	}
	x = dup_blob(ba, la, la);
	memcpy(x + 8 + 64, bb + 8 + 64, 32);
	TAP_OK(parse_fails(x, la, "do not form a valid P-256 key pair"),
	    "P-256: another key's d with this key's Q (d*G != Q) is refused");
	OPENSSL_clear_free(x, la);
	x = dup_blob(ba, la, la);
	if (BN_bn2binpad(EC_GROUP_get0_order(g), x + 8 + 64, 32) != 32)
		abort();
	TAP_OK(parse_fails(x, la, "do not form a valid P-256 key pair"),
	    "P-256: d = the group order is refused");
	OPENSSL_clear_free(x, la);
 out:
	EC_GROUP_free(g);
	if (ba != NULL)
		OPENSSL_clear_free(ba, la);
	if (bb != NULL)
		OPENSSL_clear_free(bb, lb);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

/*
 * Every relation between n, e, d, p, q, dP, dQ and qInv holds, but p is
 * the product of two primes: d inverts e modulo lcm(p-1, q-1), not modulo
 * the order of the group, and the key does not work. Only the round trip
 * (a CRT signature of a random m, verified under e) can tell.
 */
static void
test_rsa_composite(void)
{
	struct ca_err err;
	BIGNUM *p1 = BN_new(), *p2 = BN_new(), *p = BN_new(), *q = BN_new();
	BIGNUM *n = BN_new(), *e = BN_new(), *d = BN_new(), *l = BN_new();
	BIGNUM *pm = BN_new(), *qm = BN_new(), *g = BN_new();
	BIGNUM *dp = BN_new(), *dq = BN_new(), *qi = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *key = NULL;
	unsigned char *blob = NULL;
	size_t len = 0;
	int tries, made = 0;

	ca_err_clear(&err);
	if (qi == NULL || ctx == NULL || !BN_set_word(e, 65537))
		abort();
	for (tries = 0; tries < 20 && !made; tries++) {
		if (!BN_generate_prime_ex(p1, 512, 0, NULL, NULL, NULL) ||
		    !BN_generate_prime_ex(p2, 512, 0, NULL, NULL, NULL) ||
		    !BN_generate_prime_ex(q, 1024, 0, NULL, NULL, NULL) ||
		    !BN_mul(p, p1, p2, ctx) || !BN_mul(n, p, q, ctx))
			abort();
		if (BN_num_bits(n) != 2048 || BN_num_bits(p) != 1024 ||
		    BN_cmp(p, q) == 0)
			continue;
		if (!BN_sub(pm, p, BN_value_one()) ||
		    !BN_sub(qm, q, BN_value_one()) || !BN_gcd(g, pm, qm, ctx) ||
		    !BN_mul(l, pm, qm, ctx) || !BN_div(l, NULL, l, g, ctx))
			abort();
		if (BN_mod_inverse(d, e, l, ctx) == NULL ||
		    BN_mod_inverse(qi, q, p, ctx) == NULL) {
			ERR_clear_error();
			continue;
		}
		if (!BN_mod(dp, d, pm, ctx) || !BN_mod(dq, d, qm, ctx))
			abort();
		made = 1;
	}
	TAP_OK(made, "a 2048-bit modulus with a composite p (%d tries)",
	    tries);
	if (!made)
		goto out;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	    qi) || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_KEYPAIR, params) != 1 ||
	    msblob_from_pkey(key, &blob, &len, &err) != 0) {
		TAP_OK(0, "the composite-p key as a BLOB: %s", err.msg);
		goto out;
	}
	TAP_OK(parse_fails(blob, len, "private key is inconsistent"),
	    "RSA-2048 with a composite p, every relation holding: refused "
	    "by the round trip");
 out:
	if (blob != NULL)
		OPENSSL_clear_free(blob, len);
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_CTX_free(ctx);
	BN_free(p1);
	BN_free(p2);
	BN_free(p);
	BN_free(q);
	BN_free(n);
	BN_free(e);
	BN_clear_free(d);
	BN_free(l);
	BN_free(pm);
	BN_free(qm);
	BN_free(g);
	BN_clear_free(dp);
	BN_clear_free(dq);
	BN_clear_free(qi);
}

int
main(void)
{
	test_rsa_roundtrip(2048);
	test_rsa_roundtrip(3072);
	test_rsa_errors();
	test_ec_roundtrip("P-256", 32, "ECK2");
	test_ec_roundtrip("P-384", 48, "ECK4");
	test_ec_errors();
	test_unsupported();
	test_of_request();
	test_rsa_crafted();
	test_rsa_no_crt();
	test_rsa_composite();
	test_ec_crafted();
	return tap_done();
}
