/*
 * Writes smimeca.conf through libxml2: the commented default of `init`,
 * and the <ldap> section that `init --lab` adds to an existing file.
 */
#include "ac-config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/entities.h>
#include <libxml/tree.h>
#include <libxml/xmlstring.h>

#include "ca/config.h"
#include "ca/err.h"
#include "ca/util.h"
#include "ca/xml.h"

#define CFG_URL_MAX	900		/* longest base URL */
#define CFG_NAME_MAX	64		/* ub-common-name */
#define CFG_PATH_MAX	1024		/* as config.rng allows */
#define CFG_INDENT	2		/* spaces per level */

/*
 * A tree being built. Nodes are laid out by hand (white space text nodes
 * before each child), so that a section added to a parsed file is
 * indented like the rest of it. failed is sticky: the builder calls below
 * do nothing once a libxml2 call has run out of memory.
 */
struct xw {
	xmlDocPtr doc;
	int failed;
};

static void xw_space(struct xw *, xmlNodePtr, int);
static xmlNodePtr xw_elem(struct xw *, xmlNodePtr, int, const char *,
    const char *);
static void xw_attr(struct xw *, xmlNodePtr, const char *, const char *);
static void xw_attr_int(struct xw *, xmlNodePtr, const char *, int);
static void xw_comment(struct xw *, xmlNodePtr, int, const char *);
static int xw_save(struct xw *, const char *, struct ca_err *);
static int base_url_ok(const char *);
static int name_ok(const char *, int);
static void ca_section(struct xw *, xmlNodePtr, const struct cfg_init *);
static void publication_section(struct xw *, xmlNodePtr, const char *);
static void examples(struct xw *, xmlNodePtr);
static void ldap_section(struct xw *, xmlNodePtr, const struct cfg_ldap *);

/* A new line and depth levels of indentation, at the end of parent. */
static void
xw_space(struct xw *w, xmlNodePtr parent, int depth)
{
	char buf[1 + 16 * CFG_INDENT + 1];
	xmlNodePtr t;
	int n = depth * CFG_INDENT;

	if (w->failed || parent == NULL)
		return;
	if (n > 16 * CFG_INDENT)
		n = 16 * CFG_INDENT;
	buf[0] = '\n';
	memset(buf + 1, ' ', (size_t)n);
	buf[1 + n] = '\0';
	if ((t = xmlNewDocText(w->doc, (const xmlChar *)buf)) == NULL ||
	    xmlAddChild(parent, t) == NULL) {
		xmlFreeNode(t);
		w->failed = 1;
	}
}

/* A child element on a line of its own at depth; text may be NULL. */
static xmlNodePtr
xw_elem(struct xw *w, xmlNodePtr parent, int depth, const char *name,
    const char *text)
{
	xmlNodePtr n;

	xw_space(w, parent, depth);
	if (w->failed)
		return NULL;
	/* xmlNewTextChild escapes text; xmlNewChild would not. */
	if ((n = xmlNewTextChild(parent, NULL, (const xmlChar *)name,
	    (const xmlChar *)text)) == NULL)
		w->failed = 1;
	return n;
}

static void
xw_attr(struct xw *w, xmlNodePtr n, const char *name, const char *value)
{
	if (w->failed || n == NULL)
		return;
	if (xmlNewProp(n, (const xmlChar *)name,
	    (const xmlChar *)value) == NULL)
		w->failed = 1;
}

static void
xw_attr_int(struct xw *w, xmlNodePtr n, const char *name, int value)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", value);
	xw_attr(w, n, name, buf);
}

/*
 * A comment at depth: one line as <!-- text -->, several (text holds
 * '\n') each on its own line, indented one level deeper than the marks.
 * XML comments must not hold "--": the callers' texts do not.
 */
static void
xw_comment(struct xw *w, xmlNodePtr parent, int depth, const char *text)
{
	char *buf = NULL;
	const char *p = text;
	size_t len = 0, n;
	FILE *f;
	xmlNodePtr c = NULL;
	int bad;

	if (w->failed)
		return;
	if ((f = open_memstream(&buf, &len)) == NULL) {
		w->failed = 1;
		return;
	}
	if (strchr(text, '\n') == NULL)
		fprintf(f, " %s ", text);
	else {
		while (*p != '\0') {
			n = strcspn(p, "\n");
			fprintf(f, "\n%*s%.*s", (depth + 1) * CFG_INDENT, "",
			    (int)n, p);
			p += n;
			if (*p == '\n')
				p++;
		}
		fprintf(f, "\n%*s", depth * CFG_INDENT, "");
	}
	bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		free(buf);
		w->failed = 1;
		return;
	}
	/* The document's own children are put on lines by the writer. */
	if (parent->type != XML_DOCUMENT_NODE)
		xw_space(w, parent, depth);
	if (w->failed ||
	    (c = xmlNewDocComment(w->doc, (const xmlChar *)buf)) == NULL ||
	    xmlAddChild(parent, c) == NULL) {
		xmlFreeNode(c);
		w->failed = 1;
	}
	free(buf);
}

/* Writes the document to path, mode 0644. */
static int
xw_save(struct xw *w, const char *path, struct ca_err *err)
{
	xmlChar *mem = NULL;
	int len = 0, r;

	if (w->failed)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	xmlDocDumpMemoryEnc(w->doc, &mem, &len, "UTF-8");
	if (mem == NULL || len <= 0)
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	else
		r = util_write_file(path, mem, (size_t)len, 0644, err);
	xmlFree(mem);
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

/* <ca>: the issuing CA's name and files. */
static void
ca_section(struct xw *w, xmlNodePtr root, const struct cfg_init *ci)
{
	xmlNodePtr ca;

	xw_comment(w, root, 1,
	    "The issuing CA. name is its common name; the CA exchange\n"
	    "certificate, to which clients encrypt keys for archival,\n"
	    "is named after it (NAME-Xchg).");
	ca = xw_elem(w, root, 1, "ca", NULL);
	xw_attr(w, ca, "name", ci->name);
	xw_comment(w, ca, 2, "The issuing CA certificate, PEM.");
	xw_elem(w, ca, 2, "certificate", "ca.crt");
	xw_comment(w, ca, 2,
	    "The issuing CA key, PKCS#8 PEM, possibly encrypted. It\n"
	    "must have mode 0600 or stricter: smimeca refuses a key\n"
	    "file that group or others can read.");
	xw_elem(w, ca, 2, "key", "private/ca.key");
	xw_comment(w, ca, 2, "The issuing CA certificate up to the root, PEM.");
	xw_elem(w, ca, 2, "chain", "chain.pem");
	xw_comment(w, ca, 2,
	    "When the CA key is encrypted, its passphrase comes from\n"
	    "the passphrase file given on the command line, else from\n"
	    "the environment variable SMIMECA_PASSPHRASE, else from\n"
	    "the first line of the file named by passphrase-file\n"
	    "here. A file next to the key protects nothing that the\n"
	    "file mode does not: keep it elsewhere if you use it.");
	if (ci->passphrase_file != NULL)
		xw_elem(w, ca, 2, "passphrase-file", ci->passphrase_file);
	else
		xw_comment(w, ca, 2,
		    "<passphrase-file>/root/ca.pass</passphrase-file>");
	xw_comment(w, ca, 2,
	    "The digest the CA signs with: sha256, sha384 or sha512.");
	xw_elem(w, ca, 2, "digest", "sha256");
	xw_space(w, ca, 1);
}

/* <publication>: URLs under base, which has no trailing '/'. */
static void
publication_section(struct xw *w, xmlNodePtr root, const char *base)
{
	xmlNodePtr pub;
	char *s;

	xw_comment(w, root, 1,
	    "URLs put into certificates whose templates ask for them:\n"
	    "crl-url as CRL distribution point, ca-issuers-url and\n"
	    "ocsp-url as authority information access. Publish the\n"
	    "CRL (smimeca crl) and ca.crt there. Each may be repeated.");
	pub = xw_elem(w, root, 1, "publication", NULL);
	if (w->failed)
		return;
	if (asprintf(&s, "%s/crl/ca.crl", base) == -1) {
		w->failed = 1;
		return;
	}
	xw_elem(w, pub, 2, "crl-url", s);
	free(s);
	if (asprintf(&s, "%s/ca/ca.crt", base) == -1) {
		w->failed = 1;
		return;
	}
	xw_elem(w, pub, 2, "ca-issuers-url", s);
	free(s);
	/* smimecad answers OCSP there (smimecad(8)). */
	if (asprintf(&s, "%s/ocsp", base) == -1) {
		w->failed = 1;
		return;
	}
	xw_elem(w, pub, 2, "ocsp-url", s);
	free(s);
	xw_space(w, pub, 1);
}

/* The optional sections a fresh configuration leaves at their defaults. */
static void
examples(struct xw *w, xmlNodePtr root)
{
	xw_comment(w, root, 1,
	    "The CA exchange certificate: how many days each is valid,\n"
	    "how many hours must be left on the current one before a\n"
	    "new one is made, and the key of new ones (RSA: clients\n"
	    "encrypt to it with RSA key transport). The defaults are\n"
	    "shown.");
	xw_comment(w, root, 1, "<exchange validity-days=\"7\" "
	    "renew-margin-hours=\"24\" key=\"rsa:2048\"/>");
	xw_comment(w, root, 1,
	    "An LDAP directory: certificates are published to the\n"
	    "userCertificate of the entry whose mail is the\n"
	    "certificate's (through an outbox: smimeca publish), the\n"
	    "CA certificate and CRL to the CA entry, and with\n"
	    "accounts=\"yes\" smimecad authenticates enrollees by a\n"
	    "bind as their entry. Without it nothing is published and\n"
	    "only local accounts exist. The lab option of smimeca init\n"
	    "sets up a private slapd and this section for it.\n"
	    "<ldap>\n"
	    "  <server uri=\"ldap://ldap.lab.example\" starttls=\"yes\"\n"
	    "    timeout-seconds=\"10\"/>\n"
	    "  <bind dn=\"cn=smimeca,ou=services,dc=lab,dc=example\"\n"
	    "    password-file=\"ldap/bind.pass\"/>\n"
	    "  <users base=\"ou=people,dc=lab,dc=example\"\n"
	    "    filter=\"(mail=%s)\"\n"
	    "    login-filter=\"(|(mail=%s)(uid=%s))\"\n"
	    "    accounts=\"yes\"/>\n"
	    "  <attributes certificate=\"userCertificate;binary\"/>\n"
	    "  <ca-entry dn=\"cn=Lab Issuing CA,dc=lab,dc=example\"/>\n"
	    "  <retry initial-seconds=\"30\" max-seconds=\"3600\"/>\n"
	    "</ldap>");
	xw_comment(w, root, 1,
	    "smimecad(8): the HTTPS listener (EST, CMC), the plain-HTTP\n"
	    "listener for what is signed anyway (CA certificates, CRL),\n"
	    "the names and addresses in the daemon's TLS certificate\n"
	    "(reissue it with `smimeca tls issue` after a change), and\n"
	    "the limits on each request. threads=\"0\": one per core.\n"
	    "est-template: the template of EST URLs that name none\n"
	    "(/.well-known/est/simpleenroll); est-over-http: EST on\n"
	    "the plain listener too (benchmarks only).\n"
	    "The defaults are shown.");
	xw_comment(w, root, 1,
	    "<daemon threads=\"0\" est-template=\"smime-signature\"\n"
	    "    est-over-http=\"no\">\n"
	    "  <https address=\"127.0.0.1\" port=\"8443\"/>\n"
	    "  <http enabled=\"yes\" address=\"127.0.0.1\" port=\"8080\"/>\n"
	    "  <tls-name>localhost</tls-name>\n"
	    "  <tls-address>127.0.0.1</tls-address>\n"
	    "  <limits body-bytes=\"262144\" header-bytes=\"16384\"\n"
	    "      timeout-seconds=\"30\" connections-per-client=\"64\"\n"
	    "      connections=\"1024\"/>\n"
	    "</daemon>");
	xw_comment(w, root, 1,
	    "The OCSP responder of smimecad (/ocsp, the ocsp-url above):\n"
	    "signer=\"delegated\" signs with a responder certificate the\n"
	    "CA issues and renews by itself (EKU OCSPSigning,\n"
	    "id-pkix-ocsp-nocheck, valid responder-days), signer=\"ca\"\n"
	    "with the CA key. validity-hours: from thisUpdate to\n"
	    "nextUpdate of each response. The defaults are shown.");
	xw_comment(w, root, 1, "<ocsp signer=\"delegated\" key=\"rsa:2048\" "
	    "validity-hours=\"24\" responder-days=\"7\"/>");
}

int
cfg_write_default(const char *path, const struct cfg_init *ci,
    struct ca_err *err)
{
	const char *base_in = ci->base_url != NULL && *ci->base_url != '\0' ?
	    ci->base_url : "http://127.0.0.1:8080";
	char *base = NULL;
	size_t blen;
	struct stat st;
	struct xw w = { NULL, 0 };
	xmlNodePtr root, n;
	int r, nkra = ci->escrow_n > 0 ? ci->escrow_n : 1;
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
	if (m > nkra || nkra > 255) {
		r = ca_err_set(err, CA_ERR_INVALID, "escrow quorum %d and KRA "
		    "count %d: need 1 <= quorum <= count <= 255", m, nkra);
		goto out;
	}
	if (ci->passphrase_file != NULL &&
	    !name_ok(ci->passphrase_file, CFG_PATH_MAX)) {
		r = ca_err_set(err, CA_ERR_INVALID, "passphrase file \"%s\" is "
		    "not a usable path", ci->passphrase_file);
		goto out;
	}
	if ((base = strdup(base_in)) == NULL ||
	    (w.doc = xmlNewDoc((const xmlChar *)"1.0")) == NULL ||
	    (w.doc->encoding = xmlStrdup((const xmlChar *)"UTF-8")) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (blen = strlen(base); blen > 0 && base[blen - 1] == '/'; blen--)
		base[blen - 1] = '\0';

	xw_comment(&w, (xmlNodePtr)w.doc, 0,
	    "Configuration of the smimeca certificate authority in this\n"
	    "directory; see smimeca.conf(5). Every smimeca command reads\n"
	    "it and validates it against config.rng first. Relative\n"
	    "paths are taken relative to this directory.");
	if (w.failed || (root = xmlNewDocNode(w.doc, NULL,
	    (const xmlChar *)"smimeca-config", NULL)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (xmlAddChild((xmlNodePtr)w.doc, root) == NULL) {
		xmlFreeNode(root);
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	xw_attr(&w, root, "version", "1");
	ca_section(&w, root, ci);
	xw_comment(&w, root, 1,
	    "The SQLite database: certificates, requests, templates\n"
	    "used, escrowed keys (wrapped to the KRAs), the audit log.");
	xw_elem(&w, root, 1, "database", "smimeca.db");
	xw_comment(&w, root, 1,
	    "The folder of certificate templates, one NAME.xml each;\n"
	    "see smimeca-template(5).");
	xw_elem(&w, root, 1, "templates", "templates");
	xw_comment(&w, root, 1, "Each CRL is valid for this many days.");
	n = xw_elem(&w, root, 1, "crl", NULL);
	xw_attr_int(&w, n, "validity-days", crl_days);
	publication_section(&w, root, base);
	xw_comment(&w, root, 1,
	    "Key escrow: each archived private key is wrapped to\n"
	    "kra-count registered KRA certificates (smimeca kra add);\n"
	    "quorum of their officers are needed to recover it (1: any\n"
	    "one of them, as in AD CS). quorum must not exceed\n"
	    "kra-count. Changes apply to keys escrowed afterwards.");
	n = xw_elem(&w, root, 1, "escrow", NULL);
	xw_attr_int(&w, n, "kra-count", nkra);
	xw_attr_int(&w, n, "quorum", m);
	examples(&w, root);
	xw_space(&w, root, 0);
	r = xw_save(&w, path, err);
 out:
	xmlFreeDoc(w.doc);
	free(base);
	return r;
}

/* <ldap> with a comment, at the end of root. */
static void
ldap_section(struct xw *w, xmlNodePtr root, const struct cfg_ldap *l)
{
	xmlNodePtr ldap, n;

	xw_comment(w, root, 1,
	    "The directory certificates are published to and enrollees\n"
	    "authenticate against; see smimeca.conf(5).");
	ldap = xw_elem(w, root, 1, "ldap", NULL);
	n = xw_elem(w, ldap, 2, "server", NULL);
	xw_attr(w, n, "uri", l->uri);
	xw_attr(w, n, "starttls", l->starttls ? "yes" : "no");
	if (l->timeout > 0)
		xw_attr_int(w, n, "timeout-seconds", l->timeout);
	if (l->tls_ca_file != NULL)
		xw_attr(w, n, "tls-ca-file", l->tls_ca_file);
	if (l->bind_dn != NULL && l->bind_password_file != NULL) {
		n = xw_elem(w, ldap, 2, "bind", NULL);
		xw_attr(w, n, "dn", l->bind_dn);
		xw_attr(w, n, "password-file", l->bind_password_file);
	}
	n = xw_elem(w, ldap, 2, "users", NULL);
	xw_attr(w, n, "base", l->user_base);
	xw_attr(w, n, "filter", l->user_filter != NULL ? l->user_filter :
	    "(mail=%s)");
	xw_attr(w, n, "login-filter", l->login_filter != NULL ?
	    l->login_filter : "(|(mail=%s)(uid=%s))");
	xw_attr(w, n, "accounts", l->accounts ? "yes" : "no");
	n = xw_elem(w, ldap, 2, "attributes", NULL);
	xw_attr(w, n, "certificate", l->cert_attr != NULL ? l->cert_attr :
	    "userCertificate;binary");
	if (l->smime_attr != NULL)
		xw_attr(w, n, "smime", l->smime_attr);
	if (l->ca_dn != NULL) {
		n = xw_elem(w, ldap, 2, "ca-entry", NULL);
		xw_attr(w, n, "dn", l->ca_dn);
	}
	if (l->retry_min > 0 && l->retry_max >= l->retry_min) {
		n = xw_elem(w, ldap, 2, "retry", NULL);
		xw_attr_int(w, n, "initial-seconds", l->retry_min);
		xw_attr_int(w, n, "max-seconds", l->retry_max);
	}
	xw_space(w, ldap, 1);
}

int
cfg_add_ldap(const char *path, const struct cfg_ldap *l, struct ca_err *err)
{
	struct ca_config *cfg = NULL;
	struct xw w = { NULL, 0 };
	unsigned char *old = NULL;
	char *dir = NULL, *slash, *schema = NULL;
	size_t oldlen = 0;
	xmlNodePtr root, tail;
	int r;

	if ((dir = strdup(path)) == NULL ||
	    (schema = cfg_schema_path("config.rng")) == NULL) {
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
	/* Parsed with its comments and white space, which are written back. */
	if ((r = util_read_file(path, XML_FILE_MAX, &old, &oldlen,
	    err)) != 0 ||
	    (r = xml_read(path, old, oldlen, schema, &w.doc, err)) != 0)
		goto out;
	root = xmlDocGetRootElement(w.doc);
	/* The section goes before the line break that closes the root. */
	if ((tail = root->last) != NULL && xmlIsBlankNode(tail))
		xmlUnlinkNode(tail);
	else
		tail = NULL;
	ldap_section(&w, root, l);
	if (tail != NULL) {
		xmlAddChild(root, tail);
		tail = NULL;
	} else
		xw_space(&w, root, 0);
	if ((r = xw_save(&w, path, err)) != 0)
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
	xmlFreeDoc(w.doc);
	free(schema);
	free(old);
	free(dir);
	cfg_free(cfg);
	return r;
}
