/*
 * SCEP (RFC 8894) without HTTP: the RA certificate (ca/scep_ra.c), the
 * pkiMessage and its CertRep (ca/scep.c), challenges (ca/scep_chal.c) and
 * held requests (ca/scep_req.c). enroll/scep.c carries them over HTTP.
 */
#ifndef CA_SCEP_H
#define CA_SCEP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct ca;
struct ca_err;
struct db;
struct tpl;

/* messageType */
#define SCEP_CERTREP		3
#define SCEP_RENEWALREQ		17
#define SCEP_PKCSREQ		19
#define SCEP_CERTPOLL		20
#define SCEP_GETCERT		21
#define SCEP_GETCRL		22

/* pkiStatus */
#define SCEP_SUCCESS		0
#define SCEP_FAILURE		2
#define SCEP_PENDING		3

/* failInfo */
#define SCEP_BADALG		0
#define SCEP_BADMESSAGECHECK	1
#define SCEP_BADREQUEST		2
#define SCEP_BADTIME		3
#define SCEP_BADCERTID		4

/* The largest pkiMessage read; past it no signature or key works. */
#define SCEP_MSG_MAX		(64 * 1024)
#define SCEP_TID_MAX		128

/*
 * One thread's SCEP state: the RA certificates and keys it loaded, and
 * whether legacy algorithms (DES, DES3, SHA-1) are accepted.
 */
struct scep;

int scep_new(struct ca *ca, struct scep **sp, struct ca_err *err);
void scep_free(struct scep *s);

/* GetCACaps: the capabilities, one per line, LF-terminated. */
const char *scep_caps(const struct scep *s);
/*
 * GetCACert: a degenerate PKCS#7 of the RA and CA certificates (DER),
 * making or rolling the RA certificate when needed (CA key).
 */
int scep_cacert(struct scep *s, struct ca *ca, int64_t now,
    unsigned char **derp, size_t *lenp, struct ca_err *err);

/* What a PKIOperation came to, for the log and the metrics. */
struct scep_result {
	int msgtype;		/* of the request; 0 when unreadable */
	int status;		/* SCEP_SUCCESS, _FAILURE, _PENDING */
	int fail_info;		/* with SCEP_FAILURE */
	int decrypted;		/* the RA key opened the envelope */
	int issued;		/* a new certificate (not a replay) */
	int replay;		/* answered from a stored transaction */
	char tid[SCEP_TID_MAX + 1];
	char serial[65];	/* the certificate answered, if any */
	char reason[512];	/* why it failed, for the log */
};

/*
 * PKIOperation: answers the pkiMessage msg for template tpl with a CertRep
 * (DER) in *outp. A message too broken to answer in SCEP (not a signed
 * pkiMessage, no transactionID) is CA_ERR_INVALID with err saying why;
 * other errors are the CA's own.
 */
int scep_pkiop(struct scep *s, struct ca *ca, const struct tpl *tpl,
    const unsigned char *msg, size_t len, int64_t now, unsigned char **outp,
    size_t *outlenp, struct scep_result *res, struct ca_err *err);

/*
 * The parser alone (tests/fuzz): reads msg as a pkiMessage, checks its
 * attributes and the signature; 0 or CA_ERR_INVALID.
 */
int scep_parse_only(const unsigned char *msg, size_t len, int legacy,
    struct ca_err *err);

/* --- challenges (ca/scep_chal.c) --- */

/* The kinds of challenge passwords; a new kind is one more case. */
enum scep_chal_kind {
	SCEP_CHAL_NONE,
	SCEP_CHAL_STATIC,	/* <scep-challenge> of the template */
	SCEP_CHAL_ONETIME,	/* smimeca scep challenge */
	SCEP_CHAL_BOUND,	/* smimeca mdm scep-challenge (ca/mdmchal.c) */
};

/* A challenge that passed, until it is used up. */
struct scep_chal {
	enum scep_chal_kind kind;
	int64_t id;		/* ONETIME, BOUND: its row */
	char email[256];	/* the address it is bound to, or "" */
	char requester[64];	/* "scep:static", "scep:otc:ID", "scep:mdm:ID" */
};

/*
 * Checks the challenge password of csr for template t; dispatches on the
 * kind of challenge. A refusal is CA_ERR_AUTH with err naming the reason
 * (wrong, used, expired, another template).
 */
int scep_chal_check(struct ca *ca, const struct tpl *t, const char *pw,
    X509_REQ *csr, int64_t now, struct scep_chal *c, struct ca_err *err);
/* Uses c up, on db inside the transaction that issues or holds. */
int scep_chal_consume(struct db *db, const struct scep_chal *c, int64_t now,
    struct ca_err *err);
/*
 * A new one-time challenge (audited): template and email may be NULL
 * (any); *secretp (malloc'ed, wipe it) is printed once and never stored.
 */
int scep_chal_new(struct ca *ca, const char *tpl, const char *email,
    int64_t ttl, int64_t now, char **secretp, int64_t *idp,
    struct ca_err *err);

/* --- held requests (ca/scep_req.c) --- */

/* Issues a pending request (approval); *serialp gets the serial. */
int scep_req_approve(struct ca *ca, int64_t id, char serial[65],
    struct ca_err *err);
/* Refuses a pending request: the client's next poll gets FAILURE. */
int scep_req_deny(struct ca *ca, int64_t id, struct ca_err *err);

/* --- the RA certificate (ca/scep_ra.c) --- */

#define SCEP_RA_ROLE	"ra"

/*
 * The RA certificate to use now, with its key: a new one is made (CA key
 * needed, audited) when none has more than the margin left.
 */
int scep_ra_current(struct ca *ca, int64_t now, X509 **certp,
    EVP_PKEY **keyp, struct ca_err *err);
/* Makes a new RA key and certificate now. */
int scep_ra_roll(struct ca *ca, int64_t now, X509 **certp, EVP_PKEY **keyp,
    struct ca_err *err);
/* The RA certificate and key of that issuer and serial, unexpired. */
int scep_ra_find(struct ca *ca, const X509_NAME *issuer,
    const ASN1_INTEGER *serial, int64_t now, X509 **certp, EVP_PKEY **keyp,
    struct ca_err *err);

#endif
