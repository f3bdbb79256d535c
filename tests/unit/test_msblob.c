/* Unit tests for Microsoft private key BLOBs (archive/msblob.c). */
#include "ac-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

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
 * want, and no pairwise check ran for it.
 */
static int
of_fails(const unsigned char *b, size_t len, const EVP_PKEY *pub,
    const char *want, const char *what)
{
	struct ca_err err;
	EVP_PKEY *k = NULL;
	uint64_t before = msblob_pair_checks();
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
	TAP_INT_EQ(msblob_pair_checks(), before, "%s: no pairwise check",
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
	before = msblob_pair_checks();
	r = msblob_to_pkey_of(blob, len, a, &k, &err);
	TAP_OK(r == 0 && k != NULL && EVP_PKEY_eq(k, a) == 1,
	    "the request's own RSA key is taken: %s", err.msg);
	TAP_INT_EQ(msblob_pair_checks(), before + 1,
	    "... after one pairwise check");
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
	before = msblob_pair_checks();
	r = msblob_to_pkey_of(eblob, elen, ec, &k, &err);
	TAP_OK(r == 0 && k != NULL && EVP_PKEY_eq(k, ec) == 1,
	    "the request's own P-256 key is taken: %s", err.msg);
	TAP_INT_EQ(msblob_pair_checks(), before + 1,
	    "... after one pairwise check");
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
	return tap_done();
}
