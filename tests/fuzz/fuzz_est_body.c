/* libFuzzer harness: an EST request body (base64, PEM or DER) to a CSR. */
#include "ac-config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "enroll/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t dlen;
	X509_REQ *csr;

	if (body_decode(data, len, &der, &dlen) == 0) {
		p = der;
		csr = d2i_X509_REQ(NULL, &p, (long)dlen);
		X509_REQ_free(csr);
		free(der);
	}
	return 0;
}
