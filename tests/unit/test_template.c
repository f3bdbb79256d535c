/* Unit tests for ca/template.c (templates) and ca/config.c (configuration). */
#include "ac-config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>

#include "ca/config.h"
#include "ca/err.h"
#include "ca/template.h"
#include "ca/util.h"
#include "ca/xml.h"
#include "tests/unit/tap.h"

#define OID_EMAIL	"1.3.6.1.5.5.7.3.4"
#define OID_CLIENT	"1.3.6.1.5.5.7.3.2"
#define OID_KRA		"1.3.6.1.4.1.311.21.6"

static char tmpdir[] = "/tmp/test_template.XXXXXX";
static char *stock_dir;		/* DATADIR/templates */

struct account {
	const char *cn;
	const char *mail;
};

static char *tmp_path(const char *);
static char *write_tmp(const char *, const char *);
static char *slurp(const char *);
static char *replace(const char *, const char *, const char *);
static int line_of(const char *, const char *);
static void rm_tmpdir(void);
static int has(const struct ca_err *, const char *);
static const char *last_line(const struct ca_err *);
static const char *oneline(const struct ca_err *);
static int stderr_to(const char *);
static void stderr_back(int);
static const char *lookup(void *, const char *);
static struct tpl *find(struct tpl **, size_t, const char *);
static void check_rdn(const struct tpl *, size_t, const char *,
    enum tpl_source, const char *, int, int);
static void check_common(const struct tpl *, const char *);
static void test_stock(void);
static void test_load_by_name(void);
static void test_defaults(void);
static void test_bad(void);
static void bad_template(const char *, const char *, const char *,
    const char *, const char *);
static void test_regex(void);
static void test_expand(void);
static void test_names(void);
static void test_config(void);
static void test_config_bad(void);

static char *
tmp_path(const char *name)
{
	char *p = util_path(tmpdir, name);

	if (p == NULL)
		abort();
	return p;
}

/* Writes text to tmpdir/name; returns the malloc'd path. */
static char *
write_tmp(const char *name, const char *text)
{
	char *p = tmp_path(name);
	FILE *f;

	if ((f = fopen(p, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) != 0) {
		perror(p);
		abort();
	}
	return p;
}

static char *
slurp(const char *path)
{
	unsigned char *buf = NULL;
	size_t len;

	if (util_read_file(path, 1024 * 1024, &buf, &len, NULL) != 0) {
		fprintf(stderr, "cannot read %s\n", path);
		abort();
	}
	return (char *)buf;
}

/* s with the first old replaced by new (old must occur). */
static char *
replace(const char *s, const char *old, const char *new)
{
	const char *p = strstr(s, old);
	char *out;

	if (p == NULL) {
		fprintf(stderr, "\"%s\" not found\n", old);
		abort();
	}
	if (asprintf(&out, "%.*s%s%s", (int)(p - s), s, new,
	    p + strlen(old)) == -1)
		abort();
	return out;
}

/* 1-based line of the first occurrence of needle in s. */
static int
line_of(const char *s, const char *needle)
{
	const char *p = strstr(s, needle);
	int line = 1;

	if (p == NULL)
		return -1;
	for (; s < p; s++)
		if (*s == '\n')
			line++;
	return line;
}

static void
rm_tmpdir(void)
{
	tap_rmtree(tmpdir);
}

static int
has(const struct ca_err *err, const char *s)
{
	return strstr(err->msg, s) != NULL;
}

static const char *
last_line(const struct ca_err *err)
{
	const char *nl = strrchr(err->msg, '\n');

	return nl != NULL ? nl + 1 : err->msg;
}

/* The messages on one line, for a TAP description. */
static const char *
oneline(const struct ca_err *err)
{
	static char buf[CA_ERR_MSGMAX];
	char *p;

	snprintf(buf, sizeof(buf), "%s", err->msg);
	for (p = buf; (p = strchr(p, '\n')) != NULL; p++)
		*p = '|';
	return buf;
}

/* Sends stderr to a file, to see that libxml2 prints nothing. */
static int
stderr_to(const char *path)
{
	int saved, fd;

	fflush(stderr);
	if ((saved = dup(2)) == -1 ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    dup2(fd, 2) == -1)
		abort();
	close(fd);
	return saved;
}

static void
stderr_back(int saved)
{
	fflush(stderr);
	if (dup2(saved, 2) == -1)
		abort();
	close(saved);
}

static const char *
lookup(void *ctx, const char *attr)
{
	const struct account *a = ctx;

	if (strcmp(attr, "cn") == 0)
		return a->cn;
	if (strcmp(attr, "mail") == 0)
		return a->mail;
	return NULL;
}

static struct tpl *
find(struct tpl **tps, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(tps[i]->name, name) == 0)
			return tps[i];
	return NULL;
}

static void
check_rdn(const struct tpl *t, size_t i, const char *type,
    enum tpl_source src, const char *value, int required, int lower)
{
	const struct tpl_rdn *rd;

	TAP_OK(i < t->nrdns, "%s: has rdn %zu", t->name, i);
	if (i >= t->nrdns)
		return;
	rd = &t->rdns[i];
	TAP_STR_EQ(rd->type, type, "%s: rdn %zu is %s", t->name, i, type);
	TAP_INT_EQ(rd->source, src, "%s: rdn %s source", t->name, type);
	if (src == TPL_SRC_VALUE)
		TAP_STR_EQ(rd->value, value, "%s: rdn %s value", t->name, type);
	else if (value == NULL)
		TAP_OK(rd->match == NULL, "%s: rdn %s matches anything",
		    t->name, type);
	else
		TAP_STR_EQ(rd->match, value, "%s: rdn %s match", t->name, type);
	TAP_INT_EQ(rd->required, required, "%s: rdn %s required", t->name,
	    type);
	TAP_INT_EQ(rd->lower, lower, "%s: rdn %s lower", t->name, type);
}

/* What every stock template shares: file, bytes, hash, CDP and AIA. */
static void
check_common(const struct tpl *t, const char *name)
{
	char *path, *body, hash[65];
	size_t len;

	if (asprintf(&path, "%s/%s.xml", stock_dir, name) == -1)
		abort();
	body = slurp(path);
	len = strlen(body);
	util_sha256_hex((unsigned char *)body, len, hash);
	TAP_STR_EQ(t->file, path, "%s: file is recorded", name);
	TAP_OK(t->bodylen == len && memcmp(t->body, body, len) == 0,
	    "%s: body holds the file's bytes", name);
	TAP_STR_EQ(t->sha256, hash, "%s: sha256 of the file", name);
	TAP_OK(t->description != NULL && *t->description != '\0',
	    "%s: has a description", name);
	TAP_INT_EQ(t->key_usage_critical, 1, "%s: keyUsage critical", name);
	TAP_INT_EQ(t->include_cdp, 1, "%s: CRL distribution points", name);
	TAP_INT_EQ(t->include_aia, 1, "%s: authority info access", name);
	free(body);
	free(path);
}

static void
test_stock(void)
{
	struct tpl **tps = NULL, *t;
	struct ca_err err;
	size_t n = 0, i;
	int r;

	ca_err_clear(&err);
	r = tpl_load_all(stock_dir, &tps, &n, &err);
	TAP_INT_EQ(r, 0, "tpl_load_all loads the stock templates: %s",
	    oneline(&err));
	TAP_INT_EQ(n, 6, "six stock templates");
	for (i = 1; i < n; i++)
		TAP_OK(strcmp(tps[i - 1]->name, tps[i]->name) < 0,
		    "sorted: %s before %s", tps[i - 1]->name, tps[i]->name);

	if ((t = find(tps, n, "smime-encryption")) != NULL) {
		check_common(t, "smime-encryption");
		TAP_INT_EQ(t->purpose, TPL_PURPOSE_SMIME_ENCRYPTION,
		    "smime-encryption: purpose");
		TAP_INT_EQ(t->validity_days, 365, "smime-encryption: 365 days");
		TAP_INT_EQ(t->key_usage, TPL_KU_KEY_ENCIPHERMENT,
		    "smime-encryption: keyEncipherment only");
		TAP_INT_EQ(t->neku, 1, "smime-encryption: one EKU");
		if (t->neku == 1)
			TAP_STR_EQ(t->eku[0], OID_EMAIL,
			    "smime-encryption: emailProtection as an OID");
		TAP_INT_EQ(t->nalgs, 1, "smime-encryption: one key algorithm");
		if (t->nalgs == 1) {
			TAP_INT_EQ(t->algs[0].type, EVP_PKEY_RSA,
			    "smime-encryption: RSA");
			TAP_INT_EQ(t->algs[0].min_bits, 2048,
			    "smime-encryption: min 2048 bits");
			TAP_INT_EQ(t->algs[0].max_bits, 4096,
			    "smime-encryption: max 4096 bits");
		}
		TAP_INT_EQ(t->archival, TPL_ARCHIVAL_REQUIRED,
		    "smime-encryption: archival required");
		TAP_INT_EQ(t->protocols, TPL_PROTO_CLI | TPL_PROTO_EST |
		    TPL_PROTO_CMC, "smime-encryption: cli, est, cmc");
		TAP_INT_EQ(t->nrdns, 2, "smime-encryption: two rdns");
		check_rdn(t, 0, "CN", TPL_SRC_VALUE, "{dir:cn}", 1, 0);
		check_rdn(t, 1, "emailAddress", TPL_SRC_VALUE, "{dir:mail}", 1,
		    1);
		TAP_STR_EQ(t->san_email, "{dir:mail}",
		    "smime-encryption: SAN email");
		TAP_INT_EQ(t->max_active, 1, "smime-encryption: max 1");
		TAP_INT_EQ(t->on_limit, TPL_LIMIT_SUPERSEDE,
		    "smime-encryption: supersede");
	} else
		TAP_OK(0, "smime-encryption is loaded");

	if ((t = find(tps, n, "smime-signature")) != NULL) {
		check_common(t, "smime-signature");
		TAP_INT_EQ(t->purpose, TPL_PURPOSE_SMIME_SIGNATURE,
		    "smime-signature: purpose");
		TAP_INT_EQ(t->validity_days, 365, "smime-signature: 365 days");
		TAP_INT_EQ(t->key_usage, TPL_KU_DIGITAL_SIGNATURE |
		    TPL_KU_NON_REPUDIATION,
		    "smime-signature: digitalSignature, nonRepudiation");
		TAP_OK(t->neku == 1 && strcmp(t->eku[0], OID_EMAIL) == 0,
		    "smime-signature: emailProtection");
		TAP_INT_EQ(t->nalgs, 3, "smime-signature: three algorithms");
		if (t->nalgs == 3) {
			TAP_OK(t->algs[0].type == EVP_PKEY_RSA &&
			    t->algs[0].min_bits == 2048 &&
			    t->algs[0].max_bits == 4096,
			    "smime-signature: RSA 2048-4096");
			TAP_OK(t->algs[1].type == EVP_PKEY_EC &&
			    t->algs[1].curve_nid == NID_X9_62_prime256v1,
			    "smime-signature: EC P-256");
			TAP_OK(t->algs[2].type == EVP_PKEY_EC &&
			    t->algs[2].curve_nid == NID_secp384r1,
			    "smime-signature: EC P-384");
		}
		TAP_INT_EQ(t->archival, TPL_ARCHIVAL_FORBIDDEN,
		    "smime-signature: archival forbidden");
		TAP_INT_EQ(t->protocols, TPL_PROTO_CLI | TPL_PROTO_EST |
		    TPL_PROTO_SCEP | TPL_PROTO_CMC,
		    "smime-signature: all four protocols");
		TAP_INT_EQ(t->nrdns, 2, "smime-signature: two rdns");
		check_rdn(t, 0, "CN", TPL_SRC_VALUE, "{dir:cn}", 1, 0);
		check_rdn(t, 1, "emailAddress", TPL_SRC_VALUE, "{dir:mail}", 1,
		    1);
		TAP_STR_EQ(t->san_email, "{dir:mail}",
		    "smime-signature: SAN email");
		TAP_OK(t->max_active == 1 && t->on_limit == TPL_LIMIT_SUPERSEDE,
		    "smime-signature: one active, supersede");
	} else
		TAP_OK(0, "smime-signature is loaded");

	/* One signing key per device (Intune SCEP/PKCS): refuse, never revoke. */
	if ((t = find(tps, n, "smime-signature-device")) != NULL) {
		check_common(t, "smime-signature-device");
		TAP_INT_EQ(t->purpose, TPL_PURPOSE_SMIME_SIGNATURE,
		    "smime-signature-device: purpose");
		TAP_INT_EQ(t->archival, TPL_ARCHIVAL_FORBIDDEN,
		    "smime-signature-device: archival forbidden");
		TAP_OK(t->max_active == 5 && t->on_limit == TPL_LIMIT_REFUSE,
		    "smime-signature-device: five active, refuse");
	} else
		TAP_OK(0, "smime-signature-device is loaded");

	if ((t = find(tps, n, "smime-dual")) != NULL) {
		check_common(t, "smime-dual");
		TAP_INT_EQ(t->purpose, TPL_PURPOSE_SMIME_DUAL,
		    "smime-dual: purpose");
		TAP_INT_EQ(t->key_usage, TPL_KU_DIGITAL_SIGNATURE |
		    TPL_KU_KEY_ENCIPHERMENT,
		    "smime-dual: digitalSignature, keyEncipherment");
		TAP_OK(t->neku == 1 && strcmp(t->eku[0], OID_EMAIL) == 0,
		    "smime-dual: emailProtection");
		TAP_OK(t->nalgs == 1 && t->algs[0].type == EVP_PKEY_RSA &&
		    t->algs[0].min_bits == 2048 && t->algs[0].max_bits == 4096,
		    "smime-dual: RSA 2048-4096 only");
		TAP_INT_EQ(t->archival, TPL_ARCHIVAL_OPTIONAL,
		    "smime-dual: archival optional");
		TAP_INT_EQ(t->protocols, TPL_PROTO_CLI | TPL_PROTO_EST |
		    TPL_PROTO_CMC, "smime-dual: cli, est, cmc");
		check_rdn(t, 0, "CN", TPL_SRC_VALUE, "{dir:cn}", 1, 0);
		check_rdn(t, 1, "emailAddress", TPL_SRC_VALUE, "{dir:mail}", 1,
		    1);
		TAP_STR_EQ(t->san_email, "{dir:mail}", "smime-dual: SAN email");
		TAP_OK(t->max_active == 1 && t->on_limit == TPL_LIMIT_SUPERSEDE,
		    "smime-dual: one active, supersede");
	} else
		TAP_OK(0, "smime-dual is loaded");

	if ((t = find(tps, n, "device-auth")) != NULL) {
		check_common(t, "device-auth");
		TAP_INT_EQ(t->purpose, TPL_PURPOSE_DEVICE,
		    "device-auth: purpose device");
		TAP_INT_EQ(t->validity_days, 365, "device-auth: 365 days");
		TAP_INT_EQ(t->key_usage, TPL_KU_DIGITAL_SIGNATURE,
		    "device-auth: digitalSignature only (EC keys too)");
		TAP_OK(t->neku == 1 && strcmp(t->eku[0], OID_CLIENT) == 0,
		    "device-auth: clientAuth");
		TAP_INT_EQ(t->nalgs, 3, "device-auth: RSA, P-256, P-384");
		TAP_INT_EQ(t->archival, TPL_ARCHIVAL_FORBIDDEN,
		    "device-auth: archival forbidden");
		TAP_INT_EQ(t->protocols, TPL_PROTO_CLI | TPL_PROTO_EST |
		    TPL_PROTO_SCEP, "device-auth: cli, est, scep");
		TAP_INT_EQ(t->nrdns, 1, "device-auth: one rdn");
		check_rdn(t, 0, "CN", TPL_SRC_REQUEST,
		    "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", 1, 0);
		if (t->nrdns == 1 && t->rdns[0].match != NULL) {
			TAP_INT_EQ(regexec(&t->rdns[0].re, "laptop-7.lab", 0,
			    NULL, 0), 0,
			    "device-auth: CN laptop-7.lab matches");
			TAP_OK(regexec(&t->rdns[0].re, "-laptop", 0, NULL,
			    0) != 0, "device-auth: CN -laptop does not");
			TAP_OK(regexec(&t->rdns[0].re, "lap top", 0, NULL,
			    0) != 0, "device-auth: CN with a space does not");
		}
		TAP_OK(t->san_email == NULL, "device-auth: no SAN");
		TAP_INT_EQ(t->max_active, 0, "device-auth: no limit");
	} else
		TAP_OK(0, "device-auth is loaded");

	if ((t = find(tps, n, "kra")) != NULL) {
		check_common(t, "kra");
		TAP_INT_EQ(t->purpose, TPL_PURPOSE_KRA, "kra: purpose");
		TAP_INT_EQ(t->validity_days, 730, "kra: 730 days");
		TAP_INT_EQ(t->key_usage, TPL_KU_KEY_ENCIPHERMENT,
		    "kra: keyEncipherment");
		TAP_OK(t->neku == 1 && strcmp(t->eku[0], OID_KRA) == 0,
		    "kra: EKU " OID_KRA);
		TAP_OK(t->nalgs == 1 && t->algs[0].type == EVP_PKEY_RSA,
		    "kra: RSA only");
		TAP_INT_EQ(t->archival, TPL_ARCHIVAL_FORBIDDEN,
		    "kra: archival forbidden");
		TAP_INT_EQ(t->protocols, TPL_PROTO_CLI, "kra: cli only");
		check_rdn(t, 0, "CN", TPL_SRC_VALUE, "{dir:cn}", 1, 0);
		check_rdn(t, 1, "emailAddress", TPL_SRC_VALUE, "{dir:mail}", 1,
		    1);
		TAP_STR_EQ(t->san_email, "{dir:mail}", "kra: SAN email");
		TAP_INT_EQ(t->max_active, 0, "kra: no limit");
	} else
		TAP_OK(0, "kra is loaded");
	tpl_free_all(tps, n);
}

static void
test_load_by_name(void)
{
	struct tpl *t = NULL;
	struct ca_err err;
	char *body, *p;
	int r;

	ca_err_clear(&err);
	r = tpl_load(stock_dir, "kra", &t, &err);
	TAP_INT_EQ(r, 0, "tpl_load kra: %s", oneline(&err));
	TAP_OK(t != NULL && strcmp(t->name, "kra") == 0, "it is kra");
	tpl_free(t);
	t = NULL;

	ca_err_clear(&err);
	r = tpl_load(stock_dir, "no-such-template", &t, &err);
	TAP_INT_EQ(r, CA_ERR_NOTFOUND, "tpl_load of a missing template");
	TAP_OK(t == NULL, "no template is returned");
	TAP_OK(has(&err, "no-such-template") && has(&err, stock_dir) &&
	    has(&err, "smimeca template list"),
	    "the message names the template, the folder and `template list`: "
	    "%s", oneline(&err));

	ca_err_clear(&err);
	r = tpl_load(stock_dir, "../templates/kra", &t, &err);
	TAP_OK(r != 0 && t == NULL, "tpl_load refuses a name with a slash");

	/* A file whose template has another name. */
	p = util_path(stock_dir, "kra.xml");
	body = slurp(p);
	free(p);
	free(write_tmp("other.xml", body));
	free(body);
	ca_err_clear(&err);
	r = tpl_load(tmpdir, "other", &t, &err);
	TAP_INT_EQ(r, CA_ERR_CONFIG, "tpl_load refuses other.xml holding kra");
	TAP_OK(has(&err, "other.xml") && has(&err, "\"kra\""),
	    "the message names the file and the name inside: %s",
	    oneline(&err));
	p = tmp_path("other.xml");
	unlink(p);
	free(p);
}

/* Optional parts left out take their documented defaults. */
static void
test_defaults(void)
{
	static const char text[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<template name=\"minimal\">\n"
	    "  <purpose>device</purpose>\n"
	    "  <validity days=\"30\"/>\n"
	    "  <key-usage><usage>keyAgreement</usage>"
	    "<usage>dataEncipherment</usage></key-usage>\n"
	    "  <extended-key-usage><eku>serverAuth</eku>"
	    "<eku> 1.2.3.4 </eku></extended-key-usage>\n"
	    "  <key-algorithms><ec curve=\"P-521\"/></key-algorithms>\n"
	    "  <archival>optional</archival>\n"
	    "  <protocols><protocol>est</protocol></protocols>\n"
	    "  <subject>\n"
	    "    <rdn type=\"CN\" source=\"request\"/>\n"
	    "    <rdn type=\"O\" value=\"Lab &amp; Co\"/>\n"
	    "  </subject>\n"
	    "</template>\n";
	struct tpl *t = NULL;
	struct ca_err err;
	char *path = write_tmp("minimal.xml", text);
	int r;

	ca_err_clear(&err);
	r = tpl_load_file(path, &t, &err);
	TAP_INT_EQ(r, 0, "a minimal template loads: %s", oneline(&err));
	if (t != NULL) {
		TAP_OK(t->description == NULL, "minimal: no description");
		TAP_INT_EQ(t->key_usage_critical, 1,
		    "minimal: keyUsage critical by default");
		TAP_INT_EQ(t->key_usage, TPL_KU_KEY_AGREEMENT |
		    TPL_KU_DATA_ENCIPHERMENT, "minimal: usages");
		TAP_OK(t->neku == 2 && strcmp(t->eku[0], "1.3.6.1.5.5.7.3.1")
		    == 0 && strcmp(t->eku[1], "1.2.3.4") == 0,
		    "minimal: serverAuth and a dotted OID");
		TAP_OK(t->nalgs == 1 && t->algs[0].type == EVP_PKEY_EC &&
		    t->algs[0].curve_nid == NID_secp521r1, "minimal: P-521");
		TAP_INT_EQ(t->protocols, TPL_PROTO_EST, "minimal: est");
		check_rdn(t, 0, "CN", TPL_SRC_REQUEST, NULL, 0, 0);
		check_rdn(t, 1, "O", TPL_SRC_VALUE, "Lab & Co", 1, 0);
		TAP_OK(t->san_email == NULL, "minimal: no SAN");
		TAP_OK(t->max_active == 0 && t->on_limit == TPL_LIMIT_REFUSE,
		    "minimal: no limit, refuse");
		TAP_OK(!t->include_cdp && !t->include_aia,
		    "minimal: no CDP, no AIA");
	}
	tpl_free(t);
	unlink(path);
	free(path);
}

/* Expects tpl_load_file to fail on sig's text with old replaced by new. */
static void
bad_template(const char *file, const char *old, const char *new,
    const char *want, const char *what)
{
	struct tpl *t = NULL;
	struct ca_err err;
	char *body = NULL, *sig, *text, *path, *where;
	int r, line;

	sig = util_path(stock_dir, "smime-signature.xml");
	body = slurp(sig);
	text = replace(body, old, new);
	path = write_tmp(file, text);
	line = line_of(text, new);
	ca_err_clear(&err);
	r = tpl_load_file(path, &t, &err);
	TAP_INT_EQ(r, CA_ERR_CONFIG, "%s: refused", what);
	TAP_OK(t == NULL, "%s: no template returned", what);
	if (asprintf(&where, "%s:%d:", path, line) == -1)
		abort();
	TAP_OK(has(&err, where), "%s: the message has %s: %s", what, where,
	    oneline(&err));
	if (want != NULL)
		TAP_OK(has(&err, want), "%s: the message says %s", what, want);
	unlink(path);
	free(where);
	free(path);
	free(text);
	free(body);
	free(sig);
}

static void
test_bad(void)
{
	struct tpl *t = NULL;
	struct ca_err err;
	char *sig, *body, *text, *path, *big, *errfile, *spam;
	int r, saved;

	errfile = tmp_path("stderr.txt");
	saved = stderr_to(errfile);

	bad_template("unknown-element.xml", "  <validity",
	    "  <frobnicate/>\n  <validity", "frobnicate", "unknown element");
	bad_template("unknown-attr.xml", "<validity days=\"365\"/>",
	    "<validity days=\"365\" hours=\"3\"/>", "hours",
	    "unknown attribute");
	bad_template("bad-usage.xml", "<usage>nonRepudiation</usage>",
	    "<usage>frobUsage</usage>", NULL, "unknown key usage");
	bad_template("bad-days.xml", "<validity days=\"365\"/>",
	    "<validity days=\"0\"/>", NULL, "zero validity days");
	bad_template("small-rsa.xml", "min-bits=\"2048\"", "min-bits=\"1024\"",
	    NULL, "RSA below 2048 bits");
	bad_template("min-max.xml",
	    "<rsa min-bits=\"2048\" max-bits=\"4096\"/>",
	    "<rsa min-bits=\"4096\" max-bits=\"2048\"/>", "larger than",
	    "min-bits above max-bits");
	bad_template("bad-ref.xml", "value=\"{dir:cn}\"", "value=\"{dir:cn\"",
	    "{dir:ATTR}", "an unclosed {dir: reference");
	bad_template("malformed.xml", "</purpose>", "</porpose>", NULL,
	    "malformed XML");
	bad_template("bad-eku.xml", "<eku>emailProtection</eku>",
	    "<eku>frobProtection</eku>", NULL, "unknown EKU name");

	/* The schema error ends with what to do. */
	sig = util_path(stock_dir, "smime-signature.xml");
	body = slurp(sig);
	text = replace(body, "  <validity", "  <frobnicate/>\n  <validity");
	path = write_tmp("last-line.xml", text);
	ca_err_clear(&err);
	r = tpl_load_file(path, &t, &err);
	TAP_INT_EQ(r, CA_ERR_CONFIG, "unknown element: CA_ERR_CONFIG");
	TAP_INT_EQ(err.code, CA_ERR_CONFIG, "unknown element: err.code");
	TAP_OK(strstr(last_line(&err), "does not follow the template schema")
	    != NULL && strstr(last_line(&err), "smimeca-template(5)") != NULL,
	    "the last line says what to do: %s", last_line(&err));
	TAP_OK(err.count <= 3, "unknown element: at most 3 lines (%zu)",
	    err.count);
	unlink(path);
	free(path);
	free(text);

	/* No DOCTYPE, hence no entities. */
	text = replace(body, "<template", "<!DOCTYPE template [\n"
	    "<!ENTITY x SYSTEM \"file:///etc/passwd\">\n]>\n<template");
	path = write_tmp("doctype.xml", text);
	ca_err_clear(&err);
	r = tpl_load_file(path, &t, &err);
	TAP_INT_EQ(r, CA_ERR_CONFIG, "a template with a DOCTYPE is refused");
	TAP_OK(has(&err, "DOCTYPE"), "the message says DOCTYPE: %s",
	    oneline(&err));
	unlink(path);
	free(path);
	free(text);

	/* Past 1 MiB. */
	if ((big = malloc(1100 * 1024)) == NULL)
		abort();
	memset(big, ' ', 1100 * 1024 - 1);
	big[1100 * 1024 - 1] = '\0';
	text = replace(body, "</template>", big);
	path = write_tmp("big.xml", text);
	ca_err_clear(&err);
	r = tpl_load_file(path, &t, &err);
	TAP_OK(r != 0 && t == NULL, "a template over 1 MiB is refused: %s",
	    oneline(&err));
	unlink(path);
	free(path);
	free(text);
	free(big);

	ca_err_clear(&err);
	path = tmp_path("absent.xml");
	r = tpl_load_file(path, &t, &err);
	TAP_INT_EQ(r, CA_ERR_NOTFOUND, "a missing file: CA_ERR_NOTFOUND");
	TAP_OK(has(&err, path), "the message names the file: %s",
	    oneline(&err));
	free(path);
	free(body);
	free(sig);

	stderr_back(saved);
	spam = slurp(errfile);
	TAP_STR_EQ(spam, "", "nothing was printed on stderr");
	free(spam);
	unlink(errfile);
	free(errfile);
}

static void
test_regex(void)
{
	struct tpl *t = NULL;
	struct ca_err err;
	char *dev, *body, *text, *path, *where, msg[256];
	const char *re = "^([A-Za-z$";
	regex_t rx;
	int r, rc;

	dev = util_path(stock_dir, "device-auth.xml");
	body = slurp(dev);
	text = replace(body, "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", re);
	path = write_tmp("bad-regex.xml", text);
	ca_err_clear(&err);
	r = tpl_load_file(path, &t, &err);
	TAP_INT_EQ(r, CA_ERR_CONFIG, "a bad regex is CA_ERR_CONFIG");
	TAP_OK(t == NULL, "bad regex: no template returned");
	if (asprintf(&where, "%s:%d:", path, line_of(text, re)) == -1)
		abort();
	TAP_OK(has(&err, where), "bad regex: file:line %s: %s", where,
	    oneline(&err));
	TAP_OK(has(&err, "rdn") && has(&err, "CN") && has(&err, re),
	    "bad regex: the message names the rdn and the regex");
	rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
	TAP_OK(rc != 0, "regcomp refuses %s too", re);
	if (rc != 0) {
		regerror(rc, &rx, msg, sizeof(msg));
		TAP_OK(has(&err, msg), "bad regex: regcomp's message \"%s\"",
		    msg);
	} else
		regfree(&rx);
	unlink(path);
	free(where);
	free(path);
	free(text);
	free(body);
	free(dev);
}

static void
test_expand(void)
{
	struct account a = { "Alice Example", "alice@lab.example" };
	struct account none = { NULL, NULL };
	struct ca_err err;
	char *out = NULL;
	int r;

	ca_err_clear(&err);
	r = tpl_expand("{dir:cn}", lookup, &a, &out, &err);
	TAP_INT_EQ(r, 0, "expand {dir:cn}");
	TAP_STR_EQ(out, "Alice Example", "{dir:cn} is the account's cn");
	free(out);

	r = tpl_expand("CN={dir:cn}, <{dir:mail}>{dir:mail}", lookup, &a,
	    &out, &err);
	TAP_INT_EQ(r, 0, "expand several references");
	TAP_STR_EQ(out, "CN=Alice Example, <alice@lab.example>"
	    "alice@lab.example", "text and references mix");
	free(out);

	r = tpl_expand("Lab {x} {dir} dir:cn}", lookup, &a, &out, &err);
	TAP_INT_EQ(r, 0, "expand text without references");
	TAP_STR_EQ(out, "Lab {x} {dir} dir:cn}", "the text is kept as is");
	free(out);

	r = tpl_expand("", lookup, &a, &out, &err);
	TAP_OK(r == 0 && out != NULL && *out == '\0', "expand \"\"");
	free(out);

	ca_err_clear(&err);
	out = (char *)"sentinel";
	r = tpl_expand("{dir:mail}", lookup, &none, &out, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "a missing attribute is CA_ERR_POLICY");
	TAP_OK(out == NULL, "missing attribute: *outp is NULL");
	TAP_OK(has(&err, "mail"), "the message names the attribute: %s",
	    oneline(&err));

	ca_err_clear(&err);
	r = tpl_expand("x {dir:givenName} y", lookup, &a, &out, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "an unknown attribute is CA_ERR_POLICY");
	TAP_OK(has(&err, "givenName"), "the message names givenName");

	ca_err_clear(&err);
	r = tpl_expand("{dir:cn", lookup, &a, &out, &err);
	TAP_OK(r != 0 && out == NULL, "an unclosed reference fails");
}

static void
test_names(void)
{
	char buf[64], small[6];

	TAP_STR_EQ(tpl_purpose_name(TPL_PURPOSE_SMIME_ENCRYPTION),
	    "smime-encryption", "purpose name smime-encryption");
	TAP_STR_EQ(tpl_purpose_name(TPL_PURPOSE_DEVICE), "device",
	    "purpose name device");
	TAP_STR_EQ(tpl_purpose_name(TPL_PURPOSE_KRA), "kra",
	    "purpose name kra");
	TAP_STR_EQ(tpl_archival_name(TPL_ARCHIVAL_REQUIRED), "required",
	    "archival name required");
	TAP_STR_EQ(tpl_archival_name(TPL_ARCHIVAL_OPTIONAL), "optional",
	    "archival name optional");
	TAP_STR_EQ(tpl_archival_name(TPL_ARCHIVAL_FORBIDDEN), "forbidden",
	    "archival name forbidden");
	tpl_protocols_str(TPL_PROTO_CLI | TPL_PROTO_EST | TPL_PROTO_SCEP |
	    TPL_PROTO_CMC, buf, sizeof(buf));
	TAP_STR_EQ(buf, "cli,est,scep,cmc", "all protocols");
	tpl_protocols_str(TPL_PROTO_CMC | TPL_PROTO_CLI, buf, sizeof(buf));
	TAP_STR_EQ(buf, "cli,cmc", "cli and cmc");
	tpl_protocols_str(0, buf, sizeof(buf));
	TAP_STR_EQ(buf, "none", "no protocol");
	tpl_protocols_str(TPL_PROTO_CLI | TPL_PROTO_EST | TPL_PROTO_SCEP,
	    small, sizeof(small));
	TAP_OK(strlen(small) < sizeof(small), "a small buffer stays "
	    "terminated: \"%s\"", small);
}

static void
test_config(void)
{
	struct cfg_init ci;
	struct ca_config *cfg = NULL;
	struct ca_err err;
	struct stat st;
	xmlDocPtr doc = NULL;
	char *cadir, *conf, *text, *schema, *real, *rel, *want;
	int r;

	schema = cfg_schema_path("config.rng");
	if (asprintf(&want, "%s/config.rng", cfg_datadir()) == -1)
		abort();
	TAP_STR_EQ(schema, want, "cfg_schema_path is in cfg_datadir");
	free(want);

	cadir = tmp_path("ca");
	if (mkdir(cadir, 0700) == -1)
		abort();
	conf = util_path(cadir, CFG_FILE);
	memset(&ci, 0, sizeof(ci));
	ci.name = "Test CA <R&D>";
	ci.base_url = "https://ca.test:8443/pki/";
	ci.crl_days = 3;
	ci.escrow_n = 3;
	ci.escrow_m = 2;
	ca_err_clear(&err);
	r = cfg_write_default(conf, &ci, &err);
	TAP_INT_EQ(r, 0, "cfg_write_default: %s", oneline(&err));
	TAP_OK(stat(conf, &st) == 0 && (st.st_mode & 0777) == 0644,
	    "the configuration has mode 0644");
	ca_err_clear(&err);
	r = cfg_write_default(conf, &ci, &err);
	TAP_INT_EQ(r, CA_ERR_EXISTS, "cfg_write_default refuses to overwrite");

	text = slurp(conf);
	TAP_OK(strstr(text, "<!--") != NULL, "the file is commented");
	TAP_OK(strstr(text, "SMIMECA_PASSPHRASE") != NULL &&
	    strstr(text, "passphrase-file") != NULL,
	    "the comments explain the passphrase file and SMIMECA_PASSPHRASE");
	TAP_OK(strstr(text, "Test CA &lt;R&amp;D&gt;") != NULL,
	    "the CA name is escaped");
	free(text);

	ca_err_clear(&err);
	r = xml_load(conf, schema, &doc, &err);
	xmlFreeDoc(doc);
	TAP_INT_EQ(r, 0, "the written file validates against config.rng: %s",
	    oneline(&err));

	/* A path with "..": cfg_load makes it absolute. */
	if ((real = realpath(cadir, NULL)) == NULL)
		abort();
	if (asprintf(&rel, "%s/../ca", cadir) == -1)
		abort();
	ca_err_clear(&err);
	r = cfg_load(rel, &cfg, &err);
	TAP_INT_EQ(r, 0, "cfg_load reads it back: %s", oneline(&err));
	if (cfg != NULL) {
		TAP_STR_EQ(cfg->dir, real, "dir is the real path");
		if (asprintf(&want, "%s/%s", real, CFG_FILE) == -1)
			abort();
		TAP_STR_EQ(cfg->path, want, "path is DIR/smimeca.conf");
		free(want);
		TAP_STR_EQ(cfg->name, "Test CA <R&D>", "name");
		if (asprintf(&want, "%s/ca.crt", real) == -1)
			abort();
		TAP_STR_EQ(cfg->cert_file, want, "certificate is absolute");
		free(want);
		if (asprintf(&want, "%s/private/ca.key", real) == -1)
			abort();
		TAP_STR_EQ(cfg->key_file, want, "key is absolute");
		free(want);
		if (asprintf(&want, "%s/chain.pem", real) == -1)
			abort();
		TAP_STR_EQ(cfg->chain_file, want, "chain is absolute");
		free(want);
		if (asprintf(&want, "%s/smimeca.db", real) == -1)
			abort();
		TAP_STR_EQ(cfg->db_file, want, "database is absolute");
		free(want);
		if (asprintf(&want, "%s/templates", real) == -1)
			abort();
		TAP_STR_EQ(cfg->template_dir, want, "templates is absolute");
		free(want);
		TAP_OK(cfg->passphrase_file == NULL, "no passphrase file");
		TAP_STR_EQ(cfg->digest, "sha256", "digest sha256");
		TAP_INT_EQ(cfg->crl_days, 3, "crl validity-days");
		TAP_OK(cfg->ncdp == 1 && strcmp(cfg->cdp_urls[0],
		    "https://ca.test:8443/pki/crl/ca.crl") == 0,
		    "the CRL URL is made from the base URL");
		TAP_OK(cfg->naia_issuer == 1 && strcmp(cfg->aia_issuer_urls[0],
		    "https://ca.test:8443/pki/ca/ca.crt") == 0,
		    "the caIssuers URL is made from the base URL");
		TAP_OK(cfg->naia_ocsp == 1 && strcmp(cfg->aia_ocsp_urls[0],
		    "https://ca.test:8443/pki/ocsp") == 0,
		    "the OCSP URL is made from the base URL");
		TAP_INT_EQ(cfg->escrow_n, 3, "escrow kra-count");
		TAP_INT_EQ(cfg->escrow_m, 2, "escrow quorum");
		TAP_INT_EQ(cfg->xchg_days, 7, "exchange days default");
		TAP_INT_EQ(cfg->xchg_margin_hours, 24,
		    "exchange margin default");
		TAP_STR_EQ(cfg->xchg_key, "rsa:2048", "exchange key default");
	}
	cfg_free(cfg);
	cfg = NULL;
	unlink(conf);

	/* Defaults, and a passphrase file relative to the CA directory. */
	memset(&ci, 0, sizeof(ci));
	ci.name = "Lab CA";
	ci.passphrase_file = "secret/pass.txt";
	ca_err_clear(&err);
	r = cfg_write_default(conf, &ci, &err);
	TAP_INT_EQ(r, 0, "cfg_write_default with defaults: %s", oneline(&err));
	ca_err_clear(&err);
	r = cfg_load(cadir, &cfg, &err);
	TAP_INT_EQ(r, 0, "cfg_load: %s", oneline(&err));
	if (cfg != NULL) {
		if (asprintf(&want, "%s/secret/pass.txt", real) == -1)
			abort();
		TAP_STR_EQ(cfg->passphrase_file, want,
		    "the passphrase file is made absolute");
		free(want);
		TAP_INT_EQ(cfg->crl_days, 7, "crl validity-days default 7");
		TAP_OK(cfg->ncdp == 1 && strcmp(cfg->cdp_urls[0],
		    "http://127.0.0.1:8080/crl/ca.crl") == 0,
		    "default base URL http://127.0.0.1:8080");
		TAP_OK(cfg->escrow_n == 1 && cfg->escrow_m == 1,
		    "escrow 1 of 1 by default");
	}
	cfg_free(cfg);
	cfg = NULL;
	unlink(conf);

	ca_err_clear(&err);
	memset(&ci, 0, sizeof(ci));
	ci.name = "Lab CA";
	ci.base_url = "not a url";
	r = cfg_write_default(conf, &ci, &err);
	TAP_INT_EQ(r, CA_ERR_INVALID, "a base URL with spaces is refused");
	TAP_OK(stat(conf, &st) == -1, "and nothing is written");

	free(rel);
	free(real);
	free(conf);
	free(cadir);
	free(schema);
}

static void
test_config_bad(void)
{
	static const char full[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<smimeca-config version=\"1\">\n"
	    "  <ca name=\"X\">\n"
	    "    <certificate>/etc/x/ca.crt</certificate>\n"
	    "    <key> k.pem </key>\n"
	    "    <chain>c.pem</chain>\n"
	    "    <digest>sha384</digest>\n"
	    "  </ca>\n"
	    "  <database>db/x.db</database>\n"
	    "  <templates>t</templates>\n"
	    "  <crl validity-days=\"2\"/>\n"
	    "  <publication>\n"
	    "    <ocsp-url>http://o.test/ocsp</ocsp-url>\n"
	    "    <crl-url>http://a.test/a.crl</crl-url>\n"
	    "    <crl-url>ldap://l.test/cn=crl</crl-url>\n"
	    "  </publication>\n"
	    "  <exchange validity-days=\"14\" renew-margin-hours=\"48\""
	    " key=\"rsa:4096\"/>\n"
	    "</smimeca-config>\n";
	struct ca_config *cfg = NULL;
	struct ca_err err;
	char *cadir, *conf, *text, *where, *errfile, *spam, *real;
	int r, saved;

	cadir = tmp_path("ca2");
	if (mkdir(cadir, 0700) == -1)
		abort();
	real = realpath(cadir, NULL);
	conf = write_tmp("ca2/" CFG_FILE, full);
	ca_err_clear(&err);
	r = cfg_load(cadir, &cfg, &err);
	TAP_INT_EQ(r, 0, "a hand-written configuration loads: %s",
	    oneline(&err));
	if (cfg != NULL) {
		TAP_STR_EQ(cfg->cert_file, "/etc/x/ca.crt",
		    "an absolute path is kept");
		if (asprintf(&where, "%s/k.pem", real) == -1)
			abort();
		TAP_STR_EQ(cfg->key_file, where, "white space around a path "
		    "is dropped");
		free(where);
		TAP_STR_EQ(cfg->digest, "sha384", "digest sha384");
		TAP_OK(cfg->ncdp == 2 &&
		    strcmp(cfg->cdp_urls[1], "ldap://l.test/cn=crl") == 0,
		    "two CRL URLs in order");
		TAP_OK(cfg->naia_ocsp == 1 && cfg->naia_issuer == 0,
		    "one OCSP URL, no caIssuers");
		TAP_OK(cfg->xchg_days == 14 && cfg->xchg_margin_hours == 48 &&
		    strcmp(cfg->xchg_key, "rsa:4096") == 0, "<exchange>");
		TAP_OK(cfg->escrow_n == 1 && cfg->escrow_m == 1,
		    "no <escrow>: 1 of 1");
	}
	cfg_free(cfg);
	cfg = NULL;

	errfile = tmp_path("stderr2.txt");
	saved = stderr_to(errfile);

	text = replace(full, "  <database>db/x.db</database>\n", "");
	free(write_tmp("ca2/" CFG_FILE, text));
	ca_err_clear(&err);
	r = cfg_load(cadir, &cfg, &err);
	TAP_INT_EQ(r, CA_ERR_CONFIG, "no <database>: refused");
	TAP_OK(cfg == NULL, "no <database>: no configuration returned");
	TAP_OK(has(&err, CFG_FILE ":") && strstr(last_line(&err),
	    "smimeca.conf(5)") != NULL, "no <database>: file:line and what "
	    "to read: %s", oneline(&err));
	free(text);

	text = replace(full, "<digest>sha384", "<digest>md5");
	free(write_tmp("ca2/" CFG_FILE, text));
	ca_err_clear(&err);
	r = cfg_load(cadir, &cfg, &err);
	if (asprintf(&where, "%s:%d:", conf, line_of(text, "md5")) == -1)
		abort();
	TAP_INT_EQ(r, CA_ERR_CONFIG, "digest md5: refused");
	TAP_OK(has(&err, where), "digest md5: the message has %s: %s", where,
	    oneline(&err));
	free(where);
	free(text);

	text = replace(full, "<templates>", "<listener port=\"80\"/>\n"
	    "  <templates>");
	free(write_tmp("ca2/" CFG_FILE, text));
	ca_err_clear(&err);
	r = cfg_load(cadir, &cfg, &err);
	TAP_INT_EQ(r, CA_ERR_CONFIG, "an unknown element: refused");
	TAP_OK(has(&err, "listener"), "the message names it: %s",
	    oneline(&err));
	free(text);

	stderr_back(saved);
	spam = slurp(errfile);
	TAP_STR_EQ(spam, "", "nothing was printed on stderr");
	free(spam);
	unlink(errfile);
	free(errfile);

	unlink(conf);
	ca_err_clear(&err);
	r = cfg_load(cadir, &cfg, &err);
	TAP_INT_EQ(r, CA_ERR_NOTFOUND, "no smimeca.conf: CA_ERR_NOTFOUND");
	TAP_OK(has(&err, "init") && has(&err, cadir),
	    "the message names the directory and init: %s", oneline(&err));

	ca_err_clear(&err);
	free(conf);
	conf = tmp_path("no-such-dir");
	r = cfg_load(conf, &cfg, &err);
	TAP_INT_EQ(r, CA_ERR_NOTFOUND, "a missing directory: CA_ERR_NOTFOUND");
	TAP_OK(has(&err, "init") && has(&err, "no-such-dir"),
	    "the message names the directory and init: %s", oneline(&err));

	free(real);
	free(conf);
	free(cadir);
}

int
main(void)
{
	const char *d;

	/* make check sets SMIMECA_DATADIR; default to the source tree. */
	if ((d = getenv("SMIMECA_DATADIR")) == NULL || *d == '\0')
		setenv("SMIMECA_DATADIR", SRCDATADIR, 1);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	atexit(rm_tmpdir);
	if ((stock_dir = util_path(cfg_datadir(), "templates")) == NULL)
		abort();

	test_stock();
	test_load_by_name();
	test_defaults();
	test_bad();
	test_regex();
	test_expand();
	test_names();
	test_config();
	test_config_bad();

	free(stock_dir);
	return tap_done();
}
