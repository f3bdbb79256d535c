/*
 * What the publisher does beyond keeping the directory in step: removing
 * other issuers' certificates when asked (publish clean, audited), and the
 * Active Directory check for entries without mailNickname.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/ldapdir.h"
#include "ca/publish.h"
#include "ca/publish_int.h"
#include "ca/util.h"

static void name_text(const X509_NAME *, char *, size_t);
static void report_undecodable(const struct dir_entry *, const char *,
    const struct dir_value *, pub_clean_fn, void *);
static int clean_entry(struct pub_ctx *, const struct dir_entry *,
    const char *, int, pub_clean_fn, void *, int *, struct ca_err *);
static int clean_audit(struct pub_ctx *, const char *, const char *,
    X509 *, struct ca_err *);

int
pub_layout_ad(const struct cfg_ldap *l)
{
	return l != NULL && strcasecmp(l->cert_attr, "userCertificate") == 0;
}

const char *
pub_entry_warning(const struct cfg_ldap *l, const struct dir_entry *e)
{
	const char *v;

	if (!pub_layout_ad(l))
		return NULL;
	if ((v = dir_entry_get(e, "mailNickname")) != NULL && *v != '\0')
		return NULL;
	return "no mailNickname: ADSync does not copy userCertificate to "
	    "Exchange Online for an account without it, so Exchange Online "
	    "users will not find this certificate (give the account its "
	    "Exchange alias in mailNickname)";
}

int
pub_check_entries(const struct ca_config *cfg, pub_warn_fn fn, void *ctx,
    size_t *np, struct ca_err *err)
{
	static const char *const attrs[] = { "mail", "mailNickname", NULL };
	struct dir *d = NULL;
	struct dir_entry **ents = NULL;
	const char *p, *why;
	char *filter = NULL;
	size_t len, nents = 0, i;
	FILE *f = NULL;
	int r;

	*np = 0;
	if (!pub_layout_ad(cfg->ldap))
		return 0;
	/* <users filter> with * for the address: the entries we publish to. */
	if ((f = open_memstream(&filter, &len)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	fputs("(&", f);
	for (p = cfg->ldap->user_filter; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 's') {
			fputc('*', f);
			p++;
		} else
			fputc(*p, f);
	}
	fputs("(!(mailNickname=*)))", f);
	if (ferror(f) || fclose(f) != 0) {
		f = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	f = NULL;
	if ((r = dir_open(cfg, &d, err)) != 0 ||
	    (r = dir_search(d, filter, attrs, &ents, &nents, err)) != 0)
		goto out;
	for (i = 0; i < nents; i++) {
		if ((why = pub_entry_warning(cfg->ldap, ents[i])) == NULL)
			continue;
		(*np)++;
		if (fn != NULL)
			fn(ctx, ents[i]->dn, ents[i]->mail, why);
	}
	r = 0;
 out:
	if (f != NULL)
		fclose(f);
	free(filter);
	dir_entry_free_list(ents, nents);
	dir_close(d);
	return r;
}

/* A name as one RFC 2253 line (cut to fit). */
static void
name_text(const X509_NAME *name, char *buf, size_t len)
{
	BIO *b;
	int n;

	buf[0] = '\0';
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(b, buf, (int)len - 1)) > 0)
		buf[n] = '\0';
	BIO_free(b);
}

/* A value no certificate decodes from: named, and left where it is. */
static void
report_undecodable(const struct dir_entry *e, const char *attr,
    const struct dir_value *v, pub_clean_fn fn, void *ctx)
{
	struct pub_clean_item it;
	char sha1[41];

	if (fn == NULL)
		return;
	util_sha1_hex(v->data, v->len, sha1);
	memset(&it, 0, sizeof(it));
	it.dn = e->dn;
	it.attr = attr;
	it.subject = it.issuer = it.serial = "";
	it.sha1 = sha1;
	it.undecodable = 1;
	it.len = v->len;
	fn(ctx, &it);
}

/* One audit row per value removed. */
static int
clean_audit(struct pub_ctx *px, const char *dn, const char *attr, X509 *x,
    struct ca_err *err)
{
	unsigned char *der = NULL;
	char issuer[512], serial[65], sha1[41], *detail = NULL;
	int len, r;

	name_text(X509_get_issuer_name(x), issuer, sizeof(issuer));
	if (util_serial_hex(X509_get0_serialNumber(x), serial) != 0)
		serial[0] = '\0';
	if ((len = i2d_X509(x, &der)) <= 0)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "encoding a certificate");
	util_sha1_hex(der, (size_t)len, sha1);
	OPENSSL_free(der);
	if (asprintf(&detail, "attribute=%s, serial=%s, sha1=%s, issuer=%s",
	    attr, serial, sha1, issuer) == -1)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if ((r = db_begin(px->db, err)) != 0)
		goto out;
	if ((r = audit_append(px->db, ca_actor(px->ca), "publish-clean", dn,
	    detail, err)) != 0 || (r = db_commit(px->db, err)) != 0) {
		db_rollback(px->db);
		goto out;
	}
	r = 0;
 out:
	free(detail);
	return r;
}

/*
 * Removes the other issuers' values of attr from e: one by one from the
 * certificate attribute, by writing back the rest for the S/MIME one (no
 * equality rule). *badp counts values that could not be removed.
 */
static int
clean_entry(struct pub_ctx *px, const struct dir_entry *e, const char *attr,
    int smime, pub_clean_fn fn, void *ctx, int *badp, struct ca_err *err)
{
	const struct dir_attr *a = dir_entry_attr(e, attr);
	struct pub_clean_item it;
	struct dir_value *kept = NULL;
	struct ca_err xerr;
	X509 **gone = NULL, *x;
	size_t *idx = NULL, i, nkept = 0, ngone = 0;
	unsigned char *der = NULL;
	char subject[512], issuer[512], serial[65], sha1[41];
	enum pub_value_kind k;
	int r, rc = 0, changed, len;

	if (a == NULL || a->nvalues == 0)
		return 0;
	if ((kept = calloc(a->nvalues, sizeof(*kept))) == NULL ||
	    (gone = calloc(a->nvalues, sizeof(*gone))) == NULL ||
	    (idx = calloc(a->nvalues, sizeof(*idx))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < a->nvalues; i++) {
		k = pub_value_classify(a->values[i].data, a->values[i].len,
		    smime, px->issuers, &x);
		if (k != PUB_VALUE_FOREIGN) {
			X509_free(x);
			kept[nkept++] = a->values[i];	/* borrowed */
			if (k == PUB_VALUE_UNDECODABLE)
				report_undecodable(e, a->name, &a->values[i],
				    fn, ctx);
			continue;
		}
		idx[ngone] = i;
		gone[ngone++] = x;
	}
	ca_err_clear(&xerr);
	if (!px->dry_run && smime && ngone > 0)
		rc = dir_replace_values(px->d, e->dn, a->name, kept, nkept,
		    &xerr);
	for (i = 0; i < ngone; i++) {
		x = gone[i];
		if (!px->dry_run && !smime) {
			ca_err_clear(&xerr);
			rc = dir_delete_value(px->d, e->dn, a->name,
			    a->values[idx[i]].data, a->values[idx[i]].len,
			    &changed, &xerr);
		}
		memset(&it, 0, sizeof(it));
		it.dn = e->dn;
		it.attr = a->name;
		it.len = a->values[idx[i]].len;
		name_text(X509_get_subject_name(x), subject, sizeof(subject));
		name_text(X509_get_issuer_name(x), issuer, sizeof(issuer));
		if (util_serial_hex(X509_get0_serialNumber(x), serial) != 0)
			serial[0] = '\0';
		sha1[0] = '\0';
		if ((len = i2d_X509(x, &der)) > 0)
			util_sha1_hex(der, (size_t)len, sha1);
		OPENSSL_free(der);
		der = NULL;
		it.subject = subject;
		it.issuer = issuer;
		it.serial = serial;
		it.sha1 = sha1;
		if (!px->dry_run && rc != 0) {
			it.error = xerr.msg;
			(*badp)++;
		} else if (!px->dry_run) {
			/* Out of the directory: the audit log must say so. */
			if ((r = clean_audit(px, e->dn, a->name, x,
			    err)) != 0)
				goto out;
			it.removed = 1;
		}
		if (fn != NULL)
			fn(ctx, &it);
	}
	r = 0;
 out:
	for (i = 0; gone != NULL && i < ngone; i++)
		X509_free(gone[i]);
	free(gone);
	free(idx);
	free(kept);
	return r;
}

int
pub_clean(struct ca *ca, const char *attr, const char *email, int dry_run,
    pub_clean_fn fn, void *ctx, struct ca_err *err)
{
	struct pub_ctx *px = NULL;
	struct dir_entry **ents = NULL, *e = NULL;
	const char *name, *attrs[3];
	char *filter = NULL;
	size_t nents = 0, i;
	int r, smime, bad = 0;

	if ((r = pub_ctx_new(ca, (int64_t)time(NULL), &px, err)) != 0)
		goto out;
	px->dry_run = dry_run;
	if (px->l == NULL) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: no directory is "
		    "configured (no <ldap> section; see smimeca.conf(5))",
		    px->cfg->path);
		goto out;
	}
	if (strcasecmp(attr, "userSMIMECertificate") == 0) {
		smime = 1;
		name = px->l->smime_attr != NULL && strncasecmp(
		    px->l->smime_attr, attr, strlen(attr)) == 0 ?
		    px->l->smime_attr : "userSMIMECertificate";
	} else if (strcasecmp(attr, "userCertificate") == 0) {
		smime = 0;
		/* The configured form: ;binary for OpenLDAP, none for AD. */
		name = strncasecmp(px->l->cert_attr, attr, strlen(attr)) == 0 &&
		    strcspn(px->l->cert_attr, ";") == strlen(attr) ?
		    px->l->cert_attr : "userCertificate;binary";
	} else {
		r = ca_err_set(err, CA_ERR_INVALID, "attribute %s: give "
		    "userCertificate or userSMIMECertificate", attr);
		goto out;
	}
	attrs[0] = "mail";
	attrs[1] = name;
	attrs[2] = NULL;
	if ((r = pub_ctx_dir(px, err)) != 0)
		goto out;
	if (email != NULL) {
		if ((r = dir_find(px->d, px->l->user_filter, email, attrs, &e,
		    err)) != 0)
			goto out;
		r = clean_entry(px, e, name, smime, fn, ctx, &bad, err);
	} else {
		if (asprintf(&filter, "(%.*s=*)", (int)strcspn(name, ";"),
		    name) == -1) {
			filter = NULL;
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((r = dir_search(px->d, filter, attrs, &ents, &nents,
		    err)) != 0)
			goto out;
		for (i = 0; i < nents && r == 0; i++)
			r = clean_entry(px, ents[i], name, smime, fn, ctx,
			    &bad, err);
	}
	if (r == 0 && bad > 0)
		r = ca_err_set(err, CA_ERR_IO, "%d value%s could not be "
		    "removed (see above)", bad, bad == 1 ? "" : "s");
 out:
	dir_entry_free(e);
	dir_entry_free_list(ents, nents);
	free(filter);
	pub_ctx_free(px);
	return r;
}
