/* Key-archival requests: the Windows CMC layout and a simpler form. */
#ifndef ARCHIVE_AREQ_H
#define ARCHIVE_AREQ_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

struct ca;
struct ca_err;

enum areq_form {
	AREQ_FORM_CMC,		/* [MS-WCCE] CMC full PKI request */
	AREQ_FORM_SIMPLE,	/* CSR + CMS EnvelopedData of PKCS#8 */
};

#define AREQ_MAX	(1024 * 1024)

struct areq {
	enum areq_form form;
	X509_REQ *csr;			/* the request, archived key stripped */
	CMS_ContentInfo *env;		/* EnvelopedData holding the key */
	unsigned char *env_der;		/* its DER (what the key hash covers) */
	size_t env_len;
	unsigned char key_hash[EVP_MAX_MD_SIZE];	/* CMC: claimed hash */
	size_t key_hash_len;
	const EVP_MD *md;		/* CMC: the signature's digest */
	long body_part_id;		/* CMC: of the PKCS#10 request */
};

/*
 * Parses a CMC full PKI request (DER ContentInfo SignedData, PEM or base64
 * accepted too): checks the signature with the request's own key, finds the
 * archived-key attribute and the encrypted-key-hash control. A request
 * without an archived key is returned with env == NULL.
 */
int areq_parse_cmc(const unsigned char *buf, size_t len, struct areq **ap,
    struct ca_err *err);
/*
 * The simpler form: a CSR and an EnvelopedData (DER or PEM) of PKCS#8;
 * env == NULL makes a request without a key to archive.
 */
int areq_parse_simple(X509_REQ *csr, const unsigned char *env, size_t len,
    struct areq **ap, struct ca_err *err);
/*
 * Decrypts the key with the exchange key it was encrypted to, checks the
 * key hash (CMC) and that the key matches the request's public key.
 * Each failed check has its own message.
 */
int areq_open(struct ca *ca, const struct areq *a, int64_t now,
    EVP_PKEY **keyp, struct ca_err *err);
void areq_free(struct areq *a);

#endif
