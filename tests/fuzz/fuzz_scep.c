/*
 * libFuzzer harness: SCEP pkiMessages as smimecad reads them (ca/scep.c):
 * the SignedData, its attributes, the signature and the envelope's
 * algorithm, with the legacy algorithms on so that every path is open.
 */
#include "ac-config.h"

#include <stddef.h>
#include <stdint.h>

#include "ca/err.h"
#include "ca/scep.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ca_err err;

	ca_err_clear(&err);
	(void)scep_parse_only(data, len, 1, &err);
	return 0;
}
