/*
 * libFuzzer harness: bound SCEP challenges (ca/mdmchal.c), as the SCEP
 * server decodes a CSR's challengePassword.
 *
 * Each input is tried three ways: as a whole challenge under a fixed key
 * and without one, and as a payload the harness wraps into a challenge
 * with a valid MAC (the format of ca/mdmchal.h), so that the payload
 * parser is reached past the tag. A payload that decodes must encode and
 * decode again to the same claims.
 */
#include "ac-config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ca/err.h"
#include "ca/mdmchal.h"
#include "ca/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* 31 characters and the NUL: MDMCHAL_KEYLEN bytes. */
static const unsigned char key[MDMCHAL_KEYLEN] =
    "fuzz-mdmchal-key-0123456789abcd";

/* The claims of a decoded challenge survive a round trip. */
static void
round_trip(const struct mdmchal_claims *c)
{
	struct mdmchal_claims c2;
	struct ca_err err;
	char *s = NULL;

	ca_err_clear(&err);
	if (mdmchal_encode(c, key, &s, &err) != 0)
		return;		/* too long once the default subject is out */
	if (mdmchal_decode(s, key, &c2, &err) != 0 || c2.id != c->id ||
	    c2.expires != c->expires || strcmp(c2.tpl, c->tpl) != 0 ||
	    strcmp(c2.email, c->email) != 0 ||
	    strcmp(c2.subject, c->subject) != 0 ||
	    strcmp(c2.device, c->device) != 0)
		abort();
	free(s);
}

/* "mdm1." b64(payload) "." b64(tag) with the right tag. */
static void
wrapped(const uint8_t *data, size_t len)
{
	static const char ctx[] = "smimeca mdm1";
	unsigned char *msg, md[EVP_MAX_MD_SIZE];
	size_t mdlen = 0;
	struct mdmchal_claims c;
	struct ca_err err;
	char *b1 = NULL, *b2 = NULL, s[4 * MDMCHAL_MAX];

	if (len > MDMCHAL_MAX || (msg = malloc(sizeof(ctx) + len + 1)) == NULL)
		return;
	memcpy(msg, ctx, sizeof(ctx));
	memcpy(msg + sizeof(ctx), data, len);
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, sizeof(key),
	    msg, sizeof(ctx) + len, md, sizeof(md), &mdlen) == NULL ||
	    (b1 = util_b64_encode(data, len)) == NULL ||
	    (b2 = util_b64_encode(md, MDMCHAL_TAGLEN)) == NULL)
		goto out;
	snprintf(s, sizeof(s), "%s%s.%s", MDMCHAL_PREFIX, b1, b2);
	ca_err_clear(&err);
	if (mdmchal_decode(s, key, &c, &err) == 0)
		round_trip(&c);
 out:
	free(msg);
	free(b1);
	free(b2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct mdmchal_claims c;
	struct ca_err err;
	char *s;

	if ((s = malloc(len + 1)) == NULL)
		return 0;
	memcpy(s, data, len);
	s[len] = '\0';
	ca_err_clear(&err);
	if (mdmchal_decode(s, key, &c, &err) == 0)
		round_trip(&c);
	ca_err_clear(&err);
	(void)mdmchal_decode(s, NULL, &c, &err);
	free(s);
	wrapped(data, len);
	return 0;
}
