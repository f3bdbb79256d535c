/* Request bodies of EST: base64 (line breaks allowed), PEM or DER. */
#include "ac-config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "enroll/body.h"

int
body_decode(const unsigned char *b, size_t n, unsigned char **outp,
    size_t *lenp)
{
	size_t i;
	unsigned char *out = NULL;
	EVP_ENCODE_CTX *ctx = NULL;
	int a, c, r = -1;

	*outp = NULL;
	*lenp = 0;
	while (n > 0 && isspace(*b)) {
		b++;
		n--;
	}
	if (n == 0)
		return -1;
	if (b[0] == 0x30) {
		/* DER */
		if ((out = malloc(n)) == NULL)
			return -1;
		memcpy(out, b, n);
		*outp = out;
		*lenp = n;
		return 0;
	}
	if (n > 10 && memcmp(b, "-----BEGIN", 10) == 0) {
		BIO *bio = BIO_new_mem_buf(b, (int)n);
		char *name = NULL, *hdr = NULL;
		unsigned char *data = NULL;
		long dlen = 0;

		if (bio != NULL && PEM_read_bio(bio, &name, &hdr, &data,
		    &dlen) && dlen > 0 && (out = malloc((size_t)dlen)) != NULL) {
			memcpy(out, data, (size_t)dlen);
			*outp = out;
			*lenp = (size_t)dlen;
			r = 0;
		}
		OPENSSL_free(name);
		OPENSSL_free(hdr);
		OPENSSL_free(data);
		BIO_free(bio);
		return r;
	}
	/* base64; only its alphabet and white space. */
	for (i = 0; i < n; i++)
		if (!isalnum(b[i]) && b[i] != '+' && b[i] != '/' &&
		    b[i] != '=' && !isspace(b[i]))
			return -1;
	if ((ctx = EVP_ENCODE_CTX_new()) == NULL ||
	    (out = malloc(n)) == NULL)
		goto out;
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, out, &a, b, (int)n) < 0 ||
	    EVP_DecodeFinal(ctx, out + a, &c) < 0 || a + c == 0)
		goto out;
	*outp = out;
	*lenp = (size_t)(a + c);
	out = NULL;
	r = 0;
 out:
	EVP_ENCODE_CTX_free(ctx);
	free(out);
	return r;
}
