/*
 * libFuzzer harness: OCSP requests as smimecad's /ocsp answers them
 * (ca/ocsp.c). FUZZ_CA_DIR names the CA directory that answers (its
 * responder certificate is made at the first input if it has none). Each
 * input is tried as the DER of a POST and as the base64 of a GET; every
 * answer must be an OCSPResponse that parses, successful exactly when the
 * result is a certificate status.
 */
#include "ac-config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ocsp.h>

#include "ca/ca.h"
#include "ca/err.h"
#include "ca/ocsp.h"
#include "ca/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct ca *fz_ca;
static struct ocsp_signer *fz_signer;

static void
fz_setup(void)
{
	struct ca_err err;
	const char *dir = getenv("FUZZ_CA_DIR");

	ca_err_clear(&err);
	if (dir == NULL) {
		fprintf(stderr, "fuzz_ocsp: set FUZZ_CA_DIR to a CA "
		    "directory (smimeca init)\n");
		abort();
	}
	if (ca_open(dir, NULL, CA_OPEN_KEY, &fz_ca, &err) != 0 ||
	    ocsp_signer_get(fz_ca, (int64_t)time(NULL), &fz_signer,
	    &err) != 0) {
		fprintf(stderr, "fuzz_ocsp: %s\n", err.msg);
		abort();
	}
}

static void
fz_answer(const unsigned char *der, size_t len)
{
	struct ca_err err;
	struct ocsp_answer a;
	OCSP_RESPONSE *resp;
	const unsigned char *p;
	int st;

	ca_err_clear(&err);
	ocsp_respond(fz_ca, fz_signer, der, len, (int64_t)time(NULL), &a,
	    &err);
	if (a.der == NULL)
		abort();
	p = a.der;
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)a.len)) == NULL ||
	    p != a.der + a.len)
		abort();
	st = OCSP_response_status(resp);
	if ((st == OCSP_RESPONSE_STATUS_SUCCESSFUL) !=
	    (a.result == OCSP_R_GOOD || a.result == OCSP_R_REVOKED ||
	    a.result == OCSP_R_UNKNOWN))
		abort();
	OCSP_RESPONSE_free(resp);
	ocsp_answer_clear(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ca_err err;
	unsigned char *der = NULL;
	char *s;
	size_t dlen;

	if (fz_ca == NULL)
		fz_setup();
	fz_answer(data, len);
	/* The GET form: the path after /ocsp/, base64. */
	if (len < 2048 && (s = malloc(len + 1)) != NULL) {
		memcpy(s, data, len);
		s[len] = '\0';
		ca_err_clear(&err);
		if (util_b64_decode(s, OCSP_REQ_MAX, &der, &dlen, &err) == 0) {
			fz_answer(der, dlen);
			free(der);
		}
		free(s);
	}
	return 0;
}
