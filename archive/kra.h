/* Key Recovery Agent certificates registered with the CA. */
#ifndef ARCHIVE_KRA_H
#define ARCHIVE_KRA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct ca;
struct ca_err;
struct db;

struct kra {
	int64_t id;
	char sha1[41];		/* fingerprints of the DER, lower-case hex */
	char sha256[65];
	char *subject;
	int64_t not_after;
	int64_t added;
	int retired;
	X509 *cert;
};

/*
 * A usable KRA certificate: EKU 1.3.6.1.4.1.311.21.6, keyUsage with
 * keyEncipherment, an RSA key, valid at now. Errors name what is missing.
 */
int kra_check_cert(X509 *cert, int64_t now, struct ca_err *err);
/* Registers a KRA (own transaction, audited); CA_ERR_EXISTS if known. */
int kra_add(struct ca *ca, X509 *cert, struct ca_err *err);
/* Retires by SHA-1 or SHA-256 fingerprint (hex, colons allowed). */
int kra_retire(struct ca *ca, const char *fingerprint, struct ca_err *err);
/* Every registered KRA, in registration order. */
int kra_list(struct db *db, struct kra ***listp, size_t *np,
    struct ca_err *err);
/* KRAs neither retired nor expired at now, in registration order. */
int kra_usable(struct db *db, int64_t now, STACK_OF(X509) **certsp,
    struct ca_err *err);
void kra_free(struct kra *k);
void kra_free_list(struct kra **list, size_t n);

#endif
