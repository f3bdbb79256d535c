/* Apple configuration profiles with a user's S/MIME identities. */
#ifndef ARCHIVE_PROFILE_H
#define ARCHIVE_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct ca;
struct ca_err;
struct mdm_user;

/* The mail account payload of the profile. */
enum prof_account {
	PROF_ACCOUNT_IMAP,		/* com.apple.mail.managed */
	PROF_ACCOUNT_EAS,		/* com.apple.eas.account (Exchange) */
};

struct prof_params {
	const char *org;		/* PayloadOrganization: the CA's name */
	enum prof_account account;
	const char *imap_host;		/* NULL: mail.DOMAIN */
	const char *smtp_host;		/* NULL: the IMAP host */
	const char *eas_host;		/* Exchange ActiveSync host (EAS) */
	const char *eas_user;		/* NULL: the mail address */
	int encrypt_by_default;		/* SMIMEEncryptByDefault */
	int aes;			/* PKCS#12 with PBES2, not 3DES */
	X509 *encrypt_to;		/* EncryptedPayloadContent; or NULL */
	STACK_OF(X509) *roots;		/* CA certificates to trust; or NULL */
	/*
	 * com.apple.security.scep, the device's own signing key, when
	 * scep_url is not NULL: the accounts sign with it.
	 */
	const char *scep_url;
	const char *scep_challenge;
	const char *scep_subject;	/* "/CN=..."; NULL: /CN=the address */
	X509 *scep_ca;			/* CAFingerprint: SHA-1 of its DER */
	int scep_keysize;		/* RSA bits; 0: 2048 */
};

/*
 * An XML plist: one com.apple.security.pkcs12 payload per identity of u
 * (each with its own random password), and a mail account payload
 * (com.apple.mail.managed, or com.apple.eas.account with PROF_ACCOUNT_EAS)
 * whose S/MIME keys name the payload of the current certificate, and
 * with scep_url a com.apple.security.scep payload that the accounts sign
 * with.
 * Refuses a user without a current (valid) certificate. With roots, one
 * com.apple.security.root payload per certificate in it. With encrypt_to,
 * the payloads are a CMS EnvelopedData to that device certificate.
 */
int prof_build(const struct prof_params *p, const struct mdm_user *u,
    char **xmlp, size_t *lenp, struct ca_err *err);

/* CMS SignedData (DER, content attached, chain included) over the plist. */
int prof_sign(const char *xml, size_t len, X509 *signer, EVP_PKEY *key,
    STACK_OF(X509) *chain, unsigned char **derp, size_t *lenp,
    struct ca_err *err);

/*
 * The CA's profile-signing certificate (digitalSignature, emailProtection)
 * and its key: the current one, else a new one issued now (audited).
 */
int prof_signer(struct ca *ca, int64_t now, X509 **certp, EVP_PKEY **keyp,
    struct ca_err *err);

#endif
