/*
 * Inside the recovery module: the blob's ASN.1 and what the parser worked
 * out about it, shared by archive/blob.c (format, make, parse),
 * archive/recover.c (open, combine) and archive/sharefile.c (share
 * files). Only they include this header.
 */
#ifndef ARCHIVE_RCV_INT_H
#define ARCHIVE_RCV_INT_H

#include <stdint.h>

#include <openssl/asn1.h>
#include <openssl/cms.h>
#include <openssl/x509.h>

#include "archive/escrow.h"

#define RCV_MAX_RECORDS	1000
#define RCV_KEYLEN	ESC_SHARE_KEYLEN /* AES-256 key of m-of-n records */

typedef struct rcv_share_st {
	ASN1_INTEGER *x;
	ASN1_OCTET_STRING *kra_sha256;
	ASN1_TYPE *envelope;
} RCV_SHARE;
DECLARE_ASN1_FUNCTIONS(RCV_SHARE)
DEFINE_STACK_OF(RCV_SHARE)

typedef struct rcv_record_st {
	X509 *cert;
	ASN1_INTEGER *quorum;
	ASN1_TYPE *key_envelope;
	STACK_OF(RCV_SHARE) *shares;
} RCV_RECORD;
DECLARE_ASN1_FUNCTIONS(RCV_RECORD)
DEFINE_STACK_OF(RCV_RECORD)

typedef struct rcv_content_st {
	ASN1_INTEGER *version;
	STACK_OF(RCV_RECORD) *records;
} RCV_CONTENT;
DECLARE_ASN1_FUNCTIONS(RCV_CONTENT)

/* What the parser checked and worked out about each record. */
struct rcv_rec {
	RCV_RECORD *asn;	/* borrowed from the content */
	int quorum;
	int nshares;
	char serial[65];	/* of the certificate */
	char sha256[65];	/* SHA-256 of the certificate's DER */
	unsigned char md[32];	/* the same, as bytes */
};

struct rcv_blob {
	RCV_CONTENT *content;
	STACK_OF(X509) *chain;
	X509 *signer;		/* holds the CA's public key */
	struct rcv_rec *recs;
	size_t n;
};

/* The ContentInfo in an ANY; NULL unless it is exactly one. */
CMS_ContentInfo *rcv_any_cms(const ASN1_TYPE *t);
/* An INTEGER within [min, max] into *vp; -1 if it is not. */
int rcv_int_in(const ASN1_INTEGER *ai, int64_t min, int64_t max, int *vp);
/* 1 when the record has a share envelope with that x. */
int rcv_rec_has_x(const struct rcv_rec *rec, unsigned x);

#endif
