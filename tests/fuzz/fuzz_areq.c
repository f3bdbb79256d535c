/* libFuzzer harness: archival requests as smimecad's fullcmc reads them. */
#include "ac-config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/x509.h>

#include "archive/areq.h"
#include "ca/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ca_err err;
	struct areq *a = NULL;
	const unsigned char *p = data;
	X509_REQ *csr;

	ca_err_clear(&err);
	if (areq_parse_cmc(data, len, &a, &err) == 0)
		areq_free(a);
	/* The simple form: a CSR, then the same bytes as the envelope. */
	if ((csr = d2i_X509_REQ(NULL, &p, (long)len)) != NULL) {
		a = NULL;
		ca_err_clear(&err);
		if (areq_parse_simple(csr, data, len, &a, &err) == 0)
			areq_free(a);
		X509_REQ_free(csr);
	}
	return 0;
}
