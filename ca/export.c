/*
 * The CA's certificates for other trust stores. SST is the serialized
 * certificate store of [MS-OSHARED] 2.3.2.5 (the .sst file Exchange
 * Online's Set-SmimeConfig -SMIMECertificateIssuingCA takes): a header
 * (version 0, fileType "CERT"), per certificate a SerializedCertificateEntry
 * (id 0x20, encodingType 1, length, DER) with no property entries before
 * it, then an EndElementMarkerEntry (id 0 and eight zero bytes). Integers
 * are 32-bit little-endian.
 */
#include "ac-config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "ca/dynbuf.h"
#include "ca/err.h"
#include "ca/export.h"

#define EXPORT_MAX		(16 * 1024 * 1024)
#define SST_VERSION		0x00000000u
#define SST_FILE_TYPE		0x54524543u	/* "CERT" on disk */
#define SST_CERT_ID		0x00000020u	/* CERT_CERT_PROP_ID */
#define SST_X509_ASN		0x00000001u	/* X509_ASN_ENCODING */
#define SST_END_ID		0x00000000u

static int add_u32le(struct dynbuf *, uint32_t);
static int write_sst(STACK_OF(X509) *, struct dynbuf *, struct ca_err *);
static int write_pem(STACK_OF(X509) *, struct dynbuf *, struct ca_err *);
static int write_der(X509 *, struct dynbuf *, struct ca_err *);
static int write_p7b(STACK_OF(X509) *, struct dynbuf *, struct ca_err *);

int
export_fmt_parse(const char *s, enum export_fmt *fmtp)
{
	static const struct {
		const char *name;
		enum export_fmt fmt;
	} fmts[] = {
		{ "pem", EXPORT_PEM }, { "der", EXPORT_DER },
		{ "p7b", EXPORT_P7B }, { "sst", EXPORT_SST },
	};
	size_t i;

	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
		if (strcmp(s, fmts[i].name) == 0) {
			*fmtp = fmts[i].fmt;
			return 0;
		}
	return -1;
}

static int
add_u32le(struct dynbuf *d, uint32_t v)
{
	unsigned char b[4];

	b[0] = v & 0xff;
	b[1] = (v >> 8) & 0xff;
	b[2] = (v >> 16) & 0xff;
	b[3] = (v >> 24) & 0xff;
	return dynbuf_add(d, b, sizeof(b));
}

static int
write_sst(STACK_OF(X509) *certs, struct dynbuf *d, struct ca_err *err)
{
	unsigned char *der = NULL;
	int i, len;

	if (add_u32le(d, SST_VERSION) != 0 ||
	    add_u32le(d, SST_FILE_TYPE) != 0)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	for (i = 0; i < sk_X509_num(certs); i++) {
		if ((len = i2d_X509(sk_X509_value(certs, i), &der)) <= 0)
			return ca_err_ssl(err, CA_ERR_CRYPTO, "encoding "
			    "certificate %d of the chain", i + 1);
		if (add_u32le(d, SST_CERT_ID) != 0 ||
		    add_u32le(d, SST_X509_ASN) != 0 ||
		    add_u32le(d, (uint32_t)len) != 0 ||
		    dynbuf_add(d, der, (size_t)len) != 0) {
			OPENSSL_free(der);
			return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		}
		OPENSSL_free(der);
		der = NULL;
	}
	/* EndElementMarkerEntry: id 0, then an 8-byte zero marker. */
	if (add_u32le(d, SST_END_ID) != 0 || add_u32le(d, 0) != 0 ||
	    add_u32le(d, 0) != 0)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	return 0;
}

static int
write_pem(STACK_OF(X509) *certs, struct dynbuf *d, struct ca_err *err)
{
	BIO *b;
	char *p;
	long n;
	int i, r = 0;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	for (i = 0; i < sk_X509_num(certs); i++)
		if (!PEM_write_bio_X509(b, sk_X509_value(certs, i))) {
			r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding "
			    "certificate %d as PEM", i + 1);
			goto out;
		}
	if ((n = BIO_get_mem_data(b, &p)) <= 0 ||
	    dynbuf_add(d, p, (size_t)n) != 0)
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
 out:
	BIO_free(b);
	return r;
}

static int
write_der(X509 *cert, struct dynbuf *d, struct ca_err *err)
{
	unsigned char *der = NULL;
	int len, r = 0;

	if ((len = i2d_X509(cert, &der)) <= 0)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the "
		    "certificate");
	if (dynbuf_add(d, der, (size_t)len) != 0)
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	OPENSSL_free(der);
	return r;
}

/*
 * A degenerate SignedData (RFC 2315 9.1 with no signers), as crl2pkcs7:
 * content type data with no content, nothing signed.
 */
int
export_certs_only(X509 *first, STACK_OF(X509) *more, unsigned char **derp,
    size_t *lenp)
{
	PKCS7 *p7 = NULL;
	unsigned char *der = NULL;
	int i, len, r = -1;

	*derp = NULL;
	if ((p7 = PKCS7_new()) == NULL ||
	    !PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    !PKCS7_content_new(p7, NID_pkcs7_data) ||
	    (first != NULL && !PKCS7_add_certificate(p7, first)))
		goto out;
	for (i = 0; i < sk_X509_num(more); i++)
		if (!PKCS7_add_certificate(p7, sk_X509_value(more, i)))
			goto out;
	if ((len = i2d_PKCS7(p7, &der)) <= 0)
		goto out;
	*derp = der;
	*lenp = (size_t)len;
	r = 0;
 out:
	PKCS7_free(p7);
	return r;
}

static int
write_p7b(STACK_OF(X509) *certs, struct dynbuf *d, struct ca_err *err)
{
	unsigned char *der = NULL;
	size_t len = 0;
	int r;

	if (export_certs_only(NULL, certs, &der, &len) != 0)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "making the PKCS#7 "
		    "certificate bundle");
	r = dynbuf_add(d, der, len) != 0 ?
	    ca_err_set(err, CA_ERR_NOMEM, "out of memory") : 0;
	OPENSSL_free(der);
	return r;
}

int
export_certs(enum export_fmt fmt, STACK_OF(X509) *certs,
    unsigned char **outp, size_t *lenp, struct ca_err *err)
{
	struct dynbuf d;
	int n = sk_X509_num(certs), r;

	*outp = NULL;
	*lenp = 0;
	if (n <= 0)
		return ca_err_set(err, CA_ERR_INVALID, "no certificate to "
		    "export");
	if (fmt == EXPORT_DER && n != 1)
		return ca_err_set(err, CA_ERR_INVALID, "DER holds one "
		    "certificate, not %d: take pem, p7b or sst for a chain",
		    n);
	dynbuf_init(&d, EXPORT_MAX, 0);
	switch (fmt) {
	case EXPORT_PEM:
		r = write_pem(certs, &d, err);
		break;
	case EXPORT_DER:
		r = write_der(sk_X509_value(certs, 0), &d, err);
		break;
	case EXPORT_P7B:
		r = write_p7b(certs, &d, err);
		break;
	case EXPORT_SST:
		r = write_sst(certs, &d, err);
		break;
	default:
		r = ca_err_set(err, CA_ERR_INTERNAL, "unknown export format "
		    "%d", (int)fmt);
		break;
	}
	if (r != 0) {
		dynbuf_free(&d);
		return r;
	}
	if ((*outp = dynbuf_take(&d, lenp)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	return 0;
}
