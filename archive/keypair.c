/* Does an archived private key work for its public key? Cheaply, exactly. */
#include "ac-config.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "archive/keypair.h"

#define EC_MAX_POINT	(1 + 2 * 66)	/* uncompressed P-521 */

/* RSA values in the order they are fetched; from D on they are secret. */
enum { RSA_N, RSA_E, RSA_D, RSA_P, RSA_Q, RSA_DP, RSA_DQ, RSA_QINV,
	RSA_NVALS };
static const char *const rsa_params[RSA_NVALS] = {
	OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
	OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
	OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
	OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
};

static _Atomic uint64_t pair_checks;

static int has_param(const EVP_PKEY *, const char *);
static int rsa_roundtrip_ok(BIGNUM **, BN_CTX *);
static int rsa_crt_roundtrip_ok(BIGNUM **, BN_CTX *);
static int rsa_ok(const EVP_PKEY *);
static int ec_ok(const EVP_PKEY *);
static int pairwise_ok(const EVP_PKEY *);

static int
has_param(const EVP_PKEY *key, const char *name)
{
	BIGNUM *bn = NULL;
	int ok;

	ok = EVP_PKEY_get_bn_param(key, name, &bn) == 1;
	BN_clear_free(bn);
	return ok;
}

/*
 * Without the factors: (m^d)^e = m mod n for one random m (a fixed m
 * could be planned for).
 */
static int
rsa_roundtrip_ok(BIGNUM **v, BN_CTX *ctx)
{
	BIGNUM *m, *s, *back;
	int ok = 0;

	BN_CTX_start(ctx);
	m = BN_CTX_get(ctx);
	s = BN_CTX_get(ctx);
	if ((back = BN_CTX_get(ctx)) == NULL ||
	    !BN_priv_rand_range(m, v[RSA_N]) ||
	    BN_cmp(v[RSA_D], v[RSA_N]) >= 0 || BN_is_zero(v[RSA_D]) ||
	    !BN_mod_exp_mont_consttime(s, m, v[RSA_D], v[RSA_N], ctx, NULL) ||
	    !BN_mod_exp(back, s, v[RSA_E], v[RSA_N], ctx))
		goto out;
	ok = BN_cmp(back, m) == 0;
 out:
	BN_CTX_end(ctx);
	return ok;
}

/*
 * With them: the signature a CRT decryptor makes of a random m (m^dP mod
 * p, m^dQ mod q, joined with qInv) gives m back under e. The relations
 * checked before hold for any p and q; this proves the key as stored
 * works, whatever p and q are.
 */
static int
rsa_crt_roundtrip_ok(BIGNUM **v, BN_CTX *ctx)
{
	BIGNUM *m, *mp, *mq, *h, *back;
	int ok = 0;

	BN_CTX_start(ctx);
	m = BN_CTX_get(ctx);
	mp = BN_CTX_get(ctx);
	mq = BN_CTX_get(ctx);
	h = BN_CTX_get(ctx);
	if ((back = BN_CTX_get(ctx)) == NULL ||
	    !BN_priv_rand_range(m, v[RSA_N]) ||
	    !BN_mod_exp_mont_consttime(mp, m, v[RSA_DP], v[RSA_P], ctx, NULL) ||
	    !BN_mod_exp_mont_consttime(mq, m, v[RSA_DQ], v[RSA_Q], ctx, NULL) ||
	    !BN_mod_sub(h, mp, mq, v[RSA_P], ctx) ||
	    !BN_mod_mul(h, h, v[RSA_QINV], v[RSA_P], ctx) ||
	    !BN_mul(h, h, v[RSA_Q], ctx) || !BN_add(h, h, mq) ||
	    !BN_mod_exp(back, h, v[RSA_E], v[RSA_N], ctx))
		goto out;
	ok = BN_cmp(back, m) == 0;
 out:
	BN_CTX_end(ctx);
	return ok;
}

static int
rsa_ok(const EVP_PKEY *key)
{
	BIGNUM *v[RSA_NVALS] = { NULL };
	BIGNUM *p1, *q1, *g, *lambda, *t;
	BN_CTX *ctx = NULL;
	size_t i, have;
	int ok = 0;

	for (i = 0, have = 0; i < RSA_NVALS; i++)
		if (EVP_PKEY_get_bn_param(key, rsa_params[i], &v[i]) == 1)
			have++;
	if ((ctx = BN_CTX_secure_new()) == NULL || v[RSA_N] == NULL ||
	    v[RSA_E] == NULL || v[RSA_D] == NULL)
		goto out;
	for (i = RSA_D; i < RSA_NVALS; i++)
		if (v[i] != NULL)
			BN_set_flags(v[i], BN_FLG_CONSTTIME);
	if (have == RSA_D + 1 && v[RSA_P] == NULL) {
		ok = rsa_roundtrip_ok(v, ctx);
		goto out;
	}
	if (have != RSA_NVALS)
		goto out;	/* some CRT values but not all */

	BN_CTX_start(ctx);
	p1 = BN_CTX_get(ctx);
	q1 = BN_CTX_get(ctx);
	g = BN_CTX_get(ctx);
	lambda = BN_CTX_get(ctx);
	if ((t = BN_CTX_get(ctx)) == NULL)
		goto end;
	/* n = p*q, both factors above 1. */
	if (BN_cmp(v[RSA_P], BN_value_one()) <= 0 ||
	    BN_cmp(v[RSA_Q], BN_value_one()) <= 0 ||
	    !BN_mul(t, v[RSA_P], v[RSA_Q], ctx) || BN_cmp(t, v[RSA_N]) != 0)
		goto end;
	/* d*e = 1 mod lambda(n), lambda = (p-1)(q-1) / gcd(p-1, q-1). */
	if (!BN_sub(p1, v[RSA_P], BN_value_one()) ||
	    !BN_sub(q1, v[RSA_Q], BN_value_one()) ||
	    !BN_gcd(g, p1, q1, ctx) ||
	    !BN_mul(t, p1, q1, ctx) ||
	    !BN_div(lambda, NULL, t, g, ctx) ||
	    BN_is_zero(v[RSA_D]) || BN_cmp(v[RSA_D], v[RSA_N]) >= 0 ||
	    !BN_mod_mul(t, v[RSA_D], v[RSA_E], lambda, ctx) || !BN_is_one(t))
		goto end;
	/* The CRT values decryption uses: dP, dQ, qInv as PKCS #1 has them. */
	if (!BN_mod(t, v[RSA_D], p1, ctx) || BN_cmp(t, v[RSA_DP]) != 0 ||
	    !BN_mod(t, v[RSA_D], q1, ctx) || BN_cmp(t, v[RSA_DQ]) != 0 ||
	    BN_is_zero(v[RSA_QINV]) || BN_cmp(v[RSA_QINV], v[RSA_P]) >= 0 ||
	    !BN_mod_mul(t, v[RSA_QINV], v[RSA_Q], v[RSA_P], ctx) ||
	    !BN_is_one(t))
		goto end;
	ok = rsa_crt_roundtrip_ok(v, ctx);
 end:
	BN_CTX_end(ctx);
 out:
	BN_CTX_free(ctx);
	for (i = 0; i < RSA_NVALS; i++)
		BN_clear_free(v[i]);
	return ok;
}

static int
ec_ok(const EVP_PKEY *key)
{
	unsigned char pub[EC_MAX_POINT];
	char name[80];
	EC_GROUP *group = NULL;
	EC_POINT *q = NULL, *dg = NULL;
	BIGNUM *d = NULL;
	BN_CTX *ctx = NULL;
	size_t publen = 0;
	int nid, ok = 0;

	if (EVP_PKEY_get_group_name(key, name, sizeof(name), NULL) != 1)
		goto out;
	if ((nid = OBJ_sn2nid(name)) == NID_undef)
		nid = EC_curve_nist2nid(name);
	if (nid == NID_undef ||
	    (group = EC_GROUP_new_by_curve_name(nid)) == NULL ||
	    (ctx = BN_CTX_secure_new()) == NULL ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 ||
	    EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY,
	    pub, sizeof(pub), &publen) != 1)
		goto out;
	BN_set_flags(d, BN_FLG_CONSTTIME);
	if (BN_is_zero(d) || BN_is_negative(d) ||
	    BN_cmp(d, EC_GROUP_get0_order(group)) >= 0 ||
	    (q = EC_POINT_new(group)) == NULL ||
	    (dg = EC_POINT_new(group)) == NULL ||
	    !EC_POINT_oct2point(group, q, pub, publen, ctx) ||
	    !EC_POINT_mul(group, dg, d, NULL, NULL, ctx))
		goto out;
	ok = EC_POINT_cmp(group, dg, q, ctx) == 0;
 out:
	EC_POINT_free(q);
	EC_POINT_clear_free(dg);
	BN_clear_free(d);
	BN_CTX_free(ctx);
	EC_GROUP_free(group);
	return ok;
}

static int
pairwise_ok(const EVP_PKEY *key)
{
	EVP_PKEY_CTX *ctx;
	int ok;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, (EVP_PKEY *)key,
	    NULL)) == NULL)
		return 0;
	ok = EVP_PKEY_pairwise_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

int
kp_pair_ok(const EVP_PKEY *key)
{
	int ok;

	if (key == NULL)
		return 0;
	atomic_fetch_add_explicit(&pair_checks, 1, memory_order_relaxed);
	ERR_set_mark();
	if ((EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS")) &&
	    !has_param(key, OSSL_PKEY_PARAM_RSA_FACTOR3))
		ok = rsa_ok(key);
	else if (EVP_PKEY_is_a(key, "EC"))
		ok = ec_ok(key);
	else
		ok = pairwise_ok(key);
	ERR_pop_to_mark();
	return ok;
}

uint64_t
kp_pair_checks(void)
{
	return atomic_load_explicit(&pair_checks, memory_order_relaxed);
}
