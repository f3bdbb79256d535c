/*
 * libFuzzer harness: archival requests as smimecad's fullcmc reads them.
 * With FUZZ_CA_DIR set to a CA directory, a request that parses is also
 * opened with that CA's exchange keys: key hash, decryption, the key BLOB
 * or PKCS#8 inside and the key match, as a fullcmc enrollment does before
 * anything is signed.
 */
#include "ac-config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "archive/areq.h"
#include "ca/ca.h"
#include "ca/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct ca *fz_ca;
static int fz_tried;

static void
fz_open(const struct areq *a)
{
	struct ca_err err;
	EVP_PKEY *key = NULL;
	const char *dir;

	if (!fz_tried) {
		fz_tried = 1;
		ca_err_clear(&err);
		if ((dir = getenv("FUZZ_CA_DIR")) != NULL &&
		    ca_open(dir, NULL, 0, &fz_ca, &err) != 0)
			abort();	/* a harness set up wrong says so */
	}
	if (fz_ca == NULL || a->env == NULL)
		return;
	ca_err_clear(&err);
	if (areq_open(fz_ca, a, (int64_t)time(NULL), &key, &err) == 0)
		EVP_PKEY_free(key);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ca_err err;
	struct areq *a = NULL;
	const unsigned char *p = data;
	X509_REQ *csr;

	ca_err_clear(&err);
	if (areq_parse_cmc(data, len, &a, &err) == 0) {
		fz_open(a);
		areq_free(a);
	}
	/* The simple form: a CSR, then the same bytes as the envelope. */
	if ((csr = d2i_X509_REQ(NULL, &p, (long)len)) != NULL) {
		a = NULL;
		ca_err_clear(&err);
		if (areq_parse_simple(csr, data, len, &a, &err) == 0) {
			fz_open(a);
			areq_free(a);
		}
		X509_REQ_free(csr);
	}
	return 0;
}
