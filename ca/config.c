/* The CA directory's configuration file: finding the data, reading it. */
#include "ac-config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "ca/config.h"
#include "ca/err.h"
#include "ca/util.h"
#include "ca/xml.h"

#ifndef PKGDATADIR
#error "PKGDATADIR must name the installed data directory (see Makefile.am)"
#endif
#ifndef SRCDATADIR
#error "SRCDATADIR must name the source tree's etc/ (see Makefile.am)"
#endif

static xmlNodePtr child(xmlNodePtr, const char *);
static int attr_int(const char *, xmlNodePtr, const char *, int, int *,
    struct ca_err *);
static int path_of(const char *, const char *, xmlNodePtr, int, char **,
    struct ca_err *);
static int strlist_add(char ***, size_t *, const char *);
static int attr_yes(xmlNodePtr, const char *, int);
static char *attr_str(xmlNodePtr, const char *, const char *);
static int daemon_read(const char *, xmlNodePtr, struct cfg_daemon *,
    struct ca_err *);
static int ocsp_read(const char *, xmlNodePtr, struct ca_config *,
    struct ca_err *);
static int cfg_read(const char *, xmlDocPtr, struct ca_config *,
    struct ca_err *);
static int attr_copy(xmlNodePtr, const char *, const char *, char **);
static int expiry_read(const char *, const char *, xmlNodePtr,
    struct ca_config *, struct ca_err *);
static int filter_ok(const char *);
static int cfg_read_ldap(const char *, const char *, xmlNodePtr,
    struct cfg_ldap **, struct ca_err *);

const char *
cfg_datadir(void)
{
	const char *d;
	struct stat st;

	if ((d = getenv("SMIMECA_DATADIR")) != NULL && *d != '\0')
		return d;
	if (stat(PKGDATADIR "/template.rng", &st) == 0)
		return PKGDATADIR;
	return SRCDATADIR;
}

char *
cfg_schema_path(const char *name)
{
	return util_path(cfg_datadir(), name);
}

/* First child element called name, or NULL. */
static xmlNodePtr
child(xmlNodePtr parent, const char *name)
{
	xmlNodePtr n;

	for (n = parent != NULL ? parent->children : NULL; n != NULL;
	    n = n->next)
		if (n->type == XML_ELEMENT_NODE &&
		    xmlStrcmp(n->name, (const xmlChar *)name) == 0)
			return n;
	return NULL;
}

/* Integer attribute in [0, INT_MAX]; def when absent. */
static int
attr_int(const char *path, xmlNodePtr n, const char *attr, int def,
    int *outp, struct ca_err *err)
{
	xmlChar *v;
	char *end;
	long l;
	int r = 0;

	*outp = def;
	if (n == NULL ||
	    (v = xmlGetProp(n, (const xmlChar *)attr)) == NULL)
		return 0;
	errno = 0;
	l = strtol((const char *)v, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (errno != 0 || end == (char *)v || *end != '\0' || l < 0 ||
	    l > INT_MAX)
		r = ca_err_set(err, CA_ERR_CONFIG, "%s:%ld: <%s %s=\"%s\">: "
		    "not a number", path, xmlGetLineNo(n), n->name, attr, v);
	else
		*outp = (int)l;
	xmlFree(v);
	return r;
}

/* The path in element n, made absolute against dir; *outp NULL if no n. */
static int
path_of(const char *dir, const char *path, xmlNodePtr n, int required,
    char **outp, struct ca_err *err)
{
	char *t = NULL;
	int r;

	*outp = NULL;
	if (n == NULL) {
		if (!required)
			return 0;
		return ca_err_set(err, CA_ERR_CONFIG, "%s: a required path is "
		    "missing (see smimeca.conf(5))", path);
	}
	if ((t = xml_node_text(n)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if (*t == '\0')
		r = ca_err_set(err, CA_ERR_CONFIG, "%s:%ld: <%s> is empty; "
		    "name a file", path, xmlGetLineNo(n), n->name);
	else if ((*outp = util_path(dir, t)) == NULL)
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	else
		r = 0;
	free(t);
	return r;
}

static int
strlist_add(char ***vp, size_t *np, const char *s)
{
	char **nv, *c;

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

/* Fills cfg (dir and path set) from the validated document. */
static int
cfg_read(const char *path, xmlDocPtr doc, struct ca_config *cfg,
    struct ca_err *err)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), ca, n;
	xmlChar *name = NULL, *key = NULL;
	char *t = NULL;
	int r;

	if (root == NULL || (ca = child(root, "ca")) == NULL ||
	    (name = xmlGetProp(ca, (const xmlChar *)"name")) == NULL) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: no <ca name=\"...\"> "
		    "(see smimeca.conf(5))", path);
		goto out;
	}
	if ((cfg->name = strdup((const char *)name)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = path_of(cfg->dir, path, child(ca, "certificate"), 1,
	    &cfg->cert_file, err)) != 0 ||
	    (r = path_of(cfg->dir, path, child(ca, "key"), 1,
	    &cfg->key_file, err)) != 0 ||
	    (r = path_of(cfg->dir, path, child(ca, "chain"), 1,
	    &cfg->chain_file, err)) != 0 ||
	    (r = path_of(cfg->dir, path, child(ca, "passphrase-file"), 0,
	    &cfg->passphrase_file, err)) != 0 ||
	    (r = path_of(cfg->dir, path, child(root, "database"), 1,
	    &cfg->db_file, err)) != 0 ||
	    (r = path_of(cfg->dir, path, child(root, "templates"), 1,
	    &cfg->template_dir, err)) != 0)
		goto out;
	if ((n = child(ca, "digest")) != NULL)
		cfg->digest = xml_node_text(n);
	else
		cfg->digest = strdup("sha256");
	if (cfg->digest == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = attr_int(path, child(root, "crl"), "validity-days", 7,
	    &cfg->crl_days, err)) != 0)
		goto out;

	n = child(root, "publication");
	for (n = n != NULL ? n->children : NULL; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if ((t = xml_node_text(n)) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if (xmlStrcmp(n->name, (const xmlChar *)"crl-url") == 0)
			r = strlist_add(&cfg->cdp_urls, &cfg->ncdp, t);
		else if (xmlStrcmp(n->name,
		    (const xmlChar *)"ca-issuers-url") == 0)
			r = strlist_add(&cfg->aia_issuer_urls,
			    &cfg->naia_issuer, t);
		else if (xmlStrcmp(n->name, (const xmlChar *)"ocsp-url") == 0)
			r = strlist_add(&cfg->aia_ocsp_urls, &cfg->naia_ocsp,
			    t);
		free(t);
		t = NULL;
		if (r != 0) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
	}

	n = child(root, "escrow");
	if ((r = attr_int(path, n, "kra-count", 1, &cfg->escrow_n,
	    err)) != 0 ||
	    (r = attr_int(path, n, "quorum", 1, &cfg->escrow_m, err)) != 0)
		goto out;
	n = child(root, "exchange");
	if ((r = attr_int(path, n, "validity-days", 7, &cfg->xchg_days,
	    err)) != 0 ||
	    (r = attr_int(path, n, "renew-margin-hours", 24,
	    &cfg->xchg_margin_hours, err)) != 0)
		goto out;
	if (n != NULL &&
	    (key = xmlGetProp(n, (const xmlChar *)"key")) != NULL)
		cfg->xchg_key = strdup((const char *)key);
	else
		cfg->xchg_key = strdup("rsa:2048");
	if (cfg->xchg_key == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = ocsp_read(path, child(root, "ocsp"), cfg, err)) != 0)
		goto out;
	if ((r = cfg_read_ldap(path, cfg->dir, child(root, "ldap"),
	    &cfg->ldap, err)) != 0)
		goto out;
	if ((r = daemon_read(path, child(root, "daemon"), &cfg->daemon,
	    err)) != 0)
		goto out;
	if ((r = expiry_read(path, cfg->dir, child(root, "expiry"), cfg,
	    err)) != 0)
		goto out;
	/* <scep>: every value has a default. */
	n = child(root, "scep");
	if ((r = attr_int(path, n, "ra-validity-days", 365,
	    &cfg->scep.ra_days, err)) != 0 ||
	    (r = attr_int(path, n, "ra-renew-margin-days", 30,
	    &cfg->scep.ra_margin_days, err)) != 0)
		goto out;
	cfg->scep.legacy = attr_yes(n, "legacy", 0);
	if ((cfg->scep.template = attr_str(n, "template",
	    "device-auth")) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = 0;
 out:
	free(t);
	xmlFree(key);
	xmlFree(name);
	return r;
}

/* Yes/no attribute; def when absent. */
static int
attr_yes(xmlNodePtr n, const char *attr, int def)
{
	xmlChar *v;
	int yes;

	if (n == NULL || (v = xmlGetProp(n, (const xmlChar *)attr)) == NULL)
		return def;
	yes = xmlStrcmp(v, (const xmlChar *)"yes") == 0;
	xmlFree(v);
	return yes;
}

/* A string attribute, or a copy of def when absent; NULL when out of memory. */
static char *
attr_str(xmlNodePtr n, const char *attr, const char *def)
{
	xmlChar *v;
	char *s;

	if (n == NULL || (v = xmlGetProp(n, (const xmlChar *)attr)) == NULL)
		return strdup(def);
	s = strdup((const char *)v);
	xmlFree(v);
	return s;
}

/* <ocsp>; every value has a default, so the section may be absent. */
static int
ocsp_read(const char *path, xmlNodePtr n, struct ca_config *cfg,
    struct ca_err *err)
{
	char *signer;
	int r;

	if ((r = attr_int(path, n, "validity-hours", 24, &cfg->ocsp_hours,
	    err)) != 0 ||
	    (r = attr_int(path, n, "responder-days", 7,
	    &cfg->ocsp_responder_days, err)) != 0)
		return r;
	if ((signer = attr_str(n, "signer", "delegated")) == NULL ||
	    (cfg->ocsp_key = attr_str(n, "key", "rsa:2048")) == NULL) {
		free(signer);
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	}
	cfg->ocsp_signer_ca = strcmp(signer, "ca") == 0;
	free(signer);
	/* A response must not outlive the certificate that signed it. */
	if (!cfg->ocsp_signer_ca &&
	    (int64_t)cfg->ocsp_hours * 2 > (int64_t)cfg->ocsp_responder_days *
	    24)
		return ca_err_set(err, CA_ERR_CONFIG, "%s: <ocsp "
		    "validity-hours=\"%d\"> must be at most half of "
		    "responder-days (%d days), so that a response never "
		    "outlives its responder certificate", path,
		    cfg->ocsp_hours, cfg->ocsp_responder_days);
	return 0;
}

/* <daemon>; every value has a default, so the section may be absent. */
static int
daemon_read(const char *path, xmlNodePtr d, struct cfg_daemon *dm,
    struct ca_err *err)
{
	xmlNodePtr n, lim = child(d, "limits"), https = child(d, "https");
	xmlNodePtr http = child(d, "http");
	char *t;
	int r;

	if ((r = attr_int(path, d, "threads", 0, &dm->threads, err)) != 0 ||
	    (r = attr_int(path, https, "port", 8443, &dm->https_port,
	    err)) != 0 ||
	    (r = attr_int(path, http, "port", 8080, &dm->http_port,
	    err)) != 0 ||
	    (r = attr_int(path, lim, "body-bytes", 256 * 1024, &dm->body_max,
	    err)) != 0 ||
	    (r = attr_int(path, lim, "header-bytes", 16384, &dm->header_max,
	    err)) != 0 ||
	    (r = attr_int(path, lim, "timeout-seconds", 30, &dm->timeout,
	    err)) != 0 ||
	    (r = attr_int(path, lim, "connections-per-client", 64,
	    &dm->per_client, err)) != 0 ||
	    (r = attr_int(path, lim, "connections", 1024, &dm->max_conns,
	    err)) != 0)
		return r;
	dm->est_over_http = attr_yes(d, "est-over-http", 0);
	if ((dm->est_template = attr_str(d, "est-template",
	    "smime-signature")) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if ((dm->https_addr = attr_str(https, "address", "127.0.0.1")) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if (attr_yes(http, "enabled", 1) &&
	    (dm->http_addr = attr_str(http, "address", "127.0.0.1")) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	for (n = d != NULL ? d->children : NULL; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if ((t = xml_node_text(n)) == NULL)
			return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		r = 0;
		if (xmlStrcmp(n->name, (const xmlChar *)"tls-name") == 0)
			r = strlist_add(&dm->tls_names, &dm->ntls_names, t);
		else if (xmlStrcmp(n->name,
		    (const xmlChar *)"tls-address") == 0)
			r = strlist_add(&dm->tls_addrs, &dm->ntls_addrs, t);
		free(t);
		if (r != 0)
			return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	}
	/* Names the client connects to: loopback by default. */
	if (dm->ntls_names == 0 && dm->ntls_addrs == 0 &&
	    (strlist_add(&dm->tls_names, &dm->ntls_names, "localhost") != 0 ||
	    strlist_add(&dm->tls_addrs, &dm->ntls_addrs, "127.0.0.1") != 0))
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	return 0;
}

int
cfg_load(const char *dir, struct ca_config **cfgp, struct ca_err *err)
{
	struct ca_config *cfg = NULL;
	xmlDocPtr doc = NULL;
	char *schema = NULL;
	struct stat st;
	int r;

	*cfgp = NULL;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((cfg->dir = realpath(dir, NULL)) == NULL) {
		r = ca_err_set(err, errno == ENOENT ? CA_ERR_NOTFOUND :
		    CA_ERR_IO, "%s: %s; create a CA with `smimeca -d %s init` "
		    "or name the CA directory with -d", dir, strerror(errno),
		    dir);
		goto out;
	}
	if ((cfg->path = util_path(cfg->dir, CFG_FILE)) == NULL ||
	    (schema = cfg_schema_path("config.rng")) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (stat(cfg->path, &st) == -1 && errno == ENOENT) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "%s: no CA here (no %s); "
		    "create one with `smimeca -d %s init` or name the CA "
		    "directory with -d", dir, CFG_FILE, dir);
		goto out;
	}
	if ((r = xml_load(cfg->path, schema, &doc, err)) != 0 ||
	    (r = cfg_read(cfg->path, doc, cfg, err)) != 0)
		goto out;
	*cfgp = cfg;
	cfg = NULL;
	r = 0;
 out:
	xmlFreeDoc(doc);
	free(schema);
	cfg_free(cfg);
	return r;
}

void
cfg_free(struct ca_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->dir);
	free(cfg->path);
	free(cfg->name);
	free(cfg->key_file);
	free(cfg->cert_file);
	free(cfg->chain_file);
	free(cfg->db_file);
	free(cfg->template_dir);
	free(cfg->passphrase_file);
	free(cfg->digest);
	free(cfg->daemon.est_template);
	free(cfg->scep.template);
	free(cfg->daemon.https_addr);
	free(cfg->daemon.http_addr);
	for (i = 0; i < cfg->daemon.ntls_names; i++)
		free(cfg->daemon.tls_names[i]);
	free(cfg->daemon.tls_names);
	for (i = 0; i < cfg->daemon.ntls_addrs; i++)
		free(cfg->daemon.tls_addrs[i]);
	free(cfg->daemon.tls_addrs);
	for (i = 0; i < cfg->ncdp; i++)
		free(cfg->cdp_urls[i]);
	free(cfg->cdp_urls);
	for (i = 0; i < cfg->naia_issuer; i++)
		free(cfg->aia_issuer_urls[i]);
	free(cfg->aia_issuer_urls);
	for (i = 0; i < cfg->naia_ocsp; i++)
		free(cfg->aia_ocsp_urls[i]);
	free(cfg->aia_ocsp_urls);
	free(cfg->xchg_key);
	free(cfg->expiry_hook);
	free(cfg->ocsp_key);
	cfg_ldap_free(cfg->ldap);
	free(cfg);
}

/* String attribute of n, else def (may be NULL); CA_ERR_NOMEM on failure. */
static int
attr_copy(xmlNodePtr n, const char *attr, const char *def, char **outp)
{
	xmlChar *v = NULL;

	*outp = NULL;
	if (n != NULL)
		v = xmlGetProp(n, (const xmlChar *)attr);
	if (v != NULL) {
		*outp = strdup((const char *)v);
		xmlFree(v);
	} else if (def != NULL)
		*outp = strdup(def);
	else
		return 0;
	return *outp == NULL ? CA_ERR_NOMEM : 0;
}

/* An RFC 4515 filter in parentheses whose only % are %s (one at least). */
static int
filter_ok(const char *f)
{
	size_t len = strlen(f);
	int depth = 0, subst = 0;
	const char *p;

	if (len < 3 || f[0] != '(' || f[len - 1] != ')')
		return 0;
	for (p = f; *p != '\0'; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth < 0)
			return 0;
		else if (*p == '%') {
			if (p[1] != 's')
				return 0;
			subst++;
			p++;
		}
	}
	return depth == 0 && subst > 0;
}

/* <ldap>: absent leaves *lp NULL (no directory). */
static int
cfg_read_ldap(const char *path, const char *dir, xmlNodePtr n,
    struct cfg_ldap **lp, struct ca_err *err)
{
	struct cfg_ldap *l = NULL;
	xmlNodePtr server, bind, users, attrs, caent, retry;
	char *pwfile = NULL, *cafile = NULL;
	int r;

	*lp = NULL;
	if (n == NULL)
		return 0;
	server = child(n, "server");
	bind = child(n, "bind");
	users = child(n, "users");
	attrs = child(n, "attributes");
	caent = child(n, "ca-entry");
	retry = child(n, "retry");
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (attr_copy(server, "uri", NULL, &l->uri) != 0 ||
	    attr_copy(server, "tls-ca-file", NULL, &cafile) != 0 ||
	    attr_copy(bind, "dn", NULL, &l->bind_dn) != 0 ||
	    attr_copy(bind, "password-file", NULL, &pwfile) != 0 ||
	    attr_copy(users, "base", NULL, &l->user_base) != 0 ||
	    attr_copy(users, "filter", "(mail=%s)", &l->user_filter) != 0 ||
	    attr_copy(users, "login-filter", "(|(mail=%s)(uid=%s))",
	    &l->login_filter) != 0 ||
	    attr_copy(attrs, "certificate", "userCertificate;binary",
	    &l->cert_attr) != 0 ||
	    attr_copy(attrs, "smime", NULL, &l->smime_attr) != 0 ||
	    attr_copy(caent, "dn", NULL, &l->ca_dn) != 0) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (l->uri == NULL || l->user_base == NULL) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s:%ld: <ldap> needs "
		    "<server uri=\"...\"/> and <users base=\"...\"/> (see "
		    "smimeca.conf(5))", path, xmlGetLineNo(n));
		goto out;
	}
	l->starttls = attr_yes(server, "starttls", 0);
	l->accounts = attr_yes(users, "accounts", 1);
	if ((r = attr_int(path, server, "timeout-seconds", 10, &l->timeout,
	    err)) != 0 ||
	    (r = attr_int(path, retry, "initial-seconds", 30, &l->retry_min,
	    err)) != 0 ||
	    (r = attr_int(path, retry, "max-seconds", 3600, &l->retry_max,
	    err)) != 0 ||
	    (r = attr_int(path, users, "page-size", 500, &l->page_size,
	    err)) != 0)
		goto out;
	/* RFC 2696: the server may send fewer; 0 would end the search. */
	if (l->page_size < 1 || l->page_size > 10000) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s:%ld: <users "
		    "page-size=\"%d\">: give 1 to 10000 (the most entries the "
		    "directory sends per page of a paged search)", path,
		    xmlGetLineNo(users), l->page_size);
		goto out;
	}
	if (l->retry_max < l->retry_min) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s:%ld: <retry>: "
		    "max-seconds %d is less than initial-seconds %d", path,
		    xmlGetLineNo(retry), l->retry_max, l->retry_min);
		goto out;
	}
	if (l->starttls && strncasecmp(l->uri, "ldaps:", 6) == 0) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s:%ld: <server>: "
		    "starttls=\"yes\" goes with an ldap:// URI, not %s "
		    "(ldaps:// is TLS from the start)", path,
		    xmlGetLineNo(server), l->uri);
		goto out;
	}
	if (!filter_ok(l->user_filter) || !filter_ok(l->login_filter)) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s:%ld: <users>: filters "
		    "are written in parentheses with %%s where the address "
		    "or user name goes, e.g. filter=\"(mail=%%s)\" (have "
		    "\"%s\" and \"%s\")", path, xmlGetLineNo(users),
		    l->user_filter, l->login_filter);
		goto out;
	}
	if ((l->bind_dn == NULL) != (pwfile == NULL)) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s:%ld: <bind> needs both "
		    "dn and password-file", path, xmlGetLineNo(bind));
		goto out;
	}
	if ((pwfile != NULL &&
	    (l->bind_password_file = util_path(dir, pwfile)) == NULL) ||
	    (cafile != NULL &&
	    (l->tls_ca_file = util_path(dir, cafile)) == NULL)) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	*lp = l;
	l = NULL;
	r = 0;
 out:
	free(pwfile);
	free(cafile);
	cfg_ldap_free(l);
	return r;
}

void
cfg_ldap_free(struct cfg_ldap *l)
{
	if (l == NULL)
		return;
	free(l->uri);
	free(l->tls_ca_file);
	free(l->bind_dn);
	free(l->bind_password_file);
	free(l->user_base);
	free(l->user_filter);
	free(l->login_filter);
	free(l->cert_attr);
	free(l->smime_attr);
	free(l->ca_dn);
	free(l);
}

/* lifecycle: <expiry hook within-days>, the hook made absolute. */
static int
expiry_read(const char *path, const char *dir, xmlNodePtr n,
    struct ca_config *cfg, struct ca_err *err)
{
	xmlChar *hook = NULL;
	int r;

	if ((r = attr_int(path, n, "within-days", 30, &cfg->expiry_days,
	    err)) != 0)
		return r;
	if (n == NULL ||
	    (hook = xmlGetProp(n, (const xmlChar *)"hook")) == NULL)
		return 0;
	if ((cfg->expiry_hook = util_path(dir, (const char *)hook)) == NULL)
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	xmlFree(hook);
	return r;
}
