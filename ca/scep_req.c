/*
 * SCEP requests held for approval (<approval>manual</approval>): the
 * administrator issues or refuses them; the client's next CertPoll gets
 * the certificate or a FAILURE from the stored transaction.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/issue.h"
#include "ca/scep.h"
#include "ca/template.h"
#include "ca/util.h"

struct approve_ctx {
	int64_t id;
	int64_t now;
	char serial[65];
};

static int get_pending(struct ca *, int64_t, struct db_scep_tx **,
    struct ca_err *);
static int approve_hook(void *, struct ca *, int64_t, X509 *,
    struct ca_err *);

static int
get_pending(struct ca *ca, int64_t id, struct db_scep_tx **rowp,
    struct ca_err *err)
{
	int r;

	if ((r = db_scep_tx_get(ca_db(ca), NULL, 0, id, rowp, err)) ==
	    CA_ERR_NOTFOUND)
		return ca_err_set(err, CA_ERR_NOTFOUND, "no SCEP request %lld "
		    "(see smimeca request list)", (long long)id);
	if (r != 0)
		return r;
	if (strcmp((*rowp)->state, "pending") != 0) {
		r = ca_err_set(err, CA_ERR_EXISTS, "request %lld was %s "
		    "already", (long long)id, (*rowp)->state);
		db_scep_tx_free(*rowp);
		*rowp = NULL;
	}
	return r;
}

/* In the issuing transaction: the request is decided exactly once. */
static int
approve_hook(void *arg, struct ca *ca, int64_t cert_id, X509 *cert,
    struct ca_err *err)
{
	struct approve_ctx *a = arg;
	char id[24];
	int r;

	util_serial_hex(X509_get0_serialNumber(cert), a->serial);
	snprintf(id, sizeof(id), "%lld", (long long)a->id);
	if ((r = db_scep_tx_decide(ca_db(ca), a->id, "issued", cert_id,
	    a->serial, a->now, ca_actor(ca), err)) != 0)
		return r;
	return audit_append(ca_db(ca), ca_actor(ca), "scep-approve", id,
	    a->serial, err);
}

int
scep_req_approve(struct ca *ca, int64_t id, char serial[65],
    struct ca_err *err)
{
	struct db_scep_tx *row = NULL;
	struct tpl *t = NULL;
	struct iss_account acct;
	struct iss_request ir;
	struct approve_ctx a;
	X509_REQ *csr = NULL;
	X509 *cert = NULL;
	const unsigned char *p;
	int r;

	serial[0] = '\0';
	if ((r = get_pending(ca, id, &row, err)) != 0)
		goto out;
	if ((r = tpl_load(ca_config(ca)->template_dir, row->template, &t,
	    err)) != 0)
		goto out;
	p = row->csr;
	if ((csr = d2i_X509_REQ(NULL, &p, (long)row->csrlen)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_DB, "request %lld: the stored "
		    "PKCS#10 request cannot be read", (long long)id);
		goto out;
	}
	memset(&acct, 0, sizeof(acct));
	acct.id = row->requester;
	acct.mail = row->mail;
	acct.cn = row->cn;
	acct.owner = row->owner;
	memset(&ir, 0, sizeof(ir));
	ir.csr = csr;
	ir.tpl = t;
	ir.account = &acct;
	ir.protocol = TPL_PROTO_SCEP;
	memset(&a, 0, sizeof(a));
	a.id = id;
	a.now = (int64_t)time(NULL);
	ir.now = a.now;
	if ((r = iss_issue(ca, &ir, approve_hook, &a, &cert, err)) != 0)
		goto out;
	snprintf(serial, 65, "%s", a.serial);
 out:
	X509_free(cert);
	X509_REQ_free(csr);
	tpl_free(t);
	db_scep_tx_free(row);
	return r;
}

int
scep_req_deny(struct ca *ca, int64_t id, struct ca_err *err)
{
	struct db_scep_tx *row = NULL;
	struct db *db = ca_db(ca);
	char sid[24];
	int r, in_tx = 0;

	if ((r = get_pending(ca, id, &row, err)) != 0)
		goto out;
	snprintf(sid, sizeof(sid), "%lld", (long long)id);
	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if ((r = db_scep_tx_decide(db, id, "denied", 0, NULL,
	    (int64_t)time(NULL), ca_actor(ca), err)) != 0 ||
	    (r = audit_append(db, ca_actor(ca), "scep-deny", sid,
	    row->subject ? row->subject : "-", err)) != 0 ||
	    (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
 out:
	if (in_tx)
		db_rollback(db);
	db_scep_tx_free(row);
	return r;
}
