/*
 * Intune-style SCEP challenges that bind the request: made by `smimeca mdm
 * scep-challenge`, checked and used up by the SCEP server. The format and
 * why it is a MAC are in ca/mdmchal.h.
 */
#include "ac-config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/mdmchal.h"
#include "ca/template.h"
#include "ca/util.h"

#define TAG_CONTEXT	"smimeca mdm1"	/* with its NUL: domain separation */
#define NFIELDS		6
#define TPL_NAME_MAX	64
#define EMAIL_MAX	128
#define DEVICE_MAX	64
#define SUBJECT_MAX	160

static int key_read(const char *, unsigned char *, struct ca_err *);
static int key_create(const char *, unsigned char *, struct ca_err *);
static int tag(const unsigned char *, const unsigned char *, size_t,
    unsigned char *);
static int b64_strict(const char *, size_t);
static int valid_tpl_name(const char *);
static int valid_email(const char *);
static int valid_text(const char *, size_t);
static int parse_i64(const char *, int64_t *);
static int parse_payload(char *, struct mdmchal_claims *);
static int check_san(X509_REQ *, const char *, const char *,
    struct ca_err *);
static void name_text(const X509_NAME *, char *, size_t);

int
mdmchal_is_bound(const char *s)
{
	return s != NULL && strncmp(s, MDMCHAL_PREFIX,
	    sizeof(MDMCHAL_PREFIX) - 1) == 0;
}

/* 64 hex digits and a newline; refuses a file others can read. */
static int
key_read(const char *path, unsigned char *key, struct ca_err *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = util_check_private(path, err)) != 0 ||
	    (r = util_read_file(path, 256, &buf, &len, err)) != 0)
		goto out;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (len != 2 * MDMCHAL_KEYLEN ||
	    util_unhex((char *)buf, key, MDMCHAL_KEYLEN) != 0) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: not a challenge key "
		    "(64 hex digits); remove it to make a new one, which "
		    "voids every challenge made so far", path);
		goto out;
	}
	r = 0;
 out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, len + 1);
	return r;
}

/*
 * A new key, written whole under a temporary name and linked into place,
 * so that two commands at once never see half a key, and the one that
 * loses the race reads the winner's.
 */
static int
key_create(const char *path, unsigned char *key, struct ca_err *err)
{
	char tmp[4096], hex[2 * MDMCHAL_KEYLEN + 2];
	int fd = -1, r;
	ssize_t w;

	if (RAND_priv_bytes(key, MDMCHAL_KEYLEN) != 1)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "random bytes for the "
		    "challenge key");
	util_hex(key, MDMCHAL_KEYLEN, hex);
	hex[2 * MDMCHAL_KEYLEN] = '\n';
	hex[2 * MDMCHAL_KEYLEN + 1] = '\0';
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if ((fd = mkstemp(tmp)) == -1) {
		r = ca_err_set(err, CA_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	/* mkstemp makes it 0600. */
	if ((w = write(fd, hex, 2 * MDMCHAL_KEYLEN + 1)) !=
	    2 * MDMCHAL_KEYLEN + 1 || fsync(fd) == -1) {
		r = ca_err_set(err, CA_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (link(tmp, path) == -1) {
		if (errno == EEXIST)
			r = key_read(path, key, err);
		else
			r = ca_err_set(err, CA_ERR_IO, "%s: %s", path,
			    strerror(errno));
		goto out;
	}
	r = 0;
 out:
	if (fd != -1) {
		close(fd);
		unlink(tmp);
	}
	OPENSSL_cleanse(hex, sizeof(hex));
	return r;
}

int
mdmchal_key(struct ca *ca, int create, unsigned char key[MDMCHAL_KEYLEN],
    struct ca_err *err)
{
	struct ca_err e2;
	char *path;
	int r;

	if ((path = util_path(ca_config(ca)->dir, MDMCHAL_KEY_FILE)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	ca_err_clear(&e2);
	if ((r = key_read(path, key, &e2)) == CA_ERR_NOTFOUND)
		r = create ? key_create(path, key, err) : CA_ERR_NOTFOUND;
	else if (r != 0)
		r = ca_err_set(err, r, "%s", e2.msg);
	if (r != 0)
		OPENSSL_cleanse(key, MDMCHAL_KEYLEN);
	free(path);
	return r;
}

/* The first MDMCHAL_TAGLEN bytes of HMAC-SHA256 over context || payload. */
static int
tag(const unsigned char *key, const unsigned char *msg, size_t len,
    unsigned char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t mdlen = 0;
	OSSL_PARAM params[2];
	EVP_MAC *mac;
	EVP_MAC_CTX *h = NULL;
	int ok;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return -1;
	ok = (h = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_init(h, key, MDMCHAL_KEYLEN, params) &&
	    EVP_MAC_update(h, (const unsigned char *)TAG_CONTEXT,
	    sizeof(TAG_CONTEXT)) &&
	    EVP_MAC_update(h, msg, len) &&
	    EVP_MAC_final(h, md, &mdlen, sizeof(md)) &&
	    mdlen >= MDMCHAL_TAGLEN;
	EVP_MAC_CTX_free(h);
	EVP_MAC_free(mac);
	if (ok)
		memcpy(out, md, MDMCHAL_TAGLEN);
	OPENSSL_cleanse(md, sizeof(md));
	return ok ? 0 : -1;
}

/* Standard base64 with its padding and nothing else, n characters. */
static int
b64_strict(const char *s, size_t n)
{
	size_t i, pad = 0;

	if (n == 0 || n % 4 != 0)
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '=') {
			if (i < n - 2)
				return -1;
			pad++;
		} else if (pad > 0 || !((c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '+' || c == '/'))
			return -1;
	}
	return 0;
}

/* A template's file name: letters, digits, '.', '_', '-'. */
static int
valid_tpl_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TPL_NAME_MAX || s[0] == '.')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == n;
}

/* One address: printable ASCII without spaces, one '@' inside. */
static int
valid_email(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s), i;

	if (n < 3 || n > EMAIL_MAX || at == NULL || at == s ||
	    at[1] == '\0' || strchr(at + 1, '@') != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f || (s[i] >= 'A' &&
		    s[i] <= 'Z'))
			return 0;
	return 1;
}

/* Text without control characters (UTF-8 passes), at most max bytes. */
static int
valid_text(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n > max)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			return 0;
	return 1;
}

/* Decimal digits only, no sign, no leading zero, fits int64_t, > 0. */
static int
parse_i64(const char *s, int64_t *vp)
{
	uint64_t v = 0;
	size_t i, n = strlen(s);

	if (n == 0 || n > 19 || s[0] == '0')
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		return -1;
	*vp = (int64_t)v;
	return 0;
}

X509_NAME *
mdmchal_parse_subject(const char *s)
{
	X509_NAME *name = NULL;
	char *copy = NULL, *p, *next, *eq;

	if (s == NULL || s[0] != '/' || (copy = strdup(s + 1)) == NULL ||
	    (name = X509_NAME_new()) == NULL)
		goto fail;
	for (p = copy; p != NULL; p = next) {
		if ((next = strchr(p, '/')) != NULL)
			*next++ = '\0';
		if ((eq = strchr(p, '=')) == NULL || eq == p || eq[1] == '\0')
			goto fail;
		*eq = '\0';
		if (!X509_NAME_add_entry_by_txt(name, p, MBSTRING_UTF8,
		    (unsigned char *)eq + 1, -1, -1, 0))
			goto fail;
	}
	free(copy);
	return name;
 fail:
	ERR_clear_error();
	free(copy);
	X509_NAME_free(name);
	return NULL;
}

/*
 * The payload text, split in place into c (buf is c->buf). Every field is
 * checked as mdmchal_issue checks it, so a decoded challenge is one that
 * could have been made.
 */
static int
parse_payload(char *buf, struct mdmchal_claims *c)
{
	char *f[NFIELDS], *p = buf, *nl;
	size_t i;
	X509_NAME *n;

	for (i = 0; i < NFIELDS; i++) {
		f[i] = p;
		nl = strchr(p, '\n');
		if ((nl == NULL) != (i == NFIELDS - 1))
			return -1;
		if (nl != NULL) {
			*nl = '\0';
			p = nl + 1;
		}
	}
	if (parse_i64(f[0], &c->id) != 0 || parse_i64(f[1], &c->expires) != 0 ||
	    !valid_tpl_name(f[2]) || !valid_email(f[3]) ||
	    !valid_text(f[4], SUBJECT_MAX) || !valid_text(f[5], DEVICE_MAX))
		return -1;
	if (f[4][0] != '\0') {
		if ((n = mdmchal_parse_subject(f[4])) == NULL)
			return -1;
		X509_NAME_free(n);
	}
	c->tpl = f[2];
	c->email = f[3];
	c->subject = f[4];
	c->device = f[5];
	return 0;
}

int
mdmchal_decode(const char *s, const unsigned char *key,
    struct mdmchal_claims *c, struct ca_err *err)
{
	unsigned char want[MDMCHAL_TAGLEN], *pl = NULL, *tg = NULL;
	size_t n, plen = 0, tlen = 0, pre = sizeof(MDMCHAL_PREFIX) - 1;
	const char *dot;
	char part[MDMCHAL_MAX + 1];
	struct ca_err e2;
	int r = CA_ERR_INVALID;

	memset(c, 0, sizeof(*c));
	ca_err_clear(&e2);
	if (s == NULL || (n = strnlen(s, MDMCHAL_MAX + 1)) > MDMCHAL_MAX) {
		return ca_err_set(err, CA_ERR_INVALID, "not a bound challenge "
		    "(longer than %d characters)", MDMCHAL_MAX);
	}
	if (!mdmchal_is_bound(s) ||
	    (dot = memchr(s + pre, '.', n - pre)) == NULL ||
	    memchr(dot + 1, '.', n - (size_t)(dot + 1 - s)) != NULL ||
	    b64_strict(s + pre, (size_t)(dot - s) - pre) != 0 ||
	    b64_strict(dot + 1, n - (size_t)(dot + 1 - s)) != 0)
		return ca_err_set(err, CA_ERR_INVALID, "not a bound challenge "
		    "(%s, base64 payload, '.', base64 tag)", MDMCHAL_PREFIX);
	memcpy(part, s + pre, (size_t)(dot - s) - pre);
	part[(size_t)(dot - s) - pre] = '\0';
	if (util_b64_decode(part, sizeof(c->buf) - 1, &pl, &plen, &e2) != 0 ||
	    util_b64_decode(dot + 1, 3 * MDMCHAL_TAGLEN, &tg, &tlen,
	    &e2) != 0 || tlen != MDMCHAL_TAGLEN) {
		r = ca_err_set(err, CA_ERR_INVALID, "not a bound challenge "
		    "(its parts do not decode)");
		goto out;
	}
	/* Nothing of the payload is read before its tag is checked. */
	if (key != NULL && (tag(key, pl, plen, want) != 0 ||
	    CRYPTO_memcmp(want, tg, MDMCHAL_TAGLEN) != 0)) {
		r = ca_err_set(err, CA_ERR_AUTH, "the challenge was not made "
		    "by this CA, or was altered (its MAC does not verify)");
		goto out;
	}
	if (plen >= sizeof(c->buf) || memchr(pl, '\0', plen) != NULL) {
		r = ca_err_set(err, CA_ERR_INVALID, "not a bound challenge "
		    "(its payload is not text)");
		goto out;
	}
	memcpy(c->buf, pl, plen);
	c->buf[plen] = '\0';
	if (parse_payload(c->buf, c) != 0) {
		memset(c, 0, sizeof(*c));
		r = ca_err_set(err, CA_ERR_INVALID, "not a bound challenge "
		    "(its payload does not parse)");
		goto out;
	}
	/* The default subject, spelt out for the callers. */
	if (c->subject[0] == '\0') {
		size_t used = plen + 1;

		if (used + 4 + strlen(c->email) + 1 > sizeof(c->buf)) {
			memset(c, 0, sizeof(*c));
			r = ca_err_set(err, CA_ERR_INVALID, "not a bound "
			    "challenge (too long)");
			goto out;
		}
		snprintf(c->buf + used, sizeof(c->buf) - used, "/CN=%s",
		    c->email);
		c->subject = c->buf + used;
	}
	r = 0;
 out:
	free(pl);
	free(tg);
	return r;
}

int
mdmchal_encode(const struct mdmchal_claims *c, const unsigned char *key,
    char **outp, struct ca_err *err)
{
	char pl[sizeof(c->buf)], def[EMAIL_MAX + 8], *b1 = NULL, *b2 = NULL;
	unsigned char tg[MDMCHAL_TAGLEN];
	const char *subj = c->subject != NULL ? c->subject : "";
	int n, r;

	*outp = NULL;
	/* The default subject is left out: the challenge stays short. */
	snprintf(def, sizeof(def), "/CN=%s", c->email);
	if (strcmp(subj, def) == 0)
		subj = "";
	n = snprintf(pl, sizeof(pl), "%" PRId64 "\n%" PRId64 "\n%s\n%s\n%s\n%s",
	    c->id, c->expires, c->tpl, c->email, subj,
	    c->device != NULL ? c->device : "");
	if (n < 0 || (size_t)n >= sizeof(pl))
		return ca_err_set(err, CA_ERR_INVALID, "the names do not fit "
		    "a challenge of at most %d characters", MDMCHAL_MAX);
	if (tag(key, (unsigned char *)pl, (size_t)n, tg) != 0)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "computing the "
		    "challenge's MAC");
	if ((b1 = util_b64_encode((unsigned char *)pl, (size_t)n)) == NULL ||
	    (b2 = util_b64_encode(tg, sizeof(tg))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (asprintf(outp, "%s%s.%s", MDMCHAL_PREFIX, b1, b2) == -1) {
		*outp = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (strlen(*outp) > MDMCHAL_MAX) {
		r = ca_err_set(err, CA_ERR_INVALID, "the challenge would be "
		    "%zu characters, more than the %d this CA keeps to so "
		    "that every SCEP client takes it (RFC 2985 allows 255): "
		    "use a shorter --device or --subject", strlen(*outp),
		    MDMCHAL_MAX);
		free(*outp);
		*outp = NULL;
		goto out;
	}
	r = 0;
 out:
	free(b1);
	free(b2);
	OPENSSL_cleanse(tg, sizeof(tg));
	return r;
}

int
mdmchal_issue(struct ca *ca, const struct mdmchal_req *req, int64_t now,
    char **challengep, int64_t *idp, struct ca_err *err)
{
	unsigned char key[MDMCHAL_KEYLEN];
	struct mdmchal_claims c;
	struct db_mdmchal row;
	struct tpl *t = NULL;
	struct db *db = ca_db(ca);
	X509_NAME *name = NULL;
	char subj[SUBJECT_MAX + 1], when[21], detail[512], *out = NULL;
	int r, in_tx = 0;

	*challengep = NULL;
	*idp = 0;
	memset(&c, 0, sizeof(c));
	if (!valid_tpl_name(req->tpl))
		return ca_err_set(err, CA_ERR_INVALID, "--template %s: not a "
		    "template name", req->tpl);
	if (!valid_email(req->email))
		return ca_err_set(err, CA_ERR_INVALID, "--email %s: not one "
		    "lower-case mail address of at most %d characters",
		    req->email, EMAIL_MAX);
	if (req->device != NULL && (!valid_text(req->device, DEVICE_MAX) ||
	    req->device[0] == '\0'))
		return ca_err_set(err, CA_ERR_INVALID, "--device: at most %d "
		    "characters without control characters", DEVICE_MAX);
	if (req->ttl <= 0 || req->ttl > 366 * 86400)
		return ca_err_set(err, CA_ERR_INVALID, "--ttl: between a "
		    "second and a year");
	if (req->subject != NULL) {
		if (!valid_text(req->subject, SUBJECT_MAX) ||
		    (name = mdmchal_parse_subject(req->subject)) == NULL)
			return ca_err_set(err, CA_ERR_INVALID, "--subject %s: "
			    "not a name of the form /CN=Alice/O=Lab (at most "
			    "%d characters)", req->subject, SUBJECT_MAX);
		X509_NAME_free(name);
		snprintf(subj, sizeof(subj), "%s", req->subject);
	} else
		snprintf(subj, sizeof(subj), "/CN=%s", req->email);
	/* A challenge for a template SCEP cannot serve would fail later. */
	if ((r = tpl_load(ca_config(ca)->template_dir, req->tpl, &t, err)) != 0)
		goto out;
	if ((t->protocols & TPL_PROTO_SCEP) == 0) {
		r = ca_err_set(err, CA_ERR_POLICY, "template %s does not list "
		    "the scep protocol", req->tpl);
		goto out;
	}
	if (t->archival == TPL_ARCHIVAL_REQUIRED) {
		r = ca_err_set(err, CA_ERR_POLICY, "template %s requires key "
		    "archival, which SCEP cannot carry: never enroll "
		    "encryption keys over SCEP", req->tpl);
		goto out;
	}
	if ((r = mdmchal_key(ca, 1, key, err)) != 0)
		goto out;
	row.tpl = req->tpl;
	row.email = req->email;
	row.subject = subj;
	row.device = req->device;
	row.created = now;
	row.expires = now + req->ttl;
	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if ((r = db_mdmchal_add(db, &row, &c.id, err)) != 0)
		goto out;
	c.expires = row.expires;
	c.tpl = req->tpl;
	c.email = req->email;
	c.subject = subj;
	c.device = req->device;
	util_iso8601(row.expires, when);
	snprintf(detail, sizeof(detail), "id=%" PRId64 " template=%s "
	    "subject=%s device=%s expires=%s", c.id, req->tpl, subj,
	    req->device != NULL ? req->device : "-", when);
	if ((r = mdmchal_encode(&c, key, &out, err)) != 0 ||
	    (r = audit_append(db, ca_actor(ca), "mdm-scep-challenge",
	    req->email, detail, err)) != 0 ||
	    (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	*challengep = out;
	*idp = c.id;
	out = NULL;
	r = 0;
 out:
	if (in_tx)
		db_rollback(db);
	free(out);
	tpl_free(t);
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

/* A name for messages, "(empty)" when it has no attribute. */
static void
name_text(const X509_NAME *n, char *out, size_t len)
{
	char *s = util_name_oneline(n);

	snprintf(out, len, "%s", s != NULL && *s != '\0' ? s : "(empty)");
	free(s);
}

/*
 * The CSR's subjectAltName must be exactly one rfc822Name, email (ASCII
 * case aside); every difference is added to err. Returns how many.
 */
static int
check_san(X509_REQ *csr, const char *email, const char *why,
    struct ca_err *err)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
	GENERAL_NAMES *gens = NULL;
	X509_EXTENSION *ext = NULL;
	int i, nsan = 0, nemail = 0, bad = 0;

	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);

		if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) ==
		    NID_subject_alt_name) {
			ext = e;
			nsan++;
		}
	}
	if (nsan > 1) {
		ca_err_set(err, CA_ERR_POLICY, "%s: the request has %d "
		    "subjectAltName extensions", why, nsan);
		bad++;
		goto out;
	}
	if (ext != NULL && (gens = X509V3_EXT_d2i(ext)) == NULL) {
		ERR_clear_error();
		ca_err_set(err, CA_ERR_POLICY, "%s: the request's "
		    "subjectAltName does not decode", why);
		bad++;
		goto out;
	}
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *d;
		char shown[4 * EMAIL_MAX + 1];
		int len;

		if (g->type != GEN_EMAIL) {
			ca_err_set(err, CA_ERR_POLICY, "%s: the request asks "
			    "for a name other than an rfc822Name (GeneralName "
			    "type %d); the challenge authorizes only %s", why,
			    g->type, email);
			bad++;
			continue;
		}
		d = ASN1_STRING_get0_data(g->d.rfc822Name);
		len = ASN1_STRING_length(g->d.rfc822Name);
		nemail++;
		if (len < 0 || (size_t)len != strlen(email) ||
		    OPENSSL_strncasecmp((const char *)d, email,
		    (size_t)len) != 0) {
			util_escape_log(shown, sizeof(shown), (const char *)d,
			    len < 0 ? 0 : (size_t)len > EMAIL_MAX ?
			    EMAIL_MAX : (size_t)len);
			ca_err_set(err, CA_ERR_POLICY, "%s: the request asks "
			    "for rfc822Name %s; the challenge authorizes only "
			    "%s", why, shown, email);
			bad++;
		}
	}
	if (nemail == 0) {
		ca_err_set(err, CA_ERR_POLICY, "%s: the request carries no "
		    "rfc822Name; the challenge authorizes exactly %s", why,
		    email);
		bad++;
	} else if (nemail > 1 && bad == 0) {
		ca_err_set(err, CA_ERR_POLICY, "%s: the request asks for %d "
		    "rfc822Names; the challenge authorizes exactly one, %s",
		    why, nemail, email);
		bad++;
	}
 out:
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return bad;
}

int
mdmchal_inspect(struct ca *ca, const char *challenge, int64_t now,
    struct mdmchal_claims *c, struct ca_err *err)
{
	unsigned char key[MDMCHAL_KEYLEN];
	struct ca_err e2;
	char when[21];
	const char *why = "bound SCEP challenge";
	int64_t used = 0;
	int r;

	memset(c, 0, sizeof(*c));
	ca_err_clear(&e2);
	if (challenge == NULL)
		return ca_err_set(err, CA_ERR_POLICY, "no %s", why);
	r = mdmchal_key(ca, 0, key, &e2);
	if (r == CA_ERR_NOTFOUND)
		return ca_err_set(err, CA_ERR_POLICY, "wrong %s: this CA has "
		    "made none (it has no challenge key)", why);
	if (r != 0)
		return ca_err_set(err, r, "%s", e2.msg);
	r = mdmchal_decode(challenge, key, c, &e2);
	OPENSSL_cleanse(key, sizeof(key));
	if (r != 0)
		return ca_err_set(err, CA_ERR_POLICY, "wrong %s: %s", why,
		    e2.msg);
	if ((r = db_mdmchal_used(ca_db(ca), c->id, &used, &e2)) ==
	    CA_ERR_NOTFOUND)
		return ca_err_set(err, CA_ERR_POLICY, "wrong %s: id %" PRId64
		    " is not in this CA's database", why, c->id);
	if (r != 0)
		return ca_err_set(err, r, "%s", e2.msg);
	if (used != 0) {
		util_iso8601(used, when);
		return ca_err_set(err, CA_ERR_POLICY, "used %s: id %" PRId64
		    " for %s was used at %s (single use)", why, c->id,
		    c->email, when);
	}
	if (now >= c->expires) {
		util_iso8601(c->expires, when);
		return ca_err_set(err, CA_ERR_POLICY, "expired %s: id %" PRId64
		    " for %s expired at %s", why, c->id, c->email, when);
	}
	return 0;
}

int
mdmchal_check(struct ca *ca, const char *tpl_name, const char *challenge,
    X509_REQ *csr, int64_t now, int64_t *idp, struct ca_err *err)
{
	struct mdmchal_claims c;
	X509_NAME *want = NULL;
	char a[256], b[256];
	const char *why = "bound SCEP challenge";
	int r, bad = 0;

	*idp = 0;
	if (tpl_name == NULL || challenge == NULL || csr == NULL)
		return ca_err_set(err, CA_ERR_INTERNAL, "mdmchal_check: "
		    "nothing to check");
	if ((r = mdmchal_inspect(ca, challenge, now, &c, err)) != 0)
		return r;
	/* Every way the request differs from the binding, at once. */
	if (strcmp(tpl_name, c.tpl) != 0) {
		ca_err_set(err, CA_ERR_POLICY, "%s %" PRId64 " is bound to "
		    "template %s, not %s", why, c.id, c.tpl, tpl_name);
		bad++;
	}
	if ((want = mdmchal_parse_subject(c.subject)) == NULL) {
		return ca_err_set(err, CA_ERR_INTERNAL, "%s %" PRId64 ": its "
		    "subject %s does not parse", why, c.id, c.subject);
	}
	if (X509_NAME_cmp(want, X509_REQ_get_subject_name(csr)) != 0) {
		name_text(want, a, sizeof(a));
		name_text(X509_REQ_get_subject_name(csr), b, sizeof(b));
		ca_err_set(err, CA_ERR_POLICY, "%s %" PRId64 " is bound to "
		    "subject %s; the request asks for %s", why, c.id, a, b);
		bad++;
	}
	X509_NAME_free(want);
	snprintf(a, sizeof(a), "%s %" PRId64, why, c.id);
	bad += check_san(csr, c.email, a, err);
	if (bad > 0)
		return CA_ERR_POLICY;
	*idp = c.id;
	return 0;
}

int
mdmchal_consume(struct db *txdb, int64_t id, struct ca_err *err)
{
	return db_mdmchal_use(txdb, id, (int64_t)time(NULL), err);
}
