/*
 * libFuzzer harness: an EST server's answer as smimeca-enroll reads it
 * after libcurl (tools/estclient-parse.c): the status and reason, the
 * Content-Type, multipart, base64, certs-only PKCS#7, a CMC PKIResponse
 * and the CA exchange certificate.
 *
 * An input is "STATUS CONTENT-TYPE\n" and the body after it. The CMC
 * signature and the exchange certificate verify against the certificates
 * in the file FUZZ_EST_CACERT names, if set (else against none).
 */
#include "ac-config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "ca/err.h"
#include "tools/estclient.h"

#define MAXPARTS	8

static void certs_of(const unsigned char *, size_t);
static X509_STORE *store_of(void);
static int resp_of(const uint8_t *, size_t, struct estc_resp *);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static X509_STORE *store;

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

static X509_STORE *
store_of(void)
{
	const char *f = getenv("FUZZ_EST_CACERT");
	X509_STORE *s;

	if ((s = X509_STORE_new()) == NULL)
		abort();
	if (f != NULL && !X509_STORE_load_file(s, f))
		abort();	/* a harness that runs blind is no harness */
	return s;
}

/* The answer of the input, as estc_request fills it in; -1 if none. */
static int
resp_of(const uint8_t *data, size_t len, struct estc_resp *resp)
{
	const uint8_t *nl, *p = data, *end;
	size_t n;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	if ((nl = memchr(data, '\n', len)) == NULL)
		return -1;
	for (; p < nl && *p >= '0' && *p <= '9' && resp->status < 1000; p++)
		resp->status = resp->status * 10 + (*p - '0');
	if (p < nl && *p == ' ')
		p++;
	end = nl;
	if (end > p && end[-1] == '\r')
		end--;
	n = (size_t)(end - p);
	if (n >= sizeof(resp->ctype) || memchr(p, '\0', n) != NULL)
		return -1;
	memcpy(resp->ctype, p, n);
	resp->len = len - (size_t)(nl + 1 - data);
	if ((resp->body = malloc(resp->len + 1)) == NULL)
		abort();
	memcpy(resp->body, nl + 1, resp->len);
	resp->body[resp->len] = '\0';
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct estc_part parts[MAXPARTS];
	struct estc_resp resp;
	struct estc_cmc cmc;
	struct ca_err err;
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	size_t i, n;

	if (store == NULL)
		store = store_of();
	if (resp_of(data, len, &resp) != 0)
		return 0;
	ca_err_clear(&err);
	estc_expect_ok(&resp, "fuzz", &err);
	certs_of(resp.body, resp.len);
	ca_err_clear(&err);
	if (estc_multipart(resp.ctype, resp.body, resp.len, parts,
	    MAXPARTS, &n, &err) == 0)
		for (i = 0; i < n; i++)
			certs_of(parts[i].body, parts[i].len);
	ca_err_clear(&err);
	if (estc_answer_certs(&resp, "simpleenroll", &certs, &err) == 0)
		sk_X509_pop_free(certs, X509_free);
	ca_err_clear(&err);
	if (estc_answer_keygen(&resp, &key, &certs, &err) == 0) {
		EVP_PKEY_free(key);
		sk_X509_pop_free(certs, X509_free);
	}
	ca_err_clear(&err);
	estc_answer_cmc(&resp, store, "fuzz.pem", &cmc, &err);
	estc_cmc_clear(&cmc);
	ca_err_clear(&err);
	if (estc_answer_exchange(&resp, store, "fuzz", "fuzz.pem", &x,
	    &err) == 0)
		X509_free(x);
	ERR_clear_error();
	free(resp.body);
	return 0;
}
