/*
 * Recovery: blobs for officers (blob.c), opening them with a KRA key
 * (recover.c), share files (sharefile.c). PKCS#12 is in p12.h.
 */
#ifndef ARCHIVE_RECOVER_H
#define ARCHIVE_RECOVER_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "archive/shamir.h"

struct ca;
struct ca_err;
struct esc_record;
struct rcv_blob;

/*
 * CA administrator: a CMS SignedData by the CA (DER) whose content is a
 * SmimecaRecoveryBlob with the escrow records of one certificate (serial)
 * or of every escrowed certificate of a mail address, and whose
 * certificates are the CA chain. Needs no KRA key. Audited.
 */
int rcv_blob_make(struct ca *ca, const char *serial, const char *email,
    unsigned char **derp, size_t *lenp, struct ca_err *err);
/*
 * The CA's own use (the MDM exports): the escrow records of every escrowed
 * certificate of email, as rcv_blob_parse would return them from a blob
 * made by rcv_blob_make, without signing one only to verify it. Audited
 * as rcv_blob_make is, in the caller's transaction when it holds one
 * (db_begin; it then commits, or rolls back on an error).
 */
int rcv_blob_load(struct ca *ca, const char *email, struct rcv_blob **bp,
    struct ca_err *err);

/*
 * Recovery officer: parses a blob and checks it against trust, the CA
 * certificate (required): its one signer holds the CA's public key (no
 * other certificate, whatever it chains to, may sign a blob), and the CA
 * issued every record's certificate (CA_ERR_AUTH, naming the signer or the
 * record). Opening a record later checks that its escrow belongs to its
 * certificate.
 */
int rcv_blob_parse(const unsigned char *der, size_t len, X509 *trust,
    struct rcv_blob **bp, struct ca_err *err);
void rcv_blob_free(struct rcv_blob *b);
size_t rcv_blob_count(const struct rcv_blob *b);
X509 *rcv_blob_cert(const struct rcv_blob *b, size_t i);
int rcv_blob_quorum(const struct rcv_blob *b, size_t i);
STACK_OF(X509) *rcv_blob_chain(const struct rcv_blob *b);
/* The certificate that signed the blob (it holds the CA's key). */
X509 *rcv_blob_signer(const struct rcv_blob *b);
/*
 * What an officer reads before decrypting: "serial S, subject N, mail M,
 * issued T, any one of n KRAs | m of n officers" for record i.
 */
int rcv_blob_describe(const struct rcv_blob *b, size_t i, char *buf,
    size_t len);

/* Quorum 1: decrypts record i with a KRA key; checks it fits the cert. */
int rcv_open_key(const struct rcv_blob *b, size_t i, EVP_PKEY *kra_key,
    X509 *kra_cert, EVP_PKEY **keyp, struct ca_err *err);
/* Quorum > 1: decrypts this KRA's share of record i. */
int rcv_open_share(const struct rcv_blob *b, size_t i, EVP_PKEY *kra_key,
    X509 *kra_cert, struct shamir_share *share, struct ca_err *err);
/* Quorum > 1: rebuilds the key of record i from k shares. */
int rcv_combine(const struct rcv_blob *b, size_t i,
    const struct shamir_share *shares, unsigned k, EVP_PKEY **keyp,
    struct ca_err *err);

/*
 * Share files (JSON, written 0600 by the caller): one entry per record,
 * {"version":1,"shares":[{"cert_sha256":..,"x":N,"y":"hex"}]}.
 * Encodes the shares of records (idx[j] = record index of shares[j]).
 */
int rcv_share_encode(const struct rcv_blob *b, const size_t *idx,
    const struct shamir_share *shares, size_t n, char **jsonp,
    struct ca_err *err);
/* Decodes a share file; *idxp[j] = the record index it belongs to in b. */
int rcv_share_decode(const struct rcv_blob *b, const char *json,
    size_t **idxp, struct shamir_share **sharesp, size_t *np,
    struct ca_err *err);

/*
 * For rcv_blob_make and the unit tests: signs the records as a recovery
 * blob with signer/key; chain (may be NULL) goes into the CMS certificates.
 */
int rcv_blob_sign(X509 *signer, EVP_PKEY *key, STACK_OF(X509) *chain,
    const struct esc_record *recs, size_t n, unsigned char **derp,
    size_t *lenp, struct ca_err *err);

#endif
