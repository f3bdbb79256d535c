/*
 * The SCEP RA certificate: one RSA key that both decrypts requests and
 * signs CertReps (digitalSignature and keyEncipherment), issued by the CA
 * and rolled like the exchange certificate. See smimecad(8) for why one
 * certificate rather than NDES's signing and encryption pair.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/scep.h"
#include "ca/util.h"

static int make_cert(struct ca *, EVP_PKEY *, int64_t, X509 **,
    struct ca_err *);
static X509 *d2i_cert(const void *, size_t);

static X509 *
d2i_cert(const void *blob, size_t len)
{
	const unsigned char *p = blob;

	return blob == NULL ? NULL : d2i_X509(NULL, &p, (long)len);
}

static int
make_cert(struct ca *ca, EVP_PKEY *key, int64_t now, X509 **certp,
    struct ca_err *err)
{
	const struct ca_config *cfg = ca_config(ca);
	X509 *cert = NULL, *issuer = ca_cert(ca);
	char cn[256];
	unsigned char *utf8 = NULL;
	time_t nb = (time_t)now - 300, na;
	int i, r, days = cfg->scep.ra_days > 1 ? cfg->scep.ra_days : 365;

	*certp = NULL;
	na = (time_t)now + (time_t)days * 86400;
	i = X509_NAME_get_index_by_NID(X509_get_subject_name(issuer),
	    NID_commonName, -1);
	if (i < 0 || ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(X509_get_subject_name(issuer), i))) < 0) {
		r = ca_err_ssl(err, CA_ERR_CONFIG, "the CA certificate has "
		    "no common name to derive the RA's from");
		goto out;
	}
	snprintf(cn, sizeof(cn), "%s-SCEP-RA", utf8);
	/*
	 * No extendedKeyUsage: certmonger checks the signer for purpose,
	 * and an RA certificate has no EKU of its own that all accept.
	 */
	if ((r = ca_new_cert(ca, cn, key, nb, na, &cert, err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_basic_constraints,
	    "critical,CA:FALSE", err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_key_usage,
	    "critical,digitalSignature,keyEncipherment", err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_subject_key_identifier, "hash",
	    err)) != 0 ||
	    (r = ca_add_ext(cert, issuer, NID_authority_key_identifier,
	    "keyid:always", err)) != 0)
		goto out;
	if (X509_sign(cert, ca_key(ca), ca_digest(ca)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "signing the RA "
		    "certificate");
		goto out;
	}
	*certp = cert;
	cert = NULL;
	r = 0;
 out:
	OPENSSL_free(utf8);
	X509_free(cert);
	return r;
}

int
scep_ra_roll(struct ca *ca, int64_t now, X509 **certp, EVP_PKEY **keyp,
    struct ca_err *err)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char serial[65], rel[128], detail[160];
	int r;

	*certp = NULL;
	*keyp = NULL;
	/* RSA: SCEP clients encrypt to the RA with RSA key transport. */
	if ((r = ca_load_key(ca, err)) != 0 ||
	    (r = ca_keygen(CA_KEY_RSA2048, &key, err)) != 0 ||
	    (r = make_cert(ca, key, now, &cert, err)) != 0)
		goto out;
	util_serial_hex(X509_get0_serialNumber(cert), serial);
	snprintf(rel, sizeof(rel), "private/ra-%s.key", serial);
	snprintf(detail, sizeof(detail), "key=%s not_after=%lld", rel,
	    (long long)util_asn1_time_to_unix(X509_get0_notAfter(cert)));
	if ((r = ca_store_held(ca, SCEP_RA_ROLE, cert, key, rel, "ra-roll",
	    detail, err)) != 0)
		goto out;
	*certp = cert;
	*keyp = key;
	cert = NULL;
	key = NULL;
	r = 0;
 out:
	EVP_PKEY_free(key);
	X509_free(cert);
	return r;
}

int
scep_ra_current(struct ca *ca, int64_t now, X509 **certp, EVP_PKEY **keyp,
    struct ca_err *err)
{
	const struct ca_config *cfg = ca_config(ca);
	unsigned char *der = NULL;
	size_t derlen = 0;
	int64_t id, margin;
	X509 *cert = NULL;
	int r;

	*certp = NULL;
	*keyp = NULL;
	margin = (int64_t)(cfg->scep.ra_margin_days > 0 ?
	    cfg->scep.ra_margin_days : 30) * 86400;
	r = db_ca_cert_current(ca_db(ca), SCEP_RA_ROLE, &id, &der, &derlen,
	    err);
	if (r == CA_ERR_NOTFOUND)
		ca_err_clear(err);
	else if (r != 0)
		return r;
	if (r == 0 && (cert = d2i_cert(der, derlen)) != NULL &&
	    util_asn1_time_to_unix(X509_get0_notAfter(cert)) - now >=
	    margin &&
	    util_asn1_time_to_unix(X509_get0_notBefore(cert)) <= now) {
		free(der);
		r = scep_ra_find(ca, X509_get_issuer_name(cert),
		    X509_get0_serialNumber(cert), now, certp, keyp, err);
		X509_free(cert);
		return r;
	}
	free(der);
	X509_free(cert);
	return scep_ra_roll(ca, now, certp, keyp, err);
}

int
scep_ra_find(struct ca *ca, const X509_NAME *issuer,
    const ASN1_INTEGER *serial, int64_t now, X509 **certp, EVP_PKEY **keyp,
    struct ca_err *err)
{
	struct db_ca_cert **list = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	char *path = NULL, hex[65] = "?";
	size_t i, n = 0;
	int r;

	*certp = NULL;
	*keyp = NULL;
	util_serial_hex(serial, hex);
	if ((r = db_ca_cert_list(ca_db(ca), SCEP_RA_ROLE, &list, &n,
	    err)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		X509_free(cert);
		cert = d2i_cert(list[i]->der, list[i]->derlen);
		if (cert == NULL || list[i]->key_file == NULL ||
		    ASN1_INTEGER_cmp(X509_get0_serialNumber(cert),
		    serial) != 0 ||
		    X509_NAME_cmp(X509_get_issuer_name(cert), issuer) != 0)
			continue;
		if (util_asn1_time_to_unix(X509_get0_notAfter(cert)) < now) {
			r = ca_err_set(err, CA_ERR_POLICY, "the request is "
			    "encrypted to RA certificate %s, which has "
			    "expired; fetch GetCACert again", hex);
			goto out;
		}
		if ((path = util_path(ca_config(ca)->dir,
		    list[i]->key_file)) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((r = ca_read_held_key(ca, path, &key, err)) != 0)
			goto out;
		*certp = cert;
		*keyp = key;
		cert = NULL;
		key = NULL;
		r = 0;
		goto out;
	}
	r = ca_err_set(err, CA_ERR_NOTFOUND, "the request is encrypted to "
	    "certificate %s, which is not an RA certificate of this CA; "
	    "fetch GetCACert again", hex);
 out:
	db_ca_cert_free_list(list, n);
	free(path);
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}
