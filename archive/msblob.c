/* Microsoft private key BLOBs ([MS-WCCE] 2.2.2.9) <-> EVP_PKEY. */
#include "ac-config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "archive/keypair.h"
#include "archive/msblob.h"
#include "ca/err.h"

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* CryptoAPI PRIVATEKEYBLOB ([MS-WCCE] 2.2.2.9.1, wincrypt.h). */
#define PUBLICKEYBLOB		0x06
#define PRIVATEKEYBLOB		0x07
#define CUR_BLOB_VERSION	0x02
#define CALG_RSA_SIGN		0x00002400
#define CALG_RSA_KEYX		0x0000a400
#define RSA1_MAGIC		0x31415352	/* "RSA1", public */
#define RSA2_MAGIC		0x32415352	/* "RSA2", private */
#define RSA_HDR_LEN		20	/* PUBLICKEYSTRUC + RSAPUBKEY */
#define RSA_MIN_BITS		1024
#define RSA_MAX_BITS		16384

/* CNG BCRYPT_ECCKEY_BLOB ([MS-WCCE] 2.2.2.9.3, bcrypt.h). */
#define ECC_HDR_LEN		8	/* dwMagic, cbKey */
#define ECC_MAX_KEY		66	/* P-521 */

/*
 * The fields after RSAPUBKEY in the order they are stored, each
 * little-endian; full ones are bitlen/8 bytes long, the others bitlen/16.
 */
static const struct rsa_field {
	const char	*param;
	const char	*name;
	int		 full;
} rsa_fields[] = {
	{ OSSL_PKEY_PARAM_RSA_N,		"modulus",		1 },
	{ OSSL_PKEY_PARAM_RSA_FACTOR1,		"prime1",		0 },
	{ OSSL_PKEY_PARAM_RSA_FACTOR2,		"prime2",		0 },
	{ OSSL_PKEY_PARAM_RSA_EXPONENT1,	"exponent1",		0 },
	{ OSSL_PKEY_PARAM_RSA_EXPONENT2,	"exponent2",		0 },
	{ OSSL_PKEY_PARAM_RSA_COEFFICIENT1,	"coefficient",		0 },
	{ OSSL_PKEY_PARAM_RSA_D,		"privateExponent",	1 },
};
#define RSA_NFIELDS	nitems(rsa_fields)

/* dwMagic values: "ECK" is ECDH, "ECS" ECDSA; odd digits public. */
static const struct ecc_kind {
	uint32_t	 magic;
	const char	*tag;
	const char	*curve;
	int		 nid;
	size_t		 cb;
	int		 priv;
	int		 ecdh;
} ecc_kinds[] = {
	{ 0x314b4345, "ECK1", "P-256", NID_X9_62_prime256v1, 32, 0, 1 },
	{ 0x324b4345, "ECK2", "P-256", NID_X9_62_prime256v1, 32, 1, 1 },
	{ 0x334b4345, "ECK3", "P-384", NID_secp384r1, 48, 0, 1 },
	{ 0x344b4345, "ECK4", "P-384", NID_secp384r1, 48, 1, 1 },
	{ 0x354b4345, "ECK5", "P-521", NID_secp521r1, 66, 0, 1 },
	{ 0x364b4345, "ECK6", "P-521", NID_secp521r1, 66, 1, 1 },
	{ 0x31534345, "ECS1", "P-256", NID_X9_62_prime256v1, 32, 0, 0 },
	{ 0x32534345, "ECS2", "P-256", NID_X9_62_prime256v1, 32, 1, 0 },
	{ 0x33534345, "ECS3", "P-384", NID_secp384r1, 48, 0, 0 },
	{ 0x34534345, "ECS4", "P-384", NID_secp384r1, 48, 1, 0 },
	{ 0x35534345, "ECS5", "P-521", NID_secp521r1, 66, 0, 0 },
	{ 0x36534345, "ECS6", "P-521", NID_secp521r1, 66, 1, 0 },
};

static uint32_t get_le32(const unsigned char *);
static void put_le32(unsigned char *, uint32_t);
static int pkey_from_params(const char *, OSSL_PARAM_BLD *, EVP_PKEY **);
static int rsa_to_pkey(const unsigned char *, size_t, const EVP_PKEY *,
    EVP_PKEY **, struct ca_err *);
static int ecc_build(const struct ecc_kind *, const unsigned char *, int,
    const EVP_PKEY *, EVP_PKEY **);
static int ecc_to_pkey(const unsigned char *, size_t, const EVP_PKEY *,
    EVP_PKEY **, struct ca_err *);
static int rsa_from_pkey(EVP_PKEY *, unsigned char **, size_t *,
    struct ca_err *);
static int ecc_from_pkey(EVP_PKEY *, unsigned char **, size_t *,
    struct ca_err *);

static uint32_t
get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

/* Returns 1 with *pkeyp set, or 0 with OpenSSL's reason queued. */
static int
pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **pkeyp)
{
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM *params = NULL;
	int ok = 0;

	*pkeyp = NULL;
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, pkeyp, EVP_PKEY_KEYPAIR, params) != 1)
		goto out;
	ok = 1;
 out:
	EVP_PKEY_CTX_free(ctx);
	/* Frees (and wipes) the secure half that holds the private values. */
	OSSL_PARAM_free(params);
	return ok;
}

static int
rsa_to_pkey(const unsigned char *buf, size_t len, const EVP_PKEY *pub,
    EVP_PKEY **keyp, struct ca_err *err)
{
	BIGNUM *bn[RSA_NFIELDS] = { NULL }, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	uint32_t alg, magic, bitlen, pubexp;
	size_t i, need, off, size;
	int r = CA_ERR_INVALID;

	if (len < RSA_HDR_LEN) {
		ca_err_set(err, r, "key BLOB: %zu bytes is too short for the "
		    "PUBLICKEYSTRUC and RSAPUBKEY headers (%d bytes)", len,
		    RSA_HDR_LEN);
		goto out;
	}
	if (buf[0] != PRIVATEKEYBLOB) {
		ca_err_set(err, r, "key BLOB: type 0x%02x is not "
		    "PRIVATEKEYBLOB (0x07)%s", buf[0], buf[0] == PUBLICKEYBLOB ?
		    ": a PUBLICKEYBLOB holds no private key" : "");
		goto out;
	}
	if (buf[1] != CUR_BLOB_VERSION) {
		ca_err_set(err, r, "key BLOB: version %u is not 2", buf[1]);
		goto out;
	}
	if (buf[2] != 0 || buf[3] != 0) {
		ca_err_set(err, r, "key BLOB: reserved field is 0x%02x%02x, "
		    "not 0", buf[3], buf[2]);
		goto out;
	}
	alg = get_le32(buf + 4);
	magic = get_le32(buf + 8);
	bitlen = get_le32(buf + 12);
	pubexp = get_le32(buf + 16);
	if (alg != CALG_RSA_KEYX && alg != CALG_RSA_SIGN) {
		ca_err_set(err, r, "key BLOB: algorithm 0x%08x is neither "
		    "CALG_RSA_KEYX (0x0000a400) nor CALG_RSA_SIGN (0x00002400)",
		    alg);
		goto out;
	}
	if (magic != RSA2_MAGIC) {
		ca_err_set(err, r, "key BLOB: magic 0x%08x is not \"RSA2\" "
		    "(0x32415352)%s", magic, magic == RSA1_MAGIC ?
		    ": \"RSA1\" marks a public key" : "");
		goto out;
	}
	if (bitlen % 16 != 0) {
		ca_err_set(err, r, "key BLOB: bitlen %u is not a multiple of "
		    "16", bitlen);
		goto out;
	}
	if (bitlen < RSA_MIN_BITS || bitlen > RSA_MAX_BITS) {
		ca_err_set(err, r, "key BLOB: bitlen %u is outside %d..%d",
		    bitlen, RSA_MIN_BITS, RSA_MAX_BITS);
		goto out;
	}
	/* Another key than the request's gets no private-key work at all. */
	if (pub != NULL && (!EVP_PKEY_is_a(pub, "RSA") ||
	    EVP_PKEY_get_bits(pub) != (int)bitlen)) {
		ca_err_set(err, r, "key BLOB: the archived key is a %u-bit RSA "
		    "key, but the request's public key is %s of %d bits: it "
		    "does not belong to the request", bitlen,
		    EVP_PKEY_get0_type_name(pub) != NULL ?
		    EVP_PKEY_get0_type_name(pub) : "?", EVP_PKEY_get_bits(pub));
		goto out;
	}
	if (pubexp < 3 || pubexp % 2 == 0) {
		ca_err_set(err, r, "key BLOB: public exponent %u is not an odd "
		    "number of at least 3", pubexp);
		goto out;
	}
	need = RSA_HDR_LEN;
	for (i = 0; i < RSA_NFIELDS; i++)
		need += rsa_fields[i].full ? bitlen / 8 : bitlen / 16;
	if (len < need) {
		ca_err_set(err, r, "key BLOB: %zu bytes too short for a "
		    "%u-bit RSA key", need - len, bitlen);
		goto out;
	}
	if (len > need) {
		ca_err_set(err, r, "key BLOB: %zu bytes of trailing data after "
		    "a %u-bit RSA key", len - need, bitlen);
		goto out;
	}

	r = CA_ERR_CRYPTO;
	if ((e = BN_new()) == NULL || !BN_set_word(e, pubexp) ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		goto fail;
	for (i = 0, off = RSA_HDR_LEN; i < RSA_NFIELDS; i++, off += size) {
		size = rsa_fields[i].full ? bitlen / 8 : bitlen / 16;
		/* Secure BIGNUMs land in the wiped half of the params. */
		bn[i] = i == 0 ? BN_new() : BN_secure_new();
		if (bn[i] == NULL ||
		    BN_lebin2bn(buf + off, (int)size, bn[i]) == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, rsa_fields[i].param, bn[i]))
			goto fail;
	}
	if (BN_num_bits(bn[0]) != (int)bitlen) {
		r = ca_err_set(err, CA_ERR_INVALID, "key BLOB: the modulus has "
		    "%d bits, but bitlen says %u", BN_num_bits(bn[0]), bitlen);
		goto out;
	}
	if (!pkey_from_params("RSA", bld, &pkey)) {
		/* The values are the client's: OpenSSL refused them. */
		r = ca_err_ssl(err, CA_ERR_INVALID, "key BLOB: the %u-bit RSA "
		    "values do not form a key", bitlen);
		goto out;
	}
	if (pub != NULL && EVP_PKEY_eq(pkey, pub) != 1) {
		ERR_clear_error();
		r = ca_err_set(err, CA_ERR_INVALID, "key BLOB: the archived "
		    "%u-bit RSA key does not belong to the request's public "
		    "key (modulus or exponent differ)", bitlen);
		goto out;
	}
	if (!kp_pair_ok(pkey)) {
		r = ca_err_set(err, CA_ERR_INVALID, "key BLOB: the %u-bit RSA "
		    "private key is inconsistent (modulus, primes and "
		    "exponents do not belong together)", bitlen);
		goto out;
	}
	*keyp = pkey;
	pkey = NULL;
	r = 0;
	goto out;
 fail:
	ca_err_ssl(err, r, "key BLOB: cannot build the RSA key");
 out:
	for (i = 0; i < RSA_NFIELDS; i++)
		BN_clear_free(bn[i]);
	BN_free(e);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_free(pkey);
	return r;
}

/*
 * Builds and checks a key from X, Y, d (kind->cb bytes each, at p), read
 * big-endian (be) or little-endian. Returns 1, or 0 with nothing queued.
 */
static int
ecc_build(const struct ecc_kind *kind, const unsigned char *p, int be,
    const EVP_PKEY *want, EVP_PKEY **pkeyp)
{
	unsigned char pub[1 + 2 * ECC_MAX_KEY];
	const unsigned char *d = p + 2 * kind->cb;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *priv = NULL;
	size_t i;
	int ok = 0;

	*pkeyp = NULL;
	ERR_set_mark();
	pub[0] = POINT_CONVERSION_UNCOMPRESSED;
	for (i = 0; i < 2 * kind->cb; i++) {
		/* X and Y are reversed one by one, not as a whole. */
		if (be)
			pub[1 + i] = p[i];
		else
			pub[1 + i] = p[(i / kind->cb) * kind->cb +
			    kind->cb - 1 - i % kind->cb];
	}
	if ((priv = BN_secure_new()) == NULL ||
	    (be ? BN_bin2bn(d, (int)kind->cb, priv) :
	    BN_lebin2bn(d, (int)kind->cb, priv)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    OBJ_nid2sn(kind->nid), 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    pub, 1 + 2 * kind->cb) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) ||
	    !pkey_from_params("EC", bld, &pkey) ||
	    (want != NULL && EVP_PKEY_eq(pkey, want) != 1) ||
	    !kp_pair_ok(pkey))
		goto out;
	*pkeyp = pkey;
	pkey = NULL;
	ok = 1;
 out:
	ERR_pop_to_mark();
	BN_clear_free(priv);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_free(pkey);
	return ok;
}

static int
ecc_to_pkey(const unsigned char *buf, size_t len, const EVP_PKEY *pub,
    EVP_PKEY **keyp, struct ca_err *err)
{
	const struct ecc_kind *kind = NULL;
	uint32_t magic, cb;
	size_t i, need;

	magic = get_le32(buf);
	cb = get_le32(buf + 4);
	for (i = 0; i < nitems(ecc_kinds); i++)
		if (ecc_kinds[i].magic == magic)
			kind = &ecc_kinds[i];
	if (kind == NULL)
		return ca_err_set(err, CA_ERR_INVALID, "key BLOB: magic "
		    "0x%08x is neither a PRIVATEKEYBLOB (\"RSA2\") nor an EC "
		    "private key BLOB (\"ECK2\", \"ECK4\", \"ECS2\", \"ECS4\")",
		    magic);
	if (!kind->priv)
		return ca_err_set(err, CA_ERR_INVALID, "key BLOB: magic "
		    "\"%s\" marks a %s public key; the private one is \"%c%c%c"
		    "%c\"", kind->tag, kind->curve, kind->tag[0], kind->tag[1],
		    kind->tag[2], kind->tag[3] + 1);
	if (kind->nid != NID_X9_62_prime256v1 && kind->nid != NID_secp384r1)
		return ca_err_set(err, CA_ERR_INVALID, "key BLOB: %s keys "
		    "(\"%s\") are not supported; use P-256 or P-384",
		    kind->curve, kind->tag);
	if (cb != kind->cb)
		return ca_err_set(err, CA_ERR_INVALID, "key BLOB: key length "
		    "%u does not match \"%s\" (%s: %zu bytes)", cb, kind->tag,
		    kind->curve, kind->cb);
	need = ECC_HDR_LEN + 3 * kind->cb;
	if (len < need)
		return ca_err_set(err, CA_ERR_INVALID, "key BLOB: %zu bytes "
		    "too short for a %s key", need - len, kind->curve);
	if (len > need)
		return ca_err_set(err, CA_ERR_INVALID, "key BLOB: %zu bytes of "
		    "trailing data after a %s key", len - need, kind->curve);
	/*
	 * CNG writes X, Y and d big-endian; [MS-WCCE] 2.2.2.9.3 calls them
	 * little-endian. Only one reading can give d*G = (X, Y).
	 */
	if (ecc_build(kind, buf + ECC_HDR_LEN, 1, pub, keyp) ||
	    ecc_build(kind, buf + ECC_HDR_LEN, 0, pub, keyp))
		return 0;
	return ca_err_set(err, CA_ERR_INVALID, "key BLOB: X, Y and d do not "
	    "form a valid %s key pair%s (read big-endian or little-endian)",
	    kind->curve, pub != NULL ? " of the request's public key" : "");
}

int
msblob_to_pkey(const unsigned char *buf, size_t len, EVP_PKEY **keyp,
    struct ca_err *err)
{
	return msblob_to_pkey_of(buf, len, NULL, keyp, err);
}

int
msblob_to_pkey_of(const unsigned char *buf, size_t len, const EVP_PKEY *pub,
    EVP_PKEY **keyp, struct ca_err *err)
{
	if (keyp == NULL)
		return ca_err_set(err, CA_ERR_INTERNAL, "key BLOB: no output");
	*keyp = NULL;
	if (buf == NULL || len < ECC_HDR_LEN)
		return ca_err_set(err, CA_ERR_INVALID, "key BLOB: %zu bytes is "
		    "too short for a key BLOB header", buf == NULL ? 0 : len);
	/* A PUBLICKEYSTRUC starts with bType; a CNG magic with 'E'. */
	if (buf[0] == PRIVATEKEYBLOB || buf[0] == PUBLICKEYBLOB)
		return rsa_to_pkey(buf, len, pub, keyp, err);
	if (pub != NULL && !EVP_PKEY_is_a(pub, "EC"))
		return ca_err_set(err, CA_ERR_INVALID, "key BLOB: an EC key, "
		    "but the request's public key is %s: it does not belong "
		    "to the request", EVP_PKEY_get0_type_name(pub) != NULL ?
		    EVP_PKEY_get0_type_name(pub) : "?");
	return ecc_to_pkey(buf, len, pub, keyp, err);
}

static int
rsa_from_pkey(EVP_PKEY *key, unsigned char **bufp, size_t *lenp,
    struct ca_err *err)
{
	BIGNUM *bn[RSA_NFIELDS] = { NULL }, *e = NULL, *f3 = NULL;
	unsigned char *buf = NULL;
	size_t i, need = 0, off, size, full, half;
	int bits, multi, r = CA_ERR_INVALID;

	bits = EVP_PKEY_get_bits(key);
	if (bits % 16 != 0 || bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
		ca_err_set(err, r, "key BLOB: a %d-bit RSA key cannot be "
		    "written (bitlen must be a multiple of 16 in %d..%d)",
		    bits, RSA_MIN_BITS, RSA_MAX_BITS);
		goto out;
	}
	full = (size_t)bits / 8;
	half = (size_t)bits / 16;
	ERR_set_mark();
	multi = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR3,
	    &f3) == 1;
	ERR_pop_to_mark();
	if (multi) {
		ca_err_set(err, r, "key BLOB: a multi-prime RSA key cannot be "
		    "written as a PRIVATEKEYBLOB");
		goto out;
	}
	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1 ||
	    BN_num_bits(e) > 32) {
		ca_err_ssl(err, r, "key BLOB: the RSA public exponent does not "
		    "fit in 32 bits");
		goto out;
	}
	for (i = 0; i < RSA_NFIELDS; i++) {
		if (EVP_PKEY_get_bn_param(key, rsa_fields[i].param,
		    &bn[i]) != 1) {
			ca_err_ssl(err, r, "key BLOB: the RSA key has no %s "
			    "(a private key with its CRT values is needed)",
			    rsa_fields[i].name);
			goto out;
		}
		need += rsa_fields[i].full ? full : half;
	}
	need += RSA_HDR_LEN;
	if ((buf = OPENSSL_zalloc(need)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "key BLOB: out of memory");
		goto out;
	}
	buf[0] = PRIVATEKEYBLOB;
	buf[1] = CUR_BLOB_VERSION;
	put_le32(buf + 4, CALG_RSA_KEYX);
	put_le32(buf + 8, RSA2_MAGIC);
	put_le32(buf + 12, (uint32_t)bits);
	put_le32(buf + 16, (uint32_t)BN_get_word(e));
	for (i = 0, off = RSA_HDR_LEN; i < RSA_NFIELDS; i++, off += size) {
		size = rsa_fields[i].full ? full : half;
		if (BN_bn2lebinpad(bn[i], buf + off, (int)size) < 0) {
			ca_err_set(err, r, "key BLOB: the RSA %s does not fit "
			    "in %zu bytes", rsa_fields[i].name, size);
			goto out;
		}
	}
	*bufp = buf;
	*lenp = need;
	buf = NULL;
	r = 0;
 out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, need);
	for (i = 0; i < RSA_NFIELDS; i++)
		BN_clear_free(bn[i]);
	BN_clear_free(f3);
	BN_free(e);
	return r;
}

static int
ecc_from_pkey(EVP_PKEY *key, unsigned char **bufp, size_t *lenp,
    struct ca_err *err)
{
	const struct ecc_kind *kind = NULL;
	char group[80];
	BIGNUM *x = NULL, *y = NULL, *d = NULL;
	unsigned char *buf = NULL;
	size_t i, need = 0;
	int nid, r = CA_ERR_INVALID;

	if (EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) != 1) {
		ca_err_ssl(err, r, "key BLOB: the EC key has no named curve");
		goto out;
	}
	if ((nid = OBJ_sn2nid(group)) == NID_undef)
		nid = EC_curve_nist2nid(group);
	for (i = 0; i < nitems(ecc_kinds); i++)
		if (ecc_kinds[i].nid == nid && ecc_kinds[i].priv &&
		    ecc_kinds[i].ecdh)
			kind = &ecc_kinds[i];
	if (kind == NULL || (nid != NID_X9_62_prime256v1 &&
	    nid != NID_secp384r1)) {
		ca_err_set(err, r, "key BLOB: EC curve %s cannot be written "
		    "(P-256 or P-384 only)", group);
		goto out;
	}
	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1) {
		ca_err_ssl(err, r, "key BLOB: the %s key lacks its public "
		    "point or private value", kind->curve);
		goto out;
	}
	need = ECC_HDR_LEN + 3 * kind->cb;
	if ((buf = OPENSSL_zalloc(need)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "key BLOB: out of memory");
		goto out;
	}
	put_le32(buf, kind->magic);
	put_le32(buf + 4, (uint32_t)kind->cb);
	/* Big-endian, as BCryptExportKey writes BCRYPT_ECCPRIVATE_BLOB. */
	if (BN_bn2binpad(x, buf + ECC_HDR_LEN, (int)kind->cb) < 0 ||
	    BN_bn2binpad(y, buf + ECC_HDR_LEN + kind->cb,
	    (int)kind->cb) < 0 ||
	    BN_bn2binpad(d, buf + ECC_HDR_LEN + 2 * kind->cb,
	    (int)kind->cb) < 0) {
		ca_err_set(err, r, "key BLOB: a %s value does not fit in %zu "
		    "bytes", kind->curve, kind->cb);
		goto out;
	}
	*bufp = buf;
	*lenp = need;
	buf = NULL;
	r = 0;
 out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, need);
	BN_free(x);
	BN_free(y);
	BN_clear_free(d);
	return r;
}

int
msblob_from_pkey(EVP_PKEY *key, unsigned char **bufp, size_t *lenp,
    struct ca_err *err)
{
	if (bufp == NULL || lenp == NULL)
		return ca_err_set(err, CA_ERR_INTERNAL, "key BLOB: no output");
	*bufp = NULL;
	*lenp = 0;
	if (key == NULL)
		return ca_err_set(err, CA_ERR_INVALID, "key BLOB: no key");
	if (EVP_PKEY_is_a(key, "RSA"))
		return rsa_from_pkey(key, bufp, lenp, err);
	if (EVP_PKEY_is_a(key, "EC"))
		return ecc_from_pkey(key, bufp, lenp, err);
	return ca_err_set(err, CA_ERR_INVALID, "key BLOB: a %s key cannot be "
	    "written (RSA or EC P-256/P-384 only)",
	    EVP_PKEY_get0_type_name(key) != NULL ?
	    EVP_PKEY_get0_type_name(key) : "non-RSA, non-EC");
}
