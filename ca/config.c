/* The CA directory's configuration file, and XML validation for all files. */
#include "ac-config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

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

#define CFG_XML_MAX	(1024 * 1024)	/* largest XML file read */
#define CFG_XML_SHOWN	5		/* schema messages per file */
#define CFG_URL_MAX	900		/* longest base URL */
#define CFG_NAME_MAX	64		/* ub-common-name */
#define CFG_PATH_MAX	1024		/* as config.rng allows */

/* libxml2 2.12 made the error argument of error callbacks const. */
#if LIBXML_VERSION >= 21200
#define CFG_XMLERR	const xmlError
#else
#define CFG_XMLERR	xmlError
#endif

/* Collects libxml2's messages into a ca_err as "FILE:LINE: message". */
struct xml_errs {
	struct ca_err *err;
	const char *path;
	int seen;		/* errors reported by libxml2 */
	int shown;		/* lines added to err */
	int more;		/* lines left out past CFG_XML_SHOWN */
	const void *last_node;	/* node of the previous line */
	char last[256];		/* previous message, to drop repeats */
};

/* Which kind of file a schema describes, for the last line of an error. */
struct xml_kind {
	const char *rng;
	const char *what;
	const char *man;
};

static int simple_text(const xmlNode *, char *, size_t);
static void attr_list(const xmlNode *, char *, size_t);
static void xml_error(void *, CFG_XMLERR *);
static void xml_errs_done(struct xml_errs *);
static const struct xml_kind *xml_kind(const char *);
static int xml_load(const char *, const char *, xmlDocPtr *,
    struct ca_err *);
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
static int cfg_read(const char *, xmlDocPtr, struct ca_config *,
    struct ca_err *);
static int base_url_ok(const char *);
static int name_ok(const char *, int);
static int put_escaped(FILE *, const char *);
static int attr_copy(xmlNodePtr, const char *, const char *, char **);
static int filter_ok(const char *);
static int cfg_read_ldap(const char *, const char *, xmlNodePtr,
    struct cfg_ldap **, struct ca_err *);
static void put_ldap(FILE *, const struct cfg_ldap *);

static const struct xml_kind xml_kinds[] = {
	{ "template.rng", "template", "smimeca-template(5)" },
	{ "config.rng", "configuration", "smimeca.conf(5)" },
};

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

/* Text of an element without element children, quoted, for a message. */
static int
simple_text(const xmlNode *node, char *buf, size_t len)
{
	const xmlNode *c;
	xmlChar *t;
	const char *s;
	size_t n;

	for (c = node->children; c != NULL; c = c->next)
		if (c->type != XML_TEXT_NODE &&
		    c->type != XML_CDATA_SECTION_NODE)
			return 0;
	if ((t = xmlNodeGetContent(node)) == NULL)
		return 0;
	for (s = (const char *)t; *s == ' ' || *s == '\t' || *s == '\n'; s++)
		;
	n = strcspn(s, "\r\n");
	snprintf(buf, len, "\"%.*s%s\"", n > 64 ? 64 : (int)n, s,
	    n > 64 ? "..." : "");
	xmlFree(t);
	return 1;
}

/* The attributes of an element as ' a="v"', for a message. */
static void
attr_list(const xmlNode *node, char *buf, size_t len)
{
	const xmlAttr *a;
	xmlChar *v;
	size_t used = 0;
	int n;

	buf[0] = '\0';
	for (a = node->properties; a != NULL && used < len; a = a->next) {
		if ((v = xmlNodeGetContent((const xmlNode *)a)) == NULL)
			continue;
		n = snprintf(buf + used, len - used, " %s=\"%.40s\"",
		    (const char *)a->name, (const char *)v);
		xmlFree(v);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static void
xml_error(void *ctx, CFG_XMLERR *e)
{
	struct xml_errs *xe = ctx;
	const xmlNode *node = e->node;
	const char *file = e->file != NULL ? e->file : xe->path;
	char msg[256], where[64], detail[160];
	size_t len;

	if (e->level < XML_ERR_ERROR)
		return;
	xe->seen++;
	snprintf(msg, sizeof(msg), "%s", e->message != NULL ? e->message :
	    "unknown error");
	len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		msg[--len] = '\0';
	/* libxml2 reports one bad value up to three times: keep the first. */
	if ((node != NULL && (const void *)node == xe->last_node) ||
	    (node == NULL && strcmp(msg, xe->last) == 0))
		return;
	xe->last_node = node;
	memcpy(xe->last, msg, sizeof(msg));
	if (xe->shown >= CFG_XML_SHOWN) {
		xe->more++;
		return;
	}
	xe->shown++;
	/* Validity errors point at a node; name it and what it holds. */
	where[0] = '\0';
	if (e->domain == XML_FROM_RELAXNGV && node != NULL &&
	    node->type == XML_ELEMENT_NODE && node->name != NULL) {
		snprintf(where, sizeof(where), "element %s: ",
		    (const char *)node->name);
		if ((strncmp(msg, "Error validating", 16) == 0 ||
		    strstr(msg, "failed to validate content") != NULL) &&
		    simple_text(node, detail, sizeof(detail)))
			snprintf(msg, sizeof(msg), "%s is not an allowed value",
			    detail);
		else if (strstr(msg, "failed to validate attributes") !=
		    NULL) {
			attr_list(node, detail, sizeof(detail));
			snprintf(msg, sizeof(msg), "an attribute is missing, "
			    "unknown or has a value not allowed (has:%s)",
			    detail[0] != '\0' ? detail : " none");
		}
	}
	if (e->line > 0)
		ca_err_set(xe->err, CA_ERR_CONFIG, "%s:%d: %s%s", file,
		    e->line, where, msg);
	else
		ca_err_set(xe->err, CA_ERR_CONFIG, "%s: %s%s", file, where,
		    msg);
}

static void
xml_errs_done(struct xml_errs *xe)
{
	if (xe->more > 0)
		ca_err_set(xe->err, CA_ERR_CONFIG, "%s: %d more errors",
		    xe->path, xe->more);
}

static const struct xml_kind *
xml_kind(const char *schema_path)
{
	const char *base = strrchr(schema_path, '/');
	size_t i;

	base = base != NULL ? base + 1 : schema_path;
	for (i = 0; i < sizeof(xml_kinds) / sizeof(xml_kinds[0]); i++)
		if (strcmp(base, xml_kinds[i].rng) == 0)
			return &xml_kinds[i];
	return NULL;
}

/*
 * Reads path (at most CFG_XML_MAX bytes), parses it without network access
 * or entity expansion and validates it against the RelaxNG schema. Every
 * message of libxml2 goes into err, none to stderr.
 */
static int
xml_load(const char *path, const char *schema_path, xmlDocPtr *docp,
    struct ca_err *err)
{
	const struct xml_kind *k = xml_kind(schema_path);
	const char *what = k != NULL ? k->what : "file";
	char see[64];
	unsigned char *buf = NULL;
	size_t len = 0;
	xmlDocPtr doc = NULL;
	xmlRelaxNGParserCtxtPtr pctx = NULL;
	xmlRelaxNGPtr schema = NULL;
	xmlRelaxNGValidCtxtPtr vctx = NULL;
	struct xml_errs xe;
	int r, v;

	*docp = NULL;
	snprintf(see, sizeof(see), " (see %s)", k != NULL ? k->man :
	    schema_path);
	memset(&xe, 0, sizeof(xe));
	xe.err = err;
	xe.path = path;
	if ((r = util_read_file(path, CFG_XML_MAX, &buf, &len, err)) != 0)
		goto out;
	xmlInitParser();
	xmlSetStructuredErrorFunc(&xe, xml_error);
	doc = xmlReadMemory((const char *)buf, (int)len, path, NULL,
	    XML_PARSE_NONET | XML_PARSE_BIG_LINES);
	if (doc == NULL || xe.seen > 0) {
		xml_errs_done(&xe);
		r = ca_err_set(err, CA_ERR_CONFIG, "%s %s is not well-formed "
		    "XML%s", what, path, see);
		goto out;
	}
	/* Nothing here needs a DTD; refusing one rules out entity tricks. */
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: a <!DOCTYPE> is not "
		    "allowed; remove it", path);
		goto out;
	}
	if (access(schema_path, R_OK) == -1) {
		r = ca_err_set(err, CA_ERR_CONFIG, "schema %s: %s (set "
		    "SMIMECA_DATADIR to the folder holding config.rng and "
		    "template.rng)", schema_path, strerror(errno));
		goto out;
	}
	if ((pctx = xmlRelaxNGNewParserCtxt(schema_path)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	xmlRelaxNGSetParserStructuredErrors(pctx, xml_error, &xe);
	if ((schema = xmlRelaxNGParse(pctx)) == NULL) {
		r = ca_err_set(err, CA_ERR_CONFIG, "schema %s cannot be used; "
		    "reinstall smimeca or set SMIMECA_DATADIR", schema_path);
		goto out;
	}
	if ((vctx = xmlRelaxNGNewValidCtxt(schema)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	xmlRelaxNGSetValidStructuredErrors(vctx, xml_error, &xe);
	if ((v = xmlRelaxNGValidateDoc(vctx, doc)) != 0) {
		xml_errs_done(&xe);
		if (v < 0)
			r = ca_err_set(err, CA_ERR_INTERNAL, "%s: the schema "
			    "validator failed (%s)", path, schema_path);
		else
			r = ca_err_set(err, CA_ERR_CONFIG, "%s %s does not "
			    "follow the %s schema%s", what, path, what, see);
		goto out;
	}
	*docp = doc;
	doc = NULL;
	r = 0;
 out:
	xmlSetStructuredErrorFunc(NULL, NULL);
	xmlRelaxNGFreeValidCtxt(vctx);
	xmlRelaxNGFree(schema);
	xmlRelaxNGFreeParserCtxt(pctx);
	xmlFreeDoc(doc);
	free(buf);
	return r;
}

int
cfg_validate_xml(const char *path, const char *schema_path,
    struct ca_err *err)
{
	xmlDocPtr doc = NULL;
	int r;

	r = xml_load(path, schema_path, &doc, err);
	xmlFreeDoc(doc);
	return r;
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
	if ((r = cfg_read_ldap(path, cfg->dir, child(root, "ldap"),
	    &cfg->ldap, err)) != 0)
		goto out;
	if ((r = daemon_read(path, child(root, "daemon"), &cfg->daemon,
	    err)) != 0)
		goto out;
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

/* An absolute URL without white space that the schema accepts. */
static int
base_url_ok(const char *u)
{
	const char *p = u;

	if (strlen(u) > CFG_URL_MAX ||
	    !((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
		return 0;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
	    (*p >= '0' && *p <= '9') || *p == '+' || *p == '.' || *p == '-')
		p++;
	if (strncmp(p, "://", 3) != 0 || p[3] == '\0' || p[3] == '/')
		return 0;
	for (p += 3; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '"' ||
		    *p == '<' || *p == '>')
			return 0;
	return 1;
}

/* UTF-8 that XML 1.0 can carry, of 1 to max characters. */
static int
name_ok(const char *s, int max)
{
	int len;

	if (!xmlCheckUTF8((const xmlChar *)s) ||
	    (len = xmlUTF8Strlen((const xmlChar *)s)) <= 0 || len > max)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return 0;
	return 1;
}

static int
put_escaped(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
	return ferror(f) ? -1 : 0;
}

int
cfg_write_default(const char *path, const struct cfg_init *ci,
    struct ca_err *err)
{
	const char *base_in = ci->base_url != NULL && *ci->base_url != '\0' ?
	    ci->base_url : "http://127.0.0.1:8080";
	char *base = NULL, *buf = NULL;
	size_t len = 0, blen;
	FILE *f = NULL;
	struct stat st;
	int r, n = ci->escrow_n > 0 ? ci->escrow_n : 1;
	int m = ci->escrow_m > 0 ? ci->escrow_m : 1;
	int crl_days = ci->crl_days > 0 ? ci->crl_days : 7;

	if (lstat(path, &st) == 0) {
		r = ca_err_set(err, CA_ERR_EXISTS, "%s exists already; not "
		    "overwriting it", path);
		goto out;
	}
	if (ci->name == NULL || !name_ok(ci->name, CFG_NAME_MAX)) {
		r = ca_err_set(err, CA_ERR_INVALID, "CA name \"%s\" must be 1 "
		    "to %d characters without control characters",
		    ci->name != NULL ? ci->name : "", CFG_NAME_MAX);
		goto out;
	}
	if (!base_url_ok(base_in)) {
		r = ca_err_set(err, CA_ERR_INVALID, "base URL \"%s\" is not an "
		    "absolute URL without spaces (e.g. "
		    "http://ca.lab.example:8080)", base_in);
		goto out;
	}
	if (m > n || n > 255) {
		r = ca_err_set(err, CA_ERR_INVALID, "escrow quorum %d and KRA "
		    "count %d: need 1 <= quorum <= count <= 255", m, n);
		goto out;
	}
	if (ci->passphrase_file != NULL &&
	    !name_ok(ci->passphrase_file, CFG_PATH_MAX)) {
		r = ca_err_set(err, CA_ERR_INVALID, "passphrase file \"%s\" is "
		    "not a usable path", ci->passphrase_file);
		goto out;
	}
	if ((base = strdup(base_in)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (blen = strlen(base); blen > 0 && base[blen - 1] == '/'; blen--)
		base[blen - 1] = '\0';
	if ((f = open_memstream(&buf, &len)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}

	/* XML comments must not hold "--": none of the text below does. */
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<!--\n"
	    "  Configuration of the smimeca certificate authority in this\n"
	    "  directory; see smimeca.conf(5). Every smimeca command reads\n"
	    "  it and validates it against config.rng first. Relative\n"
	    "  paths are taken relative to this directory.\n"
	    "-->\n"
	    "<smimeca-config version=\"1\">\n"
	    "  <!--\n"
	    "    The issuing CA. name is its common name; the CA exchange\n"
	    "    certificate, to which clients encrypt keys for archival,\n"
	    "    is named after it (NAME-Xchg).\n"
	    "  -->\n"
	    "  <ca name=\"", f);
	put_escaped(f, ci->name);
	fputs("\">\n"
	    "    <!-- The issuing CA certificate, PEM. -->\n"
	    "    <certificate>ca.crt</certificate>\n"
	    "    <!--\n"
	    "      The issuing CA key, PKCS#8 PEM, possibly encrypted. It\n"
	    "      must have mode 0600 or stricter: smimeca refuses a key\n"
	    "      file that group or others can read.\n"
	    "    -->\n"
	    "    <key>private/ca.key</key>\n"
	    "    <!-- The issuing CA certificate up to the root, PEM. -->\n"
	    "    <chain>chain.pem</chain>\n"
	    "    <!--\n"
	    "      When the CA key is encrypted, its passphrase comes from\n"
	    "      the passphrase file given on the command line, else from\n"
	    "      the environment variable SMIMECA_PASSPHRASE, else from\n"
	    "      the first line of the file named by passphrase-file\n"
	    "      here. A file next to the key protects nothing that the\n"
	    "      file mode does not: keep it elsewhere if you use it.\n"
	    "    -->\n", f);
	if (ci->passphrase_file != NULL) {
		fputs("    <passphrase-file>", f);
		put_escaped(f, ci->passphrase_file);
		fputs("</passphrase-file>\n", f);
	} else
		fputs("    <!-- <passphrase-file>/root/ca.pass"
		    "</passphrase-file> -->\n", f);
	fputs("    <!-- The digest the CA signs with: sha256, sha384 or "
	    "sha512. -->\n"
	    "    <digest>sha256</digest>\n"
	    "  </ca>\n"
	    "  <!--\n"
	    "    The SQLite database: certificates, requests, templates\n"
	    "    used, escrowed keys (wrapped to the KRAs), the audit log.\n"
	    "  -->\n"
	    "  <database>smimeca.db</database>\n"
	    "  <!--\n"
	    "    The folder of certificate templates, one NAME.xml each;\n"
	    "    see smimeca-template(5).\n"
	    "  -->\n"
	    "  <templates>templates</templates>\n"
	    "  <!-- Each CRL is valid for this many days. -->\n", f);
	fprintf(f, "  <crl validity-days=\"%d\"/>\n", crl_days);
	fputs("  <!--\n"
	    "    URLs put into certificates whose templates ask for them:\n"
	    "    crl-url as CRL distribution point, ca-issuers-url and\n"
	    "    ocsp-url as authority information access. Publish the\n"
	    "    CRL (smimeca crl) and ca.crt there. Each may be repeated.\n"
	    "  -->\n"
	    "  <publication>\n"
	    "    <crl-url>", f);
	put_escaped(f, base);
	fputs("/crl/ca.crl</crl-url>\n"
	    "    <ca-issuers-url>", f);
	put_escaped(f, base);
	fputs("/ca/ca.crt</ca-issuers-url>\n", f);
	if (strstr(base, "--") == NULL) {
		fputs("    <!-- <ocsp-url>", f);
		put_escaped(f, base);
		fputs("/ocsp</ocsp-url> -->\n", f);
	} else
		fputs("    <!-- <ocsp-url>http://ocsp.lab.example/ocsp"
		    "</ocsp-url> -->\n", f);
	fputs("  </publication>\n"
	    "  <!--\n"
	    "    Key escrow: each archived private key is wrapped to\n"
	    "    kra-count registered KRA certificates (smimeca kra add);\n"
	    "    quorum of their officers are needed to recover it (1: any\n"
	    "    one of them, as in AD CS). quorum must not exceed\n"
	    "    kra-count. Changes apply to keys escrowed afterwards.\n"
	    "  -->\n", f);
	fprintf(f, "  <escrow kra-count=\"%d\" quorum=\"%d\"/>\n", n, m);
	fputs("  <!--\n"
	    "    The CA exchange certificate: how many days each is valid,\n"
	    "    how many hours must be left on the current one before a\n"
	    "    new one is made, and the key of new ones (RSA: clients\n"
	    "    encrypt to it with RSA key transport). The defaults are\n"
	    "    shown.\n"
	    "  -->\n"
	    "  <!-- <exchange validity-days=\"7\" renew-margin-hours=\"24\" "
	    "key=\"rsa:2048\"/> -->\n"
	    "  <!--\n"
	    "    An LDAP directory: certificates are published to the\n"
	    "    userCertificate of the entry whose mail is the\n"
	    "    certificate's (through an outbox: smimeca publish), the\n"
	    "    CA certificate and CRL to the CA entry, and with\n"
	    "    accounts=\"yes\" smimecad authenticates enrollees by a\n"
	    "    bind as their entry. Without it nothing is published and\n"
	    "    only local accounts exist. The lab option of smimeca init\n"
	    "    sets up a private slapd and this section for it.\n"
	    "    <ldap>\n"
	    "      <server uri=\"ldap://ldap.lab.example\" starttls=\"yes\"\n"
	    "        timeout-seconds=\"10\"/>\n"
	    "      <bind dn=\"cn=smimeca,ou=services,dc=lab,dc=example\"\n"
	    "        password-file=\"ldap/bind.pass\"/>\n"
	    "      <users base=\"ou=people,dc=lab,dc=example\"\n"
	    "        filter=\"(mail=%s)\"\n"
	    "        login-filter=\"(|(mail=%s)(uid=%s))\"\n"
	    "        accounts=\"yes\"/>\n"
	    "      <attributes certificate=\"userCertificate;binary\"/>\n"
	    "      <ca-entry dn=\"cn=Lab Issuing CA,dc=lab,dc=example\"/>\n"
	    "      <retry initial-seconds=\"30\" max-seconds=\"3600\"/>\n"
	    "    </ldap>\n"
	    "  -->\n"
	    "  <!--\n"
	    "    smimecad(8): the HTTPS listener (EST, CMC), the plain-HTTP\n"
	    "    listener for what is signed anyway (CA certificates, CRL),\n"
	    "    the names and addresses in the daemon's TLS certificate\n"
	    "    (reissue it with `smimeca tls issue` after a change), and\n"
	    "    the limits on each request. threads=\"0\": one per core.\n"
	    "    est-template: the template of EST URLs that name none\n"
	    "    (/.well-known/est/simpleenroll); est-over-http: EST on\n"
	    "    the plain listener too (benchmarks only).\n"
	    "    The defaults are shown.\n"
	    "  -->\n"
	    "  <!--\n"
	    "  <daemon threads=\"0\" est-template=\"smime-signature\"\n"
	    "      est-over-http=\"no\">\n"
	    "    <https address=\"127.0.0.1\" port=\"8443\"/>\n"
	    "    <http enabled=\"yes\" address=\"127.0.0.1\" port=\"8080\"/>\n"
	    "    <tls-name>localhost</tls-name>\n"
	    "    <tls-address>127.0.0.1</tls-address>\n"
	    "    <limits body-bytes=\"262144\" header-bytes=\"16384\"\n"
	    "        timeout-seconds=\"30\" connections-per-client=\"64\"\n"
	    "        connections=\"1024\"/>\n"
	    "  </daemon>\n"
	    "  -->\n"
	    "</smimeca-config>\n", f);
	if (ferror(f) || fclose(f) != 0) {
		f = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	f = NULL;
	r = util_write_file(path, buf, len, 0644, err);
 out:
	if (f != NULL)
		fclose(f);
	free(buf);
	free(base);
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
	    err)) != 0)
		goto out;
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

static void
put_ldap(FILE *f, const struct cfg_ldap *l)
{
	fputs("  <!--\n"
	    "    The directory certificates are published to and enrollees\n"
	    "    authenticate against; see smimeca.conf(5).\n"
	    "  -->\n"
	    "  <ldap>\n"
	    "    <server uri=\"", f);
	put_escaped(f, l->uri);
	fprintf(f, "\" starttls=\"%s\"", l->starttls ? "yes" : "no");
	if (l->timeout > 0)
		fprintf(f, " timeout-seconds=\"%d\"", l->timeout);
	if (l->tls_ca_file != NULL) {
		fputs(" tls-ca-file=\"", f);
		put_escaped(f, l->tls_ca_file);
		fputs("\"", f);
	}
	fputs("/>\n", f);
	if (l->bind_dn != NULL && l->bind_password_file != NULL) {
		fputs("    <bind dn=\"", f);
		put_escaped(f, l->bind_dn);
		fputs("\" password-file=\"", f);
		put_escaped(f, l->bind_password_file);
		fputs("\"/>\n", f);
	}
	fputs("    <users base=\"", f);
	put_escaped(f, l->user_base);
	fputs("\" filter=\"", f);
	put_escaped(f, l->user_filter != NULL ? l->user_filter :
	    "(mail=%s)");
	fputs("\"\n      login-filter=\"", f);
	put_escaped(f, l->login_filter != NULL ? l->login_filter :
	    "(|(mail=%s)(uid=%s))");
	fprintf(f, "\" accounts=\"%s\"/>\n", l->accounts ? "yes" : "no");
	fputs("    <attributes certificate=\"", f);
	put_escaped(f, l->cert_attr != NULL ? l->cert_attr :
	    "userCertificate;binary");
	fputs("\"", f);
	if (l->smime_attr != NULL) {
		fputs(" smime=\"", f);
		put_escaped(f, l->smime_attr);
		fputs("\"", f);
	}
	fputs("/>\n", f);
	if (l->ca_dn != NULL) {
		fputs("    <ca-entry dn=\"", f);
		put_escaped(f, l->ca_dn);
		fputs("\"/>\n", f);
	}
	if (l->retry_min > 0 && l->retry_max >= l->retry_min)
		fprintf(f, "    <retry initial-seconds=\"%d\" "
		    "max-seconds=\"%d\"/>\n", l->retry_min, l->retry_max);
	fputs("  </ldap>\n", f);
}

int
cfg_add_ldap(const char *path, const struct cfg_ldap *l, struct ca_err *err)
{
	static const char end_tag[] = "</smimeca-config>";
	struct ca_config *cfg = NULL;
	unsigned char *old = NULL;
	char *buf = NULL, *dir = NULL, *slash, *end, *p;
	size_t oldlen = 0, len = 0;
	FILE *f = NULL;
	int r;

	if ((dir = strdup(path)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		strcpy(dir, ".");
	if ((r = cfg_load(dir, &cfg, err)) != 0)
		goto out;
	if (cfg->ldap != NULL) {
		r = ca_err_set(err, CA_ERR_EXISTS, "%s has an <ldap> section "
		    "already; edit it by hand", path);
		goto out;
	}
	if ((r = util_read_file(path, CFG_XML_MAX, &old, &oldlen, err)) != 0)
		goto out;
	/* The last closing tag: comments above it may quote one. */
	for (end = NULL, p = (char *)old;
	    (p = strstr(p, end_tag)) != NULL; p++)
		end = p;
	if (end == NULL) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: no %s", path, end_tag);
		goto out;
	}
	if ((f = open_memstream(&buf, &len)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	fwrite(old, 1, (size_t)(end - (char *)old), f);
	put_ldap(f, l);
	fputs(end, f);
	if (ferror(f) || fclose(f) != 0) {
		f = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	f = NULL;
	if ((r = util_write_file(path, buf, len, 0644, err)) != 0)
		goto out;
	cfg_free(cfg);
	cfg = NULL;
	if ((r = cfg_load(dir, &cfg, err)) != 0) {
		ca_err_set(err, r, "%s: the <ldap> section does not validate; "
		    "the file is left as it was", path);
		util_write_file(path, old, oldlen, 0644, NULL);
		goto out;
	}
	r = 0;
 out:
	if (f != NULL)
		fclose(f);
	free(buf);
	free(old);
	free(dir);
	cfg_free(cfg);
	return r;
}
