/* Escrow: private keys stored only as CMS envelopes to KRA certificates. */
#ifndef ARCHIVE_ESCROW_H
#define ARCHIVE_ESCROW_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct ca;
struct ca_err;

/*
 * Refuses (CA_ERR_POLICY, naming the numbers and `smimeca kra add`) when
 * fewer than the configured n usable KRAs are registered.
 */
int esc_check_ready(struct ca *ca, int64_t now, struct ca_err *err);

/*
 * Inside the caller's transaction: wraps key (PKCS#8) for the certificate
 * row cert_id. With quorum m = 1: one CMS EnvelopedData (AES-256-CBC,
 * RSA-OAEP SHA-256 key transport) with one recipient per chosen KRA, which
 * stock `openssl cms -decrypt` opens. With m > 1: the PKCS#8 in a CMS
 * EncryptedData under a random AES-256 key K, and K split with Shamir into
 * n shares, each in a CMS EnvelopedData to one KRA. Audited.
 */
int esc_store(struct ca *ca, int64_t cert_id, X509 *cert, EVP_PKEY *key,
    struct ca_err *err);

/*
 * An escrow record as stored (and carried in recovery blobs): the key
 * envelope (DER ContentInfo) and, with quorum > 1, one share envelope per
 * KRA. Shared with archive/blob.c and the unit tests.
 */
struct esc_share {
	uint8_t x;
	char kra_sha256[65];	/* SHA-256 of the KRA certificate's DER */
	unsigned char *env;	/* EnvelopedData of ESC_SHARE_LEN to that KRA */
	size_t envlen;
};

/*
 * What a share envelope holds: 1 byte x || 32 bytes y || the SHA-256 of
 * the record's certificate (DER), which binds the share to that record.
 * Shares sealed by smimeca 0.1 hold x || y alone (ESC_SHARE_LEN_UNBOUND).
 */
#define ESC_SHARE_KEYLEN	32
#define ESC_SHARE_LEN		(1 + ESC_SHARE_KEYLEN + 32)
#define ESC_SHARE_LEN_UNBOUND	(1 + ESC_SHARE_KEYLEN)

struct esc_record {
	X509 *cert;		/* the certificate the key belongs to */
	int quorum;		/* m; 1 = any one KRA */
	unsigned char *env;	/* EnvelopedData (m = 1) or EncryptedData */
	size_t envlen;
	struct esc_share *shares;	/* m > 1: one per KRA */
	size_t nshares;
	char *kras;		/* comma-separated KRA SHA-1s */
};

/*
 * The envelopes of esc_store, without the database: wraps key to every
 * KRA in kras. rec is zeroed or sealed before (what it held is replaced);
 * rec->cert, the certificate of key, must be set (the shares are bound to
 * it) and is left alone.
 */
int esc_seal(EVP_PKEY *key, STACK_OF(X509) *kras, int quorum,
    struct esc_record *rec, struct ca_err *err);
/* Frees what rec holds (cert included) and zeroes it. */
void esc_record_clear(struct esc_record *rec);

#endif
