/* Issuing a certificate from a CSR under a template. */
#ifndef CA_ISSUE_H
#define CA_ISSUE_H

#include <stdint.h>

#include <openssl/x509.h>

struct ca;
struct ca_err;
struct tpl;

/*
 * The account the request is made for. Values of {dir:ATTR} come from
 * lookup; mail and cn are the common ones. For the CLI the administrator
 * vouches for the values (from --email/--cn or the CSR).
 */
struct iss_account {
	const char *id;		/* recorded as requester */
	const char *mail;
	const char *cn;
	const char *(*lookup)(void *ctx, const char *attr);	/* others */
	void *lookup_ctx;
	/*
	 * Whose certificate it is (db_request.owner): the enrolling
	 * account's mail, or on renewal the owner of the renewed one.
	 * NULL: the administrator's.
	 */
	const char *owner;
};

struct iss_request {
	X509_REQ *csr;
	const struct tpl *tpl;
	const struct iss_account *account;
	unsigned protocol;	/* TPL_PROTO_* it came through */
	int has_archived_key;	/* request carries a private key for escrow */
	/*
	 * The caller only encodes the certificate it gets: its key is copied
	 * from the request without being decoded (OpenSSL 3.0 decodes and
	 * encodes keys slowly), so X509_get0_pubkey() on it returns NULL.
	 */
	int raw_cert;
	int64_t now;		/* 0 = time(NULL) */
};

/*
 * Hook run inside the issuing transaction (key escrow). It may run on
 * another thread (the one leading a group commit) and reaches the
 * database only through ca_db(ca).
 */
typedef int (*iss_hook_fn)(void *ctx, struct ca *ca, int64_t cert_id,
    X509 *cert, struct ca_err *err);

/*
 * Checks the CSR (signature, key, subject rules) against the template,
 * one message per violated rule; CA_ERR_POLICY or CA_ERR_INVALID.
 */
int iss_check(struct ca *ca, const struct iss_request *r, struct ca_err *err);

/*
 * Checks, builds and signs the certificate, and stores it with its request,
 * the template in use and an audit row in one transaction (hook included),
 * which concurrent callers of the process share (db_group_run). *certp gets
 * the issued certificate once the COMMIT that covers its rows succeeded.
 */
int iss_issue(struct ca *ca, const struct iss_request *r, iss_hook_fn hook,
    void *hook_ctx, X509 **certp, struct ca_err *err);

#endif
