/*
 * libFuzzer harness: an EST server's answer as smimeca-enroll reads it
 * (HTTP/1.1 framing, multipart, base64, certs-only PKCS#7).
 */
#include "ac-config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/x509.h>

#include "ca/err.h"
#include "tools/estclient.h"

#define MAXPARTS	8

static void certs_of(const unsigned char *, size_t);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The base64 of a certs-only PKCS#7, as simpleenroll answers. */
static void
certs_of(const unsigned char *b64, size_t len)
{
	struct ca_err err;
	STACK_OF(X509) *certs;
	unsigned char *der;
	size_t dlen;

	ca_err_clear(&err);
	if (estc_unbase64(b64, len, &der, &dlen, &err) != 0)
		return;
	if (estc_certs_only(der, dlen, &certs, &err) == 0)
		sk_X509_pop_free(certs, X509_free);
	free(der);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct estc_part parts[MAXPARTS];
	struct estc_resp *resp = NULL;
	struct ca_err err;
	size_t i, n;

	ca_err_clear(&err);
	/* As it arrives (more may follow), then as all there is. */
	if (estc_http_parse(data, len, 0, &resp, &err) == 0)
		estc_resp_free(resp);
	resp = NULL;
	ca_err_clear(&err);
	if (estc_http_parse(data, len, 1, &resp, &err) != 0)
		return 0;
	certs_of(resp->body, resp->len);
	ca_err_clear(&err);
	if (estc_multipart(resp->ctype, resp->body, resp->len, parts,
	    MAXPARTS, &n, &err) == 0)
		for (i = 0; i < n; i++)
			certs_of(parts[i].body, parts[i].len);
	estc_resp_free(resp);
	return 0;
}
