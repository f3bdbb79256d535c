/* MDM export: every escrowed identity of a user, opened with officer keys. */
#ifndef ARCHIVE_MDM_H
#define ARCHIVE_MDM_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct ca;
struct ca_err;

/* A recovery officer's key pair (borrowed by the calls below). */
struct mdm_officer {
	EVP_PKEY *key;
	X509 *cert;
};

/* One escrowed encryption certificate and its recovered key. */
struct mdm_identity {
	X509 *cert;
	EVP_PKEY *key;
	char serial[65];
	char sha1[41];		/* lower-case hex, of the DER */
	int64_t cert_id;	/* certs.id: issuance order */
	int valid;		/* neither revoked nor expired */
	int current;		/* the newest valid one of the address */
};

struct mdm_user {
	char *email;
	struct mdm_identity *ids;	/* oldest first */
	size_t n;
	STACK_OF(X509) *chain;		/* issuing CA .. root */
};

/*
 * Recovers every escrowed key of email (superseded and revoked ones too:
 * old mail needs old keys) from its escrow records, checked and audited as
 * `smimeca recover` checks and audits a recovery blob (rcv_blob_load; in
 * the caller's transaction when it holds one), each record opened with the
 * first officer that is a recipient, or with quorum of them for an m-of-n
 * record.
 */
int mdm_recover(struct ca *ca, const char *email,
    const struct mdm_officer *officers, size_t nofficers, int64_t now,
    struct mdm_user **up, struct ca_err *err);
void mdm_user_free(struct mdm_user *u);

/* Every mail address with at least one escrowed key, sorted. */
int mdm_escrowed_emails(struct ca *ca, char ***listp, size_t *np,
    struct ca_err *err);
void mdm_free_strings(char **list, size_t n);

/*
 * A device identity of the device CA (trust_file: PEM certificates): it
 * verifies at now for TLS client use, names clientAuth, is not a CA.
 */
int mdm_check_device_cert(X509 *device_cert, const char *trust_file,
    int64_t now, struct ca_err *err);

/*
 * With the CA at hand: dev is a certificate of its database (the same
 * DER), not revoked, of a device template, and, when email is given and
 * it has an owner (an account enrolled it or the one it renews), email's;
 * *ownerp (if ownerp is not NULL) is that owner, or stays NULL.
 */
int mdm_check_device_record(struct ca *ca, X509 *dev, const char *email,
    char **ownerp, struct ca_err *err);
/*
 * The device's owner may receive the key of the certificate of SHA-1
 * thumbprint thumb: it is a certificate of this CA issued to owner.
 */
int mdm_check_key_for_owner(struct ca *ca, const char *thumb,
    const char *owner, struct ca_err *err);

/* An RFC 4122 version 4 UUID in upper case (37 bytes with the NUL). */
int mdm_uuid(char out[37], struct ca_err *err);

#endif
