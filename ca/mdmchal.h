/*
 * Intune-style SCEP challenges that bind the request (issue 13, PROTOCOLS
 * section 12): the CA MACs a challenge that names the template, the
 * subject and the one rfc822Name it authorizes, an expiry and a unique id;
 * the SCEP server refuses a request whose names differ, and a challenge
 * is used once.
 *
 * The string: "mdm1." BASE64(payload) "." BASE64(tag), where payload is
 * the text "ID\nEXPIRES\nTEMPLATE\nEMAIL\nSUBJECT\nDEVICE" (SUBJECT in
 * openssl's /CN=a/O=b form, empty for the default /CN=EMAIL; DEVICE may be
 * empty) and tag the first 16 bytes of HMAC-SHA256 under the CA's
 * challenge key (private/mdm-challenge.key, 32 random bytes in hex, mode
 * 0600, made with the first challenge) over "smimeca mdm1\0" || payload.
 *
 * Why a MAC and not a signature by the CA key: the challenge must fit a
 * CSR's challengePassword (RFC 2985: ub-challengePassword 255; this stays
 * at most MDMCHAL_MAX), and an RSA-2048 signature alone is 344 base64
 * characters; only the CA verifies its own challenges, so a symmetric key
 * it keeps beside its signing key loses nothing, and a check costs one
 * HMAC. Standard base64 ('+', '/', '=') and '.' are all PrintableString
 * characters, so clients that encode the password as PrintableString (Go's
 * asn1, used by micromdm's scepclient) send it unchanged.
 */
#ifndef CA_MDMCHAL_H
#define CA_MDMCHAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct ca;
struct ca_err;
struct db;

#define MDMCHAL_PREFIX	"mdm1."
#define MDMCHAL_MAX	200		/* characters of a whole challenge */
#define MDMCHAL_KEY_FILE "private/mdm-challenge.key"
#define MDMCHAL_KEYLEN	32
#define MDMCHAL_TAGLEN	16

/* What a challenge says. Strings point into the struct's own buffer. */
struct mdmchal_claims {
	int64_t id;		/* mdm_challenges row */
	int64_t expires;	/* unix time; valid while now < expires */
	const char *tpl;	/* template name */
	const char *email;	/* the one rfc822Name, lower-case */
	const char *subject;	/* "/CN=..."; never empty after decoding */
	const char *device;	/* "" when none was named */
	char buf[MDMCHAL_MAX + 64];
};

/* What `smimeca mdm scep-challenge` asks for. */
struct mdmchal_req {
	const char *tpl;	/* a template that lists scep, no archival */
	const char *email;
	const char *subject;	/* NULL: "/CN=EMAIL" */
	const char *device;	/* NULL: none */
	int64_t ttl;		/* seconds, > 0 */
};

/* Whether s starts with MDMCHAL_PREFIX: a bound challenge, not a static one. */
int mdmchal_is_bound(const char *s);

/*
 * Makes a challenge: records its row and an audit row (never the
 * challenge itself) in one transaction, and hands out the string
 * (*challengep, free it) and its id. CA_ERR_INVALID for names that cannot
 * be bound or make it longer than MDMCHAL_MAX; CA_ERR_POLICY for a
 * template that SCEP cannot serve.
 */
int mdmchal_issue(struct ca *ca, const struct mdmchal_req *req, int64_t now,
    char **challengep, int64_t *idp, struct ca_err *err);

/*
 * Decodes a challenge and, with key (MDMCHAL_KEYLEN bytes) not NULL,
 * verifies its tag before it reads the payload. CA_ERR_INVALID for a
 * string that is not one, CA_ERR_AUTH for a wrong tag. Without a key it
 * only parses (the mobileconfig export, the fuzz harness).
 */
int mdmchal_decode(const char *s, const unsigned char *key,
    struct mdmchal_claims *c, struct ca_err *err);

/* Encodes claims under key (as mdmchal_issue does; for tests). */
int mdmchal_encode(const struct mdmchal_claims *c, const unsigned char *key,
    char **outp, struct ca_err *err);

/*
 * The API of the SCEP server (enroll/scep.c, ca/scep_chal.c). A
 * challengePassword for which mdmchal_is_bound() holds goes to
 * mdmchal_check, never to the static or one-time checks.
 *
 * mdmchal_check: cheap and read-only. Verifies the challenge's MAC, that
 * this CA recorded its id and it is unused, its expiry (now < expires),
 * that tpl_name is the template it names, and that the CSR's subject
 * equals the bound subject (X509_NAME_cmp: canonical, case-insensitive)
 * and its subjectAltName holds exactly the bound rfc822Name and nothing
 * else (no more, no fewer entries). 0 and *idp on success: the CSR's one
 * rfc822Name is then the bound address, the account to issue for
 * (mdmchal_decode(challenge, NULL, &claims, err) hands it out too).
 * CA_ERR_POLICY with err naming the reason (wrong, used, expired, bound
 * to another template or name; the binding reasons all at once), or
 * CA_ERR_IO / CA_ERR_DB for our own faults. The caller answers FAILURE
 * badRequest and logs err.msg.
 *
 * mdmchal_consume: inside the issuing transaction (call it from
 * iss_issue's hook with ca_db(ca), or from a db_group_run member with
 * txdb): marks the challenge used (at time(NULL)). CA_ERR_EXISTS when
 * another request used it first (then the transaction must fail: nothing
 * is stored), CA_ERR_NOTFOUND when there is no such challenge.
 */
int mdmchal_check(struct ca *ca, const char *tpl_name, const char *challenge,
    X509_REQ *csr, int64_t now, int64_t *idp, struct ca_err *err);
int mdmchal_consume(struct db *txdb, int64_t id, struct ca_err *err);

/*
 * The first half of mdmchal_check, without a request: the MAC, that this
 * CA recorded the id and it is unused, and the expiry; *c gets what the
 * challenge names. CA_ERR_POLICY with the reason, as mdmchal_check.
 */
int mdmchal_inspect(struct ca *ca, const char *challenge, int64_t now,
    struct mdmchal_claims *c, struct ca_err *err);

/*
 * The CA's challenge key into key; with create, makes it when it is
 * missing. CA_ERR_NOTFOUND (no message) when it is missing and !create.
 */
int mdmchal_key(struct ca *ca, int create, unsigned char key[MDMCHAL_KEYLEN],
    struct ca_err *err);

/*
 * The subject as X509_NAME from "/CN=a/O=b" (openssl req -subj; no
 * escapes); NULL when it does not parse.
 */
X509_NAME *mdmchal_parse_subject(const char *s);

#endif
