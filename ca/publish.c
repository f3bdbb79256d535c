/*
 * Reconciling the directory with the database: for an address, the valid
 * certificates of this CA it should hold are added and the others of
 * this CA taken out; the CA entry gets the issuing certificate and the
 * latest CRL. The outbox (outbox.c) has it done job by job; resync does
 * it for every address at once.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/ldapdir.h"
#include "ca/publish.h"
#include "ca/publish_int.h"
#include "ca/template.h"
#include "ca/util.h"

#define PUB_CERT_MAX	(64 * 1024)

/* A certificate of this CA that should be in an entry. */
struct want {
	char serial[65];
	unsigned char *der;
	size_t derlen;
	int present;
};

struct tpl_seen {
	char *name;
	int publishes;
};

/* An email reconciled during this run, and how that went. */
struct seen {
	char *email;
	int code;
	char msg[1024];
	char result[512];
};

static int ctx_init(struct pub_ctx *, struct ca *, int64_t,
    struct ca_err *);
static void ctx_free(struct pub_ctx *);
static int ctx_dir(struct pub_ctx *, struct ca_err *);
static int template_publishes(struct pub_ctx *, const char *);
static int ours(struct pub_ctx *, X509 *);
static int wants_load(struct pub_ctx *, const char *, struct want **,
    size_t *, struct ca_err *);
static void wants_free(struct want *, size_t);
static int smime_encode(const unsigned char *, size_t, unsigned char **,
    size_t *);
static int smime_value_ours(struct pub_ctx *, const unsigned char *, size_t,
    char **, int *);
static int strset_add(char ***, size_t *, const char *);
static int smime_sync(struct pub_ctx *, const struct dir_entry *,
    struct want *, size_t, int *, int *, struct ca_err *);
static int reconcile_entry(struct pub_ctx *, const struct dir_entry *,
    const char *, int *, int *, struct ca_err *);
static int reconcile_mail(struct pub_ctx *, const char *, char **, int *,
    int *, struct ca_err *);
static int publish_ca(struct pub_ctx *, int *, struct ca_err *);
static int apply(struct pub_ctx *, const struct db_pub_job *, char *, size_t,
    struct ca_err *);
static int mark_done(struct pub_ctx *, const char *, int64_t,
    struct ca_err *);
static const char **entry_attrs(const struct cfg_ldap *, const char **);

int
pub_template_publishes(const struct tpl *t)
{
	return t->purpose == TPL_PURPOSE_SMIME_ENCRYPTION ||
	    t->purpose == TPL_PURPOSE_SMIME_SIGNATURE ||
	    t->purpose == TPL_PURPOSE_SMIME_DUAL;
}


/* Everything a run needs but the directory connection (made on demand). */
static int
ctx_init(struct pub_ctx *px, struct ca *ca, int64_t now, struct ca_err *err)
{
	struct db_ca_cert **certs = NULL;
	const unsigned char *p;
	X509 *x;
	size_t i, n = 0;
	int r, bin;

	memset(px, 0, sizeof(*px));
	px->ca = ca;
	px->cfg = ca_config(ca);
	px->l = px->cfg->ldap;
	px->db = ca_db(ca);
	px->now = now;
	bin = px->l != NULL && strcasestr(px->l->cert_attr, ";binary") !=
	    NULL;
	snprintf(px->ca_attr, sizeof(px->ca_attr), "cACertificate%s",
	    bin ? ";binary" : "");
	snprintf(px->crl_attr, sizeof(px->crl_attr),
	    "certificateRevocationList%s", bin ? ";binary" : "");
	/* Every issuing CA certificate: values they signed are ours. */
	if ((px->issuers = sk_X509_new_null()) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if ((r = db_ca_cert_list(px->db, "issuing", &certs, &n, err)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		p = certs[i]->der;
		if ((x = d2i_X509(NULL, &p, (long)certs[i]->derlen)) == NULL)
			continue;
		if (!sk_X509_push(px->issuers, x)) {
			X509_free(x);
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	r = 0;
 out:
	db_ca_cert_free_list(certs, n);
	return r;
}

static void
ctx_free(struct pub_ctx *px)
{
	size_t i;

	dir_close(px->d);
	px->d = NULL;
	sk_X509_pop_free(px->issuers, X509_free);
	for (i = 0; i < px->ntpls; i++)
		free(px->tpls[i].name);
	free(px->tpls);
	for (i = 0; i < px->nseen; i++)
		free(px->seen[i].email);
	free(px->seen);
	memset(px, 0, sizeof(*px));
}

static int
ctx_dir(struct pub_ctx *px, struct ca_err *err)
{
	if (px->d != NULL)
		return 0;
	return dir_open(px->cfg, &px->d, err);
}

int
pub_ctx_new(struct ca *ca, int64_t now, struct pub_ctx **pxp,
    struct ca_err *err)
{
	struct pub_ctx *px;
	int r;

	*pxp = NULL;
	if ((px = calloc(1, sizeof(*px))) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if ((r = ctx_init(px, ca, now, err)) != 0) {
		ctx_free(px);
		free(px);
		return r;
	}
	*pxp = px;
	return 0;
}

void
pub_ctx_free(struct pub_ctx *px)
{
	if (px == NULL)
		return;
	ctx_free(px);
	free(px);
}

int
pub_ctx_dir(struct pub_ctx *px, struct ca_err *err)
{
	return ctx_dir(px, err);
}

int
pub_ctx_apply(struct pub_ctx *px, const struct db_pub_job *j, char *result,
    size_t rlen, struct ca_err *err)
{
	int r;

	if ((r = ctx_dir(px, err)) != 0)
		return r;
	return apply(px, j, result, rlen, err);
}

void
pub_ctx_hangup(struct pub_ctx *px)
{
	dir_close(px->d);
	px->d = NULL;
}

/*
 * Whether a certificate of this template belongs in the directory. A
 * template that is gone or broken: yes (S/MIME is what this CA is for).
 */
static int
template_publishes(struct pub_ctx *px, const char *name)
{
	struct tpl_seen *nt;
	struct tpl *t = NULL;
	int yes;
	size_t i;

	for (i = 0; i < px->ntpls; i++)
		if (strcmp(px->tpls[i].name, name) == 0)
			return px->tpls[i].publishes;
	yes = tpl_load(px->cfg->template_dir, name, &t, NULL) != 0 ||
	    pub_template_publishes(t);
	tpl_free(t);
	if ((nt = reallocarray(px->tpls, px->ntpls + 1,
	    sizeof(*nt))) != NULL) {
		px->tpls = nt;
		if ((nt[px->ntpls].name = strdup(name)) != NULL)
			nt[px->ntpls++].publishes = yes;
	}
	return yes;
}

/* Issued (and signed) by one of this CA's issuing certificates. */
static int
ours(struct pub_ctx *px, X509 *x)
{
	return pub_value_ours(px->issuers, x);
}

/* The valid, published certificates of this CA for email. */
static int
wants_load(struct pub_ctx *px, const char *email, struct want **wp,
    size_t *np, struct ca_err *err)
{
	struct db_cert_filter f;
	struct db_cert **list = NULL;
	struct want *w = NULL, *nw;
	size_t i, n = 0, nl = 0;
	int r;

	*wp = NULL;
	*np = 0;
	if (email == NULL)
		return 0;
	memset(&f, 0, sizeof(f));
	f.email = email;
	f.issuing = 1;
	f.status = DB_ST_VALID;
	f.now = px->now;
	if ((r = db_cert_list(px->db, &f, &list, &nl, err)) != 0)
		return r;
	for (i = 0; i < nl; i++) {
		if (!template_publishes(px, list[i]->template))
			continue;
		if ((nw = reallocarray(w, n + 1, sizeof(*w))) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		w = nw;
		memset(&w[n], 0, sizeof(w[n]));
		snprintf(w[n].serial, sizeof(w[n].serial), "%s",
		    list[i]->serial);
		/* The row's copy changes hands. */
		w[n].der = list[i]->der;
		w[n++].derlen = list[i]->derlen;
		list[i]->der = NULL;
	}
	*wp = w;
	*np = n;
	w = NULL;
	n = 0;
	r = 0;
 out:
	db_cert_free_list(list, nl);
	wants_free(w, n);
	return r;
}

static void
wants_free(struct want *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(w[i].der);
	free(w);
}

/*
 * userSMIMECertificate: a degenerate PKCS#7 SignedData (certs only) with
 * the one certificate, DER, from the certificate's DER.
 */
static int
smime_encode(const unsigned char *der, size_t len, unsigned char **outp,
    size_t *outlenp)
{
	const unsigned char *p = der;
	PKCS7 *p7 = NULL;
	X509 *x = NULL;
	unsigned char *out = NULL;
	int n, r = -1;

	*outp = NULL;
	*outlenp = 0;
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    (p7 = PKCS7_new()) == NULL ||
	    !PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    !PKCS7_content_new(p7, NID_pkcs7_data) ||
	    !PKCS7_set_detached(p7, 1) ||
	    !PKCS7_add_certificate(p7, x) ||
	    (n = i2d_PKCS7(p7, &out)) <= 0)
		goto out;
	if ((*outp = malloc((size_t)n)) == NULL)
		goto out;
	memcpy(*outp, out, (size_t)n);
	*outlenp = (size_t)n;
	r = 0;
 out:
	OPENSSL_free(out);
	PKCS7_free(p7);
	X509_free(x);
	return r;
}

/*
 * Looks into one userSMIMECertificate value: *ourp set when it holds a
 * certificate of this CA, whose serial goes to *serialp (malloc'd).
 */
static int
smime_value_ours(struct pub_ctx *px, const unsigned char *v, size_t len,
    char **serialp, int *ourp)
{
	const unsigned char *p = v;
	STACK_OF(X509) *certs = NULL;
	PKCS7 *p7;
	char serial[65];
	int i;

	*serialp = NULL;
	*ourp = 0;
	if ((p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL)
		return 0;
	if (PKCS7_type_is_signed(p7) && p7->d.sign != NULL)
		certs = p7->d.sign->cert;
	for (i = 0; certs != NULL && i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (!ours(px, x))
			continue;
		*ourp = 1;
		if (util_serial_hex(X509_get0_serialNumber(x), serial) == 0 &&
		    *serialp == NULL)
			*serialp = strdup(serial);
	}
	PKCS7_free(p7);
	return 0;
}

/*
 * userSMIMECertificate has no equality rule, so values cannot be added or
 * deleted one by one: the attribute is read, and rewritten as the other
 * issuers' values plus one PKCS#7 per certificate of w, when it differs.
 */
static int
smime_sync(struct pub_ctx *px, const struct dir_entry *e, struct want *w,
    size_t nw, int *addedp, int *deletedp, struct ca_err *err)
{
	const struct dir_attr *a = dir_entry_attr(e, px->l->smime_attr);
	struct dir_value *vals = NULL;
	unsigned char *enc;
	char *serial = NULL;
	int *matched = NULL, mine;
	size_t i, j, n = 0, nforeign = 0, stale = 0, nmatch = 0, enclen;
	int r;

	if ((matched = calloc(nw + 1, sizeof(*matched))) == NULL ||
	    (vals = calloc((a != NULL ? a->nvalues : 0) + nw + 1,
	    sizeof(*vals))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; a != NULL && i < a->nvalues; i++) {
		free(serial);
		serial = NULL;
		smime_value_ours(px, a->values[i].data, a->values[i].len,
		    &serial, &mine);
		if (!mine) {
			vals[n].data = a->values[i].data;	/* borrowed */
			vals[n++].len = a->values[i].len;
			continue;
		}
		for (j = 0; j < nw; j++)
			if (!matched[j] && serial != NULL &&
			    strcmp(serial, w[j].serial) == 0)
				break;
		if (j < nw && smime_encode(w[j].der, w[j].derlen, &enc,
		    &enclen) == 0) {
			if (enclen == a->values[i].len &&
			    memcmp(enc, a->values[i].data, enclen) == 0) {
				matched[j] = 1;
				nmatch++;
				free(enc);
				continue;
			}
			free(enc);
		}
		stale++;
	}
	nforeign = n;
	if (stale == 0 && nmatch == nw) {
		r = 0;
		goto out;
	}
	*addedp += (int)(nw - nmatch);
	*deletedp += (int)stale;
	if (px->dry_run) {
		r = 0;
		goto out;
	}
	for (j = 0; j < nw; j++) {
		if (smime_encode(w[j].der, w[j].derlen, &vals[n].data,
		    &vals[n].len) != 0) {
			r = ca_err_ssl(err, CA_ERR_CRYPTO, "certificate %s: "
			    "making its %s value", w[j].serial,
			    px->l->smime_attr);
			goto out;
		}
		n++;
	}
	r = dir_replace_values(px->d, e->dn, px->l->smime_attr, vals, n, err);
 out:
	/* vals[0 .. nforeign) are the entry's; the rest were made here. */
	for (j = nforeign; vals != NULL && j < n; j++)
		free(vals[j].data);
	free(vals);
	free(matched);
	free(serial);
	return r;
}

/*
 * Makes entry e hold exactly this CA's valid certificates of email (NULL:
 * none) in the certificate attribute (and the S/MIME one), leaving other
 * issuers' values alone.
 */
static int
reconcile_entry(struct pub_ctx *px, const struct dir_entry *e,
    const char *email, int *addedp, int *deletedp, struct ca_err *err)
{
	const struct dir_attr *a = dir_entry_attr(e, px->l->cert_attr);
	struct want *w = NULL;
	const unsigned char *p;
	char serial[65];
	X509 *x = NULL;
	size_t i, j, nw = 0;
	int r, changed;

	*addedp = *deletedp = 0;
	if ((r = wants_load(px, email, &w, &nw, err)) != 0)
		goto out;
	for (i = 0; a != NULL && i < a->nvalues; i++) {
		X509_free(x);
		p = a->values[i].data;
		if ((x = d2i_X509(NULL, &p, (long)a->values[i].len)) == NULL ||
		    !ours(px, x))
			continue;	/* someone else's: leave it */
		if (util_serial_hex(X509_get0_serialNumber(x), serial) != 0)
			serial[0] = '\0';
		for (j = 0; j < nw; j++)
			if (!w[j].present && strcmp(serial, w[j].serial) == 0)
				break;
		if (j < nw) {
			w[j].present = 1;
			continue;
		}
		/* Revoked, expired, superseded, another user's or unknown. */
		if (!px->dry_run && (r = dir_delete_value(px->d, e->dn,
		    a->name, a->values[i].data, a->values[i].len, &changed,
		    err)) != 0)
			goto out;
		(*deletedp)++;
	}
	for (j = 0; j < nw; j++) {
		if (w[j].present)
			continue;
		if (!px->dry_run && (r = dir_add_value(px->d, e->dn,
		    px->l->cert_attr, w[j].der, w[j].derlen, &changed,
		    err)) != 0)
			goto out;
		(*addedp)++;
	}
	if (px->l->smime_attr != NULL &&
	    (r = smime_sync(px, e, w, nw, addedp, deletedp, err)) != 0)
		goto out;
	r = 0;
 out:
	X509_free(x);
	wants_free(w, nw);
	return r;
}

/* The attributes a reconciliation reads: mail and the certificates. */
static const char **
entry_attrs(const struct cfg_ldap *l, const char **buf)
{
	size_t n = 0;

	buf[n++] = "mail";
	buf[n++] = l->cert_attr;
	if (l->smime_attr != NULL)
		buf[n++] = l->smime_attr;
	buf[n] = NULL;
	return buf;
}

/* Finds the entry of email and reconciles it; *dnp gets its DN. */
static int
reconcile_mail(struct pub_ctx *px, const char *email, char **dnp,
    int *addedp, int *deletedp, struct ca_err *err)
{
	struct dir_entry *e = NULL;
	const char *attrs[4];
	int r;

	*dnp = NULL;
	*addedp = *deletedp = 0;
	if ((r = ctx_dir(px, err)) != 0 ||
	    (r = dir_find(px->d, px->l->user_filter, email,
	    entry_attrs(px->l, attrs), &e, err)) != 0)
		goto out;
	if ((*dnp = strdup(e->dn)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = reconcile_entry(px, e, email, addedp, deletedp, err);
 out:
	dir_entry_free(e);
	return r;
}

/* The CA entry: the issuing CA certificate added, the CRL replaced. */
static int
publish_ca(struct pub_ctx *px, int *changedp, struct ca_err *err)
{
	struct dir_value v;
	unsigned char *der = NULL, *crl = NULL;
	size_t crllen = 0;
	int len, r, changed = 0;

	*changedp = 0;
	if (px->l->ca_dn == NULL)
		return 0;
	if ((len = i2d_X509(ca_cert(px->ca), &der)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding the CA "
		    "certificate");
		goto out;
	}
	if ((r = db_crl_latest(ca_db(px->ca), ca_cert_id(px->ca), &crl,
	    &crllen, err)) != 0 && r != CA_ERR_NOTFOUND)
		goto out;
	if (r == CA_ERR_NOTFOUND)
		ca_err_clear(err);
	if (px->dry_run) {
		*changedp = 1;
		r = 0;
		goto out;
	}
	if ((r = ctx_dir(px, err)) != 0 ||
	    (r = dir_add_value(px->d, px->l->ca_dn, px->ca_attr, der,
	    (size_t)len, &changed, err)) != 0)
		goto out;
	*changedp = changed;
	if (crl != NULL) {
		v.data = crl;
		v.len = crllen;
		if ((r = dir_replace_values(px->d, px->l->ca_dn,
		    px->crl_attr, &v, 1, err)) != 0)
			goto out;
		*changedp = 1;
	}
	r = 0;
 out:
	OPENSSL_free(der);
	free(crl);
	return r;
}

/* Works one job; result gets what it did. */
static int
apply(struct pub_ctx *px, const struct db_pub_job *j, char *result,
    size_t rlen, struct ca_err *err)
{
	struct seen *s, *ns;
	char *dn = NULL;
	size_t i;
	int r, added = 0, deleted = 0, changed;

	result[0] = '\0';
	if (j->kind == PUB_CRL) {
		if ((r = publish_ca(px, &changed, err)) != 0)
			return r;
		snprintf(result, rlen, "%s: CA certificate and latest CRL",
		    px->l->ca_dn != NULL ? px->l->ca_dn : "no <ca-entry>");
		return 0;
	}
	if (j->email == NULL) {
		snprintf(result, rlen, "no mail address: nothing to publish");
		return 0;
	}
	/* One reconciliation per address and run does for all its jobs. */
	for (i = 0; i < px->nseen; i++) {
		s = &px->seen[i];
		if (strcmp(s->email, j->email) != 0)
			continue;
		if (s->code != 0)
			return ca_err_set(err, s->code, "%s", s->msg);
		snprintf(result, rlen, "%s", s->result);
		return 0;
	}
	r = reconcile_mail(px, j->email, &dn, &added, &deleted, err);
	/* No entry: nothing to take out of it; nothing to add, for now. */
	if (r == CA_ERR_NOTFOUND && j->kind != PUB_ADD) {
		ca_err_clear(err);
		snprintf(result, rlen, "%s has no directory entry: nothing "
		    "to remove", j->email);
		r = 0;
	} else if (r == 0)
		snprintf(result, rlen, "%s: %d added, %d removed", dn, added,
		    deleted);
	if ((ns = reallocarray(px->seen, px->nseen + 1,
	    sizeof(*ns))) != NULL) {
		px->seen = ns;
		s = &ns[px->nseen];
		memset(s, 0, sizeof(*s));
		if ((s->email = strdup(j->email)) != NULL) {
			s->code = r;
			snprintf(s->msg, sizeof(s->msg), "%.1000s", r != 0 &&
			    err != NULL ? err->msg : "");
			snprintf(s->result, sizeof(s->result), "%.500s",
			    result);
			px->nseen++;
		}
	}
	free(dn);
	return r;
}


/* Jobs of email (NULL: the CA entry's) written before since are done. */
static int
mark_done(struct pub_ctx *px, const char *email, int64_t since,
    struct ca_err *err)
{
	if (px->dry_run)
		return 0;
	return db_pub_close(px->db, email, since, (int64_t)time(NULL), err);
}

/* Appends s to a list of strings unless it is there. */
static int
strset_add(char ***vp, size_t *np, const char *s)
{
	char **nv, *c;
	size_t i;

	for (i = 0; i < *np; i++)
		if (strcmp((*vp)[i], s) == 0)
			return 0;
	if ((c = strdup(s)) == NULL)
		return CA_ERR_NOMEM;
	if ((nv = reallocarray(*vp, *np + 1, sizeof(*nv))) == NULL) {
		free(c);
		return CA_ERR_NOMEM;
	}
	nv[(*np)++] = c;
	*vp = nv;
	return 0;
}

int
pub_resync(struct ca *ca, const char *email, int dry_run, pub_report_fn fn,
    void *ctx, struct ca_err *err)
{
	struct pub_ctx px;
	struct dir_entry **ents = NULL;
	struct ca_err xerr;
	const char *attrs[4];
	char **mails = NULL, *filter = NULL, *dn = NULL, *lower = NULL;
	char **issued = NULL;
	size_t nmails = 0, nents = 0, nissued = 0, i;
	int64_t since = (int64_t)time(NULL);
	int r, rc, added, deleted, changed, bad = 0;

	if ((r = ctx_init(&px, ca, (int64_t)time(NULL), err)) != 0)
		goto out;
	px.dry_run = dry_run;
	if (px.l == NULL) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: no directory is "
		    "configured (no <ldap> section; see smimeca.conf(5))",
		    px.cfg->path);
		goto out;
	}
	if ((r = ctx_dir(&px, err)) != 0)
		goto out;
	if (email != NULL) {
		if ((lower = strdup(email)) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		util_lower(lower);
		if ((r = strset_add(&mails, &nmails, lower)) != 0) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
	} else {
		/* Entries holding a value: unknown ones of ours go too. */
		if (asprintf(&filter, "(|(%.*s=*)%s%.*s%s)",
		    (int)strcspn(px.l->cert_attr, ";"), px.l->cert_attr,
		    px.l->smime_attr != NULL ? "(" : "",
		    px.l->smime_attr != NULL ?
		    (int)strcspn(px.l->smime_attr, ";") : 0,
		    px.l->smime_attr != NULL ? px.l->smime_attr : "",
		    px.l->smime_attr != NULL ? "=*)" : "") == -1) {
			filter = NULL;
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((r = dir_search(px.d, filter, entry_attrs(px.l, attrs),
		    &ents, &nents, err)) != 0)
			goto out;
		for (i = 0; i < nents; i++) {
			if (ents[i]->mail != NULL) {
				if (strset_add(&mails, &nmails,
				    ents[i]->mail) != 0) {
					r = ca_err_set(err, CA_ERR_NOMEM,
					    "out of memory");
					goto out;
				}
				continue;
			}
			/* No mail: no certificate of ours belongs there. */
			ca_err_clear(&xerr);
			rc = reconcile_entry(&px, ents[i], NULL, &added,
			    &deleted, &xerr);
			if (rc != 0)
				bad++;
			if (fn != NULL)
				fn(ctx, ents[i]->dn, ents[i]->dn, added,
				    deleted, rc != 0 ? xerr.msg : NULL);
		}
		if ((r = db_cert_emails(px.db, &issued, &nissued, err)) != 0)
			goto out;
		for (i = 0; i < nissued; i++) {
			if (strset_add(&mails, &nmails, issued[i]) != 0) {
				r = ca_err_set(err, CA_ERR_NOMEM,
				    "out of memory");
				goto out;
			}
		}
	}
	for (i = 0; i < nmails; i++) {
		struct want *w = NULL;
		size_t nw = 0;

		ca_err_clear(&xerr);
		free(dn);
		dn = NULL;
		rc = reconcile_mail(&px, mails[i], &dn, &added, &deleted,
		    &xerr);
		if (rc == CA_ERR_NOTFOUND) {
			/* Only news when something should be there. */
			if (wants_load(&px, mails[i], &w, &nw, &xerr) == 0 &&
			    nw == 0) {
				if (mark_done(&px, mails[i], since, err) != 0)
					goto out;
				continue;
			}
			wants_free(w, nw);
		}
		if (rc != 0)
			bad++;
		else if ((r = mark_done(&px, mails[i], since, err)) != 0)
			goto out;
		if (fn != NULL)
			fn(ctx, mails[i], dn, added, deleted,
			    rc != 0 ? xerr.msg : NULL);
	}
	if (email == NULL && px.l->ca_dn != NULL) {
		ca_err_clear(&xerr);
		rc = publish_ca(&px, &changed, &xerr);
		if (rc != 0)
			bad++;
		else if ((r = mark_done(&px, NULL, since, err)) != 0)
			goto out;
		if (fn != NULL)
			fn(ctx, "CA entry", px.l->ca_dn, changed, 0,
			    rc != 0 ? xerr.msg : NULL);
	}
	r = bad == 0 ? 0 : ca_err_set(err, CA_ERR_IO, "%d entr%s could not "
	    "be synced (see above)", bad, bad == 1 ? "y" : "ies");
 out:
	db_free_strings(issued, nissued);
	db_free_strings(mails, nmails);
	dir_entry_free_list(ents, nents);
	free(filter);
	free(dn);
	free(lower);
	ctx_free(&px);
	return r;
}

