/*
 * The CA: its directory, keys, certificates and store, opened as one.
 * One header for the module, whose code is split by concern as OpenSSH
 * splits sshbuf: ca.c (open, close, accessors), keyio.c (key files),
 * init.c (a new CA), svccert.c (certificates of the CA's own services).
 */
#ifndef CA_CA_H
#define CA_CA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct ca_err;
struct ca_config;
struct db;
struct ca;

/* Environment variable that may hold the CA key passphrase. */
#define CA_PASSPHRASE_ENV	"SMIMECA_PASSPHRASE"

enum ca_keyspec {
	CA_KEY_RSA2048, CA_KEY_RSA3072, CA_KEY_RSA4096,
	CA_KEY_EC_P256, CA_KEY_EC_P384,
};

struct ca_init_params {
	const char *dir;
	const char *name;		/* issuing CA CN */
	enum ca_keyspec key;
	int two_tier;			/* root + issuing CA */
	const char *passphrase_file;	/* NULL: key files unencrypted */
	const char *base_url;		/* CDP/AIA base, NULL for default */
	int validity_days;		/* issuing CA; root gets twice that */
	int lab;			/* lab defaults: any one of 3 KRAs */
};

/* ca/init.c: creates a new CA directory; refuses one holding a CA. */
int ca_init(const struct ca_init_params *p, struct ca_err *err);

/* ca/keyio.c */
int ca_keyspec_parse(const char *s, enum ca_keyspec *kp);
/* Generates a key as the spec says. */
int ca_keygen(enum ca_keyspec spec, EVP_PKEY **keyp, struct ca_err *err);
/*
 * Reads a key file; refuses one readable by group/others. The passphrase
 * comes from passphrase_file, else $SMIMECA_PASSPHRASE, when the key is
 * encrypted.
 */
int ca_read_key(const char *path, const char *passphrase_file,
    EVP_PKEY **keyp, struct ca_err *err);
/* Writes a PKCS#8 key (mode 0600), AES-256 + PBKDF2 when pass != NULL. */
int ca_write_key(const char *path, EVP_PKEY *key, const char *pass,
    struct ca_err *err);
/*
 * A key the CA holds besides its signing key (exchange, TLS): protected
 * with the CA key's passphrase when one is set, else plain with mode 0600.
 */
int ca_read_held_key(struct ca *ca, const char *path, EVP_PKEY **keyp,
    struct ca_err *err);
int ca_write_held_key(struct ca *ca, const char *path, EVP_PKEY *key,
    struct ca_err *err);

/* ca/ca.c */

#define CA_OPEN_KEY	0x01	/* load (and decrypt) the signing key */

/*
 * Opens an existing CA directory: configuration, database, certificates.
 * passphrase_file (may be NULL) is used when the key is loaded.
 */
int ca_open(const char *dir, const char *passphrase_file, unsigned flags,
    struct ca **cap, struct ca_err *err);
/* Loads the signing key if ca_open was called without CA_OPEN_KEY. */
int ca_load_key(struct ca *ca, struct ca_err *err);
void ca_close(struct ca *ca);

const struct ca_config *ca_config(const struct ca *ca);
struct db *ca_db(struct ca *ca);
/*
 * Until called again with NULL, ca_db() returns db: a group commit runs
 * this handle's statements on the handle that leads the batch, from the
 * leader's thread. So a struct ca belongs to one thread at a time.
 */
void ca_use_db(struct ca *ca, struct db *db);
X509 *ca_cert(const struct ca *ca);		/* issuing CA */
int64_t ca_cert_id(const struct ca *ca);	/* its ca_certs row */
STACK_OF(X509) *ca_chain(const struct ca *ca);	/* issuing .. root */
EVP_PKEY *ca_key(const struct ca *ca);		/* NULL until loaded */
const EVP_MD *ca_digest(const struct ca *ca);
/* The actor recorded in audit rows ("admin" unless set). */
const char *ca_actor(const struct ca *ca);
void ca_set_actor(struct ca *ca, const char *actor);
/*
 * The file the CA's key passphrase comes from: --passphrase-file, else
 * none when $SMIMECA_PASSPHRASE is set, else <passphrase-file>.
 */
const char *ca_passphrase_file(const struct ca *ca);

/* ca/svccert.c */
/*
 * Records a certificate whose key the CA holds (exchange, profile signer):
 * writes the key to DIR/rel, then its ca_certs row (role) and an audit row
 * (action, detail) in one transaction; removes the key file on failure.
 */
int ca_store_held(struct ca *ca, const char *role, X509 *cert, EVP_PKEY *key,
    const char *rel, const char *action, const char *detail,
    struct ca_err *err);

/* 16 random bytes, positive, first byte non-zero: always 32 hex digits. */
int ca_random_serial(ASN1_INTEGER **serialp, struct ca_err *err);
/*
 * A v3 certificate for the CA's own services (exchange, TLS): CN=cn, a
 * random serial, issued by the CA, valid nb..na, with key; unsigned and
 * without extensions.
 */
int ca_new_cert(struct ca *ca, const char *cn, EVP_PKEY *key, time_t nb,
    time_t na, X509 **certp, struct ca_err *err);
/*
 * The extensions every certificate of the CA's own services has: CA:FALSE,
 * keyUsage ku (critical) and extendedKeyUsage eku in OpenSSL's syntax,
 * subject and authority key identifiers.
 */
int ca_add_service_exts(X509 *cert, X509 *issuer, const char *ku,
    const char *eku, struct ca_err *err);
/* Adds an extension from OpenSSL's configuration syntax. */
int ca_add_ext(X509 *cert, X509 *issuer, int nid, const char *value,
    struct ca_err *err);

#endif
