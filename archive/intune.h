/*
 * Intune imported PKCS certificates: Graph userPFXCertificate objects, and
 * the lab stand-ins for the PFX connector and the device.
 */
#ifndef ARCHIVE_INTUNE_H
#define ARCHIVE_INTUNE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

struct ca_err;
struct mdm_identity;

enum intune_padding {
	INTUNE_OAEP_SHA256,
	INTUNE_OAEP_SHA384,
	INTUNE_OAEP_SHA512,
};

/* "oaepSha512" etc.; -1 for anything else (pkcs1, oaepSha1 included). */
int intune_padding_parse(const char *name, enum intune_padding *pp);
const char *intune_padding_name(enum intune_padding p);

/*
 * The customer's import public key: PEM or DER SubjectPublicKeyInfo, or a
 * CNG BCRYPT_RSAPUBLIC_BLOB ("RSA1"). RSA of 2048 bits or more.
 */
int intune_read_import_key(const char *path, EVP_PKEY **keyp,
    struct ca_err *err);
/* The longest password RSA-OAEP with that hash can carry to key. */
int intune_password_max(EVP_PKEY *key, enum intune_padding p, size_t *maxp,
    struct ca_err *err);

struct intune_params {
	EVP_PKEY *import_key;		/* public */
	enum intune_padding padding;
	const char *key_name;		/* the import key's name */
	const char *provider;		/* its key storage provider */
	const char *upn;		/* userPrincipalName */
	int aes;			/* PKCS#12: PBES2, not 3DES */
	int64_t now;
};

/*
 * One userPFXCertificate: a PKCS#12 of id (and chain) under a fresh random
 * password, the password encrypted to the import key.
 */
int intune_pfx_object(const struct intune_params *p,
    const struct mdm_identity *id, STACK_OF(X509) *chain, json_t **objp,
    struct ca_err *err);

/*
 * The connector: turns each userPFXCertificate of in (an array, one
 * object, or NDJSON text) into an object for the device, the password
 * re-encrypted to device_cert (checked by mdm_check_device_cert first) as
 * CMS EnvelopedData.
 */
int intune_connector(const char *in, size_t inlen, EVP_PKEY *import_key,
    X509 *device_cert, json_t **outp, struct ca_err *err);

/*
 * The device: opens object i of the connector's output with its key and
 * returns the identity of the PFX, whose key has to fit its certificate.
 */
int intune_device_open(const json_t *obj, EVP_PKEY *device_key,
    X509 *device_cert, EVP_PKEY **keyp, X509 **certp,
    STACK_OF(X509) **chainp, struct ca_err *err);

#endif
