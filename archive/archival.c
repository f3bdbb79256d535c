/* Issuing with key archival: the entry point the CLI and smimecad use. */
#include "ac-config.h"

#include <string.h>
#include <time.h>

#include "archive/archival.h"
#include "archive/areq.h"
#include "archive/escrow.h"
#include "ca/ca.h"
#include "ca/err.h"
#include "ca/issue.h"
#include "ca/template.h"

static int escrow_hook(void *, struct ca *, int64_t, X509 *,
    struct ca_err *);

static int
escrow_hook(void *ctx, struct ca *ca, int64_t cert_id, X509 *cert,
    struct ca_err *err)
{
	return esc_store(ca, cert_id, cert, ctx, err);
}

int
arc_issue(struct ca *ca, const struct tpl *tpl,
    const struct iss_account *account, unsigned protocol,
    const struct areq *a, X509 **certp, struct ca_err *err)
{
	return arc_issue_raw(ca, tpl, account, protocol, a, 0, certp, err);
}

int
arc_issue_raw(struct ca *ca, const struct tpl *tpl,
    const struct iss_account *account, unsigned protocol,
    const struct areq *a, int raw_cert, X509 **certp, struct ca_err *err)
{
	struct iss_request req;
	EVP_PKEY *key = NULL;
	int64_t now = (int64_t)time(NULL);
	int r;

	*certp = NULL;
	memset(&req, 0, sizeof(req));
	req.csr = a->csr;
	req.tpl = tpl;
	req.account = account;
	req.protocol = protocol;
	req.has_archived_key = a->env != NULL;
	req.now = now;
	/* No key: iss_issue checks the policy itself, once. */
	if (a->env == NULL) {
		req.raw_cert = raw_cert;
		r = iss_issue(ca, &req, NULL, NULL, certp, err);
		goto out;
	}
	/* Policy first: a forbidden key is refused unopened. */
	if ((r = iss_check(ca, &req, err)) != 0)
		goto out;
	if ((r = esc_check_ready(ca, now, err)) != 0 ||
	    (r = areq_open(ca, a, now, &key, err)) != 0)
		goto out;
	r = iss_issue(ca, &req, escrow_hook, key, certp, err);
 out:
	EVP_PKEY_free(key);
	return r;
}

int
arc_issue_key(struct ca *ca, const struct tpl *tpl,
    const struct iss_account *account, unsigned protocol, X509_REQ *csr,
    EVP_PKEY *key, X509 **certp, struct ca_err *err)
{
	struct iss_request req;
	int64_t now = (int64_t)time(NULL);
	int r;

	*certp = NULL;
	memset(&req, 0, sizeof(req));
	req.csr = csr;
	req.tpl = tpl;
	req.account = account;
	req.protocol = protocol;
	req.has_archived_key = 1;
	req.now = now;
	if ((r = iss_check(ca, &req, err)) != 0 ||
	    (r = esc_check_ready(ca, now, err)) != 0)
		return r;
	return iss_issue(ca, &req, escrow_hook, key, certp, err);
}
