/*
 * Unit tests for the bound SCEP challenges (ca/mdmchal.c) on a CA made
 * in a temporary directory: a good one passes once; a tampered, forged,
 * expired, used, or foreign-bound one is refused with its reason; the
 * CSR must carry exactly the bound subject and rfc822Name; garbage and
 * oversized input is refused without a crash.
 */
#include "ac-config.h"

#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/issue.h"
#include "ca/mdmchal.h"
#include "ca/template.h"
#include "ca/util.h"
#include "tests/unit/tap.h"

#define TPL	"smime-signature-device"
#define ALICE	"alice@lab.example"

static char tmpdir[] = "/tmp/test_mdmchal.XXXXXX";
static EVP_PKEY *key;

static void rm_tmpdir(void);
static X509_REQ *csr_make(const char *, const char *, const char *);
static int check(struct ca *, const char *, const char *, X509_REQ *,
    int64_t, int64_t *, struct ca_err *);
static int contains(const char *, const char *);
static int consume(struct ca *, int64_t, struct ca_err *);
static int hook_consume(void *, struct ca *, int64_t, X509 *,
    struct ca_err *);
static size_t certs_of(struct ca *, const char *);
static void test_hook(struct ca *, X509_REQ *);

static void
rm_tmpdir(void)
{
	tap_rmtree(tmpdir);
}

/*
 * A CSR with subject subj, and a subjectAltName of "email:a,email:b" or
 * "email:a,DNS:x" (OpenSSL's syntax; NULL: none), and san2 in a second
 * subjectAltName extension when not NULL.
 */
static X509_REQ *
csr_make(const char *subj, const char *san, const char *san2)
{
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *ext;
	X509_NAME *name = mdmchal_parse_subject(subj);
	X509_REQ *r = X509_REQ_new();
	const char *sans[2] = { san, san2 };
	int i;

	if (r == NULL || name == NULL || exts == NULL ||
	    !X509_REQ_set_subject_name(r, name) ||
	    !X509_REQ_set_pubkey(r, key)) {
		fprintf(stderr, "Bail out! making a CSR\n");
		exit(1);
	}
	for (i = 0; i < 2; i++) {
		if (sans[i] == NULL)
			continue;
		if ((ext = X509V3_EXT_conf_nid(NULL, NULL,
		    NID_subject_alt_name, sans[i])) == NULL ||
		    !sk_X509_EXTENSION_push(exts, ext)) {
			fprintf(stderr, "Bail out! SAN %s\n", sans[i]);
			exit(1);
		}
	}
	if (sk_X509_EXTENSION_num(exts) > 0 &&
	    !X509_REQ_add_extensions(r, exts)) {
		fprintf(stderr, "Bail out! adding extensions\n");
		exit(1);
	}
	if (X509_REQ_sign(r, key, EVP_sha256()) <= 0) {
		fprintf(stderr, "Bail out! signing a CSR\n");
		exit(1);
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	return r;
}

static int
check(struct ca *ca, const char *tpl, const char *chal, X509_REQ *csr,
    int64_t now, int64_t *idp, struct ca_err *err)
{
	ca_err_clear(err);
	return mdmchal_check(ca, tpl, chal, csr, now, idp, err);
}

static int
contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

/* As the SCEP server does: inside a transaction of its own. */
static int
consume(struct ca *ca, int64_t id, struct ca_err *err)
{
	struct db *db = ca_db(ca);
	int r;

	ca_err_clear(err);
	if ((r = db_begin(db, err)) != 0)
		return r;
	if ((r = mdmchal_consume(db, id, err)) != 0) {
		db_rollback(db);
		return r;
	}
	return db_commit(db, err);
}

/* The SCEP server's hook: the challenge goes with the certificate. */
static int
hook_consume(void *ctx, struct ca *ca, int64_t cert_id, X509 *cert,
    struct ca_err *err)
{
	(void)cert_id;
	(void)cert;
	return mdmchal_consume(ca_db(ca), *(int64_t *)ctx, err);
}

static size_t
certs_of(struct ca *ca, const char *mail)
{
	struct db_cert_filter f;
	struct db_cert **list = NULL;
	struct ca_err err;
	size_t n = 0;

	memset(&f, 0, sizeof(f));
	f.email = mail;
	ca_err_clear(&err);
	if (db_cert_list(ca_db(ca), &f, &list, &n, &err) != 0) {
		printf("Bail out! %s\n", err.msg);
		exit(1);
	}
	db_cert_free_list(list, n);
	return n;
}

/*
 * As the SCEP server uses it: check, then issue with mdmchal_consume in
 * iss_issue's hook. A second request that passed the check with the same
 * challenge (a race) fails in its transaction, and nothing of it is
 * stored.
 */
static void
test_hook(struct ca *ca, X509_REQ *csr)
{
	struct iss_account acct = { .id = "scep:" ALICE, .mail = ALICE,
	    .cn = "Alice", .owner = ALICE };
	struct mdmchal_req req = { .tpl = TPL, .email = ALICE, .ttl = 600 };
	struct iss_request ir;
	struct ca_err err;
	struct tpl *t = NULL;
	X509 *cert = NULL;
	char *chal = NULL;
	int64_t id = 0, id2 = 0, now = (int64_t)time(NULL);
	size_t before;
	int r;

	ca_err_clear(&err);
	if (ca_load_key(ca, &err) != 0 || tpl_load(ca_config(ca)->template_dir,
	    TPL, &t, &err) != 0 ||
	    mdmchal_issue(ca, &req, now, &chal, &id, &err) != 0) {
		printf("Bail out! %s\n", err.msg);
		exit(1);
	}
	memset(&ir, 0, sizeof(ir));
	ir.csr = csr;
	ir.tpl = t;
	ir.account = &acct;
	ir.protocol = TPL_PROTO_SCEP;
	ir.now = now;
	before = certs_of(ca, ALICE);
	TAP_INT_EQ(check(ca, TPL, chal, csr, now, &id2, &err), 0,
	    "hook: the first request passes the check: %s", err.msg);
	ca_err_clear(&err);
	r = iss_issue(ca, &ir, hook_consume, &id2, &cert, &err);
	TAP_INT_EQ(r, 0, "hook: issued with the challenge consumed: %s",
	    err.msg);
	X509_free(cert);
	cert = NULL;
	TAP_INT_EQ(certs_of(ca, ALICE), before + 1, "hook: one certificate");
	r = check(ca, TPL, chal, csr, now, &id, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "hook: afterwards the check refuses it");
	ca_err_clear(&err);
	r = iss_issue(ca, &ir, hook_consume, &id2, &cert, &err);
	TAP_INT_EQ(r, CA_ERR_EXISTS, "hook: a racing second request fails in "
	    "its transaction: %s", err.msg);
	TAP_OK(cert == NULL, "hook: it gets no certificate");
	TAP_INT_EQ(certs_of(ca, ALICE), before + 1, "hook: and nothing of it "
	    "is stored");
	X509_free(cert);
	tpl_free(t);
	free(chal);
}

int
main(void)
{
	struct ca_init_params p;
	struct ca_err err;
	struct ca *ca = NULL;
	struct mdmchal_req req;
	struct mdmchal_claims c, c2;
	unsigned char k[MDMCHAL_KEYLEN], other[MDMCHAL_KEYLEN];
	char *cadir, *chal = NULL, *chal2 = NULL, *forged = NULL, *path;
	char buf[1024], big[4096];
	X509_REQ *good, *bad;
	int64_t id = 0, id2 = 0, now = (int64_t)time(NULL);
	struct stat st;
	size_t i, n;
	int r, printable;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	atexit(rm_tmpdir);
	cadir = tap_path(tmpdir, "ca");
	ca_err_clear(&err);
	memset(&p, 0, sizeof(p));
	p.dir = cadir;
	p.name = "Challenge Test CA";
	p.key = CA_KEY_EC_P256;
	p.validity_days = 365;
	if (ca_init(&p, &err) != 0 ||
	    ca_open(cadir, NULL, 0, &ca, &err) != 0) {
		printf("Bail out! %s\n", err.msg);
		return 1;
	}
	if ((key = EVP_EC_gen("P-256")) == NULL) {
		printf("Bail out! EC key\n");
		return 1;
	}
	good = csr_make("/CN=" ALICE, "email:" ALICE, NULL);

	/* Before any challenge: no key, and nothing passes. */
	r = check(ca, TPL, "mdm1.AAAA.AAAA", good, now, &id, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "no challenge key yet: refused");
	TAP_OK(contains(err.msg, "has made none"), "it says the CA made "
	    "none: %s", err.msg);

	/* --- making one --- */
	memset(&req, 0, sizeof(req));
	req.tpl = TPL;
	req.email = ALICE;
	req.device = "Alice's iPhone";
	req.ttl = 3600;
	ca_err_clear(&err);
	r = mdmchal_issue(ca, &req, now, &chal, &id, &err);
	TAP_INT_EQ(r, 0, "a challenge for %s: %s", ALICE, err.msg);
	if (chal == NULL) {
		printf("Bail out! no challenge\n");
		return 1;
	}
	TAP_OK(strncmp(chal, "mdm1.", 5) == 0 && mdmchal_is_bound(chal),
	    "it starts with mdm1.: %s", chal);
	n = strlen(chal);
	TAP_OK(n <= MDMCHAL_MAX && n < 255, "it is %zu characters, well "
	    "under ub-challengePassword 255", n);
	printable = 1;
	for (i = 0; i < n; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
		    "wxyz0123456789 '()+,-./:=?", chal[i]) == NULL)
			printable = 0;
	TAP_OK(printable, "every character is a PrintableString one");
	path = tap_path(cadir, MDMCHAL_KEY_FILE);
	TAP_OK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "the challenge key is %s, mode 0600", MDMCHAL_KEY_FILE);
	ca_err_clear(&err);
	r = mdmchal_decode(chal, NULL, &c, &err);
	TAP_INT_EQ(r, 0, "it decodes: %s", err.msg);
	TAP_INT_EQ(c.id, id, "it names its id");
	TAP_STR_EQ(c.tpl, TPL, "it names the template");
	TAP_STR_EQ(c.email, ALICE, "it names the rfc822Name");
	TAP_STR_EQ(c.subject, "/CN=" ALICE, "it names the default subject");
	TAP_STR_EQ(c.device, "Alice's iPhone", "it names the device");
	TAP_INT_EQ(c.expires, now + 3600, "it expires after the TTL");

	/* --- good --- */
	r = check(ca, TPL, chal, good, now, &id2, &err);
	TAP_INT_EQ(r, 0, "the bound request passes: %s", err.msg);
	TAP_INT_EQ(id2, id, "check hands out the challenge's id");
	bad = csr_make("/CN=ALICE@Lab.Example", "email:ALICE@LAB.EXAMPLE",
	    NULL);
	r = check(ca, TPL, chal, bad, now, &id2, &err);
	TAP_INT_EQ(r, 0, "names differing in case only pass: %s", err.msg);
	X509_REQ_free(bad);
	r = check(ca, TPL, chal, good, now + 3599, &id2, &err);
	TAP_INT_EQ(r, 0, "a second before expiry it passes: %s", err.msg);

	/* --- expired --- */
	r = check(ca, TPL, chal, good, now + 3600, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "at its expiry it is refused");
	TAP_OK(contains(err.msg, "expired bound SCEP challenge"),
	    "the reason is expiry: %s", err.msg);
	TAP_INT_EQ(id2, 0, "a refusal hands out no id");

	/* --- other template --- */
	r = check(ca, "smime-signature", chal, good, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "another template is refused");
	TAP_OK(contains(err.msg, "bound to template " TPL ", not "
	    "smime-signature"), "the reason names both: %s", err.msg);

	/* --- other subject --- */
	bad = csr_make("/CN=bob@lab.example", "email:" ALICE, NULL);
	r = check(ca, TPL, chal, bad, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "another subject is refused");
	TAP_OK(contains(err.msg, "bound to subject CN=" ALICE "; the request "
	    "asks for CN=bob@lab.example"), "the reason names both: %s",
	    err.msg);
	X509_REQ_free(bad);
	bad = csr_make("/CN=" ALICE "/O=Lab", "email:" ALICE, NULL);
	r = check(ca, TPL, chal, bad, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "a subject with one more attribute is "
	    "refused");
	X509_REQ_free(bad);

	/* --- rfc822Names: exactly the bound one --- */
	bad = csr_make("/CN=" ALICE, "email:bob@lab.example", NULL);
	r = check(ca, TPL, chal, bad, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "a different rfc822Name is refused");
	TAP_OK(contains(err.msg, "asks for rfc822Name bob@lab.example; the "
	    "challenge authorizes only " ALICE), "the reason names both: %s",
	    err.msg);
	X509_REQ_free(bad);
	bad = csr_make("/CN=" ALICE, "email:" ALICE ",email:bob@lab.example",
	    NULL);
	r = check(ca, TPL, chal, bad, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "an extra rfc822Name is refused");
	TAP_OK(contains(err.msg, "bob@lab.example"), "the reason names the "
	    "extra one: %s", err.msg);
	X509_REQ_free(bad);
	bad = csr_make("/CN=" ALICE, "email:" ALICE ",email:" ALICE, NULL);
	r = check(ca, TPL, chal, bad, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "the bound rfc822Name twice is refused");
	TAP_OK(contains(err.msg, "asks for 2 rfc822Names"), "the reason: %s",
	    err.msg);
	X509_REQ_free(bad);
	bad = csr_make("/CN=" ALICE, "email:" ALICE ",DNS:evil.example",
	    NULL);
	r = check(ca, TPL, chal, bad, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "an extra DNS name is refused");
	TAP_OK(contains(err.msg, "other than an rfc822Name"), "the reason: %s",
	    err.msg);
	X509_REQ_free(bad);
	bad = csr_make("/CN=" ALICE, NULL, NULL);
	r = check(ca, TPL, chal, bad, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "no rfc822Name is refused");
	TAP_OK(contains(err.msg, "carries no rfc822Name"), "the reason: %s",
	    err.msg);
	X509_REQ_free(bad);
	bad = csr_make("/CN=" ALICE, "email:" ALICE, "email:" ALICE);
	r = check(ca, TPL, chal, bad, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "two subjectAltName extensions are "
	    "refused");
	X509_REQ_free(bad);
	bad = csr_make("/CN=bob@lab.example", "email:bob@lab.example", NULL);
	r = check(ca, "smime-signature", chal, bad, now, &id2, &err);
	TAP_INT_EQ(err.count, 3, "template, subject and rfc822Name reported "
	    "at once (%zu): %s", err.count, err.msg);
	X509_REQ_free(bad);

	/* --- tampered and forged --- */
	snprintf(buf, sizeof(buf), "%s", chal);
	buf[strlen(buf) - 4] = buf[strlen(buf) - 4] == 'A' ? 'B' : 'A';
	r = check(ca, TPL, buf, good, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "a changed MAC is refused");
	TAP_OK(contains(err.msg, "MAC does not verify"), "the reason: %s",
	    err.msg);
	TAP_INT_EQ(mdmchal_key(ca, 0, k, &err), 0, "the key reads back");
	c2 = c;
	c2.email = "bob@lab.example";
	c2.subject = "/CN=bob@lab.example";
	RAND_bytes(other, sizeof(other));
	ca_err_clear(&err);
	TAP_INT_EQ(mdmchal_encode(&c2, other, &forged, &err), 0, "a forgery "
	    "for bob under another key");
	bad = csr_make("/CN=bob@lab.example", "email:bob@lab.example", NULL);
	r = check(ca, TPL, forged, bad, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "the forgery is refused");
	TAP_OK(contains(err.msg, "MAC does not verify"), "the reason: %s",
	    err.msg);
	/* Alice's tag on bob's payload. */
	snprintf(buf, sizeof(buf), "%.*s%s", (int)(strchr(forged + 5, '.') -
	    forged), forged, strchr(chal + 5, '.'));
	r = check(ca, TPL, buf, bad, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "bob's payload under alice's tag is "
	    "refused");
	free(forged);
	forged = NULL;
	/* The CA's own key, but an id it never recorded. */
	c2.id = 999;
	ca_err_clear(&err);
	mdmchal_encode(&c2, k, &forged, &err);
	r = check(ca, TPL, forged, bad, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "an id the CA never recorded is refused");
	TAP_OK(contains(err.msg, "not in this CA's database"), "the reason: "
	    "%s", err.msg);
	free(forged);
	forged = NULL;
	X509_REQ_free(bad);
	/* MAC-valid payloads that are not well formed. */
	c2 = c;
	c2.email = "alice@lab.example\nx";
	ca_err_clear(&err);
	mdmchal_encode(&c2, k, &forged, &err);
	r = forged != NULL ? check(ca, TPL, forged, good, now, &id2, &err) : 0;
	TAP_INT_EQ(r, CA_ERR_POLICY, "a payload of seven fields is refused");
	free(forged);
	forged = NULL;
	c2 = c;
	c2.id = 0;
	ca_err_clear(&err);
	mdmchal_encode(&c2, k, &forged, &err);
	r = forged != NULL ? check(ca, TPL, forged, good, now, &id2, &err) : 0;
	TAP_INT_EQ(r, CA_ERR_POLICY, "id 0 is refused");
	free(forged);
	forged = NULL;

	/* --- garbage and oversized --- */
	{
		const char *junk[] = { "", "mdm1", "mdm1.", "mdm1..",
		    "mdm1.AAAA.", "mdm1..AAAA", "mdm1.AAAA.AAAA",
		    "mdm1.AAAA.AAAA.AAAA", "mdm1.A===.AAAA",
		    "mdm1.AA=A.AAAAAAAAAAAAAAAAAAAAAA==",
		    "mdm1.****.AAAAAAAAAAAAAAAAAAAAAA==",
		    "mdm1.AAAA.AAAAAAAAAAAAAAAAAAAAAA==",
		    "mdm2.AAAA.AAAA", "static-password", "mdm1.\xff\xfe.AA==",
		    NULL };

		for (i = 0; junk[i] != NULL; i++) {
			r = check(ca, TPL, junk[i], good, now, &id2, &err);
			TAP_INT_EQ(r, CA_ERR_POLICY, "garbage %zu refused: %s",
			    i, err.msg);
		}
	}
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "mdm1.", 5);
	big[2000] = '.';
	r = check(ca, TPL, big, good, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "an oversized challenge is refused");
	TAP_OK(contains(err.msg, "longer than"), "the reason: %s", err.msg);
	for (n = 0; n < strlen(chal); n++) {
		snprintf(buf, sizeof(buf), "%.*s", (int)n, chal);
		if (check(ca, TPL, buf, good, now, &id2, &err) != CA_ERR_POLICY)
			break;
	}
	TAP_INT_EQ(n, strlen(chal), "every truncation is refused");

	/* --- used --- */
	r = consume(ca, id, &err);
	TAP_INT_EQ(r, 0, "consumed in a transaction: %s", err.msg);
	r = check(ca, TPL, chal, good, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "used once, it is refused");
	TAP_OK(contains(err.msg, "used bound SCEP challenge"), "the reason is "
	    "use: %s", err.msg);
	r = consume(ca, id, &err);
	TAP_INT_EQ(r, CA_ERR_EXISTS, "a second consume fails (as a racing "
	    "request's transaction would)");
	r = consume(ca, 12345, &err);
	TAP_INT_EQ(r, CA_ERR_NOTFOUND, "consuming an unknown id fails");

	/* --- a second challenge, custom subject; the key stays --- */
	req.device = NULL;
	req.subject = "/CN=Alice Example/O=Lab";
	ca_err_clear(&err);
	TAP_INT_EQ(mdmchal_issue(ca, &req, now, &chal2, &id2, &err), 0,
	    "a challenge with a subject of its own: %s", err.msg);
	TAP_OK(id2 != id && chal2 != NULL, "its id differs (%lld)",
	    (long long)id2);
	bad = csr_make("/CN=Alice Example/O=Lab", "email:" ALICE, NULL);
	r = check(ca, TPL, chal2, bad, now, &id, &err);
	TAP_INT_EQ(r, 0, "its subject passes: %s", err.msg);
	X509_REQ_free(bad);
	r = check(ca, TPL, chal2, good, now, &id, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "the default subject does not");

	/* --- what cannot be made --- */
	req.subject = NULL;
	req.tpl = "smime-encryption";
	ca_err_clear(&err);
	free(chal2);
	chal2 = NULL;
	r = mdmchal_issue(ca, &req, now, &chal2, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_POLICY, "no challenge for a template SCEP does "
	    "not serve: %s", err.msg);
	req.tpl = TPL;
	req.email = "not-an-address";
	ca_err_clear(&err);
	TAP_INT_EQ(mdmchal_issue(ca, &req, now, &chal2, &id2, &err),
	    CA_ERR_INVALID, "no challenge for a malformed address");
	req.email = ALICE;
	memset(buf, 'x', 100);
	buf[100] = '\0';
	req.device = buf;
	ca_err_clear(&err);
	TAP_INT_EQ(mdmchal_issue(ca, &req, now, &chal2, &id2, &err),
	    CA_ERR_INVALID, "no challenge with a 100-character device name");
	/* A 60-character device name fits, but not with this subject. */
	memset(buf, 'x', 60);
	buf[60] = '\0';
	req.subject = "/CN=An Example With A Rather Long Common Name/O=A "
	    "Long Organisation Name For This Test/OU=And A Unit";
	ca_err_clear(&err);
	r = mdmchal_issue(ca, &req, now, &chal2, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_INVALID, "no challenge longer than %d "
	    "characters", MDMCHAL_MAX);
	TAP_OK(contains(err.msg, "more than the 200"), "the reason: %s",
	    err.msg);

	test_hook(ca, good);

	/* --- the key file is the CA's secret --- */
	chmod(path, 0644);
	r = check(ca, TPL, chal, good, now, &id2, &err);
	TAP_INT_EQ(r, CA_ERR_PERM, "a key others can read is not used");
	chmod(path, 0600);

	OPENSSL_cleanse(k, sizeof(k));
	free(path);
	free(chal);
	free(chal2);
	X509_REQ_free(good);
	EVP_PKEY_free(key);
	ca_close(ca);
	free(cadir);
	return tap_done();
}
