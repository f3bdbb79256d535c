/* CA exchange certificates ([MS-WCCE] 3.2.1.4.3.2.15.1). */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "archive/cmc_asn1.h"
#include "archive/dercache.h"
#include "archive/xchg.h"
#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/util.h"

#define XCHG_ROLE	"xchg"
/* [MS-WCCE]: the application policies extension carries the EKU too. */
#define OID_MS_APP_POLICIES	"1.3.6.1.4.1.311.21.10"

static int add_app_policy(X509 *, struct ca_err *);
static int make_cert(struct ca *, EVP_PKEY *, int64_t, X509 **,
    struct ca_err *);
static X509 *d2i_cert(const void *, int);

static X509 *
d2i_cert(const void *blob, int len)
{
	const unsigned char *p = blob;

	return blob == NULL ? NULL : d2i_X509(NULL, &p, len);
}

static int
add_app_policy(X509 *cert, struct ca_err *err)
{
	CERTIFICATEPOLICIES *pols = NULL;
	POLICYINFO *pi = NULL;
	ASN1_OBJECT *obj = NULL;
	ASN1_OCTET_STRING *os = NULL;
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	int len, r = CA_ERR_CRYPTO;

	/* Same shape as certificatePolicies: SEQUENCE OF { OID }. */
	if ((pols = CERTIFICATEPOLICIES_new()) == NULL ||
	    (pi = POLICYINFO_new()) == NULL)
		goto out;
	ASN1_OBJECT_free(pi->policyid);
	if ((pi->policyid = OBJ_txt2obj(OID_MS_KP_CA_EXCHANGE, 1)) == NULL ||
	    !sk_POLICYINFO_push(pols, pi))
		goto out;
	pi = NULL;
	if ((len = i2d_CERTIFICATEPOLICIES(pols, &der)) <= 0 ||
	    (os = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(os, der, len) ||
	    (obj = OBJ_txt2obj(OID_MS_APP_POLICIES, 1)) == NULL ||
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) == NULL ||
	    !X509_add_ext(cert, ext, -1))
		goto out;
	r = 0;
 out:
	if (r != 0)
		ca_err_ssl(err, r, "exchange certificate: application policy");
	X509_EXTENSION_free(ext);
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	OPENSSL_free(der);
	POLICYINFO_free(pi);
	CERTIFICATEPOLICIES_free(pols);
	return r;
}

static int
make_cert(struct ca *ca, EVP_PKEY *key, int64_t now, X509 **certp,
    struct ca_err *err)
{
	const struct ca_config *cfg = ca_config(ca);
	X509 *cert = NULL, *issuer = ca_cert(ca);
	char cn[256], *url = NULL;
	unsigned char *utf8 = NULL;
	time_t nb = (time_t)now - 300, na;
	int i, r, days = cfg->xchg_days > 0 ? cfg->xchg_days : 7;

	*certp = NULL;
	na = (time_t)now + (time_t)days * 86400;
	/* CN = the CA's CN + "-Xchg". */
	i = X509_NAME_get_index_by_NID(X509_get_subject_name(issuer),
	    NID_commonName, -1);
	if (i < 0 || ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(X509_get_subject_name(issuer), i))) < 0) {
		r = ca_err_ssl(err, CA_ERR_CONFIG, "the CA certificate has "
		    "no common name to derive the exchange name from");
		goto out;
	}
	snprintf(cn, sizeof(cn), "%s-Xchg", utf8);
	if ((r = ca_new_cert(ca, cn, key, nb, na, &cert, err)) != 0)
		goto out;
	if ((r = ca_add_service_exts(cert, issuer, "keyEncipherment",
	    OID_MS_KP_CA_EXCHANGE, err)) != 0 ||
	    (r = add_app_policy(cert, err)) != 0)
		goto out;
	if (cfg->ncdp > 0) {
		if (asprintf(&url, "URI:%s", cfg->cdp_urls[0]) == -1) {
			url = NULL;
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((r = ca_add_ext(cert, issuer,
		    NID_crl_distribution_points, url, err)) != 0)
			goto out;
		free(url);
		url = NULL;
	}
	if (cfg->naia_issuer > 0) {
		if (asprintf(&url, "caIssuers;URI:%s",
		    cfg->aia_issuer_urls[0]) == -1) {
			url = NULL;
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((r = ca_add_ext(cert, issuer, NID_info_access, url,
		    err)) != 0)
			goto out;
	}
	if (X509_sign(cert, ca_key(ca), ca_digest(ca)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "signing the exchange "
		    "certificate");
		goto out;
	}
	*certp = cert;
	cert = NULL;
	r = 0;
 out:
	free(url);
	OPENSSL_free(utf8);
	X509_free(cert);
	return r;
}

int
xchg_roll(struct ca *ca, int64_t now, X509 **certp, struct ca_err *err)
{
	const struct ca_config *cfg = ca_config(ca);
	enum ca_keyspec spec = CA_KEY_RSA2048;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char serial[65], rel[128], detail[160];
	int r;

	*certp = NULL;
	if (cfg->xchg_key != NULL &&
	    ca_keyspec_parse(cfg->xchg_key, &spec) != 0) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: exchange key \"%s\" is "
		    "not a key type (use rsa:2048, rsa:3072 or rsa:4096)",
		    cfg->path, cfg->xchg_key);
		goto out;
	}
	/* Clients transport keys with RSA: the exchange key must be RSA. */
	if (spec != CA_KEY_RSA2048 && spec != CA_KEY_RSA3072 &&
	    spec != CA_KEY_RSA4096) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: the exchange key must "
		    "be RSA (rsa:2048, rsa:3072 or rsa:4096)", cfg->path);
		goto out;
	}
	if ((r = ca_load_key(ca, err)) != 0 ||
	    (r = ca_keygen(spec, &key, err)) != 0 ||
	    (r = make_cert(ca, key, now, &cert, err)) != 0)
		goto out;
	util_serial_hex(X509_get0_serialNumber(cert), serial);
	snprintf(rel, sizeof(rel), "private/xchg-%s.key", serial);
	snprintf(detail, sizeof(detail), "key=%s not_after=%lld", rel,
	    (long long)util_asn1_time_to_unix(X509_get0_notAfter(cert)));
	if ((r = ca_store_held(ca, XCHG_ROLE, cert, key, rel, "xchg-roll",
	    detail, err)) != 0)
		goto out;
	*certp = cert;
	cert = NULL;
	r = 0;
 out:
	EVP_PKEY_free(key);
	X509_free(cert);
	return r;
}

int
xchg_current(struct ca *ca, int64_t now, X509 **certp, struct ca_err *err)
{
	const struct ca_config *cfg = ca_config(ca);
	unsigned char *der = NULL;
	size_t derlen = 0;
	int64_t id, margin;
	X509 *cert = NULL;
	int r;

	*certp = NULL;
	margin = (int64_t)(cfg->xchg_margin_hours > 0 ?
	    cfg->xchg_margin_hours : 24) * 3600;
	r = db_ca_cert_current(ca_db(ca), XCHG_ROLE, &id, &der, &derlen, err);
	if (r == CA_ERR_NOTFOUND)
		ca_err_clear(err);
	else if (r != 0)
		return r;
	if (r == 0 && (cert = d2i_cert(der, (int)derlen)) != NULL &&
	    util_asn1_time_to_unix(X509_get0_notAfter(cert)) - now >=
	    margin &&
	    util_asn1_time_to_unix(X509_get0_notBefore(cert)) <= now) {
		free(der);
		*certp = cert;
		return 0;
	}
	free(der);
	X509_free(cert);
	return xchg_roll(ca, now, certp, err);
}

int
xchg_find(struct ca *ca, const X509_NAME *issuer, const ASN1_INTEGER *serial,
    int64_t now, X509 **certp, EVP_PKEY **keyp, struct ca_err *err)
{
	struct db_ca_cert **list = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	char *path = NULL, hex[65] = "?";
	size_t i, n = 0;
	int r = CA_ERR_NOTFOUND;

	*certp = NULL;
	*keyp = NULL;
	util_serial_hex(serial, hex);
	if ((r = db_ca_cert_list(ca_db(ca), XCHG_ROLE, &list, &n, err)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		X509_free(cert);
		cert = dc_cert(list[i]->der, list[i]->derlen);
		if (cert == NULL ||
		    ASN1_INTEGER_cmp(X509_get0_serialNumber(cert),
		    serial) != 0 ||
		    X509_NAME_cmp(X509_get_issuer_name(cert), issuer) != 0)
			continue;
		if (util_asn1_time_to_unix(X509_get0_notAfter(cert)) < now) {
			r = ca_err_set(err, CA_ERR_POLICY, "the private key is "
			    "encrypted to exchange certificate %s, which has "
			    "expired; fetch the current exchange certificate "
			    "and make the request again", hex);
			goto out;
		}
		/* Read from its file once a process, then kept. */
		if ((key = dc_key(list[i]->der, list[i]->derlen)) == NULL) {
			if ((path = util_path(ca_config(ca)->dir,
			    list[i]->key_file)) == NULL) {
				r = ca_err_set(err, CA_ERR_NOMEM,
				    "out of memory");
				goto out;
			}
			if ((r = ca_read_held_key(ca, path, &key, err)) != 0)
				goto out;
			dc_set_key(list[i]->der, list[i]->derlen, key);
		}
		*certp = cert;
		*keyp = key;
		cert = NULL;
		key = NULL;
		r = 0;
		goto out;
	}
	r = ca_err_set(err, CA_ERR_POLICY, "the private key is encrypted to "
	    "certificate %s, which is not an exchange certificate of this CA; "
	    "fetch the current one (smimeca xchg show --pem, or GET "
	    "/ca/exchange)", hex);
 out:
	db_ca_cert_free_list(list, n);
	free(path);
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}
