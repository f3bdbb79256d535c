/*
 * Whose certificate one value of userCertificate or userSMIMECertificate
 * holds. Outlook, an earlier CA or anyone with write access to the
 * directory may have written the value, so it is decoded here, apart from
 * any LDAP, where tests/fuzz/fuzz_dirvalue reaches it.
 */
#include "ac-config.h"

#include <limits.h>
#include <stddef.h>

#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/publish.h"

static X509 *p7_cert(const STACK_OF(X509) *, const STACK_OF(X509) *,
    int *);

int
pub_value_ours(const STACK_OF(X509) *issuers, X509 *x)
{
	X509 *ca;
	int i;

	for (i = 0; issuers != NULL && i < sk_X509_num(issuers); i++) {
		ca = sk_X509_value(issuers, i);
		if (X509_check_issued(ca, x) == X509_V_OK &&
		    X509_verify(x, X509_get0_pubkey(ca)) == 1)
			return 1;
	}
	return 0;
}

/*
 * The end entity of a PKCS#7 bundle (Outlook adds the chain), else its
 * first certificate, up-referenced; *oursp set when any of them is ours.
 */
static X509 *
p7_cert(const STACK_OF(X509) *issuers, const STACK_OF(X509) *certs,
    int *oursp)
{
	X509 *x = NULL, *c;
	int i;

	*oursp = 0;
	for (i = 0; i < sk_X509_num(certs); i++) {
		c = sk_X509_value(certs, i);
		if (pub_value_ours(issuers, c))
			*oursp = 1;
		if (x == NULL && X509_check_ca(c) == 0)
			x = c;
	}
	if (x == NULL && sk_X509_num(certs) > 0)
		x = sk_X509_value(certs, 0);
	if (x != NULL && !X509_up_ref(x))
		x = NULL;
	return x;
}

enum pub_value_kind
pub_value_classify(const unsigned char *data, size_t len, int smime,
    const STACK_OF(X509) *issuers, X509 **certp)
{
	const unsigned char *p = data;
	const STACK_OF(X509) *certs = NULL;
	PKCS7 *p7 = NULL;
	X509 *x = NULL;
	enum pub_value_kind k = PUB_VALUE_UNDECODABLE;
	int ours = 0;

	*certp = NULL;
	if (data == NULL || len == 0 || len > LONG_MAX)
		goto out;
	if (!smime) {
		if ((x = d2i_X509(NULL, &p, (long)len)) == NULL)
			goto out;
		ours = pub_value_ours(issuers, x);
	} else {
		if ((p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL)
			goto out;
		if (PKCS7_type_is_signed(p7) && p7->d.sign != NULL)
			certs = p7->d.sign->cert;
		if (certs == NULL ||
		    (x = p7_cert(issuers, certs, &ours)) == NULL)
			goto out;
	}
	/* Trailing bytes: not what we or Outlook write; never removed. */
	if (p != data + len) {
		X509_free(x);
		x = NULL;
		goto out;
	}
	k = ours ? PUB_VALUE_OURS : PUB_VALUE_FOREIGN;
	*certp = x;
	x = NULL;
 out:
	X509_free(x);
	PKCS7_free(p7);
	return k;
}
