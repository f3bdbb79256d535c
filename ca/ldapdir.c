/* The LDAP directory: connections, user lookups, binds, value changes. */
#include "ac-config.h"

#include <sys/time.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldap.h>

#include "ca/config.h"
#include "ca/err.h"
#include "ca/issue.h"
#include "ca/ldapdir.h"
#include "ca/util.h"

#define DIR_ATTRS_MAX	256	/* attributes kept per entry */
#define DIR_VALUES_MAX	1024	/* values kept per attribute */
#define DIR_ENTRIES_MAX	100000	/* entries one search may return */
#define DIR_PASS_MAX	1024	/* longest password we bind with */
#define DIR_PAGES_MAX	10000	/* pages one paged search may take */
#define DIR_PAGE_SIZE	500	/* entries a page, unless <users page-size> */

struct dir {
	LDAP *ld;
	const struct cfg_ldap *l;
};

static int dir_code(int);
static int dir_fail(LDAP *, struct ca_err *, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));
static int dir_connect(const struct cfg_ldap *, LDAP **, struct ca_err *);
static int dir_simple_bind(LDAP *, const char *, const char *, size_t);
static int attr_is(const char *, const char *);
static int secret_attr(const char *);
static int entry_read(LDAP *, LDAPMessage *, struct dir_entry **);
static int entry_text(const struct dir_entry *, const char *, int,
    char **);
static int search_n(struct dir *, const char *, const char *const *, int,
    struct dir_entry ***, size_t *, int *, struct ca_err *);
static int search_rc(struct dir *, int, const char *, struct ca_err *);
static int entries_add(struct dir *, LDAPMessage *, const char *,
    struct dir_entry ***, size_t *, struct ca_err *);
static int search_paged(struct dir *, const char *, const char *const *,
    struct dir_entry ***, size_t *, struct ca_err *);
static int modify_one(struct dir *, const char *, int, const char *,
    const struct dir_value *, size_t, int *);

/* Which ca_status an LDAP result code is. */
static int
dir_code(int rc)
{
	switch (rc) {
	case LDAP_SERVER_DOWN:
	case LDAP_CONNECT_ERROR:
	case LDAP_TIMEOUT:
	case LDAP_TIMELIMIT_EXCEEDED:
	case LDAP_ADMINLIMIT_EXCEEDED:
	case LDAP_BUSY:
	case LDAP_UNAVAILABLE:
	case LDAP_UNWILLING_TO_PERFORM:
	case LDAP_LOOP_DETECT:
	case LDAP_OTHER:
	case LDAP_LOCAL_ERROR:
	case LDAP_ENCODING_ERROR:
	case LDAP_DECODING_ERROR:
		return CA_ERR_IO;
	case LDAP_NO_MEMORY:
		return CA_ERR_NOMEM;
	case LDAP_INVALID_CREDENTIALS:
	case LDAP_INAPPROPRIATE_AUTH:
	case LDAP_STRONG_AUTH_REQUIRED:
	case LDAP_CONFIDENTIALITY_REQUIRED:
		return CA_ERR_AUTH;
	case LDAP_NO_SUCH_OBJECT:
		return CA_ERR_NOTFOUND;
	}
	return CA_ERR_INVALID;
}

/* "what: LDAP's message (the server's diagnostic)". */
static int
dir_fail(LDAP *ld, struct ca_err *err, int rc, const char *fmt, ...)
{
	char what[512], *diag = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (ld != NULL &&
	    ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag) !=
	    LDAP_OPT_SUCCESS)
		diag = NULL;
	r = ca_err_set(err, dir_code(rc), "%s: %s%s%.200s%s", what,
	    ldap_err2string(rc), diag != NULL && *diag != '\0' ? " (" : "",
	    diag != NULL ? diag : "", diag != NULL && *diag != '\0' ? ")" :
	    "");
	ldap_memfree(diag);
	return r;
}

/* A handle for <server> with its timeouts and TLS; not bound yet. */
static int
dir_connect(const struct cfg_ldap *l, LDAP **ldp, struct ca_err *err)
{
	LDAP *ld = NULL;
	struct timeval tv;
	int rc, r, v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND;
	int zero = 0, limit = l->timeout > 0 ? l->timeout : 10, tls;

	*ldp = NULL;
	if ((rc = ldap_initialize(&ld, l->uri)) != LDAP_SUCCESS) {
		r = ca_err_set(err, CA_ERR_CONFIG, "LDAP URI %s: %s", l->uri,
		    ldap_err2string(rc));
		goto out;
	}
	tv.tv_sec = limit;
	tv.tv_usec = 0;
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) !=
	    LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) !=
	    LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) !=
	    LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMELIMIT, &limit) !=
	    LDAP_OPT_SUCCESS) {
		r = ca_err_set(err, CA_ERR_INTERNAL, "%s: cannot set the LDAP "
		    "options", l->uri);
		goto out;
	}
	/* TLS: verify the server's certificate, whatever ldap.conf says. */
	tls = l->starttls || strncasecmp(l->uri, "ldaps:", 6) == 0;
	if (tls && ((l->tls_ca_file != NULL &&
	    ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE,
	    l->tls_ca_file) != LDAP_OPT_SUCCESS) ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) !=
	    LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) !=
	    LDAP_OPT_SUCCESS)) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: cannot set up TLS%s%s "
		    "(a PEM file?)", l->uri, l->tls_ca_file != NULL ?
		    " with the CA certificates in " : "",
		    l->tls_ca_file != NULL ? l->tls_ca_file : "");
		goto out;
	}
	if (l->starttls &&
	    (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
		r = dir_fail(ld, err, rc, "%s: StartTLS", l->uri);
		goto out;
	}
	*ldp = ld;
	ld = NULL;
	r = 0;
 out:
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	return r;
}

/* A simple bind; the caller refuses empty passwords. */
static int
dir_simple_bind(LDAP *ld, const char *dn, const char *pass, size_t len)
{
	struct berval cred;

	cred.bv_val = (char *)pass;
	cred.bv_len = len;
	return ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL,
	    NULL);
}

int
dir_open(const struct ca_config *cfg, struct dir **dp, struct ca_err *err)
{
	const struct cfg_ldap *l = cfg->ldap;
	struct dir *d = NULL;
	char *pass = NULL;
	size_t len;
	int rc, r;

	*dp = NULL;
	if (l == NULL) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: no directory is "
		    "configured (no <ldap> section; see smimeca.conf(5))",
		    cfg->path);
		goto out;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	d->l = l;
	if ((r = dir_connect(l, &d->ld, err)) != 0)
		goto out;
	if (l->bind_dn != NULL) {
		if ((r = util_check_private(l->bind_password_file,
		    err)) != 0 ||
		    (r = util_read_passphrase(l->bind_password_file, &pass,
		    err)) != 0)
			goto out;
		if ((len = strlen(pass)) == 0 || len > DIR_PASS_MAX) {
			r = ca_err_set(err, CA_ERR_CONFIG, "%s: the directory "
			    "password must be 1 to %d bytes on the first line",
			    l->bind_password_file, DIR_PASS_MAX);
			goto out;
		}
		if ((rc = dir_simple_bind(d->ld, l->bind_dn, pass, len)) !=
		    LDAP_SUCCESS) {
			r = dir_fail(d->ld, err, rc, "%s: bind as %s", l->uri,
			    l->bind_dn);
			goto out;
		}
	}
	*dp = d;
	d = NULL;
	r = 0;
 out:
	util_free_secret(pass);
	dir_close(d);
	return r;
}

void
dir_close(struct dir *d)
{
	if (d == NULL)
		return;
	if (d->ld != NULL)
		ldap_unbind_ext_s(d->ld, NULL, NULL);
	free(d);
}

char *
dir_filter(const char *tmpl, const char *value)
{
	char *buf = NULL;
	const char *p;
	size_t len = 0;
	struct berval in, esc = { 0, NULL };
	FILE *f;

	/* RFC 4515 escaping of the value, by libldap. */
	in.bv_val = (char *)value;
	in.bv_len = strlen(value);
	if (ldap_bv2escaped_filter_value(&in, &esc) != 0)
		return NULL;
	if ((f = open_memstream(&buf, &len)) == NULL) {
		ber_memfree(esc.bv_val);
		return NULL;
	}
	for (p = tmpl; *p != '\0'; p++) {
		if (p[0] != '%' || p[1] != 's') {
			fputc(*p, f);
			continue;
		}
		p++;
		if (esc.bv_len > 0)
			fwrite(esc.bv_val, 1, esc.bv_len, f);
	}
	ber_memfree(esc.bv_val);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Attribute descriptions name the same type (options ignored). */
static int
attr_is(const char *want, const char *got)
{
	size_t wl = strcspn(want, ";"), gl = strcspn(got, ";");

	return wl == gl && strncasecmp(want, got, wl) == 0;
}

/* Attributes that hold passwords or private keys. */
static int
secret_attr(const char *name)
{
	static const char *const secrets[] = {
		"userPassword", "authPassword", "userPKCS12",
		"sambaNTPassword", "sambaLMPassword", "unicodePwd",
	};
	size_t i;

	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (attr_is(secrets[i], name))
			return 1;
	return 0;
}

static int
entry_read(LDAP *ld, LDAPMessage *msg, struct dir_entry **ep)
{
	struct dir_entry *e = NULL;
	struct dir_attr *a;
	struct berval **vals = NULL;
	BerElement *ber = NULL;
	char *name, *dn;
	size_t i, n;
	int r = CA_ERR_NOMEM;

	*ep = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		goto out;
	if ((dn = ldap_get_dn(ld, msg)) == NULL)
		goto out;
	e->dn = strdup(dn);
	ldap_memfree(dn);
	if (e->dn == NULL ||
	    (e->attrs = calloc(DIR_ATTRS_MAX, sizeof(*e->attrs))) == NULL)
		goto out;
	for (name = ldap_first_attribute(ld, msg, &ber); name != NULL;
	    name = ldap_next_attribute(ld, msg, ber)) {
		/* Secrets are never kept, whoever may read them. */
		vals = secret_attr(name) ? NULL :
		    ldap_get_values_len(ld, msg, name);
		if (e->nattrs >= DIR_ATTRS_MAX || vals == NULL) {
			ldap_value_free_len(vals);
			vals = NULL;
			ldap_memfree(name);
			continue;
		}
		a = &e->attrs[e->nattrs++];
		a->name = strdup(name);
		ldap_memfree(name);
		n = (size_t)ldap_count_values_len(vals);
		if (n > DIR_VALUES_MAX)
			n = DIR_VALUES_MAX;
		if (a->name == NULL || (a->values = calloc(n > 0 ? n : 1,
		    sizeof(*a->values))) == NULL)
			goto out;
		for (i = 0; i < n; i++) {
			if ((a->values[i].data = malloc(vals[i]->bv_len + 1)) ==
			    NULL)
				goto out;
			memcpy(a->values[i].data, vals[i]->bv_val,
			    vals[i]->bv_len);
			a->values[i].data[vals[i]->bv_len] = '\0';
			a->values[i].len = vals[i]->bv_len;
			a->nvalues++;
		}
		ldap_value_free_len(vals);
		vals = NULL;
	}
	if (entry_text(e, "mail", 1, &e->mail) != 0 ||
	    entry_text(e, "cn", 0, &e->cn) != 0 ||
	    entry_text(e, "uid", 0, &e->uid) != 0)
		goto out;
	*ep = e;
	e = NULL;
	r = 0;
 out:
	ldap_value_free_len(vals);
	if (ber != NULL)
		ber_free(ber, 0);
	dir_entry_free(e);
	return r;
}

/* A copy of the first text value of attr (lower-cased), NULL if none. */
static int
entry_text(const struct dir_entry *e, const char *attr, int lower,
    char **outp)
{
	const char *v;

	*outp = NULL;
	if ((v = dir_entry_get(e, attr)) == NULL)
		return 0;
	if ((*outp = strdup(v)) == NULL)
		return CA_ERR_NOMEM;
	if (lower)
		util_lower(*outp);
	return 0;
}

/* The error of a search that did not succeed. */
static int
search_rc(struct dir *d, int rc, const char *filter, struct ca_err *err)
{
	if (rc == LDAP_NO_SUCH_OBJECT)
		return ca_err_set(err, CA_ERR_CONFIG, "%s: the user base %s "
		    "does not exist (<users base> in smimeca.conf)", d->l->uri,
		    d->l->user_base);
	if (rc == LDAP_SIZELIMIT_EXCEEDED)
		return dir_fail(d->ld, err, rc, "%s: searching %s for %s "
		    "(the directory's size limit for paged searches stopped "
		    "it: on OpenLDAP raise size.prtotal in limits)", d->l->uri,
		    d->l->user_base, filter);
	return dir_fail(d->ld, err, rc, "%s: searching %s for %s", d->l->uri,
	    d->l->user_base, filter);
}

/* Appends the entries of res to *listp (*np of them), at most the cap. */
static int
entries_add(struct dir *d, LDAPMessage *res, const char *filter,
    struct dir_entry ***listp, size_t *np, struct ca_err *err)
{
	struct dir_entry **list, *e;
	LDAPMessage *m;
	size_t cap;
	int c;

	if ((c = ldap_count_entries(d->ld, res)) < 0)
		return dir_fail(d->ld, err, LDAP_DECODING_ERROR, "%s: "
		    "searching %s for %s", d->l->uri, d->l->user_base, filter);
	if ((size_t)c > DIR_ENTRIES_MAX - *np)
		return ca_err_set(err, CA_ERR_INVALID, "%s: %s matches more "
		    "than %d entries", d->l->uri, filter, DIR_ENTRIES_MAX);
	cap = *np + (size_t)c;
	if ((list = reallocarray(*listp, cap > 0 ? cap : 1,
	    sizeof(*list))) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	*listp = list;
	for (m = ldap_first_entry(d->ld, res); m != NULL && *np < cap;
	    m = ldap_next_entry(d->ld, m)) {
		if (entry_read(d->ld, m, &e) != 0)
			return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		list[(*np)++] = e;
	}
	return 0;
}

/*
 * Subtree search under <users base>; at most limit entries, *morep set
 * when the server had more. For lookups of one entry: not paged.
 */
static int
search_n(struct dir *d, const char *filter, const char *const *attrs,
    int limit, struct dir_entry ***listp, size_t *np, int *morep,
    struct ca_err *err)
{
	LDAPMessage *res = NULL;
	struct dir_entry **list = NULL;
	struct timeval tv;
	size_t n = 0;
	int rc, r;

	*listp = NULL;
	*np = 0;
	*morep = 0;
	tv.tv_sec = d->l->timeout > 0 ? d->l->timeout : 10;
	tv.tv_usec = 0;
	rc = ldap_search_ext_s(d->ld, d->l->user_base, LDAP_SCOPE_SUBTREE,
	    filter, (char **)attrs, 0, NULL, NULL, &tv, limit, &res);
	if (rc == LDAP_SIZELIMIT_EXCEEDED)
		*morep = 1;
	else if (rc != LDAP_SUCCESS) {
		r = search_rc(d, rc, filter, err);
		goto out;
	}
	if ((r = entries_add(d, res, filter, &list, &n, err)) != 0)
		goto out;
	*listp = list;
	*np = n;
	list = NULL;
	n = 0;
	r = 0;
 out:
	dir_entry_free_list(list, n);
	ldap_msgfree(res);
	return r;
}

/*
 * Every entry of a subtree search, in pages (RFC 2696) of <users
 * page-size>, so that a server's size limit on one answer does not cut
 * the list short; bounded by DIR_ENTRIES_MAX entries and DIR_PAGES_MAX
 * pages. A server without the control answers once, as without it.
 */
static int
search_paged(struct dir *d, const char *filter, const char *const *attrs,
    struct dir_entry ***listp, size_t *np, struct ca_err *err)
{
	LDAPMessage *res = NULL;
	LDAPControl *page = NULL, *sctrls[2], **rctrls = NULL, *pr;
	struct dir_entry **list = NULL;
	struct berval cookie = { 0, NULL };
	struct timeval tv;
	ber_int_t estimate, size;
	size_t n = 0, pages = 0;
	int rc, code, r;

	*listp = NULL;
	*np = 0;
	tv.tv_sec = d->l->timeout > 0 ? d->l->timeout : 10;
	tv.tv_usec = 0;
	/* A page size of 0 asks the server to end the search. */
	size = d->l->page_size > 0 ? d->l->page_size : DIR_PAGE_SIZE;
	for (;;) {
		if (++pages > DIR_PAGES_MAX) {
			r = ca_err_set(err, CA_ERR_INVALID, "%s: searching %s "
			    "for %s took more than %d pages", d->l->uri,
			    d->l->user_base, filter, DIR_PAGES_MAX);
			goto out;
		}
		/* Not critical: a server without paging answers in one. */
		if ((rc = ldap_create_page_control(d->ld, size, &cookie, 0,
		    &page)) != LDAP_SUCCESS) {
			r = dir_fail(d->ld, err, rc, "%s: a paged search",
			    d->l->uri);
			goto out;
		}
		sctrls[0] = page;
		sctrls[1] = NULL;
		rc = ldap_search_ext_s(d->ld, d->l->user_base,
		    LDAP_SCOPE_SUBTREE, filter, (char **)attrs, 0, sctrls,
		    NULL, &tv, 0, &res);
		ldap_control_free(page);
		page = NULL;
		if (rc != LDAP_SUCCESS) {
			r = search_rc(d, rc, filter, err);
			goto out;
		}
		if ((rc = ldap_parse_result(d->ld, res, &code, NULL, NULL,
		    NULL, &rctrls, 0)) != LDAP_SUCCESS ||
		    (rc = code) != LDAP_SUCCESS) {
			r = search_rc(d, rc, filter, err);
			goto out;
		}
		if ((r = entries_add(d, res, filter, &list, &n, err)) != 0)
			goto out;
		ldap_msgfree(res);
		res = NULL;
		ber_memfree(cookie.bv_val);
		cookie.bv_val = NULL;
		cookie.bv_len = 0;
		/* The last page: no control, or an empty cookie. */
		if ((pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls,
		    NULL)) == NULL)
			break;
		if ((rc = ldap_parse_pageresponse_control(d->ld, pr,
		    &estimate, &cookie)) != LDAP_SUCCESS) {
			r = dir_fail(d->ld, err, rc, "%s: the paged results "
			    "of %s", d->l->uri, filter);
			goto out;
		}
		ldap_controls_free(rctrls);
		rctrls = NULL;
		if (cookie.bv_val == NULL || cookie.bv_len == 0)
			break;
	}
	*listp = list;
	*np = n;
	list = NULL;
	n = 0;
	r = 0;
 out:
	ber_memfree(cookie.bv_val);
	ldap_controls_free(rctrls);
	ldap_control_free(page);
	dir_entry_free_list(list, n);
	ldap_msgfree(res);
	return r;
}

int
dir_search(struct dir *d, const char *filter, const char *const *attrs,
    struct dir_entry ***listp, size_t *np, struct ca_err *err)
{
	return search_paged(d, filter, attrs, listp, np, err);
}

int
dir_find(struct dir *d, const char *tmpl, const char *value,
    const char *const *attrs, struct dir_entry **ep, struct ca_err *err)
{
	struct dir_entry **list = NULL;
	char *filter = NULL;
	size_t n = 0;
	int more, r;

	*ep = NULL;
	if ((filter = dir_filter(tmpl, value)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = search_n(d, filter, attrs, 2, &list, &n, &more, err)) != 0)
		goto out;
	if (n == 0) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "%s: no entry under %s "
		    "matches %s", d->l->uri, d->l->user_base, filter);
		goto out;
	}
	if (n > 1 || more) {
		r = ca_err_set(err, CA_ERR_INVALID, "%s: several entries "
		    "under %s match %s (%s, %s%s); make the filter or the "
		    "directory unambiguous", d->l->uri, d->l->user_base,
		    filter, list[0]->dn, n > 1 ? list[1]->dn : "...",
		    n > 1 && more ? ", ..." : "");
		goto out;
	}
	*ep = list[0];
	list[0] = NULL;
	r = 0;
 out:
	dir_entry_free_list(list, n);
	free(filter);
	return r;
}

int
dir_lookup(const struct ca_config *cfg, const char *mail,
    struct dir_entry **ep, struct ca_err *err)
{
	struct dir *d = NULL;
	int r;

	*ep = NULL;
	if ((r = dir_open(cfg, &d, err)) != 0 ||
	    (r = dir_find(d, cfg->ldap->user_filter, mail, NULL, ep,
	    err)) != 0)
		goto out;
	r = 0;
 out:
	dir_close(d);
	return r;
}

int
dir_authenticate(const struct ca_config *cfg, const char *user,
    const char *password, struct dir_entry **ep, struct ca_err *err)
{
	struct dir *d = NULL;
	struct dir_entry *e = NULL;
	struct ca_err xerr;
	LDAP *ld = NULL;
	size_t plen;
	int rc, r;

	*ep = NULL;
	if (user == NULL || *user == '\0' || strlen(user) > 256) {
		r = ca_err_set(err, CA_ERR_AUTH, "directory login: no user "
		    "name given");
		goto out;
	}
	/* An empty password is an unauthenticated bind, which succeeds. */
	if (password == NULL || (plen = strlen(password)) == 0) {
		r = ca_err_set(err, CA_ERR_AUTH, "directory login %s: an empty "
		    "password is refused", user);
		goto out;
	}
	if (plen > DIR_PASS_MAX) {
		r = ca_err_set(err, CA_ERR_AUTH, "directory login %s: the "
		    "password is longer than %d bytes", user, DIR_PASS_MAX);
		goto out;
	}
	if ((r = dir_open(cfg, &d, err)) != 0)
		goto out;
	ca_err_clear(&xerr);
	if ((r = dir_find(d, cfg->ldap->login_filter, user, NULL, &e,
	    &xerr)) != 0) {
		if (r == CA_ERR_NOTFOUND)
			r = ca_err_set(err, CA_ERR_NOTFOUND, "directory login "
			    "%s: no such user in the directory (%s)", user,
			    xerr.msg);
		else if (r == CA_ERR_INVALID)
			r = ca_err_set(err, CA_ERR_AUTH, "directory login %s: "
			    "the name is ambiguous (%s)", user, xerr.msg);
		else
			r = ca_err_set(err, r, "directory login %s: %s", user,
			    xerr.msg);
		goto out;
	}
	/* The user's own bind, on a connection of its own. */
	if ((r = dir_connect(cfg->ldap, &ld, err)) != 0)
		goto out;
	if ((rc = dir_simple_bind(ld, e->dn, password, plen)) !=
	    LDAP_SUCCESS) {
		if (rc == LDAP_INVALID_CREDENTIALS)
			r = ca_err_set(err, CA_ERR_AUTH, "directory login %s: "
			    "wrong password (the bind as %s was refused)",
			    user, e->dn);
		else
			r = dir_fail(ld, err, rc, "directory login %s: bind "
			    "as %s", user, e->dn);
		goto out;
	}
	*ep = e;
	e = NULL;
	r = 0;
 out:
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	dir_entry_free(e);
	dir_close(d);
	return r;
}

const struct dir_attr *
dir_entry_attr(const struct dir_entry *e, const char *attr)
{
	size_t i;

	for (i = 0; e != NULL && i < e->nattrs; i++)
		if (attr_is(attr, e->attrs[i].name))
			return &e->attrs[i];
	return NULL;
}

const char *
dir_entry_get(const struct dir_entry *e, const char *attr)
{
	const struct dir_attr *a;
	size_t i;

	if ((a = dir_entry_attr(e, attr)) == NULL)
		return NULL;
	/* Binary values (a NUL inside) are no text. */
	for (i = 0; i < a->nvalues; i++)
		if (strlen((const char *)a->values[i].data) ==
		    a->values[i].len)
			return (const char *)a->values[i].data;
	return NULL;
}

const char *
dir_entry_lookup(void *ctx, const char *attr)
{
	const struct dir_entry *e = ctx;

	if (strcasecmp(attr, "mail") == 0)
		return e->mail;
	return dir_entry_get(e, attr);
}

void
dir_account(const struct dir_entry *e, const char *id,
    struct iss_account *a)
{
	memset(a, 0, sizeof(*a));
	a->id = id;
	a->mail = e->mail;
	a->cn = e->cn;
	a->lookup = dir_entry_lookup;
	a->lookup_ctx = (void *)e;
}

void
dir_entry_free(struct dir_entry *e)
{
	size_t i, j;

	if (e == NULL)
		return;
	for (i = 0; i < e->nattrs; i++) {
		for (j = 0; j < e->attrs[i].nvalues; j++)
			free(e->attrs[i].values[j].data);
		free(e->attrs[i].values);
		free(e->attrs[i].name);
	}
	free(e->attrs);
	free(e->dn);
	free(e->mail);
	free(e->cn);
	free(e->uid);
	free(e);
}

void
dir_entry_free_list(struct dir_entry **list, size_t n)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++)
		dir_entry_free(list[i]);
	free(list);
}

/* One modification of one attribute; returns LDAP's result code. */
static int
modify_one(struct dir *d, const char *dn, int op, const char *attr,
    const struct dir_value *v, size_t n, int *rcp)
{
	struct berval *bv = NULL, **bvp = NULL;
	LDAPMod mod, *mods[2];
	size_t i;

	if ((bv = calloc(n > 0 ? n : 1, sizeof(*bv))) == NULL ||
	    (bvp = calloc(n + 1, sizeof(*bvp))) == NULL) {
		free(bv);
		return CA_ERR_NOMEM;
	}
	for (i = 0; i < n; i++) {
		bv[i].bv_val = (char *)v[i].data;
		bv[i].bv_len = v[i].len;
		bvp[i] = &bv[i];
	}
	memset(&mod, 0, sizeof(mod));
	mod.mod_op = op | LDAP_MOD_BVALUES;
	mod.mod_type = (char *)attr;
	mod.mod_bvalues = bvp;
	mods[0] = &mod;
	mods[1] = NULL;
	*rcp = ldap_modify_ext_s(d->ld, dn, mods, NULL, NULL);
	free(bvp);
	free(bv);
	return 0;
}

int
dir_add_value(struct dir *d, const char *dn, const char *attr,
    const unsigned char *v, size_t len, int *changedp, struct ca_err *err)
{
	struct dir_value dv;
	int rc;

	*changedp = 0;
	dv.data = (unsigned char *)v;
	dv.len = len;
	if (modify_one(d, dn, LDAP_MOD_ADD, attr, &dv, 1, &rc) != 0)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if (rc == LDAP_TYPE_OR_VALUE_EXISTS)
		return 0;
	if (rc != LDAP_SUCCESS)
		return dir_fail(d->ld, err, rc, "%s: adding a value to %s of "
		    "%s", d->l->uri, attr, dn);
	*changedp = 1;
	return 0;
}

int
dir_delete_value(struct dir *d, const char *dn, const char *attr,
    const unsigned char *v, size_t len, int *changedp, struct ca_err *err)
{
	struct dir_value dv;
	int rc;

	*changedp = 0;
	dv.data = (unsigned char *)v;
	dv.len = len;
	if (modify_one(d, dn, LDAP_MOD_DELETE, attr, &dv, 1, &rc) != 0)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if (rc == LDAP_NO_SUCH_ATTRIBUTE)
		return 0;
	if (rc != LDAP_SUCCESS)
		return dir_fail(d->ld, err, rc, "%s: deleting a value of %s "
		    "of %s", d->l->uri, attr, dn);
	*changedp = 1;
	return 0;
}

int
dir_replace_values(struct dir *d, const char *dn, const char *attr,
    const struct dir_value *v, size_t n, struct ca_err *err)
{
	int rc;

	if (modify_one(d, dn, LDAP_MOD_REPLACE, attr, v, n, &rc) != 0)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if (rc != LDAP_SUCCESS)
		return dir_fail(d->ld, err, rc, "%s: replacing %s of %s",
		    d->l->uri, attr, dn);
	return 0;
}
