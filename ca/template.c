/* Certificate templates: XML files that express issuance policy. */
#include "ac-config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "ca/config.h"
#include "ca/err.h"
#include "ca/template.h"
#include "ca/util.h"
#include "ca/xml.h"

#define TPL_NAME_MAX	64		/* as template.rng allows */

/* Elements a template must have (bits of struct walk.seen). */
enum {
	SEEN_PURPOSE = 0x01,
	SEEN_VALIDITY = 0x02,
	SEEN_KU = 0x04,
	SEEN_EKU = 0x08,
	SEEN_ALGS = 0x10,
	SEEN_ARCHIVAL = 0x20,
	SEEN_PROTOCOLS = 0x40,
	SEEN_SUBJECT = 0x80,
	SEEN_ALL = 0xff,
};

struct name_bit {
	const char *name;
	unsigned bit;
};

/* What the walk over one template document needs. */
struct walk {
	struct tpl *t;
	const char *path;
	struct ca_err *err;
	unsigned seen;
};

static const struct name_bit ku_names[] = {
	{ "digitalSignature", TPL_KU_DIGITAL_SIGNATURE },
	{ "nonRepudiation", TPL_KU_NON_REPUDIATION },
	{ "keyEncipherment", TPL_KU_KEY_ENCIPHERMENT },
	{ "dataEncipherment", TPL_KU_DATA_ENCIPHERMENT },
	{ "keyAgreement", TPL_KU_KEY_AGREEMENT },
};

static const struct name_bit proto_names[] = {
	{ "cli", TPL_PROTO_CLI },
	{ "est", TPL_PROTO_EST },
	{ "scep", TPL_PROTO_SCEP },
	{ "cmc", TPL_PROTO_CMC },
};

static const struct name_bit purpose_names[] = {
	{ "smime-encryption", TPL_PURPOSE_SMIME_ENCRYPTION },
	{ "smime-signature", TPL_PURPOSE_SMIME_SIGNATURE },
	{ "smime-dual", TPL_PURPOSE_SMIME_DUAL },
	{ "device", TPL_PURPOSE_DEVICE },
	{ "kra", TPL_PURPOSE_KRA },
};

static const struct name_bit archival_names[] = {
	{ "forbidden", TPL_ARCHIVAL_FORBIDDEN },
	{ "optional", TPL_ARCHIVAL_OPTIONAL },
	{ "required", TPL_ARCHIVAL_REQUIRED },
};

/* Extended key usages a template may name instead of an OID. */
static const char *const eku_names[] = {
	"emailProtection", "clientAuth", "serverAuth", "codeSigning",
};

static int lookup_bit(const struct name_bit *, size_t, const char *,
    unsigned *);
static int name_ok(const char *);
static int elem_is(xmlNodePtr, const char *);
static int walk_err(struct walk *, xmlNodePtr, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static int text_of(struct walk *, xmlNodePtr, char **);
static int attr_of(struct walk *, xmlNodePtr, const char *, int, char **);
static int attr_int(struct walk *, xmlNodePtr, const char *, int, int,
    int *);
static int attr_bool(struct walk *, xmlNodePtr, const char *, int, int *);
static int text_bit(struct walk *, xmlNodePtr, const struct name_bit *,
    size_t, unsigned *);
static int walk_ku(struct walk *, xmlNodePtr);
static int walk_eku(struct walk *, xmlNodePtr);
static int walk_algs(struct walk *, xmlNodePtr);
static int walk_protocols(struct walk *, xmlNodePtr);
static int walk_rdn(struct walk *, xmlNodePtr, struct tpl_rdn *);
static int walk_subject(struct walk *, xmlNodePtr);
static int walk_san(struct walk *, xmlNodePtr);
static int walk_limit(struct walk *, xmlNodePtr);
static int walk_child(struct walk *, xmlNodePtr);
static int walk(struct walk *, xmlDocPtr);
static int filter_xml(const struct dirent *);
static int cmp_dirent(const struct dirent **, const struct dirent **);
static int cmp_tpl(const void *, const void *);

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static int
lookup_bit(const struct name_bit *tab, size_t n, const char *name,
    unsigned *bitp)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(tab[i].name, name) == 0) {
			*bitp = tab[i].bit;
			return 0;
		}
	return -1;
}

/* A name that is safe as a file name: see template-name in template.rng. */
static int
name_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > TPL_NAME_MAX || *s == '.' || *s == '_' ||
	    *s == '-')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == len;
}

static int
elem_is(xmlNodePtr n, const char *name)
{
	return xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

/* Adds "FILE:LINE: <element>: message" to the error; returns CA_ERR_CONFIG. */
static int
walk_err(struct walk *w, xmlNodePtr n, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ca_err_set(w->err, CA_ERR_CONFIG, "%s:%ld: <%s>: %s", w->path,
	    xmlGetLineNo(n), (const char *)n->name, msg);
}

static int
text_of(struct walk *w, xmlNodePtr n, char **outp)
{
	if ((*outp = xml_node_text(n)) == NULL)
		return ca_err_set(w->err, CA_ERR_NOMEM, "out of memory");
	return 0;
}

/* Attribute value, malloc'd; *outp NULL when absent and not required. */
static int
attr_of(struct walk *w, xmlNodePtr n, const char *attr, int required,
    char **outp)
{
	xmlChar *v;

	*outp = NULL;
	if ((v = xmlGetProp(n, (const xmlChar *)attr)) == NULL) {
		if (required)
			return walk_err(w, n, "attribute %s is missing", attr);
		return 0;
	}
	*outp = strdup((const char *)v);
	xmlFree(v);
	if (*outp == NULL)
		return ca_err_set(w->err, CA_ERR_NOMEM, "out of memory");
	return 0;
}

/* Required integer attribute in [min, max]. */
static int
attr_int(struct walk *w, xmlNodePtr n, const char *attr, int min, int max,
    int *outp)
{
	char *v = NULL, *end;
	long l;
	int r;

	if ((r = attr_of(w, n, attr, 1, &v)) != 0)
		return r;
	errno = 0;
	l = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || l < min || l > max)
		r = walk_err(w, n, "%s=\"%s\" is not a number from %d to %d",
		    attr, v, min, max);
	else
		*outp = (int)l;
	free(v);
	return r;
}

/* Optional "true" or "false" attribute; def when absent. */
static int
attr_bool(struct walk *w, xmlNodePtr n, const char *attr, int def,
    int *outp)
{
	char *v = NULL;
	int r;

	*outp = def;
	if ((r = attr_of(w, n, attr, 0, &v)) != 0 || v == NULL)
		return r;
	if (strcmp(v, "true") == 0)
		*outp = 1;
	else if (strcmp(v, "false") == 0)
		*outp = 0;
	else
		r = walk_err(w, n, "%s=\"%s\": write true or false", attr, v);
	free(v);
	return r;
}

/* The text of n, one of the names of tab, into *bitp. */
static int
text_bit(struct walk *w, xmlNodePtr n, const struct name_bit *tab,
    size_t ntab, unsigned *bitp)
{
	char *v = NULL;
	int r;

	if ((r = text_of(w, n, &v)) != 0)
		return r;
	if (lookup_bit(tab, ntab, v, bitp) != 0)
		r = walk_err(w, n, "unknown value \"%s\"", v);
	free(v);
	return r;
}

static int
walk_ku(struct walk *w, xmlNodePtr n)
{
	xmlNodePtr c;
	unsigned bit;
	int r;

	if ((r = attr_bool(w, n, "critical", 1,
	    &w->t->key_usage_critical)) != 0)
		return r;
	for (c = n->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (!elem_is(c, "usage"))
			return walk_err(w, c, "unexpected element");
		if ((r = text_bit(w, c, ku_names, NELEM(ku_names),
		    &bit)) != 0)
			return r;
		w->t->key_usage |= bit;
	}
	if (w->t->key_usage == 0)
		return walk_err(w, n, "no <usage>");
	return 0;
}

/* Each <eku> as a dotted OID. */
static int
walk_eku(struct walk *w, xmlNodePtr n)
{
	struct tpl *t = w->t;
	xmlNodePtr c;
	ASN1_OBJECT *obj = NULL;
	char *v = NULL, oid[128], **ne;
	size_t i;
	int r = 0, named, olen;

	for (c = n->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (!elem_is(c, "eku")) {
			r = walk_err(w, c, "unexpected element");
			goto out;
		}
		if ((r = text_of(w, c, &v)) != 0)
			goto out;
		for (named = 0, i = 0; i < NELEM(eku_names); i++)
			if (strcmp(v, eku_names[i]) == 0)
				named = 1;
		olen = 0;
		if ((named || (*v >= '0' && *v <= '2')) &&
		    (obj = OBJ_txt2obj(v, !named)) != NULL)
			olen = OBJ_obj2txt(oid, sizeof(oid), obj, 1);
		if (olen <= 0 || (size_t)olen >= sizeof(oid)) {
			r = walk_err(w, c, "\"%s\" is neither a known name "
			    "(%s, %s, %s, %s) nor a dotted OID", v,
			    eku_names[0], eku_names[1], eku_names[2],
			    eku_names[3]);
			goto out;
		}
		ASN1_OBJECT_free(obj);
		obj = NULL;
		free(v);
		v = NULL;
		if ((ne = reallocarray(t->eku, t->neku + 1,
		    sizeof(*ne))) == NULL) {
			r = ca_err_set(w->err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		t->eku = ne;
		if ((t->eku[t->neku] = strdup(oid)) == NULL) {
			r = ca_err_set(w->err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		t->neku++;
	}
	if (t->neku == 0)
		r = walk_err(w, n, "no <eku>");
 out:
	ERR_clear_error();
	ASN1_OBJECT_free(obj);
	free(v);
	return r;
}

static int
walk_algs(struct walk *w, xmlNodePtr n)
{
	struct tpl *t = w->t;
	struct tpl_keyalg a, *na;
	xmlNodePtr c;
	char *curve = NULL;
	int r = 0;

	for (c = n->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		memset(&a, 0, sizeof(a));
		a.curve_nid = NID_undef;
		if (elem_is(c, "rsa")) {
			a.type = EVP_PKEY_RSA;
			if ((r = attr_int(w, c, "min-bits", 2048, 16384,
			    &a.min_bits)) != 0 ||
			    (r = attr_int(w, c, "max-bits", 2048, 16384,
			    &a.max_bits)) != 0)
				goto out;
			if (a.min_bits > a.max_bits) {
				r = walk_err(w, c, "min-bits %d is larger than "
				    "max-bits %d", a.min_bits, a.max_bits);
				goto out;
			}
		} else if (elem_is(c, "ec")) {
			a.type = EVP_PKEY_EC;
			if ((r = attr_of(w, c, "curve", 1, &curve)) != 0)
				goto out;
			if ((a.curve_nid = EC_curve_nist2nid(curve)) ==
			    NID_undef) {
				r = walk_err(w, c, "unknown curve \"%s\" (use "
				    "P-256, P-384 or P-521)", curve);
				goto out;
			}
			free(curve);
			curve = NULL;
		} else {
			r = walk_err(w, c, "unexpected element");
			goto out;
		}
		if ((na = reallocarray(t->algs, t->nalgs + 1,
		    sizeof(*na))) == NULL) {
			r = ca_err_set(w->err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		t->algs = na;
		t->algs[t->nalgs++] = a;
	}
	if (t->nalgs == 0)
		r = walk_err(w, n, "no key algorithm");
 out:
	free(curve);
	return r;
}

static int
walk_protocols(struct walk *w, xmlNodePtr n)
{
	xmlNodePtr c;
	unsigned bit;
	int r;

	for (c = n->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (!elem_is(c, "protocol"))
			return walk_err(w, c, "unexpected element");
		if ((r = text_bit(w, c, proto_names, NELEM(proto_names),
		    &bit)) != 0)
			return r;
		w->t->protocols |= bit;
	}
	if (w->t->protocols == 0)
		return walk_err(w, n, "no <protocol>");
	return 0;
}

/* One <rdn>; rd is zeroed and owned by the template already. */
static int
walk_rdn(struct walk *w, xmlNodePtr n, struct tpl_rdn *rd)
{
	char *source = NULL, *match = NULL, msg[256];
	int r, rc;

	if ((r = attr_of(w, n, "type", 1, &rd->type)) != 0 ||
	    (r = attr_of(w, n, "value", 0, &rd->value)) != 0 ||
	    (r = attr_of(w, n, "source", 0, &source)) != 0 ||
	    (r = attr_of(w, n, "match", 0, &match)) != 0)
		goto out;
	if (OBJ_txt2nid(rd->type) == NID_undef) {
		r = walk_err(w, n, "unknown attribute type \"%s\"", rd->type);
		goto out;
	}
	if ((rd->value == NULL) == (source == NULL) ||
	    (source != NULL && strcmp(source, "request") != 0) ||
	    (match != NULL && source == NULL)) {
		r = walk_err(w, n, "type=\"%s\": give either value=\"...\" or "
		    "source=\"request\" (with an optional match)", rd->type);
		goto out;
	}
	if (rd->value != NULL) {
		rd->source = TPL_SRC_VALUE;
		if (!tpl_refs_ok(rd->value)) {
			r = walk_err(w, n, "type=\"%s\" value=\"%s\": a "
			    "reference is written {dir:ATTR}", rd->type,
			    rd->value);
			goto out;
		}
	} else
		rd->source = TPL_SRC_REQUEST;
	if ((r = attr_bool(w, n, "required", rd->source == TPL_SRC_VALUE,
	    &rd->required)) != 0 ||
	    (r = attr_bool(w, n, "lower", 0, &rd->lower)) != 0)
		goto out;
	if (match != NULL) {
		if ((rc = regcomp(&rd->re, match,
		    REG_EXTENDED | REG_NOSUB)) != 0) {
			regerror(rc, &rd->re, msg, sizeof(msg));
			r = walk_err(w, n, "type=\"%s\" match=\"%s\": %s; "
			    "write a POSIX extended regular expression "
			    "(regex(7))", rd->type, match, msg);
			goto out;
		}
		/* match != NULL means that re is compiled. */
		rd->match = match;
		match = NULL;
	}
	r = 0;
 out:
	free(source);
	free(match);
	return r;
}

static int
walk_subject(struct walk *w, xmlNodePtr n)
{
	struct tpl *t = w->t;
	struct tpl_rdn *nr;
	xmlNodePtr c;
	int r;

	for (c = n->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (!elem_is(c, "rdn"))
			return walk_err(w, c, "unexpected element");
		if ((nr = reallocarray(t->rdns, t->nrdns + 1,
		    sizeof(*nr))) == NULL)
			return ca_err_set(w->err, CA_ERR_NOMEM,
			    "out of memory");
		t->rdns = nr;
		memset(&t->rdns[t->nrdns], 0, sizeof(t->rdns[0]));
		t->nrdns++;
		if ((r = walk_rdn(w, c, &t->rdns[t->nrdns - 1])) != 0)
			return r;
	}
	if (t->nrdns == 0)
		return walk_err(w, n, "no <rdn>");
	return 0;
}

static int
walk_san(struct walk *w, xmlNodePtr n)
{
	xmlNodePtr c;
	int r;

	for (c = n->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (!elem_is(c, "email") || w->t->san_email != NULL)
			return walk_err(w, c, "unexpected element");
		if ((r = attr_of(w, c, "value", 1, &w->t->san_email)) != 0)
			return r;
		if (!tpl_refs_ok(w->t->san_email))
			return walk_err(w, c, "value=\"%s\": a reference is "
			    "written {dir:ATTR}", w->t->san_email);
	}
	if (w->t->san_email == NULL)
		return walk_err(w, n, "no <email>");
	return 0;
}

static int
walk_limit(struct walk *w, xmlNodePtr n)
{
	char *v = NULL;
	int r;

	if ((r = attr_int(w, n, "max", 0, 1000, &w->t->max_active)) != 0 ||
	    (r = attr_of(w, n, "on-limit", 0, &v)) != 0)
		goto out;
	if (v == NULL || strcmp(v, "refuse") == 0)
		w->t->on_limit = TPL_LIMIT_REFUSE;
	else if (strcmp(v, "supersede") == 0)
		w->t->on_limit = TPL_LIMIT_SUPERSEDE;
	else
		r = walk_err(w, n, "on-limit=\"%s\": write refuse or "
		    "supersede", v);
 out:
	free(v);
	return r;
}

/* One child of <template>. */
static int
walk_child(struct walk *w, xmlNodePtr c)
{
	struct tpl *t = w->t;
	unsigned v;
	int r;

	if (elem_is(c, "description")) {
		free(t->description);
		return text_of(w, c, &t->description);
	}
	if (elem_is(c, "purpose")) {
		w->seen |= SEEN_PURPOSE;
		if ((r = text_bit(w, c, purpose_names, NELEM(purpose_names),
		    &v)) == 0)
			t->purpose = (enum tpl_purpose)v;
		return r;
	}
	if (elem_is(c, "validity")) {
		w->seen |= SEEN_VALIDITY;
		return attr_int(w, c, "days", 1, 3650, &t->validity_days);
	}
	if (elem_is(c, "key-usage")) {
		w->seen |= SEEN_KU;
		return walk_ku(w, c);
	}
	if (elem_is(c, "extended-key-usage")) {
		w->seen |= SEEN_EKU;
		return walk_eku(w, c);
	}
	if (elem_is(c, "key-algorithms")) {
		w->seen |= SEEN_ALGS;
		return walk_algs(w, c);
	}
	if (elem_is(c, "archival")) {
		w->seen |= SEEN_ARCHIVAL;
		if ((r = text_bit(w, c, archival_names, NELEM(archival_names),
		    &v)) == 0)
			t->archival = (enum tpl_archival)v;
		return r;
	}
	if (elem_is(c, "protocols")) {
		w->seen |= SEEN_PROTOCOLS;
		return walk_protocols(w, c);
	}
	if (elem_is(c, "subject")) {
		w->seen |= SEEN_SUBJECT;
		return walk_subject(w, c);
	}
	if (elem_is(c, "san"))
		return walk_san(w, c);
	if (elem_is(c, "active-limit"))
		return walk_limit(w, c);
	if (elem_is(c, "crl-distribution-points")) {
		t->include_cdp = 1;
		return 0;
	}
	if (elem_is(c, "authority-info-access")) {
		t->include_aia = 1;
		return 0;
	}
	/* SCEP (ca/scep.c): manual approval, a static challenge. */
	if (elem_is(c, "approval")) {
		char *a = NULL;

		if ((r = text_of(w, c, &a)) != 0)
			return r;
		t->approval_manual = strcmp(a, "manual") == 0;
		r = t->approval_manual || strcmp(a, "auto") == 0 ? 0 :
		    walk_err(w, c, "\"%s\": use manual or auto", a);
		free(a);
		return r;
	}
	if (elem_is(c, "scep-challenge")) {
		free(t->scep_challenge);
		t->scep_challenge = NULL;
		if ((r = text_of(w, c, &t->scep_challenge)) != 0)
			return r;
		if (strlen(t->scep_challenge) < 8)
			return walk_err(w, c, "a static challenge needs at "
			    "least 8 characters");
		return 0;
	}
	return walk_err(w, c, "unexpected element");
}

/*
 * Fills the template from a document that follows template.rng. The
 * schema was checked on an earlier read of the file, so every value is
 * checked again here.
 */
static int
walk(struct walk *w, xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), c;
	int r;

	if (root == NULL || !elem_is(root, "template"))
		return ca_err_set(w->err, CA_ERR_CONFIG, "%s: the root element "
		    "must be <template>", w->path);
	if ((r = attr_of(w, root, "name", 1, &w->t->name)) != 0)
		return r;
	if (!name_ok(w->t->name))
		return walk_err(w, root, "name=\"%s\": use up to %d letters, "
		    "digits, '.', '_' and '-'", w->t->name, TPL_NAME_MAX);
	w->t->key_usage_critical = 1;
	w->t->on_limit = TPL_LIMIT_REFUSE;
	for (c = root->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    (r = walk_child(w, c)) != 0)
			return r;
	if (w->seen != SEEN_ALL)
		return walk_err(w, root, "incomplete: see smimeca-template(5) "
		    "for the elements a template needs");
	/* Listed protocols are served: smimecad's SCEP refuses escrow. */
	if ((w->t->protocols & TPL_PROTO_SCEP) &&
	    w->t->archival == TPL_ARCHIVAL_REQUIRED)
		return walk_err(w, root, "archival is required, and SCEP "
		    "cannot carry the private key to escrow: remove scep "
		    "from <protocols>");
	return 0;
}

int
tpl_load_file(const char *path, struct tpl **tp, struct ca_err *err)
{
	struct tpl *t = NULL;
	unsigned char *body = NULL;
	char *schema = NULL;
	xmlDocPtr doc = NULL;
	struct walk w;
	int r;

	*tp = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->file = strdup(path)) == NULL ||
	    (schema = cfg_schema_path("template.rng")) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = util_read_file(path, XML_FILE_MAX, &body, &t->bodylen,
	    err)) != 0)
		goto out;
	t->body = (char *)body;
	util_sha256_hex(body, t->bodylen, t->sha256);
	/* One parse: the template is built from the very bytes kept. */
	if ((r = xml_read(path, t->body, t->bodylen, schema, &doc,
	    err)) != 0)
		goto out;
	memset(&w, 0, sizeof(w));
	w.t = t;
	w.path = path;
	w.err = err;
	if ((r = walk(&w, doc)) != 0)
		goto out;
	*tp = t;
	t = NULL;
	r = 0;
 out:
	xmlFreeDoc(doc);
	free(schema);
	tpl_free(t);
	return r;
}

int
tpl_load(const char *dir, const char *name, struct tpl **tp,
    struct ca_err *err)
{
	struct tpl *t = NULL;
	char *file = NULL, *path = NULL;
	struct stat st;
	int r;

	*tp = NULL;
	if (!name_ok(name)) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no template \"%s\": a "
		    "template name has up to %d letters, digits, '.', '_' and "
		    "'-' (see `smimeca template list`)", name, TPL_NAME_MAX);
		goto out;
	}
	if (asprintf(&file, "%s.xml", name) == -1) {
		file = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((path = util_path(dir, file)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (stat(path, &st) == -1 && errno == ENOENT) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no template %s in %s "
		    "(see `smimeca template list`)", name, dir);
		goto out;
	}
	if ((r = tpl_load_file(path, &t, err)) != 0)
		goto out;
	if (strcmp(t->name, name) != 0) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: the template inside "
		    "is named \"%s\"; the file of template NAME must be "
		    "NAME.xml, so rename the file or the template", path,
		    t->name);
		goto out;
	}
	*tp = t;
	t = NULL;
	r = 0;
 out:
	tpl_free(t);
	free(path);
	free(file);
	return r;
}

/* NAME.xml, not hidden. */
static int
filter_xml(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return n > 4 && de->d_name[0] != '.' &&
	    strcmp(de->d_name + n - 4, ".xml") == 0;
}

static int
cmp_dirent(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
cmp_tpl(const void *a, const void *b)
{
	const struct tpl *const *ta = a, *const *tb = b;

	return strcmp((*ta)->name, (*tb)->name);
}

int
tpl_load_all(const char *dir, struct tpl ***tpsp, size_t *np,
    struct ca_err *err)
{
	struct dirent **des = NULL;
	struct tpl **tps = NULL;
	char *name = NULL;
	size_t n = 0;
	int i, nde = 0, r;

	*tpsp = NULL;
	*np = 0;
	if ((nde = scandir(dir, &des, filter_xml, cmp_dirent)) == -1) {
		nde = 0;
		r = ca_err_set(err, errno == ENOENT ? CA_ERR_NOTFOUND :
		    CA_ERR_IO, "template folder %s: %s", dir, strerror(errno));
		goto out;
	}
	if (nde > 0 && (tps = calloc((size_t)nde, sizeof(*tps))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < nde; i++) {
		if ((name = strndup(des[i]->d_name,
		    strlen(des[i]->d_name) - 4)) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((r = tpl_load(dir, name, &tps[n], err)) != 0)
			goto out;
		n++;
		free(name);
		name = NULL;
	}
	if (n > 1)
		qsort(tps, n, sizeof(*tps), cmp_tpl);
	*tpsp = tps;
	*np = n;
	tps = NULL;
	n = 0;
	r = 0;
 out:
	tpl_free_all(tps, n);
	for (i = 0; i < nde; i++)
		free(des[i]);
	free(des);
	free(name);
	return r;
}

void
tpl_free(struct tpl *t)
{
	size_t i;

	if (t == NULL)
		return;
	free(t->name);
	free(t->file);
	free(t->description);
	for (i = 0; i < t->neku; i++)
		free(t->eku[i]);
	free(t->eku);
	free(t->algs);
	for (i = 0; i < t->nrdns; i++) {
		free(t->rdns[i].type);
		free(t->rdns[i].value);
		if (t->rdns[i].match != NULL) {
			regfree(&t->rdns[i].re);
			free(t->rdns[i].match);
		}
	}
	free(t->rdns);
	free(t->san_email);
	if (t->scep_challenge != NULL) {
		OPENSSL_cleanse(t->scep_challenge, strlen(t->scep_challenge));
		free(t->scep_challenge);
	}
	free(t->body);
	free(t);
}

void
tpl_free_all(struct tpl **tps, size_t n)
{
	size_t i;

	if (tps == NULL)
		return;
	for (i = 0; i < n; i++)
		tpl_free(tps[i]);
	free(tps);
}

const char *
tpl_purpose_name(enum tpl_purpose p)
{
	size_t i;

	for (i = 0; i < NELEM(purpose_names); i++)
		if (purpose_names[i].bit == (unsigned)p)
			return purpose_names[i].name;
	return "unknown";
}

const char *
tpl_archival_name(enum tpl_archival a)
{
	size_t i;

	for (i = 0; i < NELEM(archival_names); i++)
		if (archival_names[i].bit == (unsigned)a)
			return archival_names[i].name;
	return "unknown";
}

void
tpl_protocols_str(unsigned protocols, char *buf, size_t len)
{
	size_t i, used = 0;
	int n;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < NELEM(proto_names); i++) {
		if ((protocols & proto_names[i].bit) == 0)
			continue;
		n = snprintf(buf + used, len - used, "%s%s",
		    used > 0 ? "," : "", proto_names[i].name);
		if (n < 0 || (size_t)n >= len - used)
			return;		/* truncated, still terminated */
		used += (size_t)n;
	}
	if (used == 0)
		snprintf(buf, len, "none");
}
