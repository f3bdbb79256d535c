/* libFuzzer harness: Microsoft private key BLOBs, as archival opens them. */
#include "ac-config.h"

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "archive/msblob.h"
#include "ca/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ca_err err;
	EVP_PKEY *key = NULL;
	unsigned char *out = NULL;
	size_t outlen = 0;

	ca_err_clear(&err);
	if (msblob_to_pkey(data, len, &key, &err) != 0)
		return 0;
	/* What parses must encode again. */
	if (msblob_from_pkey(key, &out, &outlen, &err) == 0)
		OPENSSL_clear_free(out, outlen);
	EVP_PKEY_free(key);
	return 0;
}
