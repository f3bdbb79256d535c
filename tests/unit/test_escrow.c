/*
 * Unit tests for KRA checks, escrow envelopes and recovery (archive/kra.c,
 * archive/escrow.c, archive/recover.c) without a CA directory: a throwaway
 * CA and KRAs made here, stock openssl (and NSS pk12util when installed)
 * as the outside witnesses.
 */
#include "ac-config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "archive/escrow.h"
#include "archive/kra.h"
#include "archive/p12.h"
#include "archive/recover.h"
#include "archive/shamir.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/util.h"
#include "tests/unit/tap.h"

#define KRA_EKU		"1.3.6.1.4.1.311.21.6"
#define NKRA		3
#define DAY		86400L

static char tmpdir[] = "/tmp/test_escrow.XXXXXX";

/* The throwaway PKI. */
static EVP_PKEY *ca_key, *other_key, *kra_key[NKRA + 1], *alice_key,
    *bob_key;
static X509 *ca_cert, *other_cert, *kra_cert[NKRA + 1], *alice_cert,
    *bob_cert;

static char *tpath(const char *);
static void rm_tmpdir(void);
static int run(const char *, ...) __attribute__((format(printf, 1, 2)));
static char *run_out(const char *, ...)
    __attribute__((format(printf, 1, 2)));
static int write_file(const char *, const void *, size_t);
static unsigned char *read_all(const char *, size_t *);
static int add_ext(X509 *, X509 *, int, const char *);
static X509 *make_cert(const char *, EVP_PKEY *, X509 *, EVP_PKEY *,
    const char *, const char *, long, long);
static int has_msg(const struct ca_err *, const char *);
static int pkcs8(EVP_PKEY *, unsigned char **, size_t *);
static STACK_OF(X509) *kras(int, int, int);
static int make_blob(struct esc_record *, size_t, unsigned char **,
    size_t *);
static void setup(void);
static void teardown(void);
static void test_kra_check(void);
static void test_kra_db(void);
static void test_any_one(void);
static void test_blob_checks(void);
static void test_threshold(void);
static void test_share_binding(void);
static void test_share_json(void);
static void test_pkcs12(void);
static void test_password(void);

static char *
tpath(const char *name)
{
	return tap_path(tmpdir, name);
}

static void
rm_tmpdir(void)
{
	tap_rmtree(tmpdir);
}

/* Runs a shell command quietly; its exit status, or -1. */
static int
run(const char *fmt, ...)
{
	char cmd[2048], full[2100];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "(%s) >/dev/null 2>&1", cmd);
	st = system(full);
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* Runs a shell command; its stdout and stderr (malloc'd), NULL if it failed. */
static char *
run_out(const char *fmt, ...)
{
	char cmd[2048], full[2100], *buf = NULL;
	size_t len = 0, cap = 0;
	va_list ap;
	FILE *f;
	int c;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "(%s) 2>&1", cmd);
	if ((f = popen(full, "r")) == NULL)
		return NULL;
	while ((c = fgetc(f)) != EOF) {
		if (len + 1 >= cap) {
			cap = cap ? cap * 2 : 4096;
			if ((buf = realloc(buf, cap)) == NULL)
				exit(1);
		}
		buf[len++] = (char)c;
	}
	if (buf != NULL)
		buf[len] = '\0';
	if (pclose(f) != 0) {
		if (buf != NULL)
			printf("# %s:\n# %.500s\n", cmd, buf);
		free(buf);
		return NULL;
	}
	return buf != NULL ? buf : strdup("");
}

static int
write_file(const char *path, const void *buf, size_t len)
{
	FILE *f;
	int r = -1;

	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	if (fwrite(buf, 1, len, f) == len)
		r = 0;
	if (fclose(f) != 0)
		r = -1;
	return r;
}

static unsigned char *
read_all(const char *path, size_t *lenp)
{
	unsigned char *buf = NULL;
	struct ca_err err;

	ca_err_clear(&err);
	if (util_read_file(path, 1 << 20, &buf, lenp, &err) != 0)
		return NULL;
	return buf;
}

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* Self-signed (CA) when issuer is NULL; valid from now+nb to now+na. */
static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey,
    const char *ku, const char *eku, long nb, long na)
{
	static long serial = 0x1000;
	X509 *c;
	X509_NAME *n;

	if ((c = X509_new()) == NULL || (n = X509_NAME_new()) == NULL)
		exit(1);
	if (!ASN1_INTEGER_set(X509_get_serialNumber(c), serial++) ||
	    !X509_set_version(c, X509_VERSION_3) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_subject_name(c, n) ||
	    !X509_set_issuer_name(c, issuer != NULL ?
	    X509_get_subject_name(issuer) : n) ||
	    X509_gmtime_adj(X509_getm_notBefore(c), nb) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(c), na) == NULL ||
	    !X509_set_pubkey(c, key) ||
	    !add_ext(c, issuer != NULL ? issuer : c, NID_basic_constraints,
	    issuer != NULL ? "critical,CA:FALSE" : "critical,CA:TRUE") ||
	    !add_ext(c, issuer != NULL ? issuer : c,
	    NID_subject_key_identifier, "hash") ||
	    (ku != NULL && !add_ext(c, issuer, NID_key_usage, ku)) ||
	    (eku != NULL && !add_ext(c, issuer, NID_ext_key_usage, eku)) ||
	    X509_sign(c, ikey != NULL ? ikey : key, EVP_sha256()) <= 0) {
		ERR_print_errors_fp(stdout);
		exit(1);
	}
	X509_NAME_free(n);
	return c;
}

static int
has_msg(const struct ca_err *err, const char *s)
{
	if (strstr(err->msg, s) != NULL)
		return 1;
	printf("# message: %s\n# lacks: %s\n", err->msg, s);
	return 0;
}

static int
pkcs8(EVP_PKEY *key, unsigned char **derp, size_t *lenp)
{
	PKCS8_PRIV_KEY_INFO *p8;
	int len;

	*derp = NULL;
	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL)
		return -1;
	len = i2d_PKCS8_PRIV_KEY_INFO(p8, derp);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (len <= 0)
		return -1;
	*lenp = (size_t)len;
	return 0;
}

/* A stack of borrowed KRA certificates. */
static STACK_OF(X509) *
kras(int a, int b, int c)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	if (sk == NULL || !sk_X509_push(sk, kra_cert[a]) ||
	    (b >= 0 && !sk_X509_push(sk, kra_cert[b])) ||
	    (c >= 0 && !sk_X509_push(sk, kra_cert[c])))
		exit(1);
	return sk;
}

static int
make_blob(struct esc_record *recs, size_t n, unsigned char **derp,
    size_t *lenp)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct ca_err err;
	int r;

	ca_err_clear(&err);
	/* ca_chain() holds the issuing CA too: it must not appear twice. */
	if (chain == NULL || !sk_X509_push(chain, ca_cert))
		exit(1);
	r = rcv_blob_sign(ca_cert, ca_key, chain, recs, n, derp, lenp, &err);
	if (r != 0)
		printf("# %s\n", err.msg);
	sk_X509_free(chain);
	return r;
}

static void
setup(void)
{
	char cn[32];
	int i;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	if ((ca_key = EVP_EC_gen("P-256")) == NULL ||
	    (other_key = EVP_EC_gen("P-256")) == NULL ||
	    (alice_key = EVP_RSA_gen(2048)) == NULL ||
	    (bob_key = EVP_EC_gen("P-256")) == NULL)
		exit(1);
	ca_cert = make_cert("Test Issuing CA", ca_key, NULL, NULL,
	    "critical,digitalSignature,keyCertSign,cRLSign", NULL, -DAY,
	    3650 * DAY);
	other_cert = make_cert("Other CA", other_key, NULL, NULL,
	    "critical,digitalSignature,keyCertSign,cRLSign", NULL, -DAY,
	    3650 * DAY);
	for (i = 0; i <= NKRA; i++) {
		if ((kra_key[i] = EVP_RSA_gen(2048)) == NULL)
			exit(1);
		snprintf(cn, sizeof(cn), "Recovery Officer %d", i + 1);
		kra_cert[i] = make_cert(cn, kra_key[i], ca_cert, ca_key,
		    "critical,keyEncipherment", KRA_EKU, -DAY, 365 * DAY);
	}
	alice_cert = make_cert("Alice", alice_key, ca_cert, ca_key,
	    "critical,keyEncipherment", "emailProtection", -DAY, 365 * DAY);
	bob_cert = make_cert("Bob", bob_key, ca_cert, ca_key,
	    "critical,keyAgreement", "emailProtection", -DAY, 365 * DAY);
}

static void
teardown(void)
{
	int i;

	for (i = 0; i <= NKRA; i++) {
		EVP_PKEY_free(kra_key[i]);
		X509_free(kra_cert[i]);
	}
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(alice_key);
	EVP_PKEY_free(bob_key);
	X509_free(ca_cert);
	X509_free(other_cert);
	X509_free(alice_cert);
	X509_free(bob_cert);
	rm_tmpdir();
}

static void
test_kra_check(void)
{
	struct ca_err err;
	EVP_PKEY *ec;
	X509 *c;
	int64_t now = (int64_t)time(NULL);

	ca_err_clear(&err);
	TAP_INT_EQ(kra_check_cert(kra_cert[0], now, &err), 0,
	    "a KRA certificate passes");
	ca_err_clear(&err);
	TAP_INT_EQ(kra_check_cert(alice_cert, now, &err), CA_ERR_POLICY,
	    "a mail certificate is no KRA");
	TAP_OK(has_msg(&err, "CN=Alice: no Key Recovery Agent EKU "
	    "(1.3.6.1.4.1.311.21.6); issue it from the kra template"),
	    "the error names the certificate, the EKU and the fix");

	c = make_cert("No KE", kra_key[0], ca_cert, ca_key,
	    "critical,digitalSignature", KRA_EKU, -DAY, DAY);
	ca_err_clear(&err);
	TAP_INT_EQ(kra_check_cert(c, now, &err), CA_ERR_POLICY,
	    "a KRA without keyEncipherment is refused");
	TAP_OK(has_msg(&err, "keyEncipherment"), "the error says why");
	X509_free(c);

	c = make_cert("No KU", kra_key[0], ca_cert, ca_key, NULL, KRA_EKU,
	    -DAY, DAY);
	ca_err_clear(&err);
	TAP_INT_EQ(kra_check_cert(c, now, &err), 0,
	    "without a keyUsage extension any usage is allowed");
	X509_free(c);

	if ((ec = EVP_EC_gen("P-256")) == NULL)
		exit(1);
	c = make_cert("EC KRA", ec, ca_cert, ca_key, "critical,keyAgreement",
	    KRA_EKU, -DAY, DAY);
	ca_err_clear(&err);
	TAP_INT_EQ(kra_check_cert(c, now, &err), CA_ERR_POLICY,
	    "a KRA with an EC key is refused");
	TAP_OK(has_msg(&err, "needs an RSA key"), "the error says RSA");
	TAP_OK(has_msg(&err, "keyEncipherment"),
	    "and every other rule it breaks");
	X509_free(c);
	EVP_PKEY_free(ec);

	ca_err_clear(&err);
	TAP_INT_EQ(kra_check_cert(kra_cert[0], now + 400 * DAY, &err),
	    CA_ERR_POLICY, "an expired KRA is refused");
	TAP_OK(has_msg(&err, "has expired"), "the error says expired");
	ca_err_clear(&err);
	TAP_INT_EQ(kra_check_cert(kra_cert[0], now - 2 * DAY, &err),
	    CA_ERR_POLICY, "a KRA not valid yet is refused");
	TAP_OK(has_msg(&err, "not valid yet"), "the error says not yet");
}

static void
test_kra_db(void)
{
	struct ca_err err;
	struct db *db = NULL;
	struct kra **list = NULL;
	STACK_OF(X509) *sk = NULL;
	struct db_kra row;
	unsigned char *der;
	char sha1[41], *path = tpath("kra.db");
	int64_t now = (int64_t)time(NULL);
	size_t n = 0;
	int i, len, ok = 1;

	ca_err_clear(&err);
	if (db_open(path, 1, &db, &err) != 0) {
		TAP_OK(0, "database: %s", err.msg);
		free(path);
		return;
	}
	/* Rows as kra_add writes them: 1 usable, 2 retired, 3 usable. */
	for (i = 0; i < NKRA && ok; i++) {
		der = NULL;
		len = i2d_X509(kra_cert[i], &der);
		memset(&row, 0, sizeof(row));
		util_sha1_hex(der, (size_t)len, row.sha1);
		util_sha256_hex(der, (size_t)len, row.sha256);
		row.subject = "CN=x";
		row.der = der;
		row.derlen = (size_t)len;
		row.not_after = now + 365 * DAY;
		row.added = now;
		ok = db_kra_add(db, &row, &err) == 0 && (i != 1 ||
		    db_kra_retire(db, row.sha1, now, sha1, &err) == 0);
		OPENSSL_free(der);
	}
	TAP_OK(ok, "three KRA rows stored");
	TAP_INT_EQ(kra_list(db, &list, &n, &err), 0, "kra_list");
	TAP_INT_EQ(n, 3, "kra_list lists every KRA");
	TAP_OK(n == 3 && list[1]->retired && !list[0]->retired &&
	    X509_cmp(list[2]->cert, kra_cert[2]) == 0 &&
	    strlen(list[0]->sha256) == 64,
	    "kra_list: order, retired flag, certificate, fingerprints");
	kra_free_list(list, n);
	TAP_INT_EQ(kra_usable(db, now, &sk, &err), 0, "kra_usable");
	TAP_INT_EQ(sk_X509_num(sk), 2, "a retired KRA is not usable");
	TAP_OK(sk_X509_num(sk) == 2 &&
	    X509_cmp(sk_X509_value(sk, 0), kra_cert[0]) == 0 &&
	    X509_cmp(sk_X509_value(sk, 1), kra_cert[2]) == 0,
	    "usable KRAs in registration order");
	sk_X509_pop_free(sk, X509_free);
	sk = NULL;
	TAP_INT_EQ(kra_usable(db, now + 400 * DAY, &sk, &err), 0,
	    "kra_usable later");
	TAP_INT_EQ(sk_X509_num(sk), 0, "expired KRAs are not usable");
	sk_X509_pop_free(sk, X509_free);
	db_close(db);
	free(path);
}

static void
test_any_one(void)
{
	struct esc_record rec;
	struct ca_err err;
	struct rcv_blob *b = NULL;
	STACK_OF(X509) *sk = kras(0, 1, 2);
	STACK_OF(CMS_RecipientInfo) *ris;
	CMS_ContentInfo *cms;
	struct shamir_share sh;
	X509_ALGOR *alg;
	EVP_PKEY *key = NULL;
	unsigned char *der = NULL, *p8 = NULL, *got;
	const unsigned char *p;
	char *path, *krap, *keyp, *outp, *out;
	size_t len = 0, p8len = 0, glen = 0;
	FILE *f;
	int i, oaep = 1;

	memset(&rec, 0, sizeof(rec));
	ca_err_clear(&err);
	X509_up_ref(alice_cert);
	rec.cert = alice_cert;
	TAP_INT_EQ(esc_seal(alice_key, sk, 1, &rec, &err), 0,
	    "any one of 3: sealed");
	TAP_OK(rec.env != NULL && rec.nshares == 0 && rec.quorum == 1 &&
	    rec.kras != NULL && strlen(rec.kras) == 3 * 40 + 2,
	    "one envelope, no shares, three KRA SHA-1s");

	/* RSA-OAEP for every recipient. */
	p = rec.env;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)rec.envlen);
	ris = cms != NULL ? CMS_get0_RecipientInfos(cms) : NULL;
	TAP_INT_EQ(sk_CMS_RecipientInfo_num(ris), 3,
	    "an EnvelopedData with three recipients");
	for (i = 0; i < sk_CMS_RecipientInfo_num(ris); i++)
		if (CMS_RecipientInfo_ktri_get0_algs(
		    sk_CMS_RecipientInfo_value(ris, i), NULL, NULL, &alg) !=
		    1 || OBJ_obj2nid(alg->algorithm) != NID_rsaesOaep)
			oaep = 0;
	TAP_OK(oaep, "each recipient uses RSAES-OAEP");
	CMS_ContentInfo_free(cms);

	TAP_INT_EQ(make_blob(&rec, 1, &der, &len), 0, "blob signed");
	TAP_INT_EQ(rcv_blob_parse(der, len, ca_cert, &b, &err), 0,
	    "blob verifies against the CA");
	TAP_OK(b != NULL && rcv_blob_count(b) == 1 &&
	    rcv_blob_quorum(b, 0) == 1 &&
	    X509_cmp(rcv_blob_cert(b, 0), alice_cert) == 0 &&
	    sk_X509_num(rcv_blob_chain(b)) == 1,
	    "one record: certificate, quorum 1, chain of 1");
	for (i = 0; b != NULL && i < NKRA; i++) {
		ca_err_clear(&err);
		TAP_INT_EQ(rcv_open_key(b, 0, kra_key[i], kra_cert[i], &key,
		    &err), 0, "KRA %d opens the key", i + 1);
		TAP_OK(key != NULL && EVP_PKEY_eq(key, alice_key) == 1,
		    "KRA %d recovers alice's key", i + 1);
		EVP_PKEY_free(key);
		key = NULL;
	}
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_open_key(b, 0, kra_key[NKRA], kra_cert[NKRA], &key,
	    &err), CA_ERR_AUTH, "a KRA not wrapped to is refused");
	TAP_OK(has_msg(&err, "this KRA key is not a recipient of record 1 "
	    "(certificate ") && has_msg(&err, "it was wrapped to: serial "),
	    "the error names the record and the recipients");
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_open_key(b, 0, kra_key[0], kra_cert[1], &key, &err),
	    CA_ERR_AUTH, "a KRA key with another KRA's certificate");
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_open_share(b, 0, kra_key[0], kra_cert[0], &sh, &err),
	    CA_ERR_POLICY, "no shares in an any-one record");
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_open_key(b, 1, kra_key[0], kra_cert[0], &key, &err),
	    CA_ERR_INVALID, "no record 2");
	rcv_blob_free(b);

	/* Stock openssl opens it without our code. */
	path = tpath("env.der");
	krap = tpath("kra2.crt");
	keyp = tpath("kra2.key");
	outp = tpath("p8.der");
	TAP_OK(write_file(path, rec.env, rec.envlen) == 0, "envelope written");
	if ((f = fopen(krap, "w")) != NULL) {
		PEM_write_X509(f, kra_cert[1]);
		fclose(f);
	}
	if ((f = fopen(keyp, "w")) != NULL) {
		PEM_write_PrivateKey(f, kra_key[1], NULL, NULL, 0, NULL, NULL);
		fclose(f);
	}
	TAP_INT_EQ(run("openssl cms -decrypt -inform DER -in %s -recip %s "
	    "-inkey %s -binary -out %s", path, krap, keyp, outp), 0,
	    "openssl cms -decrypt with KRA 2");
	got = read_all(outp, &glen);
	TAP_OK(pkcs8(alice_key, &p8, &p8len) == 0 && got != NULL &&
	    glen == p8len && memcmp(got, p8, p8len) == 0,
	    "openssl gives alice's PKCS#8 DER");
	out = run_out("openssl cms -cmsout -print -inform DER -in %s", path);
	TAP_OK(out != NULL && strstr(out, "aes-256-cbc") != NULL &&
	    strstr(out, "rsaesOaep") != NULL && strstr(out, "sha256") != NULL,
	    "openssl sees AES-256-CBC and RSAES-OAEP with SHA-256");
	free(out);
	TAP_OK(memmem(rec.env, rec.envlen, p8, p8len) == NULL,
	    "the envelope does not hold the key in the clear");
	unlink(outp);
	unlink(keyp);
	free(got);
	OPENSSL_clear_free(p8, p8len);
	free(path);
	free(krap);
	free(keyp);
	free(outp);
	OPENSSL_free(der);
	esc_record_clear(&rec);
	sk_X509_free(sk);
}

static void
test_blob_checks(void)
{
	struct esc_record rec;
	struct ca_err err;
	struct rcv_blob *b = NULL;
	STACK_OF(X509) *sk = kras(0, -1, -1);
	unsigned char *der = NULL, junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	size_t len = 0;

	memset(&rec, 0, sizeof(rec));
	ca_err_clear(&err);
	X509_up_ref(alice_cert);
	rec.cert = alice_cert;
	if (esc_seal(alice_key, sk, 1, &rec, &err) != 0 ||
	    make_blob(&rec, 1, &der, &len) != 0)
		exit(1);
	TAP_INT_EQ(rcv_blob_parse(der, len, NULL, &b, &err), CA_ERR_INVALID,
	    "without a CA certificate a blob is refused");
	TAP_OK(b == NULL && has_msg(&err, "--ca-cert"),
	    "the error asks for --ca-cert");
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_blob_parse(der, len, other_cert, &b, &err),
	    CA_ERR_AUTH, "another CA's certificate does not verify it");
	TAP_OK(b == NULL && has_msg(&err, "recovery blob"),
	    "the error names the recovery blob");
	/* A byte of the record (inside the signed content) changed. */
	der[len / 2] ^= 0x01;
	ca_err_clear(&err);
	TAP_OK(rcv_blob_parse(der, len, ca_cert, &b, &err) != 0 && b == NULL,
	    "a changed blob is refused");
	der[len / 2] ^= 0x01;
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_blob_parse(der, len - 1, ca_cert, &b, &err),
	    CA_ERR_INVALID, "a truncated blob is refused");
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_blob_parse(junk, sizeof(junk), ca_cert, &b, &err),
	    CA_ERR_INVALID, "junk is refused");
	TAP_OK(has_msg(&err, "smimeca recover blob"), "the error says how "
	    "to get a good one");
	OPENSSL_free(der);
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_blob_sign(ca_cert, ca_key, NULL, &rec, 0, &der, &len,
	    &err), CA_ERR_INVALID, "a blob needs a record");

	/* Alice's certificate chains to the CA: she still may not sign. */
	ca_err_clear(&err);
	TAP_OK(rcv_blob_sign(alice_cert, alice_key, NULL, &rec, 1, &der, &len,
	    &err) == 0, "a blob signed by alice");
	TAP_INT_EQ(rcv_blob_parse(der, len, ca_cert, &b, &err), CA_ERR_AUTH,
	    "a blob signed by a certificate of the CA's is refused");
	TAP_OK(b == NULL && has_msg(&err, "signed by CN=Alice") &&
	    has_msg(&err, "not by the CA"), "the error names alice");
	OPENSSL_free(der);
	der = NULL;

	/* The CA signs a record whose certificate another CA issued. */
	esc_record_clear(&rec);
	ca_err_clear(&err);
	X509_up_ref(other_cert);
	rec.cert = other_cert;
	if (esc_seal(other_key, sk, 1, &rec, &err) != 0 ||
	    make_blob(&rec, 1, &der, &len) != 0)
		exit(1);
	TAP_INT_EQ(rcv_blob_parse(der, len, ca_cert, &b, &err), CA_ERR_AUTH,
	    "a record whose certificate the CA did not issue is refused");
	TAP_OK(b == NULL && has_msg(&err, "record 1: certificate CN=Other CA")
	    && has_msg(&err, "was not issued by the CA"),
	    "the error names the record's certificate");
	OPENSSL_free(der);
	esc_record_clear(&rec);
	sk_X509_free(sk);
}

/* A share sealed for bob's record does not open as alice's. */
static void
test_share_binding(void)
{
	struct esc_record rec;
	struct ca_err err;
	struct rcv_blob *b = NULL;
	struct shamir_share sh;
	STACK_OF(X509) *sk = kras(0, 1, 2);
	unsigned char *der = NULL;
	size_t len = 0;

	memset(&rec, 0, sizeof(rec));
	memset(&sh, 0, sizeof(sh));
	ca_err_clear(&err);
	X509_up_ref(bob_cert);
	rec.cert = bob_cert;
	if (esc_seal(bob_key, sk, 2, &rec, &err) != 0)
		exit(1);
	X509_free(rec.cert);
	X509_up_ref(alice_cert);
	rec.cert = alice_cert;		/* the CA key moves bob's shares */
	if (make_blob(&rec, 1, &der, &len) != 0 ||
	    rcv_blob_parse(der, len, ca_cert, &b, &err) != 0) {
		TAP_OK(0, "a blob with bob's shares under alice: %s", err.msg);
		goto out;
	}
	TAP_INT_EQ(rcv_open_share(b, 0, kra_key[0], kra_cert[0], &sh, &err),
	    CA_ERR_AUTH, "a share moved to another record does not open");
	TAP_OK(sh.y == NULL && has_msg(&err, "sealed for another certificate"),
	    "the error says the share is another certificate's");
 out:
	shamir_share_clear(&sh);
	rcv_blob_free(b);
	OPENSSL_free(der);
	esc_record_clear(&rec);
	sk_X509_free(sk);
}

static void
test_threshold(void)
{
	struct esc_record rec[2];
	struct ca_err err;
	struct rcv_blob *b = NULL;
	struct shamir_share sh[NKRA], two[2], other;
	STACK_OF(X509) *sk1 = kras(0, 1, 2), *sk2 = kras(0, 1, 2);
	EVP_PKEY *key = NULL;
	unsigned char *der = NULL, *p8 = NULL;
	size_t len = 0, p8len = 0;
	int i, j;

	memset(rec, 0, sizeof(rec));
	memset(sh, 0, sizeof(sh));
	ca_err_clear(&err);
	X509_up_ref(alice_cert);
	rec[0].cert = alice_cert;
	X509_up_ref(bob_cert);
	rec[1].cert = bob_cert;
	TAP_INT_EQ(esc_seal(alice_key, sk1, 1, &rec[0], &err), 0,
	    "record 1: any one of 3");
	TAP_INT_EQ(esc_seal(bob_key, sk2, 2, &rec[1], &err), 0,
	    "record 2: 2 of 3 (EC key)");
	TAP_OK(rec[1].nshares == 3 && rec[1].shares[0].x == 1 &&
	    rec[1].shares[2].x == 3 && strlen(rec[1].shares[1].kra_sha256) ==
	    64, "three shares, x = 1..3, each named by its KRA");
	TAP_OK(pkcs8(bob_key, &p8, &p8len) == 0 &&
	    memmem(rec[1].env, rec[1].envlen, p8, p8len) == NULL,
	    "the EncryptedData does not hold the key in the clear");
	OPENSSL_clear_free(p8, p8len);
	ca_err_clear(&err);
	TAP_INT_EQ(esc_seal(bob_key, sk2, 4, &rec[1], &err) == 0 ? 0 :
	    err.code, CA_ERR_INVALID, "quorum 4 of 3 is refused");

	/* esc_seal refused: rec[1] was emptied, seal again. */
	ca_err_clear(&err);
	if (esc_seal(bob_key, sk2, 2, &rec[1], &err) != 0 ||
	    make_blob(rec, 2, &der, &len) != 0 ||
	    rcv_blob_parse(der, len, ca_cert, &b, &err) != 0) {
		TAP_OK(0, "2-record blob: %s", err.msg);
		goto out;
	}
	TAP_OK(rcv_blob_count(b) == 2 && rcv_blob_quorum(b, 0) == 1 &&
	    rcv_blob_quorum(b, 1) == 2, "blob with both records");
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_open_key(b, 1, kra_key[0], kra_cert[0], &key, &err),
	    CA_ERR_POLICY, "a 2-of-3 record does not open with one key");
	TAP_OK(has_msg(&err, "needs 2 recovery officers"), "and says so");
	for (i = 0; i < NKRA; i++) {
		ca_err_clear(&err);
		TAP_INT_EQ(rcv_open_share(b, 1, kra_key[i], kra_cert[i], &sh[i],
		    &err), 0, "KRA %d opens its share", i + 1);
		TAP_OK(sh[i].x == i + 1 && sh[i].len == 32 && sh[i].y != NULL,
		    "share %d: x = %d, 32 bytes", i + 1, i + 1);
	}
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_open_share(b, 1, kra_key[NKRA], kra_cert[NKRA],
	    &other, &err), CA_ERR_AUTH, "a fourth KRA holds no share");
	TAP_OK(has_msg(&err, "holds no share of record 2"), "and says so");
	for (i = 0; i < NKRA; i++)
		for (j = i + 1; j < NKRA; j++) {
			two[0] = sh[i];
			two[1] = sh[j];
			ca_err_clear(&err);
			TAP_INT_EQ(rcv_combine(b, 1, two, 2, &key, &err), 0,
			    "shares %d and %d combine", i + 1, j + 1);
			TAP_OK(key != NULL && EVP_PKEY_eq(key, bob_key) == 1,
			    "shares %d and %d rebuild bob's key", i + 1, j + 1);
			EVP_PKEY_free(key);
			key = NULL;
		}
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_combine(b, 1, sh, 3, &key, &err), 0,
	    "all three shares combine");
	EVP_PKEY_free(key);
	key = NULL;
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_combine(b, 1, sh, 1, &key, &err), CA_ERR_POLICY,
	    "one share is not enough");
	TAP_OK(has_msg(&err, "record 2 (certificate ") &&
	    has_msg(&err, "needs 2 shares, got 1"), "and the error says so");
	two[0] = sh[0];
	two[1] = sh[0];
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_combine(b, 1, two, 2, &key, &err), CA_ERR_POLICY,
	    "the same share twice counts once");
	/* A corrupted share rebuilds a wrong K: refused, no garbage key. */
	sh[1].y[5] ^= 0x40;
	two[0] = sh[0];
	two[1] = sh[1];
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_combine(b, 1, two, 2, &key, &err), CA_ERR_AUTH,
	    "a corrupted share is detected");
	TAP_OK(key == NULL && has_msg(&err, "do not rebuild"),
	    "no key comes out of it");
	sh[1].y[5] ^= 0x40;
	two[0] = sh[0];
	two[1] = sh[0];
	two[1].x = 9;
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_combine(b, 1, two, 2, &key, &err), CA_ERR_INVALID,
	    "a share x that the record does not have is refused");
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_combine(b, 0, sh, 2, &key, &err), CA_ERR_POLICY,
	    "an any-one record has nothing to combine");
 out:
	for (i = 0; i < NKRA; i++)
		shamir_share_clear(&sh[i]);
	rcv_blob_free(b);
	OPENSSL_free(der);
	esc_record_clear(&rec[0]);
	esc_record_clear(&rec[1]);
	sk_X509_free(sk1);
	sk_X509_free(sk2);
}

static void
test_share_json(void)
{
	struct esc_record rec[2];
	struct ca_err err;
	struct rcv_blob *b = NULL;
	struct shamir_share sh[2], *dec = NULL;
	STACK_OF(X509) *sk = kras(0, 1, 2);
	unsigned char *der = NULL, *cder = NULL;
	char *json = NULL, *json2 = NULL, bad[1024], csha[65], asha[65];
	char y[65], zero[65];
	size_t idx[2] = { 1, 1 }, *didx = NULL, len = 0, n = 0, i;
	int clen;
	/* NULL: the right value; cert "A" means alice's (any-one) record. */
	const struct {
		const char *cert, *x, *y, *what;
	} cases[] = {
		{ zero, "1", NULL, "an unknown certificate" },
		{ "A", "1", NULL, "a certificate escrowed any-one-of-n" },
		{ "xyz", "1", NULL, "a malformed cert_sha256" },
		{ NULL, "1", "zz", "bad hex in y" },
		{ NULL, "1", "0011", "a short y" },
		{ NULL, "4", NULL, "x beyond the shares" },
		{ NULL, "0", NULL, "x = 0" },
		{ NULL, "256", NULL, "x = 256" },
		{ NULL, "\"1\"", NULL, "x as a string" },
	};
	static const struct {
		const char *json, *what;
	} raw[] = {
		{ "{\"version\":1,\"shares\":[]}", "no shares" },
		{ "{\"version\":2,\"shares\":[{}]}", "version 2" },
		{ "{\"shares\":[{}]}", "no version" },
		{ "[1", "not JSON" },
		{ "{\"version\":1,\"version\":1,\"shares\":[{}]}",
		    "a duplicate key" },
	};

	memset(rec, 0, sizeof(rec));
	memset(sh, 0, sizeof(sh));
	memset(zero, '0', 64);
	zero[64] = '\0';
	ca_err_clear(&err);
	X509_up_ref(alice_cert);
	rec[0].cert = alice_cert;
	X509_up_ref(bob_cert);
	rec[1].cert = bob_cert;
	if (esc_seal(alice_key, sk, 1, &rec[0], &err) != 0 ||
	    esc_seal(bob_key, sk, 2, &rec[1], &err) != 0 ||
	    make_blob(rec, 2, &der, &len) != 0 ||
	    rcv_blob_parse(der, len, ca_cert, &b, &err) != 0 ||
	    rcv_open_share(b, 1, kra_key[0], kra_cert[0], &sh[0], &err) != 0 ||
	    rcv_open_share(b, 1, kra_key[2], kra_cert[2], &sh[1], &err) != 0) {
		TAP_OK(0, "share setup: %s", err.msg);
		goto out;
	}
	TAP_INT_EQ(rcv_share_encode(b, idx, sh, 2, &json, &err), 0,
	    "shares encoded");
	TAP_OK(json != NULL && strstr(json, "\"version\": 1") != NULL &&
	    strstr(json, "\"cert_sha256\"") != NULL, "JSON as documented");
	TAP_INT_EQ(rcv_share_decode(b, json, &didx, &dec, &n, &err), 0,
	    "shares decoded");
	TAP_OK(n == 2 && didx[0] == 1 && didx[1] == 1 && dec[0].x == 1 &&
	    dec[1].x == 3 && dec[0].len == 32 &&
	    memcmp(dec[0].y, sh[0].y, 32) == 0 &&
	    memcmp(dec[1].y, sh[1].y, 32) == 0,
	    "round trip keeps record, x and y");
	for (i = 0; i < n; i++)
		shamir_share_clear(&dec[i]);
	free(dec);
	free(didx);
	dec = NULL;
	didx = NULL;
	idx[0] = 0;
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_share_encode(b, idx, sh, 1, &json2, &err),
	    CA_ERR_INVALID, "encoding a share for an any-one record fails");
	TAP_OK(json2 == NULL, "and gives no JSON");

	clen = i2d_X509(bob_cert, &cder);
	util_sha256_hex(cder, (size_t)clen, csha);
	OPENSSL_free(cder);
	cder = NULL;
	clen = i2d_X509(alice_cert, &cder);
	util_sha256_hex(cder, (size_t)clen, asha);
	OPENSSL_free(cder);
	util_hex(sh[0].y, 32, y);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(bad, sizeof(bad), "{\"version\":1,\"shares\":[{"
		    "\"cert_sha256\":\"%s\",\"x\":%s,\"y\":\"%s\"}]}",
		    cases[i].cert == NULL ? csha : strcmp(cases[i].cert,
		    "A") == 0 ? asha : cases[i].cert, cases[i].x,
		    cases[i].y != NULL ? cases[i].y : y);
		ca_err_clear(&err);
		TAP_INT_EQ(rcv_share_decode(b, bad, &didx, &dec, &n, &err),
		    CA_ERR_INVALID, "share file with %s is refused",
		    cases[i].what);
		TAP_OK(dec == NULL && didx == NULL && n == 0 &&
		    has_msg(&err, "share file"), "nothing comes out of it");
	}
	for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		ca_err_clear(&err);
		TAP_INT_EQ(rcv_share_decode(b, raw[i].json, &didx, &dec, &n,
		    &err), CA_ERR_INVALID, "share file with %s is refused",
		    raw[i].what);
	}
	/* The same template with good values decodes: the cases are fair. */
	snprintf(bad, sizeof(bad), "{\"version\":1,\"shares\":[{"
	    "\"cert_sha256\":\"%s\",\"x\":%s,\"y\":\"%s\"}]}", csha, "1", y);
	ca_err_clear(&err);
	TAP_INT_EQ(rcv_share_decode(b, bad, &didx, &dec, &n, &err), 0,
	    "a hand-written share file decodes");
	for (i = 0; i < n; i++)
		shamir_share_clear(&dec[i]);
	free(dec);
	free(didx);
 out:
	if (json != NULL)
		OPENSSL_clear_free(json, strlen(json));
	shamir_share_clear(&sh[0]);
	shamir_share_clear(&sh[1]);
	rcv_blob_free(b);
	OPENSSL_free(der);
	esc_record_clear(&rec[0]);
	esc_record_clear(&rec[1]);
	sk_X509_free(sk);
}

static void
test_pkcs12(void)
{
	struct ca_err err;
	STACK_OF(X509) *chain = sk_X509_new_null();
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	unsigned char *der = NULL;
	char pw[21], *path = tpath("alice.p12"), *empty = tpath("empty.p12");
	char *junk = tpath("junk.p12"), *nss = tpath("nssdb"), *out;
	size_t len = 0;

	ca_err_clear(&err);
	if (chain == NULL || !sk_X509_push(chain, ca_cert))
		exit(1);
	TAP_INT_EQ(p12_random_password(pw, 20, &err), 0, "password");
	TAP_INT_EQ(p12_make(alice_key, alice_cert, chain, pw, "alice",
	    &der, &len, &err), 0, "PKCS#12 built");
	TAP_OK(write_file(path, der, len) == 0, "PKCS#12 written");
	OPENSSL_clear_free(der, len);
	der = NULL;
	TAP_INT_EQ(run("openssl pkcs12 -in %s -nokeys -passin pass:%s "
	    "-out /dev/null", path, pw), 0, "openssl pkcs12 reads it");
	out = run_out("openssl pkcs12 -info -noout -in %s -passin pass:%s",
	    path, pw);
	TAP_OK(out != NULL && strstr(out, "MAC: sha256") != NULL &&
	    strstr(out, "PBES2, PBKDF2, AES-256-CBC") != NULL &&
	    strstr(out, "hmacWithSHA256") != NULL,
	    "PBES2/PBKDF2/AES-256-CBC, hmacWithSHA256, SHA-256 MAC");
	free(out);
	out = run_out("openssl pkcs12 -in %s -nokeys -passin pass:%s", path,
	    pw);
	TAP_OK(out != NULL && strstr(out, "friendlyName: alice") != NULL &&
	    strstr(out, "subject=CN = Test Issuing CA") != NULL,
	    "friendly name and the chain are in it");
	free(out);
	TAP_INT_EQ(run("openssl pkcs12 -in %s -nokeys -passin pass:wrong "
	    "-out /dev/null", path), 1, "openssl refuses a wrong password");

	if (run("command -v pk12util && command -v certutil") == 0) {
		mkdir(nss, 0700);
		TAP_INT_EQ(run("certutil -N -d sql:%s --empty-password && "
		    "pk12util -l %s -d sql:%s -W %s", nss, path, nss, pw), 0,
		    "NSS pk12util lists it");
		run("rm -rf %s", nss);
	} else
		printf("ok %d - # SKIP pk12util not installed\n", ++tap_n);

	TAP_INT_EQ(p12_load(path, pw, &key, &cert, &err), 0,
	    "p12_load reads it back");
	TAP_OK(key != NULL && EVP_PKEY_eq(key, alice_key) == 1 &&
	    cert != NULL && X509_cmp(cert, alice_cert) == 0,
	    "same key and certificate");
	EVP_PKEY_free(key);
	X509_free(cert);
	key = NULL;
	cert = NULL;
	ca_err_clear(&err);
	TAP_INT_EQ(p12_load(path, "wrong", &key, &cert, &err),
	    CA_ERR_AUTH, "a wrong password is CA_ERR_AUTH");
	TAP_OK(key == NULL && cert == NULL && has_msg(&err, path) &&
	    has_msg(&err, "wrong password"), "naming the file");
	ca_err_clear(&err);
	TAP_INT_EQ(p12_load(path, NULL, &key, &cert, &err), CA_ERR_AUTH,
	    "no password for a protected file is CA_ERR_AUTH");

	/* An empty password: NULL finds it. */
	ca_err_clear(&err);
	if (p12_make(alice_key, alice_cert, NULL, "", NULL, &der, &len,
	    &err) != 0 || write_file(empty, der, len) != 0)
		TAP_OK(0, "empty-password PKCS#12: %s", err.msg);
	OPENSSL_clear_free(der, len);
	TAP_INT_EQ(p12_load(empty, NULL, &key, &cert, &err), 0,
	    "an empty password is tried when none is given");
	EVP_PKEY_free(key);
	X509_free(cert);
	key = NULL;
	cert = NULL;

	write_file(junk, "not a pkcs12", 12);
	ca_err_clear(&err);
	TAP_INT_EQ(p12_load(junk, "x", &key, &cert, &err),
	    CA_ERR_INVALID, "junk is not a PKCS#12");
	ca_err_clear(&err);
	TAP_INT_EQ(p12_make(alice_key, alice_cert, NULL, NULL, NULL, &der,
	    &len, &err), CA_ERR_INVALID, "a PKCS#12 needs a password");
	unlink(path);
	unlink(empty);
	unlink(junk);
	free(path);
	free(empty);
	free(junk);
	free(nss);
	sk_X509_free(chain);
}

static void
test_password(void)
{
	struct ca_err err;
	char pw[128];
	int seen[256], i, all = 1, alnum = 1, n;

	memset(seen, 0, sizeof(seen));
	ca_err_clear(&err);
	for (n = 0; n < 100; n++) {
		if (p12_random_password(pw, 127, &err) != 0 ||
		    strlen(pw) != 127) {
			alnum = 0;
			break;
		}
		for (i = 0; pw[i] != '\0'; i++) {
			seen[(unsigned char)pw[i]]++;
			if (!isalnum((unsigned char)pw[i]))
				alnum = 0;
		}
	}
	for (i = 0; i < 256; i++)
		if (isalnum(i) && seen[i] == 0)
			all = 0;
	TAP_OK(alnum, "passwords are 127 characters of A-Za-z0-9");
	TAP_OK(all, "every one of the 62 characters turns up");
	TAP_INT_EQ(p12_random_password(pw, 128, &err), CA_ERR_INVALID,
	    "128 characters are too many");
	TAP_INT_EQ(p12_random_password(pw, 0, &err), 0, "an empty one");
	TAP_INT_EQ(strlen(pw), 0, "is empty");
}

int
main(void)
{
	setup();
	test_kra_check();
	test_kra_db();
	test_any_one();
	test_blob_checks();
	test_share_binding();
	test_threshold();
	test_share_json();
	test_pkcs12();
	test_password();
	teardown();
	return tap_done();
}
