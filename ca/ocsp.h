/*
 * The OCSP responder (RFC 6960, with the RFC 5019 lightweight profile):
 * a DER request in, a signed DER response out, through OpenSSL's OCSP
 * API. No HTTP here: enroll/ocsp.c serves it, tools/cmd_ocsp.c asks it.
 */
#ifndef CA_OCSP_H
#define CA_OCSP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct ca;
struct ca_err;

/* The role of delegated responder certificates in ca_certs. */
#define OCSP_ROLE		"ocsp"
/* A larger request (DER) is answered malformedRequest. */
#define OCSP_REQ_MAX		4096
/* More CertIDs in one request: malformedRequest. */
#define OCSP_IDS_MAX		32
/* RFC 8954: a nonce is 1 to 32 octets; others are malformedRequest. */
#define OCSP_NONCE_MAX		32

/* How a request was answered, for the log and the metrics. */
enum ocsp_result {
	OCSP_R_GOOD,		/* every CertID good */
	OCSP_R_REVOKED,		/* one at least revoked */
	OCSP_R_UNKNOWN,		/* one at least unknown, none revoked */
	OCSP_R_MALFORMED,	/* malformedRequest */
	OCSP_R_UNAUTHORIZED,	/* a CertID of another issuer */
	OCSP_R_ERROR,		/* internalError: our own fault */
	OCSP_R_MAX
};

/* "good", "revoked", "unknown", "malformed", "unauthorized", "error". */
const char *ocsp_result_name(int result);

/* The certificate and key responses are signed with. */
struct ocsp_signer;

/*
 * The signer to use now: the CA itself with <ocsp signer="ca">, else the
 * delegated responder certificate with the latest notAfter, issued by the
 * current CA certificate; a new one is made (CA key needed) when none has
 * more than a response's validity left.
 */
int ocsp_signer_get(struct ca *ca, int64_t now, struct ocsp_signer **sp,
    struct ca_err *err);
void ocsp_signer_free(struct ocsp_signer *s);
/* Whether s may still sign at now (else get the signer again). */
int ocsp_signer_usable(const struct ocsp_signer *s, int64_t now);
/* Its certificate (the CA's with signer="ca"). */
X509 *ocsp_signer_cert(const struct ocsp_signer *s);
/* Whether it is the CA key rather than a delegated responder. */
int ocsp_signer_is_ca(const struct ocsp_signer *s);

/* Makes a new responder key and certificate now (audited). */
int ocsp_roll(struct ca *ca, int64_t now, X509 **certp, struct ca_err *err);

struct ocsp_answer {
	unsigned char *der;	/* the OCSPResponse (malloc'ed) */
	size_t len;
	enum ocsp_result result;
	int nonce;		/* the request carried a nonce */
	int preproduced;	/* served from the stored responses */
	/* Of a successful answer: when to look again (0: not set). */
	int64_t this_update;
	int64_t next_update;
	char etag[41];		/* hex SHA-1 of der */
	char why[160];		/* malformed, unauthorized: the reason */
};

/*
 * Answers the DER request req with s. Always leaves an answer in a (an
 * OCSPResponse, successful or not) unless out of memory; returns nonzero
 * with err set when the answer is internalError, our own fault.
 */
/*
 * An unsuccessful answer (OCSP_R_MALFORMED, OCSP_R_UNAUTHORIZED or
 * OCSP_R_ERROR) for a request that never reached ocsp_respond.
 */
int ocsp_unsuccessful(struct ocsp_answer *a, int result, const char *why);
int ocsp_respond(struct ca *ca, struct ocsp_signer *s,
    const unsigned char *req, size_t len, int64_t now,
    struct ocsp_answer *a, struct ca_err *err);
void ocsp_answer_clear(struct ocsp_answer *a);

/*
 * Signs up to max (0: all) of the pre-produced responses (SHA-1 and
 * SHA-256 CertIDs) that are missing or due: a certificate revoked since,
 * another signer, or less than half the validity left. *np: how many.
 */
int ocsp_refresh(struct ca *ca, struct ocsp_signer *s, int64_t now, int max,
    size_t *np, struct ca_err *err);

#endif
