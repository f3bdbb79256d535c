/*
 * Certificates the CA builds for itself and its services (exchange, TLS,
 * profile signer), and the pieces all its certificates share: random
 * serial numbers and extensions in OpenSSL's configuration syntax.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/util.h"

int
ca_random_serial(ASN1_INTEGER **serialp, struct ca_err *err)
{
	unsigned char b[16];
	BIGNUM *bn = NULL;
	int r = CA_ERR_CRYPTO;

	*serialp = NULL;
	if (RAND_bytes(b, sizeof(b)) != 1) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "no random serial number");
		goto out;
	}
	/* Positive, and never a leading zero byte: always 16 bytes. */
	b[0] &= 0x7f;
	if (b[0] == 0)
		b[0] = 0x40;
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL ||
	    (*serialp = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "serial number");
		goto out;
	}
	r = 0;
 out:
	BN_free(bn);
	return r;
}

int
ca_add_ext(X509 *cert, X509 *issuer, int nid, const char *value,
    struct ca_err *err)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : cert, cert, NULL,
	    NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "extension %s = %s",
		    OBJ_nid2sn(nid), value);
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	if (!ok)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "adding extension %s",
		    OBJ_nid2sn(nid));
	return 0;
}

int
ca_new_cert(struct ca *ca, const char *cn, EVP_PKEY *key, time_t nb,
    time_t na, X509 **certp, struct ca_err *err)
{
	X509 *cert = NULL, *issuer = ca_cert(ca);
	X509_NAME *name = NULL;
	ASN1_INTEGER *serial = NULL;
	int r;

	*certp = NULL;
	if ((cert = X509_new()) == NULL || (name = X509_NAME_new()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = ca_random_serial(&serial, err)) != 0)
		goto out;
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_serialNumber(cert, serial) ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(issuer)) ||
	    !X509_set_subject_name(cert, name) ||
	    X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &nb) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), 0, 0, &na) == NULL ||
	    !X509_set_pubkey(cert, key)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "certificate for %s", cn);
		goto out;
	}
	*certp = cert;
	cert = NULL;
	r = 0;
 out:
	ASN1_INTEGER_free(serial);
	X509_NAME_free(name);
	X509_free(cert);
	return r;
}

int
ca_store_held(struct ca *ca, const char *role, X509 *cert, EVP_PKEY *key,
    const char *rel, const char *action, const char *detail,
    struct ca_err *err)
{
	struct db *db = ca_db(ca);
	unsigned char *der = NULL;
	char serial[65], *path = NULL;
	int64_t id;
	int len, r, in_tx = 0, wrote = 0;

	if ((len = i2d_X509(cert, &der)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the %s "
		    "certificate", role);
		goto out;
	}
	if ((path = util_path(ca_config(ca)->dir, rel)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = ca_write_held_key(ca, path, key, err)) != 0)
		goto out;
	wrote = 1;
	util_serial_hex(X509_get0_serialNumber(cert), serial);
	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if ((r = db_ca_cert_add(db, role, der, (size_t)len, rel,
	    util_asn1_time_to_unix(X509_get0_notBefore(cert)),
	    util_asn1_time_to_unix(X509_get0_notAfter(cert)), &id,
	    err)) != 0 ||
	    (r = audit_append(db, ca_actor(ca), action, serial, detail,
	    err)) != 0 || (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	r = 0;
 out:
	if (in_tx)
		db_rollback(db);
	/* A key whose certificate never reached the database is useless. */
	if (r != 0 && wrote)
		unlink(path);
	free(path);
	OPENSSL_free(der);
	return r;
}

int
ca_add_service_exts(X509 *cert, X509 *issuer, const char *ku,
    const char *eku, struct ca_err *err)
{
	char kuval[128];
	int r;

	snprintf(kuval, sizeof(kuval), "critical,%s", ku);
	if ((r = ca_add_ext(cert, issuer, NID_basic_constraints,
	    "critical,CA:FALSE", err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_key_usage, kuval, err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_ext_key_usage, eku, err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_subject_key_identifier, "hash",
	    err)) != 0)
		return r;
	return ca_add_ext(cert, issuer, NID_authority_key_identifier,
	    "keyid:always", err);
}
