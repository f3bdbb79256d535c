/*
 * Intune imported PKCS certificates (PROTOCOLS.md section 4). Export: one
 * Graph userPFXCertificate per escrowed certificate, its PFX password
 * encrypted with RSA-OAEP to the customer's import key. Lab stand-ins: the
 * PFX connector (import key -> device key, CMS EnvelopedData) and the
 * device (opens the password, then the PFX).
 */
#include "ac-config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "archive/intune.h"
#include "archive/mdm.h"
#include "archive/p12.h"
#include "ca/err.h"
#include "ca/util.h"

#define IMPORT_KEY_MAX	(64 * 1024)
#define PFX_MAX		(1024 * 1024)
#define CIPHER_MAX	2048		/* RSA of up to 16384 bits */
#define ENVELOPE_MAX	(64 * 1024)
#define PASSWORD_LEN	32
#define PASSWORD_MIN	16
#define CNG_RSA1	0x31415352	/* "RSA1", BCRYPT_RSAPUBLIC_MAGIC */
#define ODATA_TYPE	"#microsoft.graph.userPFXCertificate"

static const EVP_MD *padding_md(enum intune_padding);
static int cng_rsa_public(const unsigned char *, size_t, EVP_PKEY **);
static uint32_t le32(const unsigned char *);
static int oaep(EVP_PKEY *, enum intune_padding, int, const unsigned char *,
    size_t, unsigned char **, size_t *, struct ca_err *);
static int connector_one(json_t *, size_t, EVP_PKEY *, X509 *, const char *,
    json_t *, struct ca_err *);
static int parse_objects(const char *, size_t, json_t **, struct ca_err *);
static int blank(const char *, const char *);
static const char *obj_str(const json_t *, const char *, size_t,
    struct ca_err *);

static const struct {
	const char *name;
	enum intune_padding p;
} paddings[] = {
	{ "oaepSha256", INTUNE_OAEP_SHA256 },
	{ "oaepSha384", INTUNE_OAEP_SHA384 },
	{ "oaepSha512", INTUNE_OAEP_SHA512 },
};

int
intune_padding_parse(const char *name, enum intune_padding *pp)
{
	size_t i;

	for (i = 0; i < sizeof(paddings) / sizeof(paddings[0]); i++)
		if (strcmp(name, paddings[i].name) == 0) {
			*pp = paddings[i].p;
			return 0;
		}
	return -1;
}

const char *
intune_padding_name(enum intune_padding p)
{
	size_t i;

	for (i = 0; i < sizeof(paddings) / sizeof(paddings[0]); i++)
		if (paddings[i].p == p)
			return paddings[i].name;
	return "?";
}

static const EVP_MD *
padding_md(enum intune_padding p)
{
	switch (p) {
	case INTUNE_OAEP_SHA256:
		return EVP_sha256();
	case INTUNE_OAEP_SHA384:
		return EVP_sha384();
	default:
		return EVP_sha512();
	}
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/*
 * BCRYPT_RSAKEY_BLOB: Magic, BitLength, cbPublicExp, cbModulus, cbPrime1,
 * cbPrime2 (little-endian), then the exponent and modulus, big-endian.
 * 1: not such a blob.
 */
static int
cng_rsa_public(const unsigned char *buf, size_t len, EVP_PKEY **keyp)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *n = NULL, *e = NULL;
	uint32_t cbexp, cbmod;
	int r = 1;

	*keyp = NULL;
	if (len < 24 || le32(buf) != CNG_RSA1)
		return 1;
	cbexp = le32(buf + 8);
	cbmod = le32(buf + 12);
	if (cbexp == 0 || cbexp > 8 || cbmod == 0 || cbmod > 2048 ||
	    le32(buf + 16) != 0 || le32(buf + 20) != 0 ||
	    len != 24 + (size_t)cbexp + cbmod)
		return 1;
	if ((e = BN_bin2bn(buf + 24, (int)cbexp, NULL)) == NULL ||
	    (n = BN_bin2bn(buf + 24 + cbexp, (int)cbmod, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, keyp, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	r = 0;
 out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return r;
}

int
intune_read_import_key(const char *path, EVP_PKEY **keyp, struct ca_err *err)
{
	unsigned char *buf = NULL;
	const unsigned char *p;
	size_t len = 0;
	EVP_PKEY *key = NULL;
	BIO *b = NULL;
	int r;

	*keyp = NULL;
	if ((r = util_read_file(path, IMPORT_KEY_MAX, &buf, &len, err)) != 0)
		goto out;
	if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	key = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	if (key == NULL) {
		p = buf;
		key = d2i_PUBKEY(NULL, &p, (long)len);
	}
	if (key == NULL && cng_rsa_public(buf, len, &key) != 0)
		key = NULL;
	ERR_clear_error();
	if (key == NULL) {
		r = ca_err_set(err, CA_ERR_INVALID, "%s: not a public key (PEM "
		    "\"PUBLIC KEY\", DER SubjectPublicKeyInfo or a CNG "
		    "RSAPUBLICBLOB); export it with: openssl pkey -in "
		    "import.key -pubout", path);
		goto out;
	}
	if (!EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_get_bits(key) < 2048) {
		r = ca_err_set(err, CA_ERR_INVALID, "%s: the import key must "
		    "be RSA of 2048 bits or more (this one: %s, %d bits), as "
		    "the Intune PFX connector's is", path,
		    EVP_PKEY_get0_type_name(key), EVP_PKEY_get_bits(key));
		goto out;
	}
	*keyp = key;
	key = NULL;
	r = 0;
 out:
	BIO_free(b);
	free(buf);
	EVP_PKEY_free(key);
	return r;
}

int
intune_password_max(EVP_PKEY *key, enum intune_padding p, size_t *maxp,
    struct ca_err *err)
{
	int k = EVP_PKEY_get_size(key), h = EVP_MD_get_size(padding_md(p));

	*maxp = 0;
	/* RFC 8017 7.1.1: mLen <= k - 2hLen - 2. */
	if (k <= 2 * h + 2)
		return ca_err_set(err, CA_ERR_INVALID, "an RSA key of %d bits "
		    "cannot carry anything with %s", k * 8,
		    intune_padding_name(p));
	*maxp = (size_t)(k - 2 * h - 2);
	return 0;
}

/* RSA-OAEP, MGF1 with the same hash, empty label. */
static int
oaep(EVP_PKEY *key, enum intune_padding p, int encrypt,
    const unsigned char *in, size_t inlen, unsigned char **outp,
    size_t *outlenp, struct ca_err *err)
{
	EVP_PKEY_CTX *ctx = NULL;
	const EVP_MD *md = padding_md(p);
	unsigned char *out = NULL;
	size_t outlen = 0;
	int r;

	*outp = NULL;
	*outlenp = 0;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    (encrypt ? EVP_PKEY_encrypt_init(ctx) :
	    EVP_PKEY_decrypt_init(ctx)) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0 ||
	    (encrypt ? EVP_PKEY_encrypt(ctx, NULL, &outlen, in, inlen) :
	    EVP_PKEY_decrypt(ctx, NULL, &outlen, in, inlen)) <= 0 ||
	    (out = OPENSSL_malloc(outlen)) == NULL ||
	    (encrypt ? EVP_PKEY_encrypt(ctx, out, &outlen, in, inlen) :
	    EVP_PKEY_decrypt(ctx, out, &outlen, in, inlen)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "RSA-OAEP (%s) %s failed%s",
		    intune_padding_name(p), encrypt ? "encryption" :
		    "decryption", encrypt ? "" : ": this is not the import "
		    "key the password was encrypted to, or the padding "
		    "differs");
		goto out;
	}
	*outp = out;
	*outlenp = outlen;
	out = NULL;
	r = 0;
 out:
	if (out != NULL)
		OPENSSL_clear_free(out, outlen);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int
intune_pfx_object(const struct intune_params *p,
    const struct mdm_identity *id, STACK_OF(X509) *chain, json_t **objp,
    struct ca_err *err)
{
	char pw[PASSWORD_LEN + 1], nb[21], na[21], now[21];
	unsigned char *pfx = NULL, *ct = NULL;
	char *pfx64 = NULL, *ct64 = NULL;
	size_t pfxlen = 0, ctlen = 0, max = 0, pwlen;
	json_t *o = NULL;
	int r;

	*objp = NULL;
	if ((r = intune_password_max(p->import_key, p->padding, &max,
	    err)) != 0)
		goto out;
	pwlen = max < PASSWORD_LEN ? max : PASSWORD_LEN;
	if (pwlen < PASSWORD_MIN) {
		r = ca_err_set(err, CA_ERR_INVALID, "the import key leaves "
		    "room for a password of %zu bytes only with %s (at least "
		    "%d are needed): use a larger key or oaepSha256", max,
		    intune_padding_name(p->padding), PASSWORD_MIN);
		goto out;
	}
	if ((r = p12_random_password(pw, pwlen, err)) != 0 ||
	    (r = p12_make_sealed(id->key, id->cert, chain, pw, id->serial,
	    !p->aes, &pfx, &pfxlen, err)) != 0 ||
	    (r = oaep(p->import_key, p->padding, 1, (unsigned char *)pw, pwlen,
	    &ct, &ctlen, err)) != 0)
		goto out;
	if ((pfx64 = util_b64_encode(pfx, pfxlen)) == NULL ||
	    (ct64 = util_b64_encode(ct, ctlen)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	util_iso8601(util_asn1_time_to_unix(X509_get0_notBefore(id->cert)), nb);
	util_iso8601(util_asn1_time_to_unix(X509_get0_notAfter(id->cert)), na);
	util_iso8601(p->now, now);
	/* Names and enum values as Graph's userPFXCertificate has them. */
	if ((o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:s, s:s}",
	    "@odata.type", ODATA_TYPE,
	    "userPrincipalName", p->upn,
	    "thumbprint", id->sha1,
	    "intendedPurpose", "smimeEncryption",
	    "startDateTime", nb,
	    "expirationDateTime", na,
	    "providerName", p->provider,
	    "keyName", p->key_name,
	    "paddingScheme", intune_padding_name(p->padding),
	    "encryptedPfxBlob", pfx64,
	    "encryptedPfxPassword", ct64,
	    "createdDateTime", now,
	    "lastModifiedDateTime", now)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "building the JSON of "
		    "certificate %s", id->serial);
		goto out;
	}
	*objp = o;
	r = 0;
 out:
	OPENSSL_cleanse(pw, sizeof(pw));
	if (pfx != NULL)
		OPENSSL_clear_free(pfx, pfxlen);
	OPENSSL_free(ct);
	free(pfx64);
	free(ct64);
	return r;
}

/* A string member of object i, or NULL with a message. */
static const char *
obj_str(const json_t *o, const char *name, size_t i, struct ca_err *err)
{
	const char *s = json_string_value(json_object_get(o, name));

	if (s == NULL || *s == '\0')
		ca_err_set(err, CA_ERR_INVALID, "object %zu: no \"%s\" string",
		    i + 1, name);
	return s;
}

/* Only white space between p and end. */
static int
blank(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r')
			return 0;
	return 1;
}

/* A JSON array, one object, or NDJSON (one object a line) as an array. */
static int
parse_objects(const char *in, size_t inlen, json_t **arrp, struct ca_err *err)
{
	json_t *v = NULL, *arr = NULL;
	json_error_t je;
	const char *p = in, *end = in + inlen, *nl;
	size_t line = 0;
	int r;

	*arrp = NULL;
	if ((v = json_loadb(in, inlen, 0, &je)) != NULL) {
		if (json_is_object(v)) {
			if ((arr = json_array()) == NULL ||
			    json_array_append(arr, v) != 0) {
				r = ca_err_set(err, CA_ERR_NOMEM, "out of "
				    "memory");
				goto out;
			}
		} else if (json_is_array(v)) {
			arr = json_incref(v);
		} else {
			r = ca_err_set(err, CA_ERR_INVALID, "expected an array "
			    "of userPFXCertificate objects");
			goto out;
		}
		*arrp = arr;
		arr = NULL;
		r = 0;
		goto out;
	}
	if ((arr = json_array()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	while (p < end) {
		line++;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (!blank(p, nl)) {
			json_decref(v);
			if ((v = json_loadb(p, (size_t)(nl - p), 0, &je)) ==
			    NULL || !json_is_object(v)) {
				r = ca_err_set(err, CA_ERR_INVALID, "line %zu: "
				    "not JSON (%s): expected an array, an "
				    "object or one object a line", line,
				    v == NULL ? je.text : "not an object");
				goto out;
			}
			if (json_array_append(arr, v) != 0) {
				r = ca_err_set(err, CA_ERR_NOMEM, "out of "
				    "memory");
				goto out;
			}
		}
		p = nl + 1;
	}
	if (json_array_size(arr) == 0) {
		r = ca_err_set(err, CA_ERR_INVALID, "no userPFXCertificate "
		    "object in the input");
		goto out;
	}
	*arrp = arr;
	arr = NULL;
	r = 0;
 out:
	json_decref(v);
	json_decref(arr);
	return r;
}

/* Re-encrypts the password of object i to the device certificate. */
static int
connector_one(json_t *o, size_t i, EVP_PKEY *import_key, X509 *dev,
    const char *dev_sha1, json_t *out, struct ca_err *err)
{
	const char *ct64, *pad, *blob, *thumb, *upn, *purpose;
	enum intune_padding padding;
	unsigned char *ct = NULL, *pw = NULL, *env = NULL;
	size_t ctlen = 0, pwlen = 0, k;
	char *env64 = NULL;
	STACK_OF(X509) *rcpt = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	json_t *d = NULL;
	int envlen, r;

	if ((ct64 = obj_str(o, "encryptedPfxPassword", i, err)) == NULL ||
	    (pad = obj_str(o, "paddingScheme", i, err)) == NULL ||
	    (blob = obj_str(o, "encryptedPfxBlob", i, err)) == NULL ||
	    (thumb = obj_str(o, "thumbprint", i, err)) == NULL ||
	    (upn = obj_str(o, "userPrincipalName", i, err)) == NULL ||
	    (purpose = obj_str(o, "intendedPurpose", i, err)) == NULL) {
		r = CA_ERR_INVALID;
		goto out;
	}
	if (intune_padding_parse(pad, &padding) != 0) {
		r = ca_err_set(err, CA_ERR_INVALID, "object %zu: paddingScheme "
		    "\"%s\" is refused, as by Intune (oaepSha256, oaepSha384 "
		    "or oaepSha512)", i + 1, pad);
		goto out;
	}
	if ((r = util_b64_decode(ct64, CIPHER_MAX, &ct, &ctlen, err)) != 0) {
		ca_err_set(err, r, "object %zu: encryptedPfxPassword", i + 1);
		goto out;
	}
	if ((r = oaep(import_key, padding, 0, ct, ctlen, &pw, &pwlen,
	    err)) != 0) {
		ca_err_set(err, r, "object %zu (thumbprint %s)", i + 1, thumb);
		goto out;
	}
	for (k = 0; k < pwlen; k++)
		if (!isprint(pw[k]) || pw[k] > 0x7e) {
			r = ca_err_set(err, CA_ERR_INVALID, "object %zu: the "
			    "PFX password is not printable ASCII", i + 1);
			goto out;
		}
	if ((rcpt = sk_X509_new_null()) == NULL || !sk_X509_push(rcpt, dev) ||
	    (in = BIO_new_mem_buf(pw, (int)pwlen)) == NULL ||
	    (cms = CMS_encrypt(rcpt, in, EVP_aes_256_cbc(), CMS_BINARY)) ==
	    NULL || (envlen = i2d_CMS_ContentInfo(cms, &env)) <= 0 ||
	    (size_t)envlen > ENVELOPE_MAX) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "object %zu: encrypting the "
		    "password to the device certificate", i + 1);
		goto out;
	}
	if ((env64 = util_b64_encode(env, (size_t)envlen)) == NULL ||
	    (d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
	    "thumbprint", thumb,
	    "userPrincipalName", upn,
	    "intendedPurpose", purpose,
	    "encryptedPfxBlob", blob,
	    "devicePfxPassword", env64,
	    "deviceCertificateThumbprint", dev_sha1)) == NULL ||
	    json_array_append_new(out, d) != 0) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = 0;
 out:
	BIO_free(in);
	if (pw != NULL)
		OPENSSL_clear_free(pw, pwlen);
	free(ct);
	OPENSSL_free(env);
	free(env64);
	CMS_ContentInfo_free(cms);
	sk_X509_free(rcpt);
	return r;
}

int
intune_connector(const char *in, size_t inlen, EVP_PKEY *import_key,
    X509 *dev, json_t **outp, struct ca_err *err)
{
	json_t *arr = NULL, *out = NULL;
	char dev_sha1[41];
	size_t i;
	int r;

	*outp = NULL;
	if ((r = parse_objects(in, inlen, &arr, err)) != 0)
		goto out;
	if (util_cert_sha1(dev, dev_sha1) != 0 ||
	    (out = json_array()) == NULL) {
		r = ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < json_array_size(arr); i++)
		if ((r = connector_one(json_array_get(arr, i), i, import_key,
		    dev, dev_sha1, out, err)) != 0)
			goto out;
	*outp = out;
	out = NULL;
	r = 0;
 out:
	json_decref(arr);
	json_decref(out);
	return r;
}

int
intune_device_open(const json_t *o, EVP_PKEY *dkey, X509 *dcert,
    EVP_PKEY **keyp, X509 **certp, STACK_OF(X509) **chainp,
    struct ca_err *err)
{
	const char *env64, *blob64, *thumb;
	unsigned char *env = NULL, *pfx = NULL;
	const unsigned char *p;
	size_t envlen = 0, pfxlen = 0;
	CMS_ContentInfo *cms = NULL;
	BIO *out = NULL;
	char *pw = NULL, sha1[41];
	long pwlen;
	PKCS12 *p12 = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *chain = NULL;
	int r;

	*keyp = NULL;
	*certp = NULL;
	*chainp = NULL;
	if ((env64 = obj_str(o, "devicePfxPassword", 0, err)) == NULL ||
	    (blob64 = obj_str(o, "encryptedPfxBlob", 0, err)) == NULL ||
	    (thumb = obj_str(o, "thumbprint", 0, err)) == NULL) {
		r = CA_ERR_INVALID;
		goto out;
	}
	if ((r = util_b64_decode(env64, ENVELOPE_MAX, &env, &envlen,
	    err)) != 0 ||
	    (r = util_b64_decode(blob64, PFX_MAX, &pfx, &pfxlen, err)) != 0)
		goto out;
	p = env;
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)envlen)) == NULL ||
	    (out = BIO_new(BIO_s_mem())) == NULL ||
	    CMS_decrypt(cms, dkey, dcert, NULL, out, CMS_BINARY |
	    (dcert == NULL ? CMS_DEBUG_DECRYPT : 0)) != 1) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "certificate %s: the PFX "
		    "password does not open with this device key (was it "
		    "re-encrypted to another device?)", thumb);
		goto out;
	}
	/* NUL-terminated copy for PKCS12_parse. */
	if ((pwlen = BIO_get_mem_data(out, &pw)) <= 0 || pwlen > 127 ||
	    BIO_write(out, "", 1) != 1 ||
	    BIO_get_mem_data(out, &pw) != pwlen + 1) {
		r = ca_err_set(err, CA_ERR_INVALID, "certificate %s: the PFX "
		    "password is empty or too long", thumb);
		goto out;
	}
	p = pfx;
	if ((p12 = d2i_PKCS12(NULL, &p, (long)pfxlen)) == NULL ||
	    !PKCS12_parse(p12, pw, &key, &cert, &chain)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "certificate %s: the PFX "
		    "does not open with its password", thumb);
		goto out;
	}
	/* PKCS12_parse returns only a certificate that fits the key. */
	if (key == NULL || cert == NULL) {
		r = ca_err_set(err, CA_ERR_CRYPTO, "certificate %s: the PFX "
		    "holds %s", thumb, key == NULL ? "no private key" :
		    "a private key that belongs to none of its certificates");
		goto out;
	}
	if (util_cert_sha1(cert, sha1) != 0 || strcasecmp(sha1, thumb) != 0) {
		r = ca_err_set(err, CA_ERR_INVALID, "the PFX holds certificate "
		    "%s, not %s as its thumbprint says", sha1, thumb);
		goto out;
	}
	*keyp = key;
	*certp = cert;
	*chainp = chain;
	key = NULL;
	cert = NULL;
	chain = NULL;
	r = 0;
 out:
	BIO_free(out);		/* wipes the password */
	CMS_ContentInfo_free(cms);
	PKCS12_free(p12);
	free(env);
	if (pfx != NULL) {
		OPENSSL_cleanse(pfx, pfxlen);
		free(pfx);
	}
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	return r;
}
