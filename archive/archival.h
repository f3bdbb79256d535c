/* Issuing with key archival: the entry point the CLI and smimecad use. */
#ifndef ARCHIVE_ARCHIVAL_H
#define ARCHIVE_ARCHIVAL_H

#include <openssl/x509.h>

struct ca;
struct ca_err;
struct areq;
struct iss_account;
struct tpl;

/*
 * Checks the request against the template (archival required, optional or
 * forbidden), opens the archived key (exchange key, key hash, key matches
 * the request), checks that enough KRAs are registered, and issues: the
 * certificate, the escrow record and the audit rows commit in one
 * transaction or not at all. a may carry no key (env == NULL).
 */
int arc_issue(struct ca *ca, const struct tpl *tpl,
    const struct iss_account *account, unsigned protocol,
    const struct areq *a, X509 **certp, struct ca_err *err);

/*
 * The same; with raw_cert the certificate returned is good for encoding
 * only, and cheaper to make (see iss_request.raw_cert).
 */
int arc_issue_raw(struct ca *ca, const struct tpl *tpl,
    const struct iss_account *account, unsigned protocol,
    const struct areq *a, int raw_cert, X509 **certp, struct ca_err *err);
/*
 * Server-side key generation: the CA made key and csr (signed by it); the
 * key is escrowed exactly like an archived one, in the same transaction.
 */
int arc_issue_key(struct ca *ca, const struct tpl *tpl,
    const struct iss_account *account, unsigned protocol, X509_REQ *csr,
    EVP_PKEY *key, X509 **certp, struct ca_err *err);

#endif
