/*
 * libFuzzer harness: one value of userCertificate or userSMIMECertificate
 * as publish clean reads it from the directory (ca/pubvalue.c), where
 * Outlook or anyone with write access may have written anything.
 *
 * An input is a flags byte (bit 0: userSMIMECertificate, a PKCS#7), a
 * two-byte big-endian length and that many bytes of an issuing CA
 * certificate (DER; "ours" is what it signed), then the value. The
 * classification must agree with itself: a certificate for OURS and
 * FOREIGN and none for UNDECODABLE, and a single certificate is ours
 * exactly when the issuer's key verifies it. FUZZ_DIRVALUE_PRINT set: each
 * input's class on standard output (t-fuzz-corpus checks the seeds).
 */
#include "ac-config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/x509.h>

#include "ca/publish.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	STACK_OF(X509) *issuers = NULL;
	const unsigned char *p;
	enum pub_value_kind k;
	X509 *ca = NULL, *x = NULL;
	size_t calen;
	int smime, signed_ok;

	if (len < 3)
		return 0;
	smime = data[0] & 1;
	calen = (size_t)data[1] << 8 | data[2];
	if (calen > len - 3)
		return 0;
	if ((issuers = sk_X509_new_null()) == NULL)
		abort();
	p = data + 3;
	if (calen > 0 && (ca = d2i_X509(NULL, &p, (long)calen)) != NULL) {
		if (!sk_X509_push(issuers, ca))
			abort();
		ca = NULL;
	}
	k = pub_value_classify(data + 3 + calen, len - 3 - calen, smime,
	    issuers, &x);
	switch (k) {
	case PUB_VALUE_OURS:
	case PUB_VALUE_FOREIGN:
		if (x == NULL)
			abort();
		break;
	case PUB_VALUE_UNDECODABLE:
		if (x != NULL)
			abort();
		break;
	default:
		abort();
	}
	if (getenv("FUZZ_DIRVALUE_PRINT") != NULL)
		printf("%s\n", k == PUB_VALUE_OURS ? "ours" :
		    k == PUB_VALUE_FOREIGN ? "foreign" : "undecodable");
	if (!smime && x != NULL) {
		signed_ok = sk_X509_num(issuers) > 0 &&
		    pub_value_ours(issuers, x);
		if ((k == PUB_VALUE_OURS) != signed_ok)
			abort();
	}
	X509_free(x);
	X509_free(ca);
	sk_X509_pop_free(issuers, X509_free);
	return 0;
}
