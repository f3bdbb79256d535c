/*
 * libxml2 helpers shared by the configuration and template readers:
 * parsing, RelaxNG validation with readable messages, element text.
 */
#include "ac-config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "ca/err.h"
#include "ca/util.h"
#include "ca/xml.h"

#define XML_SHOWN	5		/* schema messages per file */

/* libxml2 2.12 made the error argument of error callbacks const. */
#if LIBXML_VERSION >= 21200
#define XML_ERRARG	const xmlError
#else
#define XML_ERRARG	xmlError
#endif

/* Collects libxml2's messages into a ca_err as "FILE:LINE: message". */
struct xml_errs {
	struct ca_err *err;
	const char *path;
	int seen;		/* errors reported by libxml2 */
	int shown;		/* lines added to err */
	int more;		/* lines left out past XML_SHOWN */
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
static void xml_error(void *, XML_ERRARG *);
static void xml_errs_init(struct xml_errs *, const char *,
    struct ca_err *);
static void xml_errs_done(struct xml_errs *);
static const struct xml_kind *xml_kind(const char *);
static void xml_see(const char *, const char **, char *, size_t);
static int xml_parse(const char *, const void *, size_t, const char *,
    xmlDocPtr *, struct ca_err *);

static const struct xml_kind xml_kinds[] = {
	{ "template.rng", "template", "smimeca-template(5)" },
	{ "config.rng", "configuration", "smimeca.conf(5)" },
};

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
xml_error(void *ctx, XML_ERRARG *e)
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
	if (xe->shown >= XML_SHOWN) {
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
xml_errs_init(struct xml_errs *xe, const char *path, struct ca_err *err)
{
	memset(xe, 0, sizeof(*xe));
	xe->err = err;
	xe->path = path;
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

/* What the schema describes and " (see MANPAGE)", for a message. */
static void
xml_see(const char *schema_path, const char **whatp, char *see,
    size_t seelen)
{
	const struct xml_kind *k = xml_kind(schema_path);

	*whatp = k != NULL ? k->what : "file";
	snprintf(see, seelen, " (see %s)", k != NULL ? k->man : schema_path);
}

/* Parses without network access or entities; refuses a DOCTYPE. */
static int
xml_parse(const char *path, const void *buf, size_t len,
    const char *schema_path, xmlDocPtr *docp, struct ca_err *err)
{
	const char *what;
	char see[64];
	xmlDocPtr doc = NULL;
	struct xml_errs xe;
	int r;

	*docp = NULL;
	xml_see(schema_path, &what, see, sizeof(see));
	xml_errs_init(&xe, path, err);
	if (len > INT_MAX)
		return ca_err_set(err, CA_ERR_CONFIG, "%s %s is too large",
		    what, path);
	xmlInitParser();
	xmlSetStructuredErrorFunc(&xe, xml_error);
	doc = xmlReadMemory(buf, (int)len, path, NULL,
	    XML_PARSE_NONET | XML_PARSE_BIG_LINES);
	xmlSetStructuredErrorFunc(NULL, NULL);
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
	*docp = doc;
	doc = NULL;
	r = 0;
 out:
	xmlFreeDoc(doc);
	return r;
}

int
xml_validate(xmlDocPtr doc, const char *schema_path, struct ca_err *err)
{
	const char *path = doc->URL != NULL ? (const char *)doc->URL :
	    "(document)";
	const char *what;
	char see[64];
	xmlRelaxNGParserCtxtPtr pctx = NULL;
	xmlRelaxNGPtr schema = NULL;
	xmlRelaxNGValidCtxtPtr vctx = NULL;
	struct xml_errs xe;
	int r, v;

	xml_see(schema_path, &what, see, sizeof(see));
	xml_errs_init(&xe, path, err);
	if (access(schema_path, R_OK) == -1)
		return ca_err_set(err, CA_ERR_CONFIG, "schema %s: %s (set "
		    "SMIMECA_DATADIR to the folder holding config.rng and "
		    "template.rng)", schema_path, strerror(errno));
	xmlInitParser();
	xmlSetStructuredErrorFunc(&xe, xml_error);
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
	r = 0;
 out:
	xmlSetStructuredErrorFunc(NULL, NULL);
	xmlRelaxNGFreeValidCtxt(vctx);
	xmlRelaxNGFree(schema);
	xmlRelaxNGFreeParserCtxt(pctx);
	return r;
}

int
xml_read(const char *path, const void *buf, size_t len,
    const char *schema_path, xmlDocPtr *docp, struct ca_err *err)
{
	xmlDocPtr doc = NULL;
	int r;

	*docp = NULL;
	if ((r = xml_parse(path, buf, len, schema_path, &doc, err)) != 0 ||
	    (r = xml_validate(doc, schema_path, err)) != 0) {
		xmlFreeDoc(doc);
		return r;
	}
	*docp = doc;
	return 0;
}

int
xml_load(const char *path, const char *schema_path, xmlDocPtr *docp,
    struct ca_err *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	*docp = NULL;
	if ((r = util_read_file(path, XML_FILE_MAX, &buf, &len, err)) == 0)
		r = xml_read(path, buf, len, schema_path, docp, err);
	free(buf);
	return r;
}

char *
xml_node_text(xmlNodePtr n)
{
	xmlChar *c;
	const char *s, *e;
	char *out;

	if ((c = xmlNodeGetContent(n)) == NULL)
		return strdup("");
	for (s = (const char *)c; *s == ' ' || *s == '\t' || *s == '\n' ||
	    *s == '\r'; s++)
		;
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t' ||
	    e[-1] == '\n' || e[-1] == '\r'); e--)
		;
	out = strndup(s, (size_t)(e - s));
	xmlFree(c);
	return out;
}
